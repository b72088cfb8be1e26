// graphs.js draws the munin-style graphs of the admin host pages with the
// vendored dygraphs, from /api/v1/metrics/... JSON. Labels come from
// plugins on monitored hosts: they are escaped before dygraphs sees them
// and written with textContent everywhere else.
"use strict";
(function () {
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  // munin's number format: three significant digits with an SI prefix.
  function si(v, base) {
    // No value (a new host, a range before its first sample): a dash,
    // not rrdtool's "nan".
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var units = ["", "k", "M", "G", "T", "P"], small = ["", "m", "u", "n"];
    var a = Math.abs(v), i = 0;
    if (a >= base) {
      while (a >= base && i < units.length - 1) { a /= base; v /= base; i++; }
      return v.toFixed(2) + units[i];
    }
    if (a !== 0 && a < 1) {
      while (a < 1 && i < small.length - 1) { a *= 1000; v *= 1000; i++; }
      return v.toFixed(2) + small[i];
    }
    return v.toFixed(2);
  }
  function limits(r) {
    // munin ranges: "max", "min:", ":max", "min:max"
    if (!r) return [];
    var p = String(r).split(":"), out = [];
    p.forEach(function (x) { var n = parseFloat(x); if (isFinite(n)) out.push(n); });
    return out;
  }
  function legendRow(table, s, base) {
    var tr = document.createElement("tr");
    var sw = document.createElement("td");
    var box = document.createElement("span");
    box.className = "swatch";
    box.style.background = s.colour;
    sw.appendChild(box);
    tr.appendChild(sw);
    var name = document.createElement("td");
    name.textContent = s.label + (s.negative ? " (below)" : "");
    if (s.info) name.title = s.info;
    tr.appendChild(name);
    [s.cur, s.min, s.avg, s.max].forEach(function (v) {
      var td = document.createElement("td");
      td.className = "n";
      td.textContent = si(v, base);
      tr.appendChild(td);
    });
    table.appendChild(tr);
  }
  function draw(fig, d) {
    var plot = fig.querySelector(".plot"), table = fig.querySelector(".legend");
    table.textContent = "";
    var head = document.createElement("tr");
    ["", "", "Cur", "Min", "Avg", "Max"].forEach(function (h) {
      var th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    });
    table.appendChild(head);
    d.series.forEach(function (s) { legendRow(table, s, d.base); });
    var any = d.series.some(function (s) { return s.y.some(function (v) { return v !== null; }); });
    if (!d.t || d.t.length === 0 || !any) {
      plot.textContent = "No data in this range yet.";
      fig.setAttribute("data-drawn", "empty");
      plot.className = "plot empty";
      return;
    }
    // munin's order: dygraphs paints the fills of later series first, so
    // the lower layers of a stack (sent already stacked) end up on top,
    // as rrdtool draws them; lines go over all fills.
    var order = d.series;
    var labels = ["time"], colors = [], series = {};
    order.forEach(function (s, i) {
      var l = esc(s.label) + (s.negative ? " (below)" : "") + "\u200b".repeat(i);
      labels.push(l);
      colors.push(s.colour);
      series[l] = { fillGraph: s.area, strokeWidth: /LINE3/.test(s.draw) ? 3 : /LINE2/.test(s.draw) ? 2 : 1 };
    });
    // rrdtool clips at fixed limits (munin's --upper-limit with -r); a
    // canvas would otherwise break a filled area at every point beyond.
    function clip(v) {
      if (v === null) return NaN;
      if (d.upper !== null && v > d.upper) return d.upper;
      if (d.lower !== null && v < d.lower && !d.series.some(function (s) { return s.negative; })) return d.lower;
      return v;
    }
    var rows = d.t.map(function (t, i) {
      var row = [new Date(t * 1000)];
      order.forEach(function (s) { row.push(clip(s.y[i])); });
      return row;
    });
    var rules = [];
    d.series.forEach(function (s) {
      limits(s.warning).forEach(function (v) { rules.push([v, "#D4A000"]); });
      limits(s.critical).forEach(function (v) { rules.push([v, "#E00000"]); });
    });
    var opts = {
      labels: labels, colors: colors, series: series,
      fillAlpha: 0.85, connectSeparatedPoints: false, drawGapEdgePoints: true,
      ylabel: esc(d.vlabel || ""), title: esc(d.title),
      legend: "follow", labelsKMB: d.base === 1000, labelsKMG2: d.base === 1024,
      logscale: d.log, dateWindow: [d.from * 1000, d.to * 1000],
      height: 220, axes: { y: { axisLabelWidth: 60 } },
      underlayCallback: function (ctx, area, g) {
        rules.forEach(function (r) {
          var y = g.toDomYCoord(r[0]);
          if (y < area.y || y > area.y + area.h) return;
          ctx.save();
          ctx.strokeStyle = r[1];
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(area.x, y);
          ctx.lineTo(area.x + area.w, y);
          ctx.stroke();
          ctx.restore();
        });
      }
    };
    if (d.lower !== null || d.upper !== null) {
      // A filled series lying exactly on the top of the range loses its
      // fill in dygraphs: leave a hair of room above a fixed limit.
      var top = d.upper === null ? null : d.upper + Math.abs(d.upper - (d.lower || 0)) * 0.002;
      opts.valueRange = [d.lower, top];
    }
    new Dygraph(plot, rows, opts);
    fig.setAttribute("data-drawn", String(d.t.length));
  }
  function load(fig) {
    var url = "/api/v1/metrics/hosts/" + encodeURIComponent(fig.dataset.host) +
      "/graphs/" + encodeURIComponent(fig.dataset.graph) + (fig.dataset.from ?
        "?from=" + encodeURIComponent(fig.dataset.from) + "&to=" + encodeURIComponent(fig.dataset.to) :
        "?range=" + encodeURIComponent(fig.dataset.range));
    fetch(url, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.json();
      })
      .then(function (d) { draw(fig, d); })
      .catch(function (e) {
        var p = fig.querySelector(".plot");
        p.className = "plot empty";
        p.textContent = "Could not load this graph: " + e.message;
        fig.setAttribute("data-drawn", "error");
      });
  }
  document.querySelectorAll("figure.graph").forEach(load);
})();
