"""Boltwork's URLs plus one plain view, the floor every request is compared with (benchmarks/bench_settings.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/plain/", plain),
    # BenchServer waits for /health/live, which OperationsEndpointsMiddleware answers: here too when it is removed.
    path("health/live", plain),
    path("", include("web.urls")),
]
