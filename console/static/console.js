// console.js keeps the admin's checks list live: the server renders the
// list (escaped) every few seconds while the page is open and sends it
// over a websocket; this swaps it in, fills in the page's CSRF token,
// applies the filter in place and updates the counts in the title. The
// page works the same without it, reloaded by hand.
"use strict";
(function () {
  var list = document.getElementById("checklist");
  if (!list || !window.WebSocket) return;
  var csrf = list.dataset.csrf, filter = list.dataset.filter || "all";
  function apply() {
    list.querySelectorAll("tr[data-state]").forEach(function (tr) {
      tr.hidden = filter !== "all" && tr.dataset.state !== filter;
    });
    list.querySelectorAll("input[name=csrf]").forEach(function (i) { i.value = csrf; });
  }
  function connect(wait) {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/admin/console/live");
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      document.title = m.title;
      var counts = document.getElementById("counts");
      if (counts) counts.textContent = m.title.replace(/^Checks: /, "").replace(/ · Watchpost admin$/, "");
      document.querySelectorAll("nav.filter a[data-filter]").forEach(function (a) {
        var k = a.dataset.filter;
        a.textContent = k + " (" + (m.counts[k] || 0) + ")";
      });
      list.innerHTML = m.html;
      apply();
      list.setAttribute("data-live", String(Date.now()));
    };
    ws.onclose = function () { setTimeout(function () { connect(Math.min(wait * 2, 60000)); }, wait); };
  }
  connect(2000);
})();
