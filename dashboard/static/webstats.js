// webstats.js draws a web statistics month's day and hour charts with the
// vendored dygraphs, from /api/v1/webstats/{site}/{month}. The tables are
// server-rendered; only numbers reach the charts.
"use strict";
(function () {
  var fig = document.getElementById("days-chart");
  if (!fig) return;
  var url = "/api/v1/webstats/" + encodeURIComponent(fig.dataset.site) + "/" + encodeURIComponent(fig.dataset.month);
  var colors = ["#F3A000", "#4477DD", "#66DDEE", "#2EA495"]; // AWStats: visitors, visits, pages, hits
  function chart(el, rows, labels, opts) {
    var o = { labels: labels, colors: colors.slice(0, labels.length - 1), stepPlot: true, fillGraph: true,
      fillAlpha: 0.35, height: 220, legend: "always", labelsKMB: true, includeZero: true };
    for (var k in opts) o[k] = opts[k];
    new Dygraph(el.querySelector(".plot"), rows, o);
    el.setAttribute("data-drawn", String(rows.length));
  }
  fetch(url, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.json(); })
    .then(function (rep) {
      var days = (rep.days || []).map(function (d) {
        var p = d.date.split("-");
        return [new Date(+p[0], +p[1] - 1, +p[2]), d.goaccess_unique_visitors, d.visits, d.pages, d.hits];
      });
      if (days.length) {
        chart(fig, days, ["day", "unique (GoAccess)", "visits", "pages", "hits"], {});
      }
      var hours = (rep.hours || []).map(function (h, i) { return [i, h.pages || 0, h.hits || 0]; });
      var hf = document.getElementById("hours-chart");
      if (hf && hours.length) {
        chart(hf, hours, ["hour", "pages", "hits"], { colors: [colors[2], colors[3]], axes: { x: { valueFormatter: function (h) { return h + ":00"; } } } });
      }
    })
    .catch(function (e) {
      fig.querySelector(".plot").textContent = "Could not load the charts: " + e.message;
      fig.setAttribute("data-drawn", "error");
    });
})();
