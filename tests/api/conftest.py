"""Fixtures for the JSON API tests: clients that send `Authorization: Bearer <key>` with keys made by the service."""

import json
import re
from http.server import BaseHTTPRequestHandler

import pytest
from django.test import Client

from api.models import WebhookDelivery
from api.services import api_key_create
from api.webhooks import webhook_deliver, webhook_deliveries_due
from tests.factories import SENTIMENT_FIELDS, make_user
from tests.http_servers import LoopbackServer

API = "/api/v1"


class ApiClient:
    """A Django test client that speaks JSON to `/api/v1` with one bearer key (or none, or any header given)."""

    def __init__(self, secret: str | None = None, *, authorization: str | None = None) -> None:
        self.client = Client(raise_request_exception=False)  # a 500 is an answer to assert on, not a crash
        self.secret = secret
        if authorization is None and secret is not None:
            authorization = f"Bearer {secret}"
        self.authorization = authorization

    def _headers(self, headers: dict | None) -> dict:
        merged = {"Authorization": self.authorization} if self.authorization is not None else {}
        merged.update(headers or {})
        return merged

    def request(self, method: str, path: str, body=None, *, content_type: str = "application/json", headers=None, **q):
        url = path if path.startswith(API) else f"{API}{path}"
        call = getattr(self.client, method.lower())
        kwargs = {"headers": self._headers(headers)}
        if method.upper() in {"GET", "DELETE", "HEAD"}:
            return call(url, q or None, **kwargs)
        if body is None:
            data = b""
        elif isinstance(body, (bytes, str)):
            data = body
        else:
            data = json.dumps(body)
        return call(url, data, content_type=content_type, **kwargs)

    def get(self, path: str, headers=None, **query):
        return self.request("GET", path, headers=headers, **query)

    def post(self, path: str, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)


def job_body(**overrides) -> dict:
    """A valid POST /jobs body: a form-builder job over a `review` column, 10 sats a task."""
    body = {
        "title": "Rate a review",
        "description": "Say whether a customer review is positive.",
        "instructions": "Read the review, pick one.",
        "reward_msat": 10_000,
        "assignments_per_task": 1,
        "time_limit_seconds": 600,
        "tags": ["Reviews", "text"],
        "form": {"prompt": "Review: {{review}}", "fields": SENTIMENT_FIELDS},
    }
    body.update(overrides)
    return body


def api_client_for(user, name: str = "tests") -> ApiClient:
    _, secret = api_key_create(user=user, name=name)
    return ApiClient(secret)


def error_of(response) -> dict:
    """The `error` object of an error response, after checking the body has exactly the documented shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def short(response) -> str:
    """The status and a short look at the body, for assertion messages (a 500 page shows just its title)."""
    content = response.content.decode(errors="replace") if hasattr(response, "content") else ""
    title = re.search(r"<title>(.*?)</title>", content, re.S)
    return f"{response.status_code} {title.group(1).strip() if title else content[:500]}"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, short(response)
    error = error_of(response)
    assert error["code"] == code, error
    return error


@pytest.fixture(autouse=True)
def _api_defaults(settings):
    """The development Lightning backend (no money), the default fee and a rate limit no ordinary test reaches."""
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "mainnet"
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000
    settings.DEPOSIT_MIN_MSAT = 1_000
    settings.DEPOSIT_MAX_MSAT = 10_000_000_000
    settings.API_RATE_LIMIT_PER_MINUTE = 600


@pytest.fixture
def requester_api(requester) -> ApiClient:
    return api_client_for(requester)


@pytest.fixture
def worker_api(worker) -> ApiClient:
    return api_client_for(worker)


@pytest.fixture
def stranger_api(stranger) -> ApiClient:
    return api_client_for(stranger)


@pytest.fixture
def anonymous_api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def broke_requester(db):
    """A requester with no balance at all."""
    return make_user("broke", funds_sats=0)


@pytest.fixture
def broke_api(broke_requester) -> ApiClient:
    return api_client_for(broke_requester)


def deliver_all() -> list[WebhookDelivery]:
    """What the webhook worker does with every delivery that is due now, in order."""
    return [webhook_deliver(delivery_id=delivery_id) for delivery_id in webhook_deliveries_due()]


class Receiver(LoopbackServer):
    """An https-less test endpoint on 127.0.0.1 that records what it is sent and answers a chosen status."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://{self.host_port}/hooks/boltwork"


@pytest.fixture
def receiver(settings):
    with Receiver() as running:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [running.host_port]
        yield running
