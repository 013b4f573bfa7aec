"""A real Celery worker process, on the test database and the Redis broker, for tests of background jobs; and the
settings that point both it and the test process at the session's real LNbits wallet server."""

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories.money import forget_queued_payout_starts

ROOT = Path(__file__).resolve().parents[2]

# FakeWallet signs `lnbc…` invoices: bitcoin mainnet, as far as invoices go.
LNBITS_NETWORK = "mainnet"
PLATFORM_WALLET_SATS = 10_000_000


@dataclass
class CeleryWorker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Wait until every job the worker received has ended, so a test's database teardown (a TRUNCATE) never
        races a job still writing: that deadlocks."""

        def idle() -> bool:
            log = self.log()
            received = set(re.findall(r"\[([0-9a-f-]{36})\] received", log))
            ended = set(re.findall(r"\[([0-9a-f-]{36})\] (?:succeeded|raised|retry|failed)", log))
            return received <= ended

        wait_for(idle, timeout=timeout, message="the Celery worker to finish its jobs", worker=self)

    def wait_for_job(self, task_id: str, timeout: float = 20.0) -> None:
        """Wait until the worker logged the end of one background job (succeeded or raised)."""
        pattern = re.compile(rf"\[{re.escape(task_id)}\] (succeeded|raised|retry)")
        wait_for(lambda: pattern.search(self.log()), timeout=timeout, message=f"job {task_id} to end", worker=self)


def all_queues() -> tuple[str, ...]:
    """Every queue a job can be sent to: Celery's default and each one settings.CELERY_TASK_ROUTES names."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return ("celery", *sorted(routed))


@contextlib.contextmanager
def run_celery_worker(
    *,
    environment: dict[str, str] | None = None,
    concurrency: int | None = None,
    queues: tuple[str, ...] | None = None,
    name: str = "test",
) -> Iterator[CeleryWorker]:
    """Start `celery -A marketplace worker` against the test database (which must exist) and stop it afterwards.

    `environment` adds to or overrides the worker's settings (e.g. the Lightning backend); `concurrency` None runs
    the solo pool (one job at a time), a number runs the prefork pool with that many processes. `queues` are the
    queues it consumes (default: all of them, so one worker runs every job); two workers at once need different
    `name`s. The worker's log goes to a file (a pipe nobody reads would fill up and stall the worker).
    """
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must point at the test Redis: `make test` sets it.")
    from marketplace.celery import app

    # Leftovers of earlier tests, on every queue (`app.control.purge()` empties only the queues this process used).
    with app.connection_for_write() as broker:
        for queue in all_queues():
            broker.default_channel.queue_purge(queue)
    forget_queued_payout_starts(settings.REDIS_URL)
    database = connection.settings_dict
    full_environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "celery-worker-under-test",
        "DEBUG": "0",
        **(environment or {}),
    }
    pool = ["--pool", "solo"] if concurrency is None else ["--pool", "prefork", "--concurrency", str(concurrency)]
    command = [
        sys.executable, "-m", "celery", "-A", "marketplace", "worker", *pool, "--loglevel", "INFO",
        "--queues", ",".join(queues or all_queues()),
        "--without-heartbeat", "--without-gossip", "--without-mingle", "--hostname", f"{name}-{os.getpid()}@%h",
    ]  # fmt: skip
    log_file = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
    log_path = Path(log_file.name)
    process = subprocess.Popen(command, cwd=ROOT, env=full_environment, stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    worker = CeleryWorker(process=process, log_path=log_path)
    try:
        _wait_until_ready(worker)
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log_path.unlink(missing_ok=True)


@pytest.fixture
def celery_worker_process(transactional_db):
    """Start `celery -A marketplace worker` against the test database; stop it after the test."""
    with run_celery_worker() as worker:
        yield worker.process


def _wait_until_ready(worker: CeleryWorker, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in worker.log():
            return
        if worker.process.poll() is not None:
            break
        time.sleep(0.1)
    worker.process.kill()
    pytest.fail("The Celery worker did not start:\n" + worker.log_tail(40))


def wait_for(
    condition,
    timeout: float = 20.0,
    interval: float = 0.1,
    *,
    message: str | Callable[[], str] = "",
    worker: CeleryWorker | None = None,
):
    """Poll `condition()` until it returns something truthy; fail the test after `timeout` seconds, saying what was
    awaited (`message`, or what `message()` says then) and showing the Celery worker's log when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    said = message() if callable(message) else message
    log = f"\nCelery worker log:\n{worker.log_tail()}" if worker is not None else ""
    pytest.fail(f"Condition not met within {timeout} s{f': {said}' if said else ''}{log}")


# LNbits -----------------------------------------------------------------------------------------------------------


def lnbits_host_port(lnbits) -> str:
    return lnbits.url.removeprefix("http://")


def lnbits_environment(*, lnbits, platform_wallet, insecure_hosts: tuple[str, ...] = ()) -> dict[str, str]:
    """The settings, as environment variables, of a Boltwork process whose Lightning backend is the platform wallet
    on this LNbits, and whose LNURL client may reach LNbits (and `insecure_hosts`) over http on loopback."""
    return {
        "LIGHTNING_BACKEND": "lnbits",
        "LNBITS_URL": lnbits.url,
        "LNBITS_ADMIN_KEY": platform_wallet.adminkey,
        "LNURL_ALLOWED_INSECURE_HOSTS": ",".join([lnbits_host_port(lnbits), *insecure_hosts]),
        "BITCOIN_NETWORK": LNBITS_NETWORK,
    }


def point_settings_at_lnbits(settings, environment: dict[str, str]) -> None:
    """Give the test process (and its live server thread) the same money settings as `lnbits_environment`."""
    settings.LIGHTNING_BACKEND = environment["LIGHTNING_BACKEND"]
    settings.LNBITS_URL = environment["LNBITS_URL"]
    settings.LNBITS_ADMIN_KEY = environment["LNBITS_ADMIN_KEY"]
    settings.LNURL_ALLOWED_INSECURE_HOSTS = environment["LNURL_ALLOWED_INSECURE_HOSTS"].split(",")
    settings.BITCOIN_NETWORK = environment["BITCOIN_NETWORK"]


@pytest.fixture(scope="session")
def lnbits_platform_wallet(lnbits):
    """The platform's wallet on the session's LNbits: what LNBITS_ADMIN_KEY opens. Funded, so payouts can start
    before any deposit; tests compare its balance before and after, never its absolute value."""
    wallet = lnbits.create_wallet("boltwork-platform")
    lnbits.top_up(wallet, PLATFORM_WALLET_SATS)
    return wallet


@pytest.fixture
def lnbits_settings(settings, lnbits, lnbits_platform_wallet):
    """Point the test process's settings at the platform wallet on LNbits, as `lnbits_environment` does a worker's."""
    environment = lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet)
    point_settings_at_lnbits(settings, environment)
    return settings
