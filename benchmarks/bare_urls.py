"""The bare Django's one view (benchmarks/bare_settings.py), also at /health/live where BenchServer waits for it."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/plain/", plain), path("health/live", plain)]
