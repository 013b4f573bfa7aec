"""The endpoints load balancers, orchestrators and Prometheus call: /health/live, /health/ready and /metrics
(docs/deployment.md, "Health and metrics").

They are answered by the first middleware, before the rest of the stack, because they must work where the site's
pages would not: probes come by address (a Host header ALLOWED_HOSTS does not list), over plain http from inside the
network (no redirect to https), with no cookies, many times a minute (no session, no CSRF, no rate limit, nothing
counted in the request metrics). Nothing in them reads the Host header or writes anything.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from web.health import liveness_view, readiness_view
from web.metrics import metrics_view

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": liveness_view,
    "/health/ready": readiness_view,
    "/metrics": metrics_view,
}


class OperationsEndpointsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in {"GET", "HEAD"}:
            return HttpResponseNotAllowed(["GET", "HEAD"])
        response = view(request)
        response["Cache-Control"] = "no-store"
        return response
