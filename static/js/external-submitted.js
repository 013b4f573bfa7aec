// The "Submitted" page that /mturk/externalSubmit answers with, inside the study's frame: it tells the worker's
// task page (this site, the frame's parent) that the study has ended, so that page moves on by itself. The
// message goes to this site's origin only (the root element's data-parent-origin, SITE_URL's).
(function () {
  "use strict";
  var root = document.documentElement;
  var origin = root.getAttribute("data-parent-origin");
  if (!origin || !window.parent || window.parent === window) { return; }
  window.parent.postMessage({boltwork: "external-submitted"}, origin);
})();
