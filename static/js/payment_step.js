// The payment step: "Use this test address" (development only) puts the test wallet's Lightning Address into the
// address field. The button stays hidden without this script; the address is on the page to copy either way.
(function () {
  "use strict";

  document.querySelectorAll("[data-fill-address]").forEach(function (button) {
    var field = button.form && button.form.elements.namedItem("address");
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.value = button.getAttribute("data-fill-address");
      field.focus();
    });
  });
})();
