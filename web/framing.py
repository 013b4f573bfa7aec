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
BRIDGE_SCRIPT = """<script>
(function () {
  function collect(form) {
    var answer = {};
    new FormData(form).forEach(function (value, key) {
      if (typeof value !== "string") { return; }
      if (Object.prototype.hasOwnProperty.call(answer, key)) {
        answer[key] = [].concat(answer[key], value);
      } else {
        answer[key] = value;
      }
    });
    return answer;
  }
  function send(form, next) {
    parent.postMessage({boltwork: "answer", answer: collect(form), next: !!next}, "*");
  }
  // The template's own submit button: the parent page submits only if the worker has just acted in the page
  // (a click or key press), so a template cannot submit by itself.
  document.addEventListener("submit", function (event) {
    event.preventDefault();
    send(event.target, false);
  }, true);
  window.addEventListener("message", function (event) {
    if (event.source !== parent || !event.data || event.data.boltwork !== "collect") { return; }
    var form = document.querySelector("form");
    if (!form) { parent.postMessage({boltwork: "answer", answer: {}, next: false}, "*"); return; }
    if (!form.reportValidity()) { return; }
    send(form, event.data.next);
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
