"""The API's plumbing: bearer-key auth, the error body, status codes for domain errors, idempotency, cursors."""

import base64
import functools
import json

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from api import services
from marketplace.errors import DomainError, InvalidInput, NotFound
from marketplace.models import User
from payments.errors import InsufficientFunds, LightningUnavailable

MAX_PAGE_SIZE = 500
# Answers that say nothing about the request itself: a repeat with the same Idempotency-Key must try again.
NOT_REMEMBERED = frozenset({401, 429, 503})
HTTP_ERROR_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}
DEFAULT_PAGE_SIZE = 50


class ApiError(Exception):
    """An API answer that is not a domain error: rate limits, bad cursors, wrong content types."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def status_of(error: DomainError) -> int:
    """Not found 404, short of funds 402, bad input 400, node unreachable 503; every other refusal is a state
    conflict, 409 (already submitted, job not published, no task available, idempotency key reused, ...)."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InsufficientFunds):
        return 402
    if isinstance(error, LightningUnavailable):
        return 503
    if isinstance(error, InvalidInput):
        return 400
    return 409


def install_error_handlers(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, error: DomainError):
        return error_response(status_of(error), error.code, error.message, error.details)

    @api.exception_handler(ApiError)
    def api_error(request, error: ApiError):
        return error_response(error.status, error.code, error.message, error.details)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request, error: NinjaValidationError):
        return error_response(400, "validation_error", "The request is not valid.", {"errors": _plain(error.errors)})

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, error):
        return error_response(401, "unauthorized", "Send a valid API key: `Authorization: Bearer <key>`.")

    @api.exception_handler(Http404)
    def not_found(request, error):
        return error_response(404, "not_found", "Not found.")

    @api.exception_handler(HttpError)
    def http_error(request, error: HttpError):
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error))


def _plain(errors: list) -> list:
    """Pydantic's error list, made JSON-safe (its `ctx` may hold exception objects)."""
    return json.loads(json.dumps(errors, default=str))


NUL_MESSAGE = "Text may not contain the NUL character (\\u0000)."


def contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class StrictJsonParser(Parser):
    """JSON bodies and query strings as ninja parses them, minus NUL characters, which PostgreSQL cannot store."""

    def parse_body(self, request: HttpRequest) -> dict:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "validation_error", "The body must be a JSON object.")
        if contains_nul(data):
            raise ApiError(400, "validation_error", NUL_MESSAGE)
        return data

    def parse_querydict(self, data, list_fields, request: HttpRequest) -> dict:
        parsed = super().parse_querydict(data, list_fields, request)
        if contains_nul(parsed):
            raise ApiError(400, "validation_error", NUL_MESSAGE)
        return parsed


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = services.api_key_authenticate(secret=token)
        if user is not None:
            _check_rate_limit(user)
        return user


def _check_rate_limit(user: User) -> None:
    """A fixed one-minute window per user, counted in the cache (Redis when CACHE_URL says so)."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    key = f"api-rate:{user.pk}"
    cache.add(key, 0, timeout=60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        used = 1
    if used > limit:
        raise ApiError(429, "rate_limited", f"More than {limit} requests in a minute; slow down.")


def idempotent(view):
    """For POSTs that create or move money: with an `Idempotency-Key` header, a repeat of the same request returns
    the first answer and does nothing again; the same key with another request is a 409.

    Applied with `ninja.decorators.decorate_view`, so it sees the finished HttpResponse.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        user = _bearer_user(request)
        if key is None or user is None:
            return view(request, *args, **kwargs)
        fingerprint = services.request_fingerprint(method=request.method, path=request.path, body=request.body)
        try:
            record = services.idempotency_begin(user=user, key=key, fingerprint=fingerprint)
        except DomainError as error:
            return error_response(status_of(error), error.code, error.message, error.details)
        if record is not None:
            replay = HttpResponse(record.response_body, status=record.response_status, content_type="application/json")
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            services.idempotency_abandon(user=user, key=key)
            raise
        if response.status_code in NOT_REMEMBERED:
            services.idempotency_abandon(user=user, key=key)
        else:
            body = json.loads(response.content)
            services.idempotency_finish(user=user, key=key, status=response.status_code, body=body)
        return response

    return wrapper


def _bearer_user(request: HttpRequest) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return services.api_key_authenticate(secret=token.strip())


def parse_id(value: str) -> int:
    """IDs are strings in the API; anything that is not one of ours is simply not found."""
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise NotFound("Not found.")
    return int(value)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.") from None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.")
    return int(text)


def page_of(queryset, *, cursor: str | None, limit: int | None, serialize) -> dict:
    """Keyset pagination, newest first: `{"items": [...], "next": cursor or null}`."""
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    after = decode_cursor(cursor)
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return {
        "items": [serialize(row) for row in rows],
        "next": encode_cursor(rows[-1].pk) if has_more and rows else None,
    }
