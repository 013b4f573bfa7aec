// Boltwork's own small scripts. No inline scripts anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Deadline countdown on the assignment page.
  function startCountdowns() {
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (element) {
      var deadline = new Date(element.getAttribute("data-deadline")).getTime();
      if (isNaN(deadline)) { return; }
      function tick() {
        var left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
        var hours = Math.floor(left / 3600);
        var minutes = Math.floor((left % 3600) / 60);
        var seconds = left % 60;
        var text = (hours ? hours + ":" + String(minutes).padStart(2, "0") : String(minutes)) +
          ":" + String(seconds).padStart(2, "0");
        element.textContent = left > 0 ? "Time left " + text : "Time is up";
        element.classList.toggle("countdown-urgent", left < 60);
        if (left > 0) { window.setTimeout(tick, 1000); }
      }
      tick();
    });
  }

  // HTML template tasks run in a sandboxed iframe with an opaque origin. Its bridge script posts the answer here;
  // this page puts it in the form and submits it with the CSRF token — but only when the worker has just acted
  // (clicked or typed, in this page or in the frame: browsers pass that "user activation" up to the parent).
  // The template's script shares the frame with the bridge and could post an answer by itself, on load or on a
  // timer; such an answer is not submitted.
  var GESTURE_WINDOW_MS = 5000;
  var lastOwnButtonClick = 0;

  function workerJustActed() {
    if (navigator.userActivation) { return navigator.userActivation.isActive; }
    // Without the User Activation API only this page's own buttons count.
    return Date.now() - lastOwnButtonClick < GESTURE_WINDOW_MS;
  }

  function connectTaskFrame() {
    var frame = document.getElementById("task-frame");
    var form = document.getElementById("answer-form");
    var answerInput = document.getElementById("answer-json");
    var note = document.getElementById("frame-note");
    if (!frame || !form || !answerInput) { return; }
    var nextInput = document.createElement("input");
    nextInput.type = "hidden";
    form.appendChild(nextInput);

    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow || !event.data || event.data.boltwork !== "answer") { return; }
      if (!workerJustActed()) {
        if (note) {
          note.textContent = "The task tried to send an answer by itself. Check it, then press Submit.";
          note.hidden = false;
        }
        return;
      }
      answerInput.value = JSON.stringify(event.data.answer || {});
      if (event.data.next) {
        nextInput.name = "next";
        nextInput.value = "1";
      } else {
        nextInput.removeAttribute("name");
      }
      HTMLFormElement.prototype.submit.call(form);
    });

    form.querySelectorAll("[data-frame-submit]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        if (event.isTrusted) { lastOwnButtonClick = Date.now(); }
        frame.contentWindow.postMessage({boltwork: "collect", next: button.name === "next"}, "*");
      });
    });
  }

  // "Copy" buttons: data-copy holds the selector of the field whose text to copy. Delegated, so buttons in
  // parts of the page that htmx swaps in keep working.
  function connectCopyButtons() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy]");
      if (!button || !navigator.clipboard) { return; }
      var field = document.querySelector(button.getAttribute("data-copy"));
      if (!field) { return; }
      navigator.clipboard.writeText(field.value || field.textContent).then(function () {
        button.textContent = "Copied";
      });
    });
  }

  // Keyboard shortcuts on a task page with a built form (data-shortcuts): 1–9 pick an answer of the first choice
  // question, Enter submits. Not while typing in a text field, and not with Ctrl, Alt or Cmd held.
  function connectShortcuts() {
    var form = document.querySelector("form[data-shortcuts]");
    if (!form) { return; }
    var firstChoice = form.querySelector('input[type="radio"], input[type="checkbox"]');
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
      var target = event.target;
      var typing = target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
        (target.tagName === "INPUT" && target.type !== "radio" && target.type !== "checkbox");
      if (/^[1-9]$/.test(event.key) && !typing && firstChoice) {
        var choices = form.querySelectorAll('input[name="' + firstChoice.name + '"]');
        var choice = choices[Number(event.key) - 1];
        if (choice) {
          event.preventDefault();
          choice.click();
          choice.focus();
        }
      } else if (event.key === "Enter" && !typing && target.tagName !== "BUTTON" && target.tagName !== "A") {
        event.preventDefault();
        form.requestSubmit(form.querySelector('button[type="submit"]'));
      }
    });
  }

  // A button with data-confirm asks before its form is sent (rejecting work, closing a job). Delegated and in the
  // capture phase, so it also stops the review items' htmx requests, which start from the same submit event.
  function connectConfirmations() {
    document.addEventListener("submit", function (event) {
      var button = event.submitter;
      var question = button && button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); event.stopImmediatePropagation(); }
    }, true);
  }

  // "All on this page": a checkbox with data-select-all="<name>" checks or clears every checkbox of that name.
  function connectSelectAll() {
    document.addEventListener("change", function (event) {
      var name = event.target.getAttribute && event.target.getAttribute("data-select-all");
      if (!name) { return; }
      document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    });
  }

  // Times are typed and shown in the person's own time zone: the browser names it in a cookie that
  // web.middleware.BrowserTimeZoneMiddleware reads (the server stores UTC).
  function rememberTimeZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (error) { return; }
    // Zone names ("America/Argentina/Buenos_Aires", "Etc/GMT+3") are safe in a cookie as they are.
    if (!zone || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) { return; }
    if (document.cookie.split("; ").indexOf("tz=" + zone) !== -1) { return; }
    document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  }

  // The phone menu (a <details> in the header) closes on Escape, giving the focus back to "Menu", and when a tap
  // lands outside it.
  function connectNavMenu() {
    var menu = document.querySelector("details.nav-menu");
    if (!menu) { return; }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
  }

  function focusErrors() {
    var summary = document.querySelector(".error-summary[tabindex]");
    if (summary) { summary.focus(); }
  }

  rememberTimeZone();
  document.addEventListener("DOMContentLoaded", function () {
    startCountdowns();
    connectTaskFrame();
    connectCopyButtons();
    connectShortcuts();
    connectConfirmations();
    connectSelectAll();
    connectNavMenu();
    focusErrors();
  });
})();
