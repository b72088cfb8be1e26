// The status page updates itself: the server pushes its rendered <main>
// (escaped there) over /api/v1/status/live. Without this script the page
// is the same, as of its loading, less the day bars' hover text.
(function () {
  "use strict";
  var delay = 1000;
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
      if (fresh) { main.replaceWith(fresh); }
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
})();
