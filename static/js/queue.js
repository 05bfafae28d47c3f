/* The queue and the supervisor board: live parts that refresh themselves without losing what the agent is
 * doing (the Content-Security-Policy allows no inline script, so this is a static file).
 *
 * - An element with data-poll-guard polls with htmx (hx-trigger="every Ns"); a poll is skipped while the agent
 *   is busy inside it: rows are selected ([data-select-row]:checked), a form control in it has the focus, a
 *   <details> in it is open, or the tab is hidden. The next poll after that refreshes it.
 * - [data-select-all] checks or clears every [data-select-row] of its table; [data-selected-count] says how
 *   many are selected, and the bulk buttons of the form are enabled only when some are.
 */
(function () {
  "use strict";

  function busy(el) {
    if (document.hidden) return true;
    if (el.querySelector("[data-select-row]:checked, details[open]")) return true;
    var active = document.activeElement;
    return !!(active && active !== document.body && el.contains(active) && active.matches("input, select, textarea, button"));
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-poll-guard") && busy(el)) {
      event.preventDefault();
    }
  });

  function bulkForm(el) {
    return el && el.closest ? el.closest("form") : null;
  }

  function refresh(form) {
    if (!form) return;
    var rows = form.querySelectorAll("[data-select-row]");
    var checked = form.querySelectorAll("[data-select-row]:checked").length;
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = rows.length > 0 && checked === rows.length;
      all.indeterminate = checked > 0 && checked < rows.length;
    }
    var counter = form.querySelector("[data-selected-count]");
    if (counter) counter.textContent = checked ? "(" + checked + " selected)" : "(select rows below)";
    form.querySelectorAll(".bulk-actions button").forEach(function (button) {
      button.disabled = checked === 0;
    });
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.matches) return;
    if (el.matches("[data-select-all]")) {
      var form = bulkForm(el);
      if (!form) return;
      form.querySelectorAll("[data-select-row]").forEach(function (box) {
        box.checked = el.checked;
      });
      refresh(form);
    } else if (el.matches("[data-select-row]")) {
      refresh(bulkForm(el));
    }
  });

  function refreshAll() {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-select-row], [data-select-all]")) refresh(form);
    });
  }

  document.addEventListener("DOMContentLoaded", refreshAll);
  document.addEventListener("htmx:afterSettle", refreshAll);
})();
