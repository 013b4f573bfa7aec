"""Liveness and readiness for load balancers and orchestrators (docs/deployment.md, "Health and metrics").

Liveness says the process answers and asks nothing else: a database outage must not get every web process
restarted. Readiness asks what a request needs, each with a short timeout of its own, through django-health-check's
checks: the database, the broker (Redis), the cache and the Lightning backend. The answer names each check and
whether it passed, never an address or an error's text: those go to the log (logger "health_check").
"""

import asyncio
import dataclasses
import datetime
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Cache, Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from redis.asyncio import Redis as AsyncRedis

from payments.lightning.base import LightningError
from payments.lightning.registry import get_backend

BROKER_TIMEOUT_SECONDS = 2.0


def liveness_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readiness_view(request: HttpRequest) -> JsonResponse:
    results = run_checks(readiness_checks())
    ready = all(result.error is None for result in results.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: "ok" if result.error is None else "unavailable" for name, result in results.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def readiness_checks() -> dict[str, HealthCheck]:
    checks: dict[str, HealthCheck] = {"database": Database(), "cache": Cache(key_prefix="boltwork-health")}
    if settings.REDIS_URL:  # the filesystem broker of `make run` has nothing to ask
        checks["broker"] = Redis(client_factory=broker_client)
    checks["lightning"] = LightningBackend()
    return checks


def broker_client() -> AsyncRedis:
    return AsyncRedis.from_url(
        settings.REDIS_URL, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS
    )


@dataclasses.dataclass
class LightningBackend(HealthCheck):
    """The configured Lightning backend answers its cheapest question: the platform wallet's balance."""

    timeout: datetime.timedelta = dataclasses.field(
        default_factory=lambda: datetime.timedelta(seconds=settings.HEALTH_LIGHTNING_TIMEOUT_SECONDS), repr=False
    )

    def run(self) -> None:
        try:
            get_backend().wallet_balance_msat()
        except LightningError as error:
            raise ServiceUnavailable("The Lightning backend did not answer.") from error
        finally:
            # Run in a thread of its own: the development backend's query opened that thread's connection.
            connections.close_all()


def run_checks(checks: dict[str, HealthCheck]) -> dict[str, HealthCheckResult]:
    """Every check at once, each bounded by its own timeout. Synchronous checks run in threads that are not waited
    for: a backend that hangs past its timeout is reported unavailable at once, and its thread ends on its client's
    own timeout."""
    executor = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readiness")

    async def gather() -> list[HealthCheckResult]:
        return await asyncio.gather(*(check.get_result(executor) for check in checks.values()))

    try:
        results = asyncio.run(gather())
    finally:
        executor.shutdown(wait=False)
    return dict(zip(checks, results, strict=True))
