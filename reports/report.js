(function () {
  "use strict";
  var $ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var rows = $("tr.check");
  var sections = $("section.bucket");
  var outcomeChips = $("#f-outcome .chip");
  var bucketChips = $("#f-bucket .chip");
  var search = document.getElementById("f-text");
  var shown = document.getElementById("shown");
  var empty = document.getElementById("empty");

  // Text each row is searched by: id, name and message (not the trace).
  rows.forEach(function (r) {
    var parts = $(".c1, .msg", r).map(function (e) { return e.textContent; });
    r.setAttribute("data-text", parts.join(" ").toLowerCase());
  });

  function count(attr, value) {
    return rows.filter(function (r) { return r.getAttribute(attr) === value; }).length;
  }
  outcomeChips.concat(bucketChips).forEach(function (c) {
    var isOutcome = c.hasAttribute("data-outcome");
    var n = isOutcome ? count("data-outcome", c.getAttribute("data-outcome")) : count("data-bucket", c.getAttribute("data-bucket"));
    var cnt = c.querySelector(".cnt");
    if (cnt) { cnt.textContent = String(n); }
    c.setAttribute("data-count", String(n));
    if (isOutcome && n === 0) { c.hidden = true; }
  });

  function selected(chips, attr) {
    var s = {};
    chips.forEach(function (c) { if (c.getAttribute("aria-pressed") === "true") { s[c.getAttribute(attr)] = true; } });
    return s;
  }

  function apply() {
    var outcomes = selected(outcomeChips, "data-outcome");
    var buckets = selected(bucketChips, "data-bucket");
    var q = (search && search.value || "").trim().toLowerCase();
    var visible = 0;
    rows.forEach(function (r) {
      var ok = outcomes[r.getAttribute("data-outcome")] && buckets[r.getAttribute("data-bucket")] &&
        (!q || r.getAttribute("data-text").indexOf(q) !== -1);
      r.hidden = !ok;
      if (ok) { visible++; }
    });
    sections.forEach(function (s) {
      s.hidden = !$("tr.check", s).some(function (r) { return !r.hidden; });
    });
    if (shown) {
      shown.textContent = "Showing " + visible + " of " + rows.length + " checks";
      shown.setAttribute("data-visible", String(visible));
      shown.setAttribute("data-total", String(rows.length));
    }
    if (empty) { empty.hidden = visible !== 0 || rows.length === 0; }
  }

  function press(chips, pick) {
    chips.forEach(function (c) { c.setAttribute("aria-pressed", pick(c) ? "true" : "false"); });
  }

  outcomeChips.concat(bucketChips).forEach(function (c) {
    c.addEventListener("click", function (ev) {
      var group = c.hasAttribute("data-outcome") ? outcomeChips : bucketChips;
      if (ev.altKey || ev.metaKey) {
        press(group, function (x) { return x === c; }); // alt-click: only this one
      } else {
        c.setAttribute("aria-pressed", c.getAttribute("aria-pressed") === "true" ? "false" : "true");
      }
      apply();
    });
  });

  function only(outcomes) {
    press(outcomeChips, function (c) { return outcomes === null || outcomes.indexOf(c.getAttribute("data-outcome")) !== -1; });
    press(bucketChips, function () { return true; });
    apply();
  }

  $(".card[data-only]").forEach(function (card) {
    card.addEventListener("click", function () {
      var o = card.getAttribute("data-only");
      only(o === "all" ? null : [o]);
      var f = document.getElementById("filters");
      if (f && f.scrollIntoView) { f.scrollIntoView({ behavior: "smooth", block: "start" }); }
    });
  });

  // A link to a check hidden by the filters shows everything first, so the jump lands.
  $("a[href^='#check-']").forEach(function (a) {
    a.addEventListener("click", function () {
      var row = document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)));
      if (row && row.hidden) {
        if (search) { search.value = ""; }
        only(null);
      }
    });
  });

  var problems = document.getElementById("f-problems");
  if (problems) { problems.addEventListener("click", function () { only(["failed", "warned", "not-run", "expected-failure"]); }); }
  var reset = document.getElementById("f-reset");
  if (reset) {
    reset.addEventListener("click", function () {
      if (search) { search.value = ""; }
      only(null);
    });
  }
  if (search) { search.addEventListener("input", apply); }

  function traces(open) {
    $("details.trace").forEach(function (d) {
      var row = d.closest("tr");
      if (!row || !row.hidden) { d.open = open; }
    });
  }
  var tOpen = document.getElementById("t-open");
  var tClose = document.getElementById("t-close");
  if (tOpen) { tOpen.addEventListener("click", function () { traces(true); }); }
  if (tClose) { tClose.addEventListener("click", function () { traces(false); }); }

  $("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el) { return; }
      var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
      try {
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(el.textContent).then(done, function () { b.textContent = "Select and copy"; });
          return;
        }
      } catch (e) { /* fall through to selection */ }
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    });
  });

  // A link may preselect filters: report.html#outcome=failed,warned&bucket=pull&q=range
  (function () {
    var h = (window.location.hash || "").replace(/^#/, "");
    if (h.indexOf("=") === -1) { return; }
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i < 0) { return; }
      var k = kv.slice(0, i), v;
      try { v = decodeURIComponent(kv.slice(i + 1)); } catch (e) { return; }
      var list = v.split(",");
      if (k === "outcome") {
        press(outcomeChips, function (c) { return list.indexOf(c.getAttribute("data-outcome")) !== -1; });
      } else if (k === "bucket") {
        press(bucketChips, function (c) { return list.indexOf(c.getAttribute("data-bucket")) !== -1; });
      } else if (k === "q" && search) {
        search.value = v;
      }
    });
  })();

  // Links into the coverage matrix open it first, so the jump lands.
  var coverage = document.getElementById("coverage");
  function openCoverage(target) {
    if (coverage && (target === "coverage" || target.indexOf("req-") === 0)) { coverage.open = true; }
  }
  $("a[href^='#coverage'], a[href^='#req-']").forEach(function (a) {
    a.addEventListener("click", function () { openCoverage(a.getAttribute("href").slice(1)); });
  });
  openCoverage((window.location.hash || "").replace(/^#/, ""));

  apply();
  document.documentElement.setAttribute("data-ready", "1");
})();
