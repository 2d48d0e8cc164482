// The safety report form: harm only for incidents, "share my name" not with an anonymous
// report, and an autosave of the draft every 30 seconds while the reporter types.
// Loaded as a file: the content security policy allows no inline script.
(function () {
  "use strict";
  var AUTOSAVE_MS = 30000;

  function setup() {
    // The page that answers a sent report: reloading it must not send the report again.
    var sent = document.getElementById("report-sent");
    if (sent && window.history.replaceState) {
      window.history.replaceState(null, "", sent.getAttribute("data-form-url"));
    }
    var form = document.getElementById("report-form");
    if (!form) { return; }
    var withHarm = (form.getAttribute("data-kinds-with-harm") || "").split(" ");
    var harmBlock = document.getElementById("harm-block");

    function showHarm() {
      var chosen = form.querySelector("input[name=kind]:checked");
      var show = chosen !== null && withHarm.indexOf(chosen.value) !== -1;
      if (!harmBlock) { return; }
      harmBlock.classList.toggle("d-none", !show);
      harmBlock.querySelectorAll("input").forEach(function (input) { input.disabled = !show; });
    }

    var anonymous = document.getElementById("id_anonymous");
    var share = document.getElementById("id_share_identity");
    function anonymity() {
      if (!anonymous || !share) { return; }
      if (anonymous.checked) { share.checked = false; }
      share.disabled = anonymous.checked;
    }

    form.querySelectorAll("input[name=kind]").forEach(function (radio) { radio.addEventListener("change", showHarm); });
    if (anonymous) { anonymous.addEventListener("change", anonymity); }
    showHarm();
    anonymity();

    // Autosave: only when something changed since the last save, and never after sending.
    var status = document.getElementById("draft-status");
    var dirty = false;
    var sending = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function () { sending = true; });
    window.setInterval(function () {
      if (!dirty || sending || !status || !window.htmx) { return; }
      dirty = false;
      window.htmx.trigger(status, "andon:autosave");
    }, AUTOSAVE_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
