/* The ticket workspace's one behaviour beyond htmx and helpdesk.js: an action form that opens (by a click
 * or its keyboard shortcut, e.g. "s" for resolve) puts the cursor in its first field, so the agent can type
 * the reason straight away. */
(function () {
  "use strict";

  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (!details.matches || !details.matches("details.action") || !details.open) return;
      var field = details.querySelector("select, textarea, input:not([type=hidden])");
      if (field) field.focus();
    },
    true
  );
})();
