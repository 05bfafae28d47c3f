/* The customer-facing pages' behaviour (the Content-Security-Policy allows no inline script).
   Everything here is an enhancement: the pages work without it. */
(function () {
  "use strict";

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = when.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
        el.title = when.toLocaleString();
      }
    });
  }

  function scrollToLatest() {
    var log = document.querySelector(".chat-log");
    if (log) { log.scrollTop = log.scrollHeight; }
  }

  function focusComposer(form) {
    var problems = form.querySelector("#form-problems");
    var target = problems || form.querySelector("textarea");
    if (target) { target.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    scrollToLatest();
    // A page shown again with problems: take the reader to the list of them.
    var problems = document.getElementById("form-problems");
    if (problems) { problems.focus(); }
  });

  // Enter sends a chat message; Shift+Enter starts a new line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || !box.closest) { return; }
    var form = box.closest("#compose");
    if (form && box.tagName === "TEXTAREA" && box.value.trim() !== "") {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // Every swap (a sent message, an out-of-band or polled transcript) ends here. A sent message replaces the
  // form the focus was in: give the focus back to the new one so the keyboard user can go on typing.
  document.addEventListener("htmx:afterSettle", function () {
    localTimes(document);
    scrollToLatest();
    var form = document.getElementById("compose");
    if (form && (!document.activeElement || document.activeElement === document.body)) {
      focusComposer(form);
    }
  });
})();
