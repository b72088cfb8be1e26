// The status page updates itself: the server pushes its rendered <main>
// (escaped there) over /api/v1/status/live. Without this script the page
// is the same, as of its loading.
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
})();
