// A task page's frame: the height a HIT asked for (FrameHeight), and the end of an external study. No inline
// scripts or styles anywhere (the Content-Security-Policy forbids them): the height comes from a data attribute.
(function () {
  "use strict";

  function sizeFrames() {
    document.querySelectorAll("iframe[data-frame-height]").forEach(function (frame) {
      var height = parseInt(frame.getAttribute("data-frame-height"), 10);
      if (height > 0) {
        frame.style.minHeight = "0";
        frame.style.height = height + "px";
      }
    });
  }

  // A study ends with a POST to /mturk/externalSubmit, which answers inside the frame with a "Submitted" page of
  // this site; that page tells this one (static/js/external-submitted.js). Only a message from the frame, sent by
  // a page of the site the study posts to, counts, and it only makes the page ask the server at once: the status
  // fragment the server answers with decides. The same fragment is also fetched every few seconds (htmx), so the
  // page moves on even when no message comes (a study that ends at a completion link in another tab, say).
  function watchStudy() {
    var frame = document.getElementById("task-frame");
    var status = document.getElementById("external-status");
    if (!frame || !status) { return; }
    var submitOrigin = status.getAttribute("data-submit-origin");
    window.addEventListener("message", function (event) {
      if (event.source !== frame.contentWindow || event.origin !== submitOrigin) { return; }
      if (!event.data || event.data.boltwork !== "external-submitted") { return; }
      var current = document.getElementById("external-status");
      if (current && window.htmx) { window.htmx.trigger(current, "boltwork-check"); }
    });
    document.addEventListener("htmx:afterSwap", moveOnWhenSubmitted);
  }

  function moveOnWhenSubmitted() {
    var next = document.querySelector("#external-status[data-external-done] form[data-external-next]");
    if (!next || next.getAttribute("data-sent")) { return; }
    next.setAttribute("data-sent", "1");
    HTMLFormElement.prototype.submit.call(next);
  }

  document.addEventListener("DOMContentLoaded", function () {
    sizeFrames();
    watchStudy();
  });
})();
