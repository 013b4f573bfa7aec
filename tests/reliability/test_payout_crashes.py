"""Issue 15, crashes: a real Celery worker (solo pool, so the kill takes the whole worker) is SIGKILLed at a point of
the payout path (core.faults.kill_point, placed by instrumenting the code, not by sleeping), a new worker is started,
and the sweeper runs (as beat would, its clock moved past the waits a lost step leaves behind); every approved
reward is then paid exactly once, the ledger balances, and it agrees with the LNbits wallets to the millisatoshi.

The kill points:
- `payout.invoice_requested`: the payout says "asking for an invoice" and nothing was asked;
- `payout.invoice_stored`: the invoice is stored and the pay call still to come;
- `payout.sending`: the payout says "sending" and the pay call was not made;
- `payout.paid_not_recorded`: LNbits paid and nothing here knows it yet.

Each point is run with RELIABILITY_SCALE × 2 payouts and as many kills: the flag file is put back after each death
and the next worker dies at the same point in the next payout it takes.
"""

import os
import shutil
import tempfile
from datetime import timedelta

import pytest
from django.utils import timezone

from core.faults import KILL_DIR_VARIABLE, kill_point_arm
from payments import payouts
from payments.background import advance_due_payouts
from payments.ledger import ledger_check
from payments.models import AccountKind, Payout, PayoutState
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.factories import answer_data, make_job
from tests.integration.conftest import (
    lnbits_environment,
    lnbits_platform_wallet,  # noqa: F401 - the platform's funded LNbits wallet, a fixture of the integration tests
    point_settings_at_lnbits,
    run_celery_worker,
    wait_for,
)
from tests.reliability.payout_checks import platform_balance, workers_paid_by_lnbits

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REWARD_MSAT = 21_000
SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
# Past the waits a lost step leaves (payments.payouts: STALE_REQUEST_AFTER and SENDING_SETTLE_TIME, 5 minutes), well
# within the invoices' own expiry (an hour): what beat would see a few minutes after the crash.
SWEEP_AHEAD = timedelta(minutes=6)
KILL_POINTS = ["payout.invoice_requested", "payout.invoice_stored", "payout.sending", "payout.paid_not_recorded"]


def sweep_until_paid(workers: list, *, timeout: float = 60.0) -> None:
    """The sweeper's work (payments.background.advance_due_payouts), run here with its clock SWEEP_AHEAD ahead, so the
    waits a lost step leaves (a stale request, a payment that must settle) are over; until every worker is paid."""

    def all_paid() -> bool:
        later = timezone.now() + SWEEP_AHEAD
        for payout_id in payouts.payouts_due(now=later):
            payouts.payout_advance(payout_id=payout_id, now=later)
        for worker_id in payouts.workers_waiting_for_payout(now=later):
            started = payouts.payout_start_for_worker(worker_id=worker_id)
            if started is not None:
                payouts.payout_advance(payout_id=started.pk, now=later)
        return (
            all(Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).exists() for worker in workers)
            and not Payout.objects.filter(state__in=[PayoutState.CREATED, PayoutState.SENDING]).exists()
        )

    wait_for(
        all_paid,
        timeout=timeout,
        interval=0.5,
        message=lambda: (
            "every worker paid after the crashes; payouts: "
            + repr(list(Payout.objects.values_list("worker_id", "state", "attempts", "next_attempt_at", "last_error")))
        ),
    )


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_worker_killed_anywhere_on_the_payout_path_pays_each_reward_exactly_once(
    point,
    settings,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    # A killed worker keeps its slot for the wallet's host until the slot expires (payments.host_limits: a crash
    # delays other payouts to that host by up to a minute, and loses none): enough slots that the test need not wait.
    environment = {
        **lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet),
        "LNURL_HOST_CONCURRENCY": "32",
    }
    point_settings_at_lnbits(settings, environment)
    settings.LNURL_HOST_CONCURRENCY = 32
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    count = 2 * SCALE
    job = make_job(tasks=count, reward_msat=REWARD_MSAT)
    workers, wallets = workers_paid_by_lnbits(lnbits, count, f"crash-{point}")

    kill_folder = tempfile.mkdtemp(prefix="kill-")
    kills = 0
    try:
        # The approvals enqueue one payout job each on commit; the worker takes them one at a time and dies at the
        # point in each, until every payout has met it.
        for worker in workers:
            assignment = assignment_claim(job=job, worker=worker)
            assignment_submit(assignment=assignment, worker=worker, data=answer_data())
            assignment_review(assignment=assignment, reviewer=job.requester, approve=True)
        for _ in range(count):
            flag = kill_point_arm(kill_folder, point)
            killing = {**environment, KILL_DIR_VARIABLE: kill_folder}
            with run_celery_worker(environment=killing, name=f"killed-{kills}") as celery:
                # A worker starts with empty queues (the jobs the approvals enqueued were purged): the sweeper
                # enqueues what is due, as beat would.
                advance_due_payouts()
                wait_for(lambda flag=flag: celery.process.poll() is not None or not flag.exists(), timeout=30,
                         worker=celery, message=f"the worker to reach {point}")  # fmt: skip
                wait_for(lambda: celery.process.poll() is not None, timeout=15, worker=celery,
                         message="the worker to die")  # fmt: skip
                kills += 1
        # The restarted worker does what is due now (the beat's sweep, on the real clock); once it is idle and
        # stopped, the sweep with its clock ahead finishes what only time would (a sweep ahead of a worker still
        # paying could take its payment, not yet on LNbits' books, for one that never started).
        with run_celery_worker(environment=environment, name="restarted") as celery:
            advance_due_payouts()
            celery.wait_until_idle()
        sweep_until_paid(workers)
    finally:
        shutil.rmtree(kill_folder, ignore_errors=True)

    # Exactly once: each wallet holds one reward, and each worker has one succeeded payout.
    assert kills == count
    for worker, wallet in zip(workers, wallets, strict=True):
        assert lnbits.balance_msat(wallet) == REWARD_MSAT, worker.username
        assert Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).count() == 1
    # The ledger balances and agrees with LNbits to the millisatoshi.
    assert ledger_check() == []
    paid = sum(Payout.objects.filter(state=PayoutState.SUCCEEDED).values_list("amount_msat", flat=True))
    fees = sum(Payout.objects.filter(state=PayoutState.SUCCEEDED).values_list("fee_msat", flat=True))
    assert paid == count * REWARD_MSAT
    assert platform_balance(AccountKind.LIGHTNING_OUT) == paid + fees
    assert platform_balance(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert platform_before - lnbits.balance_msat(lnbits_platform_wallet) == paid + fees
    print(f"\n{point}: {count} payouts, {kills} kills, all paid once")
