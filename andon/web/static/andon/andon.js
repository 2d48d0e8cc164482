// Andon's page behaviour. Loaded as a file: the content security policy allows no inline script.
(function () {
  "use strict";
  // Progress bars take their width from a data attribute (inline styles are not allowed).
  function paintProgress(root) {
    root.querySelectorAll("[data-progress]").forEach(function (bar) {
      bar.style.width = bar.getAttribute("data-progress") + "%";
    });
  }
  // Chart points carry their numbers in an SVG <title>; show it beside the pointer (and on
  // keyboard focus) in the figure's tip box, besides the browser's own slow tooltip.
  function chartTips(root) {
    root.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var tip = figure.querySelector(".chart-tip");
      if (!tip) { return; }
      figure.querySelectorAll("svg circle").forEach(function (point) {
        var title = point.querySelector("title");
        if (!title) { return; }
        point.setAttribute("tabindex", "0");
        function show(event) {
          var box = figure.getBoundingClientRect();
          var mark = point.getBoundingClientRect();
          tip.textContent = title.textContent;
          tip.classList.remove("d-none");
          tip.style.left = Math.min(mark.left - box.left + 10, box.width - 260) + "px";
          tip.style.top = (mark.top - box.top + 12) + "px";
        }
        function hide() { tip.classList.add("d-none"); }
        point.addEventListener("mouseenter", show);
        point.addEventListener("focus", show);
        point.addEventListener("mouseleave", hide);
        point.addEventListener("blur", hide);
      });
    });
  }
  // The SAC matrix of the triage form marks the cell of the severity and probability picked.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.form || (field.name !== "sac_severity" && field.name !== "sac_probability")) { return; }
    var matrix = field.form.querySelector(".sac-matrix");
    if (!matrix) { return; }
    var severity = field.form.querySelector("input[name=sac_severity]:checked");
    var probability = field.form.querySelector("input[name=sac_probability]:checked");
    matrix.querySelectorAll("td[data-severity]").forEach(function (cell) {
      var chosen = !!(severity && probability && cell.getAttribute("data-severity") === severity.value &&
                      cell.getAttribute("data-probability") === probability.value);
      cell.classList.toggle("sac-chosen", chosen);
      if (chosen) { cell.setAttribute("aria-current", "true"); } else { cell.removeAttribute("aria-current"); }
    });
  });
  // A people picker (platform/people_picker.html) keeps whom you tick: a ticked match moves up to
  // the chosen, so the next search, which replaces the matches, does not drop it. One person: the
  // match replaces the person chosen before.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var matches = input.closest && input.closest("[data-picker-matches]");
    if (!matches || !input.checked) { return; }
    var chosen = matches.parentElement.querySelector("[data-picker-chosen]");
    if (input.type === "radio") {
      chosen.querySelectorAll("input[data-person]").forEach(function (before) {
        before.closest(".form-check").remove();
      });
    }
    chosen.appendChild(input.closest(".form-check"));
  });
  // Matches who are already chosen are not shown twice (nor their boxes posted twice).
  function dropChosenMatches(matches) {
    if (!matches.matches("[data-picker-matches]")) { return; }
    var chosen = matches.parentElement.querySelector("[data-picker-chosen]");
    var dropped = 0;
    chosen.querySelectorAll("input[data-person]").forEach(function (kept) {
      matches.querySelectorAll("input[data-person]").forEach(function (shown) {
        if (shown.value === kept.value) { shown.closest(".form-check").remove(); dropped += 1; }
      });
    });
    if (dropped && !matches.querySelector("input")) {
      var note = document.createElement("p");
      note.className = "small text-body-secondary mb-0";
      note.textContent = "Already chosen above.";
      matches.appendChild(note);
    }
  }
  // A box that ticks every box of a form on the page (data-tick-all="<form id>"): shown only
  // here, as without JavaScript it would do nothing.
  document.addEventListener("change", function (event) {
    var all = event.target.getAttribute && event.target.getAttribute("data-tick-all");
    if (!all) { return; }
    document.querySelectorAll('input[type=checkbox][form="' + all + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
  function showTickAll(root) {
    root.querySelectorAll("[data-tick-all]").forEach(function (box) { box.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    paintProgress(document); chartTips(document); showTickAll(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    paintProgress(event.target); chartTips(event.target); dropChosenMatches(event.target);
  });
})();
