"""/health/live, /health/ready and /metrics (web/operations.py, web/health.py, web/metrics.py; docs/deployment.md).

Load balancers and Prometheus call them by address, over http, without cookies: they must answer whatever the Host
header, never redirect, never set a cookie and never be cached. Readiness must fail, naming the check, when the
broker, the cache or the Lightning backend cannot be reached, and within its timeout when the backend hangs."""

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import redis
from django.conf import settings as django_settings
from django.db.models import Sum
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone

from marketplace.celery import app
from payments.models import Account, PayoutState
from tests.factories import make_user
from tests.factories.assignments import give_earnings
from tests.factories.reputations import paid_out
from tests.http_servers import LoopbackServer

TOKEN = "scrape-token-for-tests"


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_a_probe(client, path: str, **extra):
    """What a load balancer sends: the host's address as Host, plain http, no cookies."""
    return client.get(path, HTTP_HOST="10.20.30.40:8000", **extra)


# Liveness ----------------------------------------------------------------------------------------------------------


def test_liveness_answers_any_host_over_http_without_asking_the_database(
    db, client, settings, django_assert_num_queries
):
    settings.SECURE_SSL_REDIRECT = True  # as on an https site: probes still get an answer, not a redirect

    with django_assert_num_queries(0):
        response = as_a_probe(client, "/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies


def test_the_endpoints_only_read(client):
    assert client.post("/health/live").status_code == 405
    assert client.post("/health/ready").status_code == 405


# Readiness ---------------------------------------------------------------------------------------------------------


def test_readiness_says_each_dependency_answers(db, client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = as_a_probe(client, "/health/ready")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "lightning": "ok"},
    }
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies


def test_readiness_fails_when_the_broker_is_unreachable(db, client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = as_a_probe(client, "/health/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "unavailable", "lightning": "ok"}


def test_readiness_fails_when_the_cache_is_unreachable(db, client):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
    }
    # Not the settings fixture: the cache must be back before the suite's own fixtures clear it.
    with override_settings(CACHES={"default": unreachable}):
        response = as_a_probe(client, "/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"
    assert response.json()["checks"]["database"] == "ok"


class FakeLnbits(BaseHTTPRequestHandler):
    """LNbits' wallet route, answering as the test says: a balance, an error, or nothing until released."""

    answer = "balance"
    release = threading.Event()

    def do_GET(self):
        if self.answer == "hang":
            self.release.wait(timeout=30)
        if self.answer == "balance":
            body, status = json.dumps({"name": "platform", "balance": 1_000_000}).encode(), 200
        else:
            body, status = b'{"detail": "funding source unavailable"}', 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_lnbits(settings):
    FakeLnbits.release.clear()
    with LoopbackServer(FakeLnbits) as server:
        settings.LIGHTNING_BACKEND = "lnbits"
        settings.LNBITS_URL = f"http://{server.host_port}"
        settings.LNBITS_ADMIN_KEY = "admin-key"
        yield FakeLnbits
        FakeLnbits.release.set()


@pytest.mark.parametrize(("answer", "expected"), [("balance", "ok"), ("error", "unavailable")])
def test_readiness_asks_the_lightning_backend(db, client, fake_lnbits, answer, expected):
    fake_lnbits.answer = answer

    response = as_a_probe(client, "/health/ready")

    assert response.json()["checks"]["lightning"] == expected
    assert response.status_code == (200 if expected == "ok" else 503)


def test_readiness_gives_up_on_a_hanging_lightning_backend_after_its_timeout(db, client, settings, fake_lnbits):
    fake_lnbits.answer = "hang"
    settings.HEALTH_LIGHTNING_TIMEOUT_SECONDS = 0.5

    started = time.monotonic()
    response = as_a_probe(client, "/health/ready")
    waited = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["checks"]["lightning"] == "unavailable"
    # The backend's own read timeout is 15 s and the fake server hangs for 30: the answer came from readiness's.
    assert waited < 10, waited


# Metrics -----------------------------------------------------------------------------------------------------------


def scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return as_a_probe(client, "/metrics", **headers)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels in Prometheus's text format, or None."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or "")) == labels:
            return float(match.group(3))
    return None


def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(db, client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404

    settings.METRICS_TOKEN = TOKEN
    assert scrape(client, token=None).status_code == 403
    assert scrape(client, token="not-the-token").status_code == 403
    assert scrape(client).status_code == 200


@pytest.fixture
def payouts_queue():
    broker = redis.Redis.from_url(django_settings.REDIS_URL)
    broker.delete("payouts")
    yield broker
    broker.delete("payouts")
    broker.close()


def test_metrics_count_queued_jobs_payouts_by_state_and_the_ledger(db, client, settings, payouts_queue):
    settings.METRICS_TOKEN = TOKEN
    worker = make_user("paid-worker")
    give_earnings(worker, 50_000)
    paid_out(worker, created_at=timezone.now(), settled_at=timezone.now())
    for _ in range(2):  # no Celery worker runs: they wait in the queue
        app.send_task("payments.background.advance_payout", args=[0])

    text = scrape(client).content.decode()

    assert sample(text, "boltwork_celery_queue_length", queue="payouts") == 2
    assert sample(text, "boltwork_celery_queue_length", queue="sweepers") is not None
    assert sample(text, "boltwork_payouts", state=PayoutState.SUCCEEDED) == 1
    assert sample(text, "boltwork_payouts_msat", state=PayoutState.SUCCEEDED) == 50_000
    assert sample(text, "boltwork_payouts", state=PayoutState.SENDING) == 0
    for kind in ("lightning_out", "worker_earned", "job_escrow"):
        expected = Account.objects.filter(kind=kind, book="real").aggregate(total=Sum("balance_msat"))["total"]
        assert sample(text, "boltwork_ledger_balance_msat", kind=kind, book="real") == expected, kind
    assert sample(text, "boltwork_ledger_balance_msat", kind="lightning_out", book="real") >= 50_000
    for part in ("celery", "payouts", "ledger"):
        assert sample(text, "boltwork_metrics_part_up", part=part) == 1


def test_metrics_report_a_part_they_cannot_read_and_still_answer(db, client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = scrape(client)

    assert response.status_code == 200
    text = response.content.decode()
    assert sample(text, "boltwork_metrics_part_up", part="celery") == 0
    assert sample(text, "boltwork_metrics_part_up", part="payouts") == 1


def responses_counted(text: str) -> float:
    name = "django_http_responses_total_by_status_view_method_total"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def test_metrics_give_request_latency_by_view_when_turned_on(db, client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "web.metrics.RequestMetricsMiddleware", *settings.MIDDLEWARE[1:]]
    by_view = "django_http_requests_latency_seconds_by_view_method_count"

    text = scrape(client).content.decode()
    before, responses_before = sample(text, by_view, view="board", method="GET") or 0, responses_counted(text)
    assert client.get("/").status_code == 200
    as_a_probe(client, "/health/live")
    text = scrape(client).content.decode()

    assert sample(text, by_view, view="board", method="GET") == before + 1
    assert sample(text, "django_http_responses_total_by_status_view_method_total", status="200", view="board",
                  method="GET") >= 1  # fmt: skip
    # The page counted; the probe and the scrapes, answered before the metrics' middleware, did not.
    assert responses_counted(text) == responses_before + 1


def failing_view(request):
    raise RuntimeError("the view failed")


urlpatterns = [path("failing/", failing_view, name="failing")]


def test_a_failed_request_is_counted_once(db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "web.metrics.RequestMetricsMiddleware", *settings.MIDDLEWARE[1:]]
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    by_view = "django_http_requests_latency_seconds_by_view_method_count"
    exceptions = "django_http_exceptions_total_by_view_total"

    text = scrape(client).content.decode()
    before, exceptions_before = (
        sample(text, by_view, view="failing", method="GET") or 0,
        sample(text, exceptions, view="failing") or 0,
    )
    assert client.get("/failing/").status_code == 500
    text = scrape(client).content.decode()

    assert sample(text, by_view, view="failing", method="GET") == before + 1
    assert sample(text, exceptions, view="failing") == exceptions_before + 1
