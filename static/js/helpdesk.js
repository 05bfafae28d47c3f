/* The workspace's behaviour, in one static file (the Content-Security-Policy allows no inline script).
 *
 * Keyboard shortcuts are declared in the markup, not here: any element with data-shortcut="r" (or a
 * two-key sequence such as "g q") is clicked when the keys are pressed — or focused when it has
 * data-shortcut-action="focus" — and is listed in the "?" help overlay with its data-shortcut-label.
 * Other hooks: data-autosubmit on a select submits its form on change; data-confirm="…" asks first.
 */
(function () {
  "use strict";

  var pending = "";
  var pendingTimer = null;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function shortcuts() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-shortcut]"), function (el) {
      return !el.disabled && (visible(el) || el.dataset.shortcutAction === "focus");
    });
  }

  function fire(el) {
    if (el.dataset.shortcutAction === "focus") {
      el.focus();
      if (el.select) el.select();
    } else {
      el.click();
    }
  }

  function helpOverlay() {
    return document.getElementById("shortcut-help");
  }

  function openHelp() {
    var overlay = helpOverlay();
    if (!overlay) return;
    var list = overlay.querySelector(".shortcut-list");
    list.textContent = "";
    var seen = {};
    shortcuts().forEach(function (el) {
      var key = el.dataset.shortcut;
      if (seen[key]) return;
      seen[key] = true;
      var dt = document.createElement("dt");
      key.split(" ").forEach(function (part) {
        var kbd = document.createElement("kbd");
        kbd.textContent = part;
        dt.appendChild(kbd);
      });
      var dd = document.createElement("dd");
      dd.textContent = el.dataset.shortcutLabel || el.textContent.trim() || key;
      list.appendChild(dt);
      list.appendChild(dd);
    });
    overlay.hidden = false;
    var close = overlay.querySelector("[data-close-overlay]");
    if (close) close.focus();
  }

  function closeHelp() {
    var overlay = helpOverlay();
    if (overlay && !overlay.hidden) {
      overlay.hidden = true;
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      if (closeHelp()) event.preventDefault();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      openHelp();
      return;
    }
    var key = pending ? pending + " " + event.key : event.key;
    var matches = shortcuts().filter(function (el) {
      return el.dataset.shortcut === key;
    });
    var prefixes = shortcuts().filter(function (el) {
      return el.dataset.shortcut.indexOf(key + " ") === 0;
    });
    clearTimeout(pendingTimer);
    if (matches.length) {
      event.preventDefault();
      pending = "";
      fire(matches[0]);
    } else if (prefixes.length) {
      event.preventDefault();
      pending = key;
      pendingTimer = setTimeout(function () {
        pending = "";
      }, 1200);
    } else {
      pending = "";
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-close-overlay]") : null;
    if (target) closeHelp();
    var confirmEl = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (confirmEl && !window.confirm(confirmEl.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // A page refreshing itself is not the agent at work: polls say so, so the presence timeout still runs
  // (tickets/middleware.py ignores requests with this header).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger");
    if (trigger && /(^|[\s,])every\s/.test(trigger)) {
      event.detail.headers["X-Helpdesk-Background"] = "1";
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit], input[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit();
      else el.form.submit();
    }
  });
})();
