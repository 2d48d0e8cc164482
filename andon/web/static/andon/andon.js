// Andon's page behaviour. Loaded as a file: the content security policy allows no inline script.
(function () {
  "use strict";
  // Progress bars take their width from a data attribute (inline styles are not allowed).
  function paintProgress(root) {
    root.querySelectorAll("[data-progress]").forEach(function (bar) {
      bar.style.width = bar.getAttribute("data-progress") + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paintProgress(document); });
  document.addEventListener("htmx:afterSwap", function (event) { paintProgress(event.target); });
})();
