// The wallet log-in (lnauth): when the polled status turns into the signed form, submit it, so the page logs in by
// itself. A static file because the Content-Security-Policy forbids inline scripts.
(function () {
  if (window.boltworkLnauth) return;
  window.boltworkLnauth = true;
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail && event.detail.elt;
    if (!element || !element.querySelector) return;
    var form = element.matches("form[data-lnauth-autosubmit]")
      ? element
      : element.querySelector("form[data-lnauth-autosubmit]");
    if (form) form.submit();
  });
})();
