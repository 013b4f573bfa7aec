"""A slow wallet server against real Celery workers over Redis (security issue 7, item 2).

The finding: a server sending one header line every 3 s held both Celery processes for 600 s; another worker's
healthy payout was 10 minutes late and every sweeper stalled. Here the workers run as `make run` runs them
(scripts/dev-run.sh): one for the sweepers, one with two processes for the jobs that call out. Three workers share
a Lightning Address on a server that drips its headers; while their payouts are under way, a fourth worker with a
healthy wallet is paid and a sweeper runs, each well before one slow request could have ended.

The healthy wallet is `FakeLnurlWallet` handing out an invoice of the development backend (the only kind the
development backend pays); the slow one is `tests/payments/slow_servers.SlowServer`. Both are fakes for strangers'
wallet servers on the internet, which could not be made to misbehave on cue.
"""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from payments.host_limits import KEY_PREFIX, redis_client
from payments.lightning.dev import DevBackend
from payments.models import Payout, PayoutState
from tasks.background import expire_overdue_assignments
from tasks.models import Assignment, AssignmentStatus
from tasks.services import assignment_claim
from tests.factories import give_earnings, make_job, make_user, set_payout_destination
from tests.integration.conftest import run_celery_worker, wait_for
from tests.payments.lnurl_test_server import FakeLnurlWallet, json_answer
from tests.payments.slow_servers import SlowServer, drip_headers

pytestmark = pytest.mark.slow

AMOUNT = 21_000
# The workers' deadline per outbound request: what a slow wallet can hold a process for.
DEADLINE = 5
# What "not delayed" means here: well inside one slow request's deadline.
PROMPTLY = 3.5


@pytest.fixture
def slow_wallet():
    """Drips one header line every 0.5 s, for minutes: without a deadline it holds a process that long."""
    server = SlowServer(drip_headers(interval_seconds=0.5)).start()
    yield server
    server.stop()


@pytest.fixture
def healthy_wallet():
    with FakeLnurlWallet() as server:
        yield server


@pytest.fixture
def no_slots_held():
    client = redis_client(settings.REDIS_URL)
    for key in client.scan_iter(f"{KEY_PREFIX}:*"):
        client.delete(key)


def test_a_slow_wallet_delays_neither_another_workers_payout_nor_a_sweeper(
    transactional_db, slow_wallet, healthy_wallet, no_slots_held
):
    # The slow wallet is named `localhost` and the healthy one 127.0.0.1: two hosts, as two wallet services are.
    slow_host = slow_wallet.host_port("localhost")
    environment = {
        "LIGHTNING_BACKEND": "dev",
        "LIGHTNING_DEV_BACKEND_ALLOWED": "1",
        "BITCOIN_NETWORK": "mainnet",
        "LNURL_ALLOWED_INSECURE_HOSTS": f"{slow_host},{healthy_wallet.host_port}",
        "LNURL_TIMEOUT_SECONDS": str(DEADLINE),
        "LNURL_HOST_BUSY_RETRY_SECONDS": "1",
    }
    invoice = DevBackend(secret_key="any", network="mainnet").create_invoice(amount_msat=AMOUNT, memo="healthy")
    healthy_wallet.route(healthy_wallet.callback_path, json_answer({"pr": invoice.bolt11, "routes": []}))
    job = make_job(tasks=1, time_limit_seconds=60)
    overdue = assignment_claim(job=job, worker=make_user(), now=timezone.now() - timedelta(hours=1))

    with (
        run_celery_worker(environment=environment, queues=("sweepers", "celery"), name="sweepers") as sweeper,
        run_celery_worker(
            environment=environment, concurrency=2, queues=("payouts", "webhooks"), name="outbound"
        ) as outbound,
    ):
        try:
            slow_workers = [make_user(f"slow{number}", funds_sats=0) for number in range(3)]
            for number, worker in enumerate(slow_workers):
                set_payout_destination(worker, f"slow{number}@{slow_host}")
                give_earnings(worker, AMOUNT)  # approval starts the payout on the `payouts` queue
            wait_for(lambda: slow_wallet.requests, timeout=10, message="a slow payout to start", worker=outbound)

            healthy = make_user("healthy", funds_sats=0)
            set_payout_destination(healthy, f"alice@{healthy_wallet.host_port}")
            started = time.monotonic()
            give_earnings(healthy, AMOUNT)
            expire_overdue_assignments.delay()

            paid = wait_for(
                lambda: Payout.objects.filter(worker=healthy, state=PayoutState.SUCCEEDED).first(),
                timeout=20,
                message="the healthy payout to succeed",
                worker=outbound,
            )
            paid_after = time.monotonic() - started
            wait_for(lambda: Assignment.objects.get(pk=overdue.pk).status == AssignmentStatus.EXPIRED, worker=sweeper)
            swept_after = time.monotonic() - started

            assert paid.preimage
            assert paid_after < PROMPTLY, f"the healthy payout took {paid_after:.1f} s"
            assert swept_after < PROMPTLY, f"the sweep took {swept_after:.1f} s"
            # One slow request at a time: the payouts that found the host busy spent none of their attempts.
            slow_payouts = Payout.objects.filter(worker__in=slow_workers)
            assert sum(payout.attempts for payout in slow_payouts) <= len(slow_wallet.requests)
            assert len(slow_wallet.requests) < len(slow_workers)
        finally:
            # Hang up: the slow payouts fail at once and wait for their backoff, so the workers go idle quickly.
            slow_wallet.stop()
            outbound.wait_until_idle(timeout=30)
            sweeper.wait_until_idle()
