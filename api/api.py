"""The NinjaAPI instance: `/api/v1/`, its OpenAPI document and browsable docs (served from our own static files)."""

import functools

from django.urls import path
from ninja import NinjaAPI, Swagger
from ninja.openapi.schema import OpenAPISchema

from api.core import ApiKeyAuth, StrictJsonParser, api_answers, install_error_handlers, not_found, required_scope
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


class ScopedOpenAPISchema(OpenAPISchema):
    """The OpenAPI document, with each operation's required scope in its description and security requirement
    (OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs)."""

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        scope = required_scope(operation)
        sentence = f"Needs an API key with the `{scope}` scope." if scope else "No API key may call this."
        details["description"] = f"{details['description']}\n\n{sentence}" if details.get("description") else sentence
        return details

    def operation_security(self, operation) -> list | None:
        security = super().operation_security(operation)
        scope = required_scope(operation)
        if security and scope:
            security = [{name: [scope] for name in requirement} for requirement in security]
        return security


class BoltworkApi(NinjaAPI):
    """NinjaAPI with scopes in its document, and the API's error body for wrong paths and methods too."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ScopedOpenAPISchema(self, path_prefix)

    def get_openapi_operation_id(self, operation) -> str:
        # Generated clients name their methods after these: they stay as they were when the endpoints lived in one
        # module, `api/endpoints.py`.
        return f"api_endpoints_{operation.view_func.__name__}"

    @property
    def urls(self) -> tuple[list, str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            pattern.callback = api_answers(pattern.callback)
        # Last, so it matches only what no endpoint did: `/api/v1/<anything else>` is a JSON 404, not a page.
        patterns.append(path("<path:rest>", not_found, name="not-found"))
        return patterns, app_name, namespace


api = BoltworkApi(
    title="Boltwork API",
    version="1",
    description=(
        "Everything a requester (and a worker's tools) can do on Boltwork, over JSON. Authenticate with "
        "`Authorization: Bearer <key>` (make keys on your settings page). Amounts are integers of millisatoshis "
        "(`*_msat`), IDs are opaque strings (30 characters of A–Z and digits; worker ids are `A` and 13 more, "
        "like Mechanical Turk's), the same in pages, webhooks and the results CSV; times are ISO 8601 with an "
        "offset. POSTs that create or move money accept an "
        '`Idempotency-Key` header. Errors are `{"error": {"code", "message", "details"}}`.\n\n'
        "**Idempotency.** A repeat of a POST with the same `Idempotency-Key` (per user) returns the first answer "
        "with `Idempotent-Replayed: true` and does nothing again; the same key with another request is 409 "
        "`idempotency_key_reused`, and a repeat while the first is still running is 409 "
        "`idempotency_key_in_progress`. A key is remembered for 24 hours from its first request: after that a "
        "repeat acts again, as a new request. Answers 401, 403, 429 and 5xx are not remembered (a repeat acts), "
        "and a key whose request never answered (the server stopped under it) is released after a timeout, 10 "
        "minutes by default.\n\n"
        "**Scopes.** Each key has one or more of four scopes, and each endpoint needs exactly one of them (its "
        "description says which): `read` for every GET (account, jobs, assignments, results, board, deposits, "
        "payouts, saved searches); `work` for a worker's claim, submit and return, and their saved searches (work "
        "alerts); `requester` for creating and changing jobs, "
        "adding tasks, publish, pause, resume, close and review; `money` for deposits, bonuses and the payout "
        "destination. A write scope does not imply `read`: a script that posts jobs and reads results needs both. "
        "A key with all four (the default) can do everything. A key without the scope an endpoint needs gets "
        "403 `insufficient_scope` with `details.required_scope`.\n\n"
        "**Expiry.** A key may have an expiry date; from then on it is refused with 401, exactly like a revoked key."
        "\n\n"
        "**Qualifications and blocks.** `GET /qualification-types` lists the system types Boltwork computes for every "
        "worker (`system: true`: approval rate, approved assignments, account age, has a payout destination) and "
        "your own custom types. A job's `qualification_requirements` use Mechanical Turk's comparators and "
        "`actions_guarded`; the board leaves out jobs a requirement hides from you and says in `access` whether you "
        "may take the others, and a claim you do not qualify for is 403 `not_qualified`, its message saying why. "
        "Custom types, their grants, a job's worker rules and blocks need the `requester` scope; asking for a type "
        "granted on request needs `work`."
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
