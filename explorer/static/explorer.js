// explorer.js is the admin Logs page: query and range in the URL, the
// histogram, the fields panel, the lines (a virtualised list), context
// and the live tail. Log data, field names and values are hostile: they
// only ever reach the page as text nodes or attribute values set from
// script, never as markup; terminal escapes are dropped but for a few
// colours, and control and bidi characters are shown as visible marks.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var root = $("explorer");
  if (!root) return;
  var list = $("list"), spacer = $("spacer"), win = $("window");
  var TZ = root.dataset.tz || "UTC";
  var MAXROWS = 10000;   // lines kept in memory
  var OVERSCAN = 25;     // rows rendered beyond the viewport
  var PENDMAX = 10000;   // lines held while a live tail is paused
  var FOLD = 2000;       // characters shown before "show all"
  var PAGE = 200;

  var state = { q: root.dataset.q || "", since: root.dataset.since || "1h", until: root.dataset.until || "", live: false, wrap: false };
  var rows = [];         // {e, h, open, full, marker}
  var offs = null;       // offs[i]: top of row i; offs[rows.length]: total
  var sel = -1;
  var next = "";         // cursor of the next older page
  var dropped = false;   // newer lines were dropped to keep memory bounded
  var gen = 0;           // answers of older searches are ignored
  var lastSummary = null;

  // ---------------------------------------------------------------- text

  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  } catch (e) {
    TZ = "UTC";
    fmt = new Intl.DateTimeFormat("sv-SE", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }
  function fmtTime(s, ms) {
    var d = new Date(s);
    if (isNaN(d)) return String(s);
    var out = fmt.format(d).replace(",", "");
    if (ms) out += "." + String(d.getUTCMilliseconds()).padStart(3, "0");
    return out;
  }
  // zoneOffset is TZ's offset from UTC at instant t (ms).
  function zoneOffset(t) {
    var p = {};
    fmt.formatToParts(new Date(t)).forEach(function (x) { p[x.type] = x.value; });
    var asUTC = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return asUTC - Math.floor(t / 1000) * 1000;
  }
  // fromWall reads a datetime-local value as a time in TZ.
  function fromWall(v) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v);
    if (!m) return null;
    var guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var t = guess - zoneOffset(guess);
    return new Date(t - (zoneOffset(t) - zoneOffset(guess)));
  }
  function toWall(d) {
    return fmt.format(d).replace(" ", "T").replace(",", "");
  }

  var BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/;
  function ctlMark(parent, ch) {
    var c = ch.charCodeAt(0), span = document.createElement("span");
    span.className = "ctl";
    span.textContent = c < 0x20 ? String.fromCharCode(0x2400 + c) : c === 0x7f ? "\u2421" : "U+" + c.toString(16).toUpperCase().padStart(4, "0");
    span.title = "control character U+" + c.toString(16).toUpperCase().padStart(4, "0");
    parent.appendChild(span);
  }
  function isCtl(c) {
    return (c < 0x20 && c !== 9) || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
  }
  // renderText appends s as text: SGR colours and bold become classes,
  // every other escape sequence (OSC titles and hyperlinks, cursor
  // moves) is dropped, control and bidi characters become marks.
  function renderText(parent, s) {
    var cur = "", bold = false, fg = 0;
    function flush() {
      if (!cur) return;
      if (bold || fg) {
        var sp = document.createElement("span");
        sp.className = (bold ? "ansi-b " : "") + (fg ? "ansi-" + fg : "");
        sp.textContent = cur;
        parent.appendChild(sp);
      } else {
        parent.appendChild(document.createTextNode(cur));
      }
      cur = "";
    }
    function sgr(params) {
      var ps = params === "" ? ["0"] : params.split(";");
      for (var k = 0; k < ps.length; k++) {
        var n = +ps[k] || 0;
        if (n === 0) { bold = false; fg = 0; }
        else if (n === 1) bold = true;
        else if (n === 22) bold = false;
        else if (n >= 30 && n <= 37) fg = n;
        else if (n >= 90 && n <= 97) fg = n - 60;
        else if (n === 39) fg = 0;
        else if (n === 38 || n === 48) k += ps[k + 1] === "5" ? 2 : ps[k + 1] === "2" ? 4 : 0;
      }
    }
    var i = 0, L = s.length;
    while (i < L) {
      var c = s.charCodeAt(i);
      if (c === 0x1b) {
        flush();
        var n = s[i + 1], j;
        if (n === "[") {
          j = i + 2;
          while (j < L && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
          var params = s.slice(i + 2, j);
          while (j < L && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
          if (s[j] === "m" && /^[0-9;]*$/.test(params)) sgr(params);
          i = j + 1;
          continue;
        }
        if (n === "]" || n === "P" || n === "_" || n === "^") {
          // OSC (titles, OSC 8 links), DCS, APC, PM: up to BEL or ST
          j = i + 2;
          while (j < L && s.charCodeAt(j) !== 7 && !(s.charCodeAt(j) === 0x1b && s[j + 1] === "\\")) j++;
          i = j < L && s.charCodeAt(j) === 7 ? j + 1 : j + 2;
          continue;
        }
        i += 2;
        continue;
      }
      if (isCtl(c) || BIDI.test(s[i])) {
        flush();
        ctlMark(parent, s[i]);
      } else {
        cur += s[i];
      }
      i++;
    }
    flush();
  }
  function plain(s) {
    // the line as a terminal shows it: escapes dropped, text kept
    var d = document.createElement("div");
    renderText(d, s);
    return d.textContent;
  }
  function lineOf(e) {
    if (e.line !== undefined && e.line !== "") return e.line;
    if (e.line_b64) {
      try {
        var b = atob(e.line_b64), u = new Uint8Array(b.length);
        for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
        return new TextDecoder("utf-8").decode(u);
      } catch (x) { return ""; }
    }
    return e.message || "";
  }
  function messageOf(e) { return e.message !== undefined && e.message !== "" ? e.message : lineOf(e); }
  var SEV = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
  function sevOf(e) { return e.severity in SEV ? SEV[e.severity] : 8; }

  // --------------------------------------------------------------- query

  function quoteVal(v) {
    return v !== "" && /^[^\s"]+$/.test(v) ? v : '"' + v.replace(/[\\"]/g, function (m) { return "\\" + m; }) + '"';
  }
  function terms(q) {
    var out = [], i = 0;
    while (i < q.length) {
      while (i < q.length && /\s/.test(q[i])) i++;
      if (i >= q.length) break;
      var j = i, inq = false;
      while (j < q.length && (inq || !/\s/.test(q[j]))) {
        if (q[j] === "\\" && inq) j++;
        else if (q[j] === '"') inq = !inq;
        j++;
      }
      out.push(q.slice(i, j));
      i = j;
    }
    return out;
  }
  var NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
  function filterState(field, value) {
    var t = terms(state.q), inc = field + "=" + quoteVal(value);
    if (t.indexOf(inc) >= 0) return "in";
    if (t.indexOf("-" + inc) >= 0) return "out";
    return "";
  }
  // toggleFilter cycles a value: filter for it, filter it out, neither.
  function toggleFilter(field, value, how) {
    var t = terms(state.q), inc = field + "=" + quoteVal(value), exc = "-" + inc;
    var i = t.indexOf(inc), j = t.indexOf(exc);
    if (how === "in") { if (j >= 0) t.splice(j, 1); if (i < 0) t.push(inc); }
    else if (how === "out") { if (i >= 0) t.splice(i, 1); if (j < 0) t.push(exc); }
    else if (i >= 0) t[i] = exc;
    else if (j >= 0) t.splice(j, 1);
    else t.push(inc);
    state.q = t.join(" ");
    $("q").value = state.q;
    go(true);
  }

  // ----------------------------------------------------------------- URL

  function readURL() {
    var p = new URLSearchParams(location.search);
    state.q = p.get("q") || "";
    state.since = p.get("since") || (p.get("until") ? "" : "1h");
    state.until = p.get("until") || "";
    state.live = p.get("live") === "1";
    state.wrap = p.get("wrap") === "1";
  }
  function viewURL(absolute) {
    var p = new URLSearchParams();
    if (state.q) p.set("q", state.q);
    var since = state.since, until = state.until;
    if (absolute && lastSummary) {
      since = lastSummary.from;
      until = lastSummary.to;
    }
    if (since) p.set("since", since);
    if (until) p.set("until", until);
    if (state.live && !absolute) p.set("live", "1");
    if (state.wrap) p.set("wrap", "1");
    return location.pathname + "?" + p.toString();
  }
  function pushURL(replace) {
    var u = viewURL(false);
    if (u !== location.pathname + location.search) history[replace ? "replaceState" : "pushState"](null, "", u);
  }

  // ----------------------------------------------------------------- API

  function api(path, params, signal) {
    var p = new URLSearchParams(params);
    return fetch("/api/v1/logs/" + path + "?" + p.toString(), { credentials: "same-origin", signal: signal }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (!r.ok) throw new Error(d.error || r.status + " " + r.statusText);
        return d;
      });
    });
  }
  function rangeParams() {
    var p = { q: state.q };
    if (state.since) p.since = state.since;
    if (state.until) p.until = state.until;
    return p;
  }
  function showError(msg) {
    var e = $("xerror");
    e.textContent = msg || "";
    e.hidden = !msg;
  }
  function status(parts) {
    var s = $("status");
    s.textContent = "";
    (Array.isArray(parts) ? parts : [parts]).forEach(function (x) {
      if (typeof x === "string") s.appendChild(document.createTextNode(x));
      else {
        var sp = document.createElement("span");
        sp.className = x.cls;
        sp.textContent = x.text;
        s.appendChild(sp);
      }
    });
  }
  var nf = new Intl.NumberFormat("en");

  // ------------------------------------------------------------- search

  var aborter = null, histTimer = 0;
  function go(push) {
    if (push) pushURL(false);
    showError("");
    syncControls();
    clearInterval(histTimer);
    if (state.live) {
      startLive(true);
      // The histogram and fields of the range, for orientation, redrawn
      // now and then while the tail runs.
      var my = ++gen;
      var refresh = function () {
        if (my !== gen) return;
        api("histogram", Object.assign({ fields: "*", top: 10, buckets: 120 }, rangeParams())).then(function (h) {
          if (my !== gen) return;
          lastSummary = h;
          drawHist(h);
          drawFields(h);
          showRange(h);
          drawHistLiveNote();
        }).catch(function (err) { showError(err.message); });
      };
      refresh();
      histTimer = setInterval(refresh, 10000);
      return;
    }
    stopLive();
    search();
  }
  function search() {
    var my = ++gen;
    if (aborter) aborter.abort();
    aborter = new AbortController();
    status("Searching…");
    var p = rangeParams();
    var page = Object.assign({ limit: PAGE }, p);
    var hist = Object.assign({ fields: "*", top: 10, buckets: 120 }, p);
    Promise.all([api("page", page, aborter.signal), api("histogram", hist, aborter.signal)]).then(function (res) {
      if (my !== gen) return;
      setRows(res[0].lines.map(function (e) { return { e: e }; }));
      next = res[0].next;
      dropped = false;
      lastSummary = res[1];
      drawHist(res[1]);
      drawFields(res[1]);
      showRange(res[1]);
      searchStatus();
      root.dataset.searched = String(gen);
    }).catch(function (err) {
      if (my !== gen || err.name === "AbortError") return;
      showError(err.message);
      status("");
      setRows([]);
      drawHist(null);
      drawFields(null);
      root.dataset.searched = String(gen);
    });
  }
  function searchStatus() {
    var total = lastSummary ? lastSummary.total : 0;
    var parts = [nf.format(rows.filter(function (r) { return !r.marker; }).length) + " of " + (lastSummary && lastSummary.sampled ? "about " : "") +
      nf.format(total) + " matching lines shown, newest first"];
    if (dropped) parts.push({ cls: "warn", text: " · newer lines were let go to keep this page small" });
    status(parts);
    $("older").hidden = !next || state.live;
    $("newest").hidden = !dropped || state.live;
  }
  var loadingOlder = false;
  function loadOlder() {
    if (!next || loadingOlder || state.live) return;
    loadingOlder = true;
    var my = gen;
    api("page", Object.assign({ limit: PAGE, cursor: next }, rangeParams())).then(function (d) {
      loadingOlder = false;
      if (my !== gen) return;
      next = d.next;
      appendRows(d.lines.map(function (e) { return { e: e }; }));
      // Keep memory bounded: let the newest go; "Back to the newest"
      // fetches them again.
      var over = rows.length - MAXROWS;
      if (over > 0) { dropTop(over); dropped = true; }
      searchStatus();
    }).catch(function (err) { loadingOlder = false; showError(err.message); });
  }

  function showRange(s) {
    var t = $("rangetext");
    if (!s) { t.textContent = ""; return; }
    t.textContent = fmtTime(s.from) + " → " + fmtTime(s.to) + " (" + TZ + ")";
    $("from").value = toWall(new Date(s.from));
    $("to").value = toWall(new Date(s.to));
  }
  function syncControls() {
    document.querySelectorAll(".presets button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(!state.until && b.dataset.since === state.since));
    });
    $("live").setAttribute("aria-pressed", String(state.live));
    $("wrap").checked = state.wrap;
    list.classList.toggle("wrap", state.wrap);
    if ($("q").value !== state.q && document.activeElement !== $("q")) $("q").value = state.q;
  }

  // ----------------------------------------------------------- histogram

  var SVGNS = "http://www.w3.org/2000/svg";
  var svg = $("hist");
  function el(name, attrs, parent) {
    var x = document.createElementNS(SVGNS, name);
    for (var k in attrs) x.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(x);
    return x;
  }
  var histGeom = null;
  function drawHist(h) {
    svg.textContent = "";
    var cap = $("histcap");
    cap.textContent = "";
    histGeom = null;
    if (!h || !h.buckets || !h.buckets.length) return;
    var W = svg.clientWidth || 800, H = svg.clientHeight || 96, top = 4, bottom = 14, n = h.buckets.length;
    var from = Date.parse(h.buckets[0].t), step = h.step_ms, to = from + n * step;
    var max = 0;
    h.buckets.forEach(function (b) { var s = 0; b.counts.forEach(function (c) { s += c; }); max = Math.max(max, s); });
    var bw = W / n, ph = H - top - bottom;
    histGeom = { from: from, to: to, W: W, step: step };
    el("line", { class: "base", x1: 0, x2: W, y1: H - bottom + .5, y2: H - bottom + .5 }, svg);
    h.buckets.forEach(function (b, i) {
      var g = el("g", { "data-i": i }, svg);
      var x = i * bw, y = H - bottom, sum = 0;
      var tip = [fmtTime(b.t) + " +" + human(step)];
      // most severe at the bottom, where the eye starts
      for (var s = 0; s < 9; s++) {
        var c = b.counts[s];
        if (!c) continue;
        sum += c;
        var hh = max ? c / max * ph : 0;
        y -= hh;
        el("rect", { class: "s" + s, x: x + .5, y: y, width: Math.max(bw - 1, .5), height: hh }, g);
        tip.push(h.severities[s] + " " + nf.format(c));
      }
      tip[0] += ": " + nf.format(sum) + " lines";
      var slot = el("rect", { class: "slot", x: x, y: top, width: bw, height: ph }, g);
      el("title", {}, slot).textContent = tip.join("\n");
    });
    var ticks = Math.max(2, Math.min(8, Math.floor(W / 110)));
    for (var k = 0; k < ticks; k++) {
      var t = from + (to - from) * k / ticks;
      var label = fmtTime(new Date(t).toISOString());
      label = to - from > 2 * 86400e3 ? label.slice(5, 16) : label.slice(11, to - from < 600e3 ? 19 : 16);
      el("text", { x: k * W / ticks + 2, y: H - 2 }, svg).textContent = label;
    }
    var words = [nf.format(h.total) + " matching lines", "bars of " + human(step)];
    cap.appendChild(document.createTextNode(words.join(" · ")));
    if (h.sampled) {
      var est = document.createElement("span");
      est.className = "est";
      est.textContent = " · estimated from " + nf.format(h.sampled_blocks) + " of " + nf.format(h.candidate_blocks) + " blocks: narrow the range or the query for exact counts";
      cap.appendChild(est);
    }
    cap.appendChild(document.createTextNode(" · drag across the bars to narrow the range"));
    svg.dataset.buckets = String(n);
  }
  function human(ms) {
    var u = [[86400e3, "d"], [3600e3, "h"], [60e3, "min"], [1e3, "s"], [1, "ms"]];
    for (var i = 0; i < u.length; i++) if (ms >= u[i][0] && ms % u[i][0] === 0) return ms / u[i][0] + " " + u[i][1];
    return ms + " ms";
  }
  var drag = null;
  function svgX(ev) { var r = svg.getBoundingClientRect(); return Math.max(0, Math.min(r.width, ev.clientX - r.left)); }
  svg.addEventListener("mousedown", function (ev) {
    if (!histGeom || ev.button !== 0) return;
    ev.preventDefault();
    var x = svgX(ev);
    drag = { x0: x, rect: el("rect", { class: "sel", x: x, y: 0, width: 0, height: svg.clientHeight || 96 }, svg) };
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var x = svgX(ev);
    drag.rect.setAttribute("x", Math.min(x, drag.x0));
    drag.rect.setAttribute("width", Math.abs(x - drag.x0));
  });
  window.addEventListener("mouseup", function (ev) {
    if (!drag) return;
    var x0 = drag.x0, x1 = svgX(ev), g = histGeom, W = svg.getBoundingClientRect().width || g.W;
    drag = null;
    if (Math.abs(x1 - x0) < 3) {
      // a click: the bar under it
      var i = Math.floor(x0 / W * ((g.to - g.from) / g.step));
      x0 = i * g.step / (g.to - g.from) * W;
      x1 = (i + 1) * g.step / (g.to - g.from) * W;
    }
    var a = g.from + (g.to - g.from) * Math.min(x0, x1) / W, b = g.from + (g.to - g.from) * Math.max(x0, x1) / W;
    if (b - a < 1) b = a + 1;
    state.since = new Date(Math.floor(a)).toISOString();
    state.until = new Date(Math.ceil(b)).toISOString();
    state.live = false;
    go(true);
  });

  // -------------------------------------------------------------- fields

  function drawFields(h) {
    var box = $("fields");
    box.textContent = "";
    if (!h || !h.fields) return;
    if (h.sampled || h.fields_sampled) {
      var note = document.createElement("p");
      note.className = "note";
      note.textContent = "Counts estimated from a sample of the range.";
      box.appendChild(note);
    }
    h.fields.forEach(function (f) {
      if (!f.values || !f.values.length) return;
      var h3 = document.createElement("h3");
      h3.textContent = f.name + " ";
      var small = document.createElement("small");
      small.textContent = f.distinct + (f.more ? "+" : "") + (f.distinct === 1 ? " value" : " values");
      h3.appendChild(small);
      box.appendChild(h3);
      var ul = document.createElement("ul");
      var top = f.values[0].count || 1;
      f.values.forEach(function (v) {
        var li = document.createElement("li");
        var st = NAME.test(f.name) ? filterState(f.name, v.value) : "";
        if (st) li.className = st;
        var b = document.createElement("button");
        b.type = "button";
        b.className = "v";
        b.textContent = v.value === "" ? "(empty)" : v.value;
        b.title = (st === "in" ? "Filtered for; click to filter out: " : st === "out" ? "Filtered out; click to clear: " : "Click to filter for: ") + f.name + "=" + v.value;
        if (NAME.test(f.name)) b.addEventListener("click", function () { toggleFilter(f.name, v.value); });
        else b.disabled = true;
        var n = document.createElement("span");
        n.className = "n";
        n.textContent = nf.format(v.count);
        var bar = document.createElement("span");
        bar.className = "vbar";
        bar.style.width = Math.round(v.count / top * 100) + "%";
        li.appendChild(b);
        li.appendChild(n);
        li.appendChild(bar);
        ul.appendChild(li);
      });
      box.appendChild(ul);
    });
  }

  // ---------------------------------------------------------------- list

  function layout() {
    offs = new Float64Array(rows.length + 1);
    var y = 0;
    for (var i = 0; i < rows.length; i++) { offs[i] = y; y += rows[i].h || 21; }
    offs[rows.length] = y;
  }
  function totalHeight() { if (!offs) layout(); return offs[rows.length]; }
  function indexAt(y) {
    if (!offs) layout();
    var lo = 0, hi = rows.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (offs[m + 1] <= y) lo = m + 1; else hi = m; }
    return lo;
  }
  // drawnA..drawnB are the rows in the window; epoch changes when rows
  // get other indices (a new search, rows let go at the top).
  var drawnA = 0, drawnB = 0, epoch = 0, drawnEpoch = -1;
  var queued = false;
  function schedule() { if (!queued) { queued = true; requestAnimationFrame(render); } }
  // expectTop is where the page last scrolled the list itself: a scroll
  // event elsewhere is the reader's.
  var expectTop = 0;
  function setScroll(y) { list.scrollTop = y; expectTop = list.scrollTop; }
  function render() {
    queued = false;
    if (!offs) layout();
    spacer.style.height = offs[rows.length] + "px";
    var top = list.scrollTop, h = list.clientHeight;
    var a = Math.max(0, indexAt(top) - OVERSCAN), b = Math.min(rows.length, indexAt(top + h) + OVERSCAN + 1);
    win.style.transform = "translateY(" + offs[a] + "px)";
    // Keep the rows already drawn (a selection in them survives a
    // scroll); draw only those coming into view.
    if (drawnEpoch !== epoch || a >= drawnB || b <= drawnA) {
      win.textContent = "";
      drawnA = drawnB = a;
      drawnEpoch = epoch;
    }
    while (drawnA < a) { win.firstChild.remove(); drawnA++; }
    while (drawnB > b) { win.lastChild.remove(); drawnB--; }
    for (var i = drawnA - 1; i >= a; i--) win.insertBefore(rowEl(i), win.firstChild);
    for (var j = drawnB; j < b; j++) win.appendChild(rowEl(j));
    drawnA = a;
    drawnB = b;
    for (var n = 0; n < win.children.length; n++) {
      var el = win.children[n], ri = rows[a + n];
      if (el.__v !== ri.v) { var fresh = rowEl(a + n); win.replaceChild(fresh, el); el = fresh; }
      var line = el.classList.contains("row") ? el : el.firstChild;
      line.classList.toggle("sel", a + n === sel);
    }
    var changed = false;
    for (var k = 0; k < win.children.length; k++) {
      var r = rows[a + k], hh = win.children[k].offsetHeight;
      if (hh && r.h !== hh) { r.h = hh; changed = true; }
    }
    if (changed) {
      layout();
      spacer.style.height = offs[rows.length] + "px";
      win.style.transform = "translateY(" + offs[a] + "px)";
      if (following()) follow();
    }
    list.dataset.rows = String(rows.length);
    list.dataset.rendered = String(b - a);
  }
  function rowEl(i) {
    var el = rowElem(i);
    el.__v = rows[i].v;
    return el;
  }
  function rowElem(i) {
    var r = rows[i], d = document.createElement("div");
    d.className = "row" + (i === sel ? " sel" : "") + (r.marker ? " marker" : "");
    d.dataset.i = String(i);
    if (r.marker) { d.textContent = r.marker; return d; }
    var e = r.e;
    var sv = document.createElement("span");
    sv.className = "sv s" + sevOf(e);
    sv.title = e.severity || "no severity";
    var t = document.createElement("span");
    t.className = "t";
    t.textContent = fmtTime(e.time, true);
    var ho = document.createElement("span");
    ho.className = "h";
    renderText(ho, e.host || "");
    var p = document.createElement("span");
    p.className = "p";
    renderText(p, (e.program || "-") + (e.pid ? "[" + e.pid + "]" : ""));
    var m = document.createElement("span");
    m.className = "m";
    var msg = messageOf(e);
    if (msg.length > FOLD && !r.full) {
      renderText(m, msg.slice(0, FOLD));
      var more = document.createElement("button");
      more.type = "button";
      more.className = "more";
      more.dataset.act = "full";
      more.textContent = "show all (" + nf.format(msg.length - FOLD) + " more characters)";
      m.appendChild(more);
    } else {
      renderText(m, msg);
    }
    d.appendChild(sv);
    d.appendChild(t);
    d.appendChild(ho);
    d.appendChild(p);
    d.appendChild(m);
    if (!r.open) return d;
    var wrap = document.createElement("div");
    wrap.appendChild(d);
    wrap.appendChild(details(r, i));
    wrap.className = "rowwrap";
    wrap.dataset.i = String(i);
    return wrap;
  }
  function details(r, i) {
    var e = r.e, box = document.createElement("div");
    box.className = "det";
    var tb = document.createElement("table");
    var std = [["time", fmtTime(e.time, true) + " (" + e.time + ")"], ["received", e.received], ["host", e.host], ["program", e.program],
      ["pid", e.pid], ["severity", e.severity], ["facility", e.facility], ["file", e.file], ["source", e.source], ["site", e.site],
      ["format", e.format], ["seq", String(e.seq)], ["message", messageOf(e)], ["line", lineOf(e)]];
    var names = e.fields ? Object.keys(e.fields).sort() : [];
    names.forEach(function (k) { std.push([k, e.fields[k], true]); });
    std.forEach(function (kv) {
      if (kv[1] === undefined || kv[1] === "") return;
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      renderText(th, kv[0]);
      var td = document.createElement("td");
      td.className = "v";
      renderText(td, String(kv[1]));
      tr.appendChild(th);
      tr.appendChild(td);
      var acts = document.createElement("td");
      var filterable = ["host", "program", "severity", "facility", "file", "site", "format", "source"].indexOf(kv[0]) >= 0 || kv[2];
      if (filterable && NAME.test(kv[0])) {
        [["in", "+", "Filter for this value"], ["out", "−", "Filter out this value"]].forEach(function (a) {
          var b = document.createElement("button");
          b.type = "button";
          b.textContent = a[1];
          b.title = a[2];
          b.dataset.act = "filter-" + a[0];
          b.dataset.field = kv[0];
          b.dataset.value = String(kv[1]);
          acts.appendChild(b);
        });
      }
      tr.appendChild(acts);
      tb.appendChild(tr);
    });
    box.appendChild(tb);
    var acts = document.createElement("div");
    acts.className = "acts";
    [["context", "Context (c)"], ["copy", "Copy line (y)"]].forEach(function (a) {
      var b = document.createElement("button");
      b.type = "button";
      b.dataset.act = a[0];
      b.textContent = a[1];
      acts.appendChild(b);
    });
    box.appendChild(acts);
    return box;
  }
  function setRows(rs) {
    epoch++;
    rows = rs;
    sel = rows.length ? 0 : -1;
    offs = null;
    setScroll(0);
    render();
  }
  function appendRows(rs) {
    if (!rs.length) return;
    var start = rows.length;
    for (var i = 0; i < rs.length; i++) rows.push(rs[i]);
    if (offs) {
      var o = new Float64Array(rows.length + 1);
      o.set(offs.subarray(0, start + 1));
      for (var k = start; k < rows.length; k++) o[k + 1] = o[k] + (rows[k].h || 21);
      offs = o;
    }
    schedule();
  }
  // dropTop lets the first n rows go without moving what is on screen.
  function dropTop(n) {
    if (n <= 0) return;
    if (!offs) layout();
    var gone = offs[n];
    rows.splice(0, n);
    epoch++;
    sel = Math.max(-1, sel - n);
    offs = null;
    layout();
    spacer.style.height = offs[rows.length] + "px";
    setScroll(Math.max(0, list.scrollTop - gone));
    schedule();
  }
  function select(i, scroll) {
    if (!rows.length) return;
    sel = Math.max(0, Math.min(rows.length - 1, i));
    if (scroll !== false) {
      if (!offs) layout();
      var top = list.scrollTop, h = list.clientHeight;
      if (offs[sel] < top) setScroll(offs[sel]);
      else if (offs[sel + 1] > top + h) setScroll(offs[sel + 1] - h);
    }
    schedule();
  }
  function toggleOpen(i) {
    var r = rows[i];
    if (!r || r.marker) return;
    r.open = !r.open;
    r.v = (r.v || 0) + 1;
    r.h = 0;
    offs = null;
    schedule();
  }
  win.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-act], [data-i]") : null;
    if (!t) return;
    var holder = t.closest("[data-i]");
    var i = holder ? +holder.dataset.i : -1;
    var act = t.dataset.act;
    if (act === "full") { rows[i].full = true; rows[i].v = (rows[i].v || 0) + 1; rows[i].h = 0; offs = null; schedule(); return; }
    if (act === "context") { openContext(rows[i]); return; }
    if (act === "copy") { copyLine(rows[i]); return; }
    if (act && act.indexOf("filter-") === 0) { toggleFilter(t.dataset.field, t.dataset.value, act.slice(7)); return; }
    if (String(window.getSelection && window.getSelection()) !== "") return; // selecting text, not opening
    if (ev.target.closest(".det")) return;
    select(i, false);
    toggleOpen(i);
  });
  list.addEventListener("wheel", function (ev) { if (ev.deltaY < 0) pause("scroll"); }, { passive: true });
  var lastTop = 0;
  list.addEventListener("scroll", function () {
    var top = list.scrollTop;
    if (Math.abs(top - expectTop) > 2 && state.live && !paused && top < lastTop - 2 && top + list.clientHeight < list.scrollHeight - 30) pause("scroll");
    lastTop = top;
    schedule();
    if (!state.live && next && top + list.clientHeight > totalHeight() - 400) loadOlder();
  });
  window.addEventListener("resize", function () { schedule(); if (lastSummary && !state.live) drawHist(lastSummary); });

  // ------------------------------------------------------------- context

  var ctx = null;
  function ctxRow(e, anchor) {
    var d = document.createElement("div");
    d.className = "row" + (anchor ? " anchor" : "");
    var t = document.createElement("span");
    t.className = "t";
    t.textContent = fmtTime(e.time, true);
    var m = document.createElement("span");
    m.className = "m";
    renderText(m, lineOf(e));
    d.appendChild(t);
    d.appendChild(m);
    return d;
  }
  function drawContext() {
    var box = $("ctxlines");
    box.textContent = "";
    ctx.lines.forEach(function (e) { box.appendChild(ctxRow(e, e.seq === ctx.seq)); });
    $("ctxup").disabled = !ctx.moreAbove;
    $("ctxdown").disabled = !ctx.moreBelow;
    $("ctxup").textContent = ctx.moreAbove ? "More above" : "Start of what is stored";
    $("ctxdown").textContent = ctx.moreBelow ? "More below" : "End of what is stored";
    var src = $("ctxsrc");
    src.textContent = "";
    renderText(src, ctx.src);
  }
  function openContext(r) {
    if (!r || r.marker) return;
    var e = r.e;
    api("context", { seq: e.seq, before: 20, after: 20 }).then(function (d) {
      ctx = { seq: e.seq, lines: d.lines, moreAbove: d.more_above, moreBelow: d.more_below,
        src: (e.host || "") + " · " + (e.file || e.source || "syslog") };
      drawContext();
      var dlg = $("ctx");
      if (!dlg.open) dlg.showModal();
      var a = $("ctxlines").querySelector(".anchor");
      if (a) a.scrollIntoView({ block: "center" });
      root.dataset.context = String(e.seq);
    }).catch(function (err) { showError(err.message); });
  }
  $("ctxup").addEventListener("click", function () {
    var first = ctx.lines[0];
    api("context", { seq: first.seq, before: 20, after: 0 }).then(function (d) {
      var box = $("ctxlines"), h0 = box.scrollHeight;
      ctx.lines = d.lines.slice(0, d.anchor).concat(ctx.lines);
      ctx.moreAbove = d.more_above;
      drawContext();
      box.scrollTop += box.scrollHeight - h0;
    }).catch(function (err) { showError(err.message); });
  });
  $("ctxdown").addEventListener("click", function () {
    var last = ctx.lines[ctx.lines.length - 1];
    api("context", { seq: last.seq, before: 0, after: 20 }).then(function (d) {
      var box = $("ctxlines"), top = box.scrollTop;
      ctx.lines = ctx.lines.concat(d.lines.slice(d.anchor + 1));
      ctx.moreBelow = d.more_below;
      drawContext();
      box.scrollTop = top;
    }).catch(function (err) { showError(err.message); });
  });
  $("ctxclose").addEventListener("click", function () { $("ctx").close(); });
  $("helpclose").addEventListener("click", function () { $("help").close(); });

  function copyLine(r) {
    if (!r || r.marker) return;
    var text = plain(lineOf(r.e));
    list.dataset.copied = text;
    function done() { status("Copied the line."); }
    function fallback() {
      var ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try { document.execCommand("copy"); } catch (x) { /* the status says */ }
      ta.remove();
      done();
    }
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }

  // ----------------------------------------------------------- live tail

  var ws = null, lastSeq = -1, retry = 0, retryTimer = 0, aliveTimer = 0;
  var paused = false, pending = [], pendingSkipped = 0, why = "";
  function following() { return state.live && !paused; }
  // follow keeps the newest line in view, unless the reader has just
  // scrolled up (before the scroll event ran): that pauses instead.
  function follow() {
    if (list.scrollTop < expectTop - 2) { pause("scroll"); return; }
    if (!offs) layout();
    setScroll(offs[rows.length]);
  }
  function startLive(fresh) {
    stopLive();
    if (fresh) {
      lastSeq = -1;
      setRows([]);
      paused = false;
      pending = [];
      pendingSkipped = 0;
      showPaused();
    }
    var u = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/logs/tail?batch=1&q=" + encodeURIComponent(state.q) +
      (lastSeq >= 0 ? "&since_seq=" + lastSeq : "&n=" + PAGE);
    status(fresh ? "Connecting…" : "Reconnecting…");
    var sock = new WebSocket(u);
    ws = sock;
    sock.onopen = function () { retry = 0; };
    sock.onmessage = function (m) {
      if (ws !== sock) return;
      var d;
      try { d = JSON.parse(m.data); } catch (x) { return; }
      alive();
      if (d.last_seq > lastSeq) lastSeq = d.last_seq;
      if (d.type === "lines") addLive(d);
      liveStatus();
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      clearTimeout(aliveTimer);
      if (!state.live) return;
      root.dataset.liveState = "reconnecting";
      // Find out why: a full loghost says so over plain HTTP.
      fetch("/api/v1/logs/tail?batch=1&q=" + encodeURIComponent(state.q), { credentials: "same-origin" }).then(function (r) {
        if (r.status === 429) return r.json().then(function (d) { throw new Error(d.error); });
      }, function () { /* not reachable: try again */ }).then(function () {
        var wait = [500, 1000, 2000, 5000, 10000][Math.min(retry++, 4)];
        status([{ cls: "warn", text: "Disconnected from the loghost; reconnecting in " + wait / 1000 + " s…" }]);
        retryTimer = setTimeout(function () { if (state.live) startLive(false); }, wait);
      }, function (err) {
        var msg = err && err.message ? err.message : "the loghost cannot be reached";
        status([{ cls: "warn", text: "Live tail refused: " + msg + " (retrying every 30 s)" }]);
        root.dataset.liveState = "refused";
        retryTimer = setTimeout(function () { if (state.live) startLive(false); }, 30000);
      });
    };
  }
  function alive() {
    clearTimeout(aliveTimer);
    root.dataset.liveState = "open";
    // pings come every 15 s: three missed and the stream is dead
    aliveTimer = setTimeout(function () { if (ws) ws.close(); }, 45000);
  }
  function stopLive() {
    clearTimeout(retryTimer);
    clearTimeout(aliveTimer);
    if (ws) { var s = ws; ws = null; s.close(); }
    root.dataset.liveState = "off";
  }
  function marker(text) { return { marker: text }; }
  function addLive(d) {
    // The reader may have scrolled up since the last batch without the
    // scroll event having run yet: following now would undo it.
    if (!paused && list.scrollTop < expectTop - 2) pause("scroll");
    var add = (d.lines || []).map(function (e) { return { e: e }; });
    if (d.note) add.unshift(marker("— " + d.note + " —"));
    if (d.skipped) {
      add.unshift(marker("— " + nf.format(d.skipped) + " lines skipped: the page could not keep up (narrow the query to see them all) —"));
      root.dataset.skippedBehind = String((+root.dataset.skippedBehind || 0) + d.skipped);
    }
    if (paused) {
      for (var i = 0; i < add.length; i++) pending.push(add[i]);
      trimPending(PENDMAX);
      showPaused();
      return;
    }
    appendRows(add);
    var drop = rows.length - MAXROWS;
    if (drop > 0) dropTop(drop);
    follow();
    schedule();
  }
  // trimPending drops the oldest waiting lines beyond max, counting them.
  function trimPending(max) {
    var over = pending.length - max;
    if (over <= 0) return;
    for (var k = 0; k < over; k++) if (!pending[k].marker) pendingSkipped++;
    pending.splice(0, over);
  }
  function pendingCount() {
    var n = pendingSkipped;
    for (var i = 0; i < pending.length; i++) if (!pending[i].marker) n++;
    return n;
  }
  function pause(reason) {
    if (!state.live || paused) return;
    paused = true;
    why = reason;
    showPaused();
  }
  function resume() {
    if (!paused) return;
    paused = false;
    // Room for the marker: with a full pending buffer, trimming the rows
    // to MAXROWS would drop the marker first, and the reader would never
    // learn that lines were skipped.
    if (pendingSkipped) trimPending(MAXROWS - 1);
    var add = pending;
    if (pendingSkipped) add.unshift(marker("— " + nf.format(pendingSkipped) + " lines skipped while paused —"));
    root.dataset.skippedPaused = String(pendingSkipped);
    pending = [];
    pendingSkipped = 0;
    appendRows(add);
    var drop = rows.length - MAXROWS;
    if (drop > 0) dropTop(drop);
    showPaused();
    if (window.getSelection) window.getSelection().removeAllRanges();
    offs = null;
    layout();
    setScroll(totalHeight());
    schedule();
    liveStatus();
  }
  function showPaused() {
    var bar = $("paused");
    bar.hidden = !paused;
    root.dataset.paused = String(paused);
    if (!paused) return;
    var n = pendingCount();
    $("resume").textContent = "Paused (" + (why === "selection" ? "text selected" : why === "key" ? "space" : "scrolled up") + ") — " +
      nf.format(n) + " new line" + (n === 1 ? "" : "s") + " ▾  resume: click, G or space";
    root.dataset.pending = String(n);
  }
  $("resume").addEventListener("click", resume);
  function liveStatus() {
    status("Live: new lines matching the query, in the order they arrive · " + nf.format(rows.filter(function (r) { return !r.marker; }).length) + " on the page");
  }
  function drawHistLiveNote() {
    var cap = $("histcap"), note = document.createElement("span");
    note.textContent = (cap.textContent ? " · " : "") + "the live tail below follows new lines; the histogram and fields show the range";
    cap.appendChild(note);
  }
  document.addEventListener("selectionchange", function () {
    if (!state.live || paused) return;
    var s = window.getSelection();
    if (s && !s.isCollapsed && list.contains(s.anchorNode)) pause("selection");
  });

  // ------------------------------------------------------------ keyboard

  function typing(t) { return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable); }
  function findSev(dir) {
    for (var i = sel + dir; i >= 0 && i < rows.length; i += dir) {
      if (rows[i].e && sevOf(rows[i].e) <= 3) { select(i); return; }
    }
    status("No " + (dir > 0 ? "further" : "earlier") + " error on the page.");
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") {
      if (typing(ev.target)) { ev.target.blur(); list.focus(); }
      return;
    }
    if (typing(ev.target) || $("ctx").open || $("help").open) return;
    var k = ev.key, handled = true;
    if (k === "/") { $("q").focus(); $("q").select(); }
    else if (k === "j" || k === "ArrowDown") { if (state.live && !paused && sel + 1 >= rows.length) { handled = false; } else select(sel + 1); }
    else if (k === "k" || k === "ArrowUp") { pause("scroll"); select(sel - 1); }
    else if (k === "g" || k === "Home") { pause("scroll"); select(0); }
    else if (k === "G" || k === "End") { if (paused) resume(); select(rows.length - 1); }
    else if (k === "e") findSev(1);
    else if (k === "E") findSev(-1);
    else if (k === " ") { if (state.live) { if (paused) resume(); else pause("key"); } else handled = false; }
    else if (k === "Enter") toggleOpen(sel);
    else if (k === "c") openContext(rows[sel]);
    else if (k === "y") copyLine(rows[sel]);
    else if (k === "w") { state.wrap = !state.wrap; syncControls(); relayout(); pushURL(true); }
    else if (k === "?") $("help").showModal();
    else handled = false;
    if (handled) ev.preventDefault();
  });
  function relayout() {
    for (var i = 0; i < rows.length; i++) rows[i].h = 0;
    offs = null;
    schedule();
  }

  // ------------------------------------------------------------ controls

  $("xq").addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.q = $("q").value.trim();
    go(true);
  });
  document.querySelectorAll(".presets button").forEach(function (b) {
    b.addEventListener("click", function () { state.since = b.dataset.since; state.until = ""; state.live = false; go(true); });
  });
  $("apply").addEventListener("click", function () {
    var a = fromWall($("from").value), b = fromWall($("to").value);
    if (!a || !b || b <= a) { showError("Give a start before the end."); return; }
    state.since = a.toISOString();
    state.until = b.toISOString();
    state.live = false;
    go(true);
  });
  $("live").addEventListener("click", function () { state.live = !state.live; go(true); });
  $("wrap").addEventListener("change", function () { state.wrap = $("wrap").checked; syncControls(); relayout(); pushURL(true); });
  $("older").addEventListener("click", loadOlder);
  $("newest").addEventListener("click", function () { go(false); });
  $("copylink").addEventListener("click", function () {
    var u = location.origin + viewURL(true), out = $("linkout");
    out.hidden = false;
    out.value = u;
    out.select();
    function done() { status("Link with absolute times copied."); }
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(u).then(done, function () { status("Copy the selected link."); });
    else status("Copy the selected link.");
  });
  window.addEventListener("popstate", function () { readURL(); go(false); });

  readURL();
  syncControls();
  go(false);
})();
