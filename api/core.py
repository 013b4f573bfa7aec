"""The API's plumbing: bearer-key auth with scopes, the error body, status codes for domain errors, idempotency,
cursors."""

import base64
import functools
import json
import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.parser import Parser
from ninja.security import HttpBearer

from api import services
from api.models import ApiKey
from core import ratelimit
from core.errors import DomainError, RateLimited
from core.ids import is_public_id
from marketplace.models import User

MAX_PAGE_SIZE = 500
# Answers that say nothing about the request itself: a repeat with the same Idempotency-Key must try again (a 403
# is about the key that sent it; the same request with a key that has the scope must still act).
NOT_REMEMBERED = frozenset({401, 403, 429, 503})
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


def install_error_handlers(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, error: DomainError):
        response = error_response(error.status, error.code, error.message, error.details)
        if isinstance(error, RateLimited):
            response["Retry-After"] = str(error.retry_after_seconds)
        return response

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
        if isinstance(error.__cause__, ApiError):  # ninja wraps what our body parser raises: keep its own words
            return api_error(request, error.__cause__)
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error))


def _plain(errors: list) -> list:
    """Pydantic's error list, made JSON-safe (its `ctx` may hold exception objects)."""
    return json.loads(json.dumps(errors, default=str))


UNSTORABLE_MESSAGE = (
    "Text may not contain the NUL character (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff); "
    "a character outside the Basic Multilingual Plane must be sent whole (or as a surrogate pair)."
)
# JSON may escape any code unit, so `"\ud800"` parses to a str that has no UTF-8 form: the database driver then
# fails to encode it (a 500). NUL is valid UTF-8 but PostgreSQL's text cannot hold it. A valid escaped pair
# (`"\ud83d\ude00"`) is joined into one character by the parser and passes.
UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def contains_unstorable_text(value: object) -> bool:
    """Whether any string in a parsed JSON value (keys included, at any depth) cannot be stored as text."""
    if isinstance(value, str):
        return UNSTORABLE_CHARACTER.search(value) is not None
    if isinstance(value, dict):
        return any(contains_unstorable_text(key) or contains_unstorable_text(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_unstorable_text(item) for item in value)
    return False


class StrictJsonParser(Parser):
    """JSON bodies and query strings as ninja parses them, minus text the database cannot store."""

    def parse_body(self, request: HttpRequest) -> dict:
        # JSON costs tens of times its size in Python objects: no endpoint with a JSON body needs more than this
        # (task imports, the one large body, read their own body: see api/endpoints.py).
        if len(request.body) > settings.API_MAX_JSON_BODY_BYTES:
            raise ApiError(
                413, "request_too_large", f"The body is larger than {settings.API_MAX_JSON_BODY_BYTES:,} bytes."
            )
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ApiError(400, "validation_error", "The body must be a JSON object.")
        if contains_unstorable_text(data):
            raise ApiError(400, "validation_error", UNSTORABLE_MESSAGE)
        return data

    def parse_querydict(self, data, list_fields, request: HttpRequest) -> dict:
        parsed = super().parse_querydict(data, list_fields, request)
        if contains_unstorable_text(parsed):
            raise ApiError(400, "validation_error", UNSTORABLE_MESSAGE)
        return parsed


class ApiKeyAuth(HttpBearer):
    """Bearer keys, and the one place scopes are enforced. Every endpoint declares the scope it needs next to its
    route, `auth=ApiKeyAuth(ApiScope.READ)`; an operation that declares none (`ApiKeyAuth()`, the API's default)
    is refused to every key, so a forgotten declaration fails closed.

    Unknown, revoked and expired keys are 401; a valid key without the scope is 403 `insufficient_scope`.
    """

    def __init__(self, scope: str | None = None) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        api_key = services.api_key_authenticate(secret=token)
        if api_key is None:
            return None
        _check_rate_limit(api_key.user)
        check_scope(api_key, self.scope)
        request.api_key = api_key
        return api_key.user


def required_scope(operation: Operation) -> str | None:
    """The scope an operation declared with its `ApiKeyAuth`, or None if it declared none."""
    for auth in operation.auth_callbacks:
        if isinstance(auth, ApiKeyAuth):
            return auth.scope
    return None


def check_scope(api_key: ApiKey, scope: str | None) -> None:
    if scope is None or scope not in api_key.scopes:
        wanted = f"the `{scope}` scope" if scope else "a scope, and this endpoint declares none"
        raise ApiError(
            403,
            "insufficient_scope",
            f"This API key lacks {wanted}; make a key that has it on your API settings page.",
            {"required_scope": scope},
        )


def _check_rate_limit(user: User) -> None:
    """A fixed one-minute window per user, counted in the cache (Redis when CACHE_URL says so): RateLimited, a 429
    with Retry-After, past API_RATE_LIMIT_PER_MINUTE."""
    ratelimit.enforce(
        f"api:{user.pk}", limit=settings.API_RATE_LIMIT_PER_MINUTE, period_seconds=60, action="API requests"
    )


def idempotent(view):
    """For POSTs that create or move money: with an `Idempotency-Key` header, a repeat of the same request returns
    the first answer and does nothing again; the same key with another request is a 409. A key is remembered for
    24 hours, and one whose request crashed before answering is released after a timeout (api.services).

    Applied with `ninja.decorators.decorate_view`, so it sees the finished HttpResponse. That wraps the operation
    before its authentication runs, so the key is checked here too, scope included: a key that may not call the
    endpoint must not replay (read) an answer another key of the same user got.
    """
    operation = getattr(view, "__self__", None)
    if not isinstance(operation, Operation):
        raise TypeError("apply `idempotent` with ninja's decorate_view, which wraps Operation.run")

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        api_key = _bearer_key(request)
        if key is None or api_key is None or required_scope(operation) not in api_key.scopes:
            return view(request, *args, **kwargs)  # the operation's own authentication answers 401 or 403
        user = api_key.user
        fingerprint = services.request_fingerprint(method=request.method, path=request.path, body=request.body)
        try:
            record = services.idempotency_begin(user=user, key=key, fingerprint=fingerprint)
        except DomainError as error:
            return error_response(error.status, error.code, error.message, error.details)
        if record.answered:
            replay = HttpResponse(record.response_body, status=record.response_status, content_type="application/json")
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            services.idempotency_abandon(record=record)
            raise
        if response.status_code in NOT_REMEMBERED:
            services.idempotency_abandon(record=record)
        else:
            body = json.loads(response.content)
            services.idempotency_finish(record=record, status=response.status_code, body=body)
        return response

    return wrapper


def _bearer_key(request: HttpRequest) -> ApiKey | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return services.api_key_authenticate(secret=token.strip())


def api_answers(view):
    """For the API's URL patterns outside its operations: a method a path does not allow (ninja answers plain
    text) and a 404 (the API root raises one) become the API's error body. Every operation's own errors already
    are."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = sorted(method.strip() for method in response["Allow"].split(",") if method.strip())
            answer = error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; this path allows {', '.join(allowed)}.",
                {"allowed_methods": allowed},
            )
            answer["Allow"] = ", ".join(allowed)
            return answer
        return response

    return wrapper


def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any path under the API that is none of its endpoints."""
    return error_response(404, "not_found", "No such API endpoint; the list is at /api/v1/docs.")


not_found.csrf_exempt = True  # a POST to a wrong path is a 404, not a CSRF page


def encode_cursor(last_public_id: str) -> str:
    return base64.urlsafe_b64encode(last_public_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The public id of the last item of the page before; primary keys never leave the server."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.") from None
    if not is_public_id(text):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.")
    return text


def page_of(queryset, *, cursor: str | None, limit: int | None) -> dict:
    """Keyset pagination, newest first: `{"items": [...], "next": cursor or null}`; the page's schema shapes the
    items."""
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    after = decode_cursor(cursor)
    if after is not None:
        # Keyset on the primary key of the item the cursor names (a list of the same kind of thing may pass its
        # cursor to another, which then starts after that item too).
        last_seen = queryset.model.objects.filter(public_id=after).values_list("pk", flat=True).first()
        if last_seen is None:
            raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.")
        queryset = queryset.filter(pk__lt=last_seen)
    rows = list(queryset.order_by("-pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return {
        "items": rows,
        "next": encode_cursor(rows[-1].public_id) if has_more and rows else None,
    }
