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
  var mf = document.getElementById("months-chart");
  if (!mf) return;
  fetch("/api/v1/webstats/" + encodeURIComponent(fig.dataset.site) + "?year=" + encodeURIComponent(mf.dataset.year), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.json(); })
    .then(function (hist) {
      var rows = hist.map(function (m) {
        var p = m.month.split("-");
        return [new Date(+p[0], +p[1] - 1, 1), m.unique_visitors, m.visits, m.pages, m.hits];
      });
      // One point a month: a step plot shows each month as a flat bar.
      if (rows.length) {
        var last = rows[rows.length - 1];
        rows.push([new Date(last[0].getFullYear(), last[0].getMonth() + 1, 1)].concat(last.slice(1)));
        var ym = function (d) { var t = new Date(d); return t.getFullYear() + "-" + ("0" + (t.getMonth() + 1)).slice(-2); };
        var names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        chart(mf, rows, ["month", "unique visitors", "visits", "pages", "hits"], {
          axes: { x: { valueFormatter: ym,
            // A tick in the middle of each month, named by it.
            ticker: function () {
              return rows.slice(0, -1).map(function (r, i) {
                return { v: (r[0].getTime() + rows[i + 1][0].getTime()) / 2, label: names[r[0].getMonth()] };
              });
            } } }
        });
      }
    })
    .catch(function (e) {
      mf.querySelector(".plot").textContent = "Could not load the chart: " + e.message;
      mf.setAttribute("data-drawn", "error");
    });
})();
