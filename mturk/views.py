"""The endpoints: `POST /mturk` (real money) and `POST /sandbox/mturk` (play money). Each call is checked for its
Signature Version 4 signature (mturk.signing) before anything else is read, then dispatched by its X-Amz-Target.
Not under CSRF (a signed call carries no cookie), and the paths have no trailing slash, as boto3 posts them."""

import json
import logging
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core import ratelimit
from core.errors import DomainError, RateLimited
from mturk.operations import OPERATIONS
from mturk.protocol import CONTENT_TYPE, TARGET_PREFIX, Caller, RequestError
from mturk.sandbox_money import sandbox_balance_ensure
from mturk.signing import SignatureRefused, verify_signature

logger = logging.getLogger(__name__)
SERVICE_FAULT_MESSAGE = "Boltwork is temporarily unable to process your request. Try your call again."


@csrf_exempt
def live_endpoint(request: HttpRequest) -> HttpResponse:
    return _endpoint(request, sandbox=False)


@csrf_exempt
def sandbox_endpoint(request: HttpRequest) -> HttpResponse:
    return _endpoint(request, sandbox=True)


def _endpoint(request: HttpRequest, *, sandbox: bool) -> HttpResponse:
    request_id = str(uuid.uuid4())
    if request.method != "POST":
        return _error("RequestError", "The Mechanical Turk API takes POST requests only.", request_id)
    try:
        credential = verify_signature(request)
    except SignatureRefused as refusal:
        return _error("RequestError", refusal.message, request_id)
    try:
        # The API v1 budget, shared: one requester's calls over both APIs count together.
        ratelimit.enforce(
            f"api:{credential.user_id}",
            limit=settings.API_RATE_LIMIT_PER_MINUTE,
            period_seconds=60,
            action="API requests",
        )
    except RateLimited as error:
        # AWS's throttling error: boto3 and the other SDKs back off and retry it by themselves.
        return _error("ThrottlingException", error.message, request_id)
    target = request.headers.get("X-Amz-Target", "")
    name = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
    operation = OPERATIONS.get(name)
    if operation is None:
        shown = name or target or "(none)"
        return _error(
            "RequestError",
            f"The operation {shown} is not offered by Boltwork's Mechanical Turk API (docs/mturk.md lists the "
            "ones it offers).",
            request_id,
        )
    try:
        params = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        return _error("RequestError", "The request body is not JSON.", request_id)
    if not isinstance(params, dict):
        return _error("RequestError", "The request body must be a JSON object.", request_id)
    caller = Caller(user=credential.user, credential=credential, sandbox=sandbox)
    try:
        if sandbox:
            sandbox_balance_ensure(user=caller.user)
        answer = operation(caller, params)
    except RequestError as error:
        return _error("RequestError", error.message, request_id, code=error.code)
    except DomainError as error:
        return _error("RequestError", error.message, request_id, code=f"AWS.MechanicalTurk.{error.code}")
    except Exception:
        logger.exception("Mechanical Turk API %s failed (request %s)", name, request_id)
        return _error("ServiceFault", SERVICE_FAULT_MESSAGE, request_id, status=500)
    return _answer(answer, request_id)


def _answer(body: dict, request_id: str, *, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body), content_type=CONTENT_TYPE, status=status)
    response["x-amzn-RequestId"] = request_id
    response["Cache-Control"] = "no-store"
    return response


def _error(kind: str, message: str, request_id: str, *, status: int = 400, code: str = "") -> HttpResponse:
    body = {"__type": kind, "Message": message}
    if code:
        body["TurkErrorCode"] = code
    return _answer(body, request_id, status=status)
