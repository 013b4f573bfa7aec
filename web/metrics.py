"""Prometheus metrics at /metrics (docs/deployment.md, "Health and metrics").

Two parts in one answer:
- what django-prometheus records in this process as requests and queries go by (request latency by view, response
  codes, database queries): with several gunicorn workers, prometheus_client's multiprocess mode adds up every
  worker's figures (PROMETHEUS_MULTIPROC_DIR, deploy/gunicorn.conf.py);
- Boltwork's own figures, computed at scrape time from the shared state, so any web process gives the same answer:
  Celery queue depths (Redis LLEN), payouts by state, and the ledger's balances by account kind.

The endpoint is off (404) unless METRICS_TOKEN is set; then it answers only `Authorization: Bearer <token>`.
"""

import hmac
import logging
import os
from collections.abc import Iterator

import prometheus_client
import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.middleware import PrometheusAfterMiddleware
from django_prometheus.utils import Time, TimeSince
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from payments.selectors import ledger_balances_by_kind, payout_counts_by_state

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 2.0
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists of their own beside the queue's.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
# Messages a worker has taken but not yet acknowledged (every job acknowledges late): kombu's hash of them.
KOMBU_UNACKED_KEY = "unacked"


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        return HttpResponse("A valid bearer token is required.\n", status=403, content_type="text/plain")
    body = prometheus_client.generate_latest(process_registry()) + prometheus_client.generate_latest(
        boltwork_registry()
    )
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus's request latency by view and method and its responses by status, view and method, from
    one middleware placed first, so the latency covers the whole stack: about a seventh of what its two middlewares
    cost a request (docs/deployment.md). Left out: its counts by method and transport, request and response body
    sizes, charsets, streaming and template names, each a counter or histogram more on every request. Exceptions
    are still counted by type and view."""

    def process_request(self, request: HttpRequest) -> None:
        request.prometheus_after_middleware_event = Time()

    def process_view(self, request: HttpRequest, view_func, *view_args, **view_kwargs) -> None:
        return None

    def process_template_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Count it by type and view. Its latency is recorded once, with the 500 answer, in process_response:
        django-prometheus's own middleware records it here too, so a failed request counted twice."""
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
        self.metrics.exceptions_by_view.labels(view=self._get_view_name(request)).inc()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        method = self._method(request)
        view = self._get_view_name(request)
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method
        ).inc()
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            self.metrics.requests_latency_by_view_method.labels(view=view, method=method).observe(TimeSince(started))
        return response


def process_registry() -> CollectorRegistry:
    """django-prometheus's figures: every worker process's together in multiprocess mode, else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def boltwork_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BoltworkCollector())
    return registry


class BoltworkCollector(Collector):
    """Boltwork's own figures, read from PostgreSQL and Redis when scraped. A part that cannot be read is left out
    and `boltwork_metrics_part_up` says which (the scrape itself still succeeds)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "boltwork_metrics_part_up", "1 when this part of the metrics could be read.", labels=["part"]
        )
        for part, read in (("celery", celery_metrics), ("payouts", payout_metrics), ("ledger", ledger_metrics)):
            try:
                families = list(read())
            except Exception:  # a scrape reports what it can; the log has the reason
                logger.exception("Metrics: could not read %s", part)
                up.add_metric([part], 0)
                continue
            up.add_metric([part], 1)
            yield from families
        yield up


def celery_queue_names() -> list[str]:
    """Celery's default queue and every queue settings.CELERY_TASK_ROUTES sends jobs to."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return ["celery", *sorted(routed - {"celery"})]


def celery_metrics() -> Iterator[GaugeMetricFamily]:
    if not settings.REDIS_URL:
        return  # the filesystem broker of `make run`: nothing to count across hosts
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        queues = celery_queue_names()
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(queue)
            for step in KOMBU_PRIORITY_STEPS:
                pipeline.llen(f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}")
        pipeline.hlen(KOMBU_UNACKED_KEY)
        lengths = pipeline.execute()
    finally:
        client.close()
    per_queue = 1 + len(KOMBU_PRIORITY_STEPS)
    depth = GaugeMetricFamily(
        "boltwork_celery_queue_length", "Messages waiting in each Celery queue (Redis LLEN).", labels=["queue"]
    )
    for index, queue in enumerate(queues):
        depth.add_metric([queue], sum(lengths[index * per_queue : (index + 1) * per_queue]))
    yield depth
    yield GaugeMetricFamily(
        "boltwork_celery_unacked_messages",
        "Messages Celery workers have taken and not yet acknowledged (jobs running or reserved).",
        value=lengths[-1],
    )


def payout_metrics() -> Iterator[GaugeMetricFamily]:
    count = GaugeMetricFamily("boltwork_payouts", "Payouts in each state.", labels=["state"])
    amount = GaugeMetricFamily("boltwork_payouts_msat", "Millisatoshis of the payouts in each state.", labels=["state"])
    for state, (number, total_msat) in payout_counts_by_state().items():
        count.add_metric([state], number)
        amount.add_metric([state], total_msat)
    yield count
    yield amount


def ledger_metrics() -> Iterator[GaugeMetricFamily]:
    balance = GaugeMetricFamily(
        "boltwork_ledger_balance_msat",
        "The ledger's balances summed by account kind and book (they sum to zero over every kind of a book).",
        labels=["kind", "book"],
    )
    for (kind, book), total_msat in ledger_balances_by_kind().items():
        balance.add_metric([kind, book], total_msat)
    yield balance
