/* posture drift filters: read the drift JSON island, hide the changes that do not match.
   Standalone drift pages keep the filter in the URL fragment (#classification=…&family=…&q=…);
   inside an audit page the fragment belongs to the findings filters and is left alone.
   Data is only ever assigned as text, never as HTML. */
(function () {
  "use strict";
  var body = document.body;
  function fail(err) {
    body.setAttribute("data-drift-error", String((err && err.message) || err));
  }
  try {
    var data = JSON.parse(document.getElementById("drift-data").textContent);
    var form = document.getElementById("drift-filters");
    var shown = document.getElementById("drift-shown");
    var keys = ["classification", "family", "q"];
    var controls = {};
    keys.forEach(function (key) { controls[key] = form.elements.namedItem(key); });
    var defaults = { classification: "", family: "", q: "" };
    var rows = data.changes.map(function (c) {
      var el = document.getElementById(c.id);
      return { c: c, el: el, text: el.textContent.toLowerCase() };
    });

    function setValue(control, value) {
      if (control.tagName === "SELECT") {
        var known = Array.prototype.some.call(control.options, function (o) { return o.value === value; });
        control.value = known ? value : control.options[0].value;
      } else {
        control.value = value;
      }
    }

    function readLocation() {
      var raw = window.location.hash.replace(/^#/, "") || window.location.search.replace(/^\?/, "");
      var params = new URLSearchParams(raw);
      keys.forEach(function (key) {
        setValue(controls[key], params.has(key) ? params.get(key) : defaults[key]);
      });
    }

    function writeLocation() {
      var params = new URLSearchParams();
      keys.forEach(function (key) {
        if (controls[key].value !== defaults[key]) { params.set(key, controls[key].value); }
      });
      var hash = params.toString();
      var url = window.location.pathname + window.location.search + (hash ? "#" + hash : "");
      try {
        window.history.replaceState(null, "", url);
      } catch (e) {
        /* some file:// contexts refuse replaceState; the filter still works */
      }
    }

    function matches(row, want) {
      var c = row.c;
      if (want.classification && c.classification !== want.classification) { return false; }
      if (want.family && c.family !== want.family) { return false; }
      if (want.q) {
        var words = want.q.toLowerCase().split(/\s+/).filter(Boolean);
        for (var i = 0; i < words.length; i += 1) {
          if (row.text.indexOf(words[i]) < 0) { return false; }
        }
      }
      return true;
    }

    function apply() {
      var want = {};
      keys.forEach(function (key) { want[key] = controls[key].value.trim(); });
      var count = 0;
      rows.forEach(function (row) {
        var ok = matches(row, want);
        row.el.hidden = !ok;
        if (ok) { count += 1; }
      });
      shown.textContent = "Showing " + count + " of " + rows.length + " changes.";
      body.setAttribute("data-drift-shown", String(count));
    }

    function changed() {
      apply();
      if (data.sync_location) { writeLocation(); }
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("reset", function (event) {
      event.preventDefault();
      keys.forEach(function (key) { setValue(controls[key], defaults[key]); });
      changed();
    });
    if (data.sync_location) {
      window.addEventListener("hashchange", function () { readLocation(); apply(); });
      readLocation();
    }
    apply();
    form.hidden = false;
    body.setAttribute("data-drift-ready", "1");
  } catch (err) {
    fail(err);
  }
}());
