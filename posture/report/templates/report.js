/* posture report filters: read the JSON island, honour #status=…&severity=…&family=…&group=…&q=…,
   hide what does not match. Data is only ever assigned as text, never as HTML. */
(function () {
  "use strict";
  var body = document.body;
  function fail(err) {
    body.setAttribute("data-error", String((err && err.message) || err));
  }
  window.addEventListener("error", function (event) { fail(event.message); });
  try {
    var data = JSON.parse(document.getElementById("posture-data").textContent);
    var form = document.getElementById("filters");
    var shown = document.getElementById("shown");
    var keys = ["status", "severity", "family", "group", "q"];
    var controls = {};
    keys.forEach(function (key) { controls[key] = form.elements.namedItem(key); });
    var defaults = { status: "problems", severity: "", family: "", group: "", q: "" };
    var rows = data.findings.map(function (f) {
      var el = document.getElementById(f.id);
      return { f: f, el: el, text: el.textContent.toLowerCase() };
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
      var f = row.f;
      if (want.status === "problems") {
        if (data.default_statuses.indexOf(f.status) < 0) { return false; }
      } else if (want.status && f.status !== want.status) {
        return false;
      }
      if (want.severity && f.severity !== want.severity) { return false; }
      if (want.family && f.family !== want.family) { return false; }
      if (want.group && f.group !== want.group) { return false; }
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
      shown.textContent = "Showing " + count + " of " + rows.length + " results.";
      body.setAttribute("data-shown", String(count));
    }

    form.addEventListener("input", function () { apply(); writeLocation(); });
    form.addEventListener("change", function () { apply(); writeLocation(); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    form.addEventListener("reset", function (event) {
      event.preventDefault();
      keys.forEach(function (key) { setValue(controls[key], defaults[key]); });
      apply();
      writeLocation();
    });
    window.addEventListener("hashchange", function () { readLocation(); apply(); });

    readLocation();
    apply();
    form.hidden = false;
    body.setAttribute("data-ready", "1");
  } catch (err) {
    fail(err);
  }
}());
