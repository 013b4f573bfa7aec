"""Serving requester-written HTML templates so they can never reach the worker's session.

The page that embeds the frame uses `<iframe sandbox="allow-scripts allow-forms">` without allow-same-origin, and
the frame's own response carries a CSP `sandbox` directive too, so even when opened directly it runs in an opaque
origin: no cookies, no storage, no access to the parent page. Answers leave only through postMessage, picked up by
the bridge script below and submitted by the parent page with its CSRF token.
"""

from django.http import HttpResponse


def frame_policy(asset_hosts: list[str] | tuple[str, ...] = ()) -> str:
    """The frame's Content-Security-Policy: it may load from and send to its own site and `data:` only, plus the
    https origins the requester declared for the job (workers see them on the job page). Anything else a template
    tries — an image whose URL carries what the worker typed, a fetch, a form posted elsewhere — is blocked; the
    parent page's `frame-src 'self'` also stops the frame from navigating itself to another site."""
    hosts = "".join(f" {host}" for host in asset_hosts)
    return (
        "sandbox allow-scripts allow-forms; default-src 'none'; "
        f"script-src 'unsafe-inline'{hosts}; style-src 'unsafe-inline'{hosts}; "
        f"img-src 'self' data:{hosts}; media-src 'self' data:{hosts}; font-src 'self' data:{hosts}; "
        f"connect-src 'self'{hosts}; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    )


# Runs inside the sandbox. It turns the template's form submission into a message to the parent page, and submits
# the form when the parent page's own buttons ask for it.
#
# Mechanical Turk's documents work unchanged: a form whose action is MTurk's externalSubmit (live, the worker
# sandbox's or `${turkSubmitTo}`) is intercepted like any form (CSP form-action 'none' would block it anyway), and so
# is a script's `form.submit()`, which fires no submit event. A `<crowd-form>` document gets what Amazon's
# crowd-html-elements.js (blocked by the CSP, never fetched) would give it: its named controls collected (inputs,
# textareas, selects, and crowd-* elements that carry a name and a value or are checked), a "submit" event on the
# crowd-form that its own listeners may cancel to refuse a submission, and a Submit button when it has none.
BRIDGE_SCRIPT = """<script>
(function () {
  var CHECKABLE_CROWD = {"CROWD-CHECKBOX": 1, "CROWD-RADIO-BUTTON": 1, "CROWD-TOGGLE-BUTTON": 1};
  function add(answer, key, value) {
    if (Object.prototype.hasOwnProperty.call(answer, key)) {
      answer[key] = [].concat(answer[key], value);
    } else {
      answer[key] = value;
    }
  }
  function collectForm(form) {
    var answer = {};
    new FormData(form).forEach(function (value, key) {
      if (typeof value === "string") { add(answer, key, value); }
    });
    return answer;
  }
  // What a crowd-form submits, read from its named elements since without Amazon's script it is no real form.
  function crowdControls(crowdForm) {
    return Array.prototype.filter.call(crowdForm.querySelectorAll("[name]"), function (element) {
      return !element.disabled && !element.hasAttribute("disabled");
    });
  }
  function collectCrowd(crowdForm) {
    var answer = {};
    crowdControls(crowdForm).forEach(function (element) {
      var name = element.getAttribute("name");
      var tag = element.tagName;
      if (tag === "INPUT") {
        var type = (element.type || "text").toLowerCase();
        if (["submit", "button", "reset", "image", "file"].indexOf(type) >= 0) { return; }
        if ((type === "checkbox" || type === "radio") && !element.checked) { return; }
        add(answer, name, element.value);
      } else if (tag === "SELECT") {
        Array.prototype.forEach.call(element.selectedOptions, function (option) { add(answer, name, option.value); });
      } else if (tag === "TEXTAREA") {
        add(answer, name, element.value);
      } else if (tag.indexOf("CROWD-") === 0) {
        var checkable = Object.prototype.hasOwnProperty.call(CHECKABLE_CROWD, tag);
        if (checkable && !(element.checked === true || element.hasAttribute("checked"))) { return; }
        var value = typeof element.value === "string" ? element.value : element.getAttribute("value");
        if (value === null && checkable) { value = "on"; }
        if (value !== null) { add(answer, name, String(value)); }
      }
    });
    return answer;
  }
  function crowdValid(crowdForm) {
    var controls = crowdControls(crowdForm);
    for (var i = 0; i < controls.length; i++) {
      if (typeof controls[i].reportValidity === "function" && !controls[i].reportValidity()) { return false; }
    }
    return true;
  }
  function send(answer, next) {
    parent.postMessage({boltwork: "answer", answer: answer, next: !!next}, "*");
  }
  function submitCrowd(crowdForm, next) {
    if (!crowdValid(crowdForm)) { return; }
    // The document's own checks listen for "submit" on the crowd-form and cancel it to keep the worker on the page.
    if (!crowdForm.dispatchEvent(new Event("submit", {cancelable: true}))) { return; }
    send(collectCrowd(crowdForm), next);
  }
  // The template's own submit button: the parent page submits only if the worker has just acted in the page
  // (a click or key press), so a template cannot submit by itself.
  document.addEventListener("submit", function (event) {
    if (!(event.target instanceof HTMLFormElement)) { return; }  // the crowd-form's own event, dispatched above
    event.preventDefault();
    var crowdForm = event.target.closest("crowd-form");
    if (crowdForm) { submitCrowd(crowdForm, false); } else { send(collectForm(event.target), false); }
  }, true);
  // form.submit() fires no submit event; MTurk templates call it from their own buttons' scripts.
  HTMLFormElement.prototype.submit = function () {
    var crowdForm = this.closest("crowd-form");
    if (crowdForm) { submitCrowd(crowdForm, false); } else { send(collectForm(this), false); }
  };
  function connectCrowdForm(crowdForm) {
    crowdForm.addEventListener("click", function (event) {
      var button = event.target.closest("crowd-button, button, input[type=submit]");
      if (!button || !crowdForm.contains(button) || button.closest("form")) { return; }
      var tag = button.tagName;
      var submits = tag === "CROWD-BUTTON" ? button.getAttribute("form-action") === "submit"
        : (button.getAttribute("type") || "submit").toLowerCase() === "submit";
      if (!submits) { return; }
      event.preventDefault();
      submitCrowd(crowdForm, false);
    });
    var hasSubmit = crowdForm.querySelector(
      "crowd-button[form-action=submit], button:not([type]), button[type=submit], input[type=submit]"
    );
    if (!hasSubmit) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Submit";
      button.addEventListener("click", function () { submitCrowd(crowdForm, false); });
      var wrapper = document.createElement("p");
      wrapper.appendChild(button);
      crowdForm.appendChild(wrapper);
    }
  }
  function connect() {
    var crowdForm = document.querySelector("crowd-form");
    if (crowdForm) { connectCrowdForm(crowdForm); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
  window.addEventListener("message", function (event) {
    if (event.source !== parent || !event.data || event.data.boltwork !== "collect") { return; }
    var crowdForm = document.querySelector("crowd-form");
    if (crowdForm) { submitCrowd(crowdForm, event.data.next); return; }
    var form = document.querySelector("form");
    if (!form) { send({}, false); return; }
    if (!form.reportValidity()) { return; }
    send(collectForm(form), event.data.next);
  });
})();
</script>"""


def sandboxed_frame_response(rendered_template: str, *, asset_hosts: list[str] | tuple[str, ...] = ()) -> HttpResponse:
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "</head><body>" + rendered_template + BRIDGE_SCRIPT + "</body></html>"
    )
    response = HttpResponse(document, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = frame_policy(asset_hosts)
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
