"""The NinjaAPI instance: `/api/v1/`, its OpenAPI document and browsable docs (served from our own static files)."""

import functools

from ninja import NinjaAPI, Swagger

from api.core import ApiKeyAuth, StrictJsonParser, install_error_handlers
from api.endpoints import router

DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def docs_policy(view):
    """Swagger UI sets inline styles; its page alone may have them (its scripts are still only our own files)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response

    return wrapper


api = NinjaAPI(
    title="Boltwork API",
    version="1",
    description=(
        "Everything a requester (and a worker's tools) can do on Boltwork, over JSON. Authenticate with "
        "`Authorization: Bearer <key>` (make keys on your settings page). Amounts are integers of millisatoshis "
        "(`*_msat`), IDs are strings, times are ISO 8601 with an offset. POSTs that create or move money accept an "
        '`Idempotency-Key` header. Errors are `{"error": {"code", "message", "details"}}`.'
    ),
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs=Swagger(settings={"persistAuthorization": True}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=docs_policy,
    parser=StrictJsonParser(),
)
install_error_handlers(api)
api.add_router("/", router)
