import functools
import zoneinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

TIME_ZONE_COOKIE = "tz"

# The site's own pages run only the site's own scripts and styles. Task images may come from any https host.
DEFAULT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    """Sets the site's Content-Security-Policy unless a view set its own (the sandboxed task frame does)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


class BrowserTimeZoneMiddleware:
    """Shows and reads times in the time zone the person's browser named in the `tz` cookie (static/js/site.js);
    UTC without one. Only the names the zoneinfo database knows are used; times are stored in UTC regardless."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        zone = browser_time_zone(request.COOKIES.get(TIME_ZONE_COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)


def browser_time_zone(name: str) -> ZoneInfo | None:
    if not name or len(name) > 64 or name not in available_time_zones():
        return None
    return ZoneInfo(name)


@functools.cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class RequestSizeLimitMiddleware:
    """Answers 413 to a request that declares a body larger than MAX_REQUEST_BYTES, before anything reads it.

    Django's own limits count only form fields, not uploaded files, and apply while the body is being read: a
    200 MB upload was streamed to disk in full before the form refused it. A body without Content-Length is read
    as empty by Django's WSGI handler, so the declared length is the whole story.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isascii() and declared.isdigit() and int(declared) > settings.MAX_REQUEST_BYTES:
            return self.too_large(request)
        return self.get_response(request)

    def too_large(self, request) -> HttpResponse:
        megabytes = settings.MAX_REQUEST_BYTES // (1024 * 1024)
        message = f"The request is larger than {megabytes} MB. Split an upload into several smaller ones."
        if request.path.startswith("/api/"):
            body = {"error": {"code": "request_too_large", "message": message, "details": {}}}
            response: HttpResponse = JsonResponse(body, status=413)
        else:
            response = render(request, "413.html", {"message": message}, status=413)
        # The body was not read: the connection cannot be reused for a next request.
        response["Connection"] = "close"
        return response
