// The status page updates itself: the server pushes its rendered <main>
// (escaped there) over /api/v1/status/live. Without this script the page
// is the same, as of its loading, less the day bars' hover text and the
// interactive response-time charts (the server's SVG stays instead).
(function () {
  "use strict";
  var delay = 1000;
  var charts = makeCharts();
  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/api/v1/status/live");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      var main = document.querySelector("main.status");
      if (!main || typeof m.html !== "string") { return; }
      if (Number(m.generated) <= Number(main.getAttribute("data-generated") || 0)) { return; }
      var t = document.createElement("template");
      t.innerHTML = m.html;
      var fresh = t.content.querySelector("main.status");
      if (fresh) {
        var redraw = charts.adopt(fresh, m.tail);
        main.replaceWith(fresh);
        redraw();
      }
      if (m.title) { document.title = m.title; }
    };
    ws.onclose = function () {
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 60000);
    };
  }
  if ("WebSocket" in window && "content" in document.createElement("template")) { connect(); }

  // Day bars carry their figures compactly (class, or the strip's when
  // none; data-u = uptime short of 100%; data-d = day, or the strip's
  // data-from plus the bar's position);
  // their hover text is made on first approach, strip by strip, so that
  // it survives the live swap of <main> too.
  var SVG = "http://www.w3.org/2000/svg";
  function day(from, i) {
    var p = from.split("-");
    var d = new Date(Date.UTC(+p[0], +p[1] - 1, +p[2] + i));
    return isNaN(d) ? "" : d.toISOString().slice(0, 10);
  }
  function titles(svg) {
    if (svg.getAttribute("data-titled")) { return; }
    svg.setAttribute("data-titled", "1");
    var from = svg.getAttribute("data-from");
    var bars = svg.querySelectorAll("rect");
    for (var i = 0; i < bars.length; i++) {
      var r = bars[i];
      var d = r.getAttribute("data-d") || (from ? day(from, i) : "");
      var u = r.getAttribute("data-u");
      var cls = r.getAttribute("class") || svg.getAttribute("class");
      var text = /\bnone\b/.test(cls) ? "no data" : (u || "100") + "% up";
      var t = document.createElementNS(SVG, "title");
      t.textContent = d ? d + ": " + text : text;
      r.appendChild(t);
    }
  }
  document.addEventListener("mouseover", function (ev) {
    var svg = ev.target && ev.target.closest && ev.target.closest("svg.days");
    if (svg) { titles(svg); }
  });
  charts.start();

  // The response-time charts: the vendored dygraphs (loaded only when
  // the page has a graph) draws over each server-rendered SVG, from
  // /api/v1/status fetched once; live messages then carry each
  // component's newest samples (m.tail, in page order), merged here.
  // dygraphs' legend plugin is left out: it writes style attributes,
  // which the page's CSP refuses; the hover text is ours instead.
  function makeCharts() {
    var LIB = "/admin/static/vendor/dygraphs/dygraph.min.js";
    var DAY = 864e5;
    var state = []; // by component position: {name, box, read, g, rows}
    var loading = null, lastFetch = 0;
    function comps(root) { return root.querySelectorAll("article.component"); }
    function nameOf(a) { var h = a.querySelector("h3"); return h ? h.textContent : ""; }
    function lib() {
      if (window.Dygraph) { return Promise.resolve(); }
      return new Promise(function (ok, fail) {
        var s = document.createElement("script");
        s.src = LIB;
        s.onload = ok;
        s.onerror = fail;
        document.head.appendChild(s);
      });
    }
    // gapOf is how far apart two points may be and still be joined:
    // 2.5 times the usual step (as the server's SVG draws it).
    function gapOf(samples) {
      var steps = [];
      for (var i = 1; i < samples.length; i++) { steps.push(Date.parse(samples[i].time) - Date.parse(samples[i - 1].time)); }
      steps.sort(function (a, b) { return a - b; });
      return steps.length ? steps[steps.length >> 1] * 2.5 : Infinity;
    }
    function rowsOf(samples) {
      var rows = [], gap = gapOf(samples || []), prev = null;
      (samples || []).forEach(function (s) {
        var t = Date.parse(s.time), ms = +s.ms;
        if (isNaN(t) || !isFinite(ms)) { return; }
        // No data between two points far apart (a pause, the loghost
        // down): NaN breaks the line where nulls are joined.
        if (prev !== null && t - prev > gap) { rows.push([new Date(prev + 1), NaN, null, null]); }
        prev = t;
        // [time, line, failed dot, degraded dot]: a failed bucket is a
        // red dot at the mean of its answered probes (0 when none).
        rows.push([new Date(t), s.ok ? ms : null, s.ok ? null : ms, s.ok && s.degraded ? ms : null]);
      });
      return rows;
    }
    function two(n) { return (n < 10 ? "0" : "") + n; }
    function when(d) {
      return d.toISOString().slice(0, 10) + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
    }
    function fmt(ms) { return (ms >= 100 ? Math.round(ms) : Math.round(ms * 10) / 10) + " ms"; }
    function readout(c, row) {
      if (!row) { c.read.textContent = ""; return; }
      var text = when(row[0]) + " · ";
      if (row[2] !== null) {
        text += "failed" + (row[2] > 0 ? " (answered: " + fmt(row[2]) + ")" : "");
      } else {
        text += fmt(row[1]) + (row[3] !== null ? " · degraded" : "");
      }
      c.read.textContent = text;
    }
    function colour(name, dflt) {
      var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
      return v || dflt;
    }
    function draw(c) {
      if (c.g) {
        c.g.updateOptions({ file: c.rows });
        c.box.setAttribute("data-drawn", String(c.rows.length));
        c.box.setAttribute("data-draws", String(++c.draws));
        return;
      }
      var ink = colour("--muted", "#5b6570");
      c.g = new Dygraph(c.box.querySelector("div"), c.rows, {
        labels: ["time", "ms", "failed", "degraded"],
        colors: [colour("--accent", "#1f5fa8"), colour("--err", "#a4161a"), "#d69e2e"],
        series: {
          failed: { strokeWidth: 0, drawPoints: true, pointSize: 3, highlightCircleSize: 4 },
          degraded: { strokeWidth: 0, drawPoints: true, pointSize: 3, highlightCircleSize: 4 }
        },
        connectSeparatedPoints: true, includeZero: true, labelsUTC: true,
        // A few points are dots, not a slope between them.
        drawPoints: c.rows.length < 4,
        strokeWidth: 1.5, gridLineColor: colour("--line", "#d9dde1"), axisLineColor: ink,
        axisLabelFontSize: 11, xAxisHeight: 18, yRangePad: 4,
        axes: { y: { axisLabelWidth: 44, valueFormatter: fmt, axisLabelFormatter: function (v) { return v + " ms"; } } },
        highlightCallback: function (e, x, pts, row) { readout(c, c.rows[row]); },
        unhighlightCallback: function () { readout(c, null); }
      });
      c.draws = 1;
      c.box.setAttribute("data-drawn", String(c.rows.length));
      c.box.setAttribute("data-draws", "1");
    }
    // place puts a component's chart box after its SVG in root, hiding
    // the SVG (kept for screen readers' label and as the fallback).
    function place(c, svg) {
      svg.parentNode.insertBefore(c.box, svg.nextSibling);
      svg.classList.add("charted");
      c.box.setAttribute("aria-label", svg.getAttribute("aria-label") || "Response time");
    }
    function build(data) {
      if (Dygraph.Plugins && Dygraph.PLUGINS.indexOf(Dygraph.Plugins.Legend) >= 0) {
        Dygraph.PLUGINS = Dygraph.PLUGINS.filter(function (p) { return p !== Dygraph.Plugins.Legend; });
      }
      var flat = [];
      (data.groups || []).forEach(function (g) { (g.components || []).forEach(function (c) { flat.push(c); }); });
      var arts = comps(document);
      for (var i = 0; i < arts.length && i < flat.length; i++) {
        var svg = arts[i].querySelector("svg.rt");
        if (!svg || nameOf(arts[i]) !== flat[i].name) { continue; }
        var c = state[i];
        if (!c || c.name !== flat[i].name) {
          c = state[i] = { name: flat[i].name, box: document.createElement("figure"), read: document.createElement("figcaption") };
          c.box.className = "rtchart";
          c.box.setAttribute("role", "img");
          c.box.appendChild(document.createElement("div"));
          c.read.setAttribute("aria-hidden", "true");
          c.box.appendChild(c.read);
        }
        c.rows = rowsOf(flat[i].samples);
        if (c.rows.length < 2) { continue; }
        if (!c.box.isConnected) { place(c, svg); }
        draw(c);
      }
    }
    // load fetches the samples (and dygraphs, the first time); a second
    // call while one is under way joins it, and refetches are spaced.
    function load() {
      if (loading || Date.now() - lastFetch < 30000) { return; }
      if (!document.querySelector("main.status svg.rt")) { return; }
      lastFetch = Date.now();
      var data = fetch("/api/v1/status", { cache: "no-cache" }).then(function (r) {
        if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
        return r.json();
      });
      loading = Promise.all([lib(), data]).then(function (v) { build(v[1]); })
        .catch(function (e) { if (window.console) { console.warn("status charts: " + e); } })
        .then(function () { loading = null; });
    }
    // adopt moves the charts into a freshly pushed <main> before it
    // replaces the old one, and merges the message's newest samples; the
    // function it returns redraws them once <main> is in the document
    // (the fresh one is still in an inert template, with no layout).
    function adopt(fresh, tail) {
      var arts = comps(fresh), again = false, dirty = [];
      for (var i = 0; i < arts.length; i++) {
        var c = state[i], svg = arts[i].querySelector("svg.rt");
        if (!svg) { continue; }
        if (!c || !c.g || c.name !== nameOf(arts[i])) { again = true; continue; }
        place(c, svg);
        var add = rowsOf(tail && tail[i]), gap = add.length > 0;
        add.forEach(function (r) {
          var t = +r[0], rows = c.rows;
          for (var j = rows.length - 1; j >= 0 && +rows[j][0] >= t; j--) {
            if (+rows[j][0] === t) { rows[j] = r; gap = false; return; }
          }
          if (!rows.length || t > +rows[rows.length - 1][0]) { rows.push(r); }
        });
        // Nothing in common with what we have: messages were missed
        // (a sleeping laptop, a reconnect), so fetch the whole day again.
        if (gap && c.rows.length > add.length) { again = true; }
        var from = +c.rows[c.rows.length - 1][0] - DAY;
        while (c.rows.length > 2 && +c.rows[0][0] < from) { c.rows.shift(); }
        dirty.push(c);
      }
      for (i = arts.length; i < state.length; i++) { state[i] = null; }
      return function () {
        dirty.forEach(draw);
        if (again) { load(); }
      };
    }
    return { start: load, adopt: adopt };
  }
})();
