"""Issue 15, crashes at scale, and two payout jobs for one payout.

Many kills: a Celery worker with the prefork pool (two children) pays a few hundred rewards on the real LNbits while
its pool children are SIGKILLed at the four kill points of the payout path (payments/payouts.py), armed in turn:
the parent starts a new child each time, as after the out-of-memory killer. That is cheap enough to reach more than
fifty kills at the default scale, where tests/reliability/test_payout_crashes.py shows the whole worker restarting.
A killed job is not delivered again (Celery acknowledges a job whose child was lost); the sweeper, run with its
clock moved ahead, finishes what the dead children left. Then every reward is paid exactly once, the ledger
balances and it agrees with LNbits to the millisatoshi.

Two jobs for one payout: two prefork workers (two children each) get every payout's job twice at once, as after a
message delivered twice or a sweep that enqueues a payout its own job is still running; each payout is paid once.
"""

import os
import re
import shutil
import tempfile
import time
from collections import Counter

import pytest

from core.faults import KILL_DIR_VARIABLE, kill_point_arm
from payments import payouts
from payments.background import advance_due_payouts, enqueue_payout_advance, enqueue_payout_start
from payments.models import Payout, PayoutState
from tests.integration.conftest import (
    CeleryWorker,
    lnbits_environment,
    lnbits_platform_wallet,  # noqa: F401 - the platform's funded LNbits wallet, a fixture of the integration tests
    point_settings_at_lnbits,
    run_celery_worker,
    wait_for,
)
from tests.reliability.payout_checks import (
    assert_each_reward_paid_exactly_once,
    everyone_paid,
    sweep_ahead_until_paid,
    workers_with_approved_rewards,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
KILL_POINTS = ["payout.invoice_requested", "payout.invoice_stored", "payout.sending", "payout.paid_not_recorded"]
MANY_PAYOUTS = 200 * SCALE
MANY_KILLS = 52 * SCALE  # 13 at each point
RACED_PAYOUTS = 20 * SCALE
# How billiard (Celery's prefork pool) logs a child that died of SIGKILL, and the job it was running (by its number
# in the pool, not its id).
LOST_CHILD = "exited with 'signal 9 (SIGKILL)'"
LOST_JOB = "Task handler raised error: WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL)"
# A killed child may hold a slot for its wallet's host until the slot expires (payments.host_limits): enough slots
# that no payout waits for one.
HOST_SLOTS = 128


def money_environment(settings, lnbits, platform_wallet) -> dict[str, str]:
    """The worker's and this process's settings: the platform wallet on the session's LNbits, enough host slots."""
    environment = {
        **lnbits_environment(lnbits=lnbits, platform_wallet=platform_wallet),
        "LNURL_HOST_CONCURRENCY": str(HOST_SLOTS),
    }
    point_settings_at_lnbits(settings, environment)
    settings.LNURL_HOST_CONCURRENCY = HOST_SLOTS
    return environment


def wait_until_idle_but_for_lost_jobs(celery: CeleryWorker, timeout: float = 60.0) -> None:
    """Every job the worker received has ended, or died with its child (those are logged without their id)."""

    def idle() -> bool:
        log = celery.log()
        received = set(re.findall(r"\[([0-9a-f-]{36})\] received", log))
        ended = set(re.findall(r"\[([0-9a-f-]{36})\] (?:succeeded|raised|retry|failed)", log))
        return len(received - ended) == log.count(LOST_JOB)

    wait_for(idle, timeout=timeout, message="the Celery worker to finish its jobs", worker=celery)


def only_the_killed_payouts_left(payouts: int, kills: int) -> bool:
    """Every payout was started and went as far as it could: paid, or left where a kill stopped it (each kill leaves
    one payout asking for an invoice, holding one, or sending), and none waits for its job."""
    states = Counter(Payout.objects.values_list("state", flat=True))
    return (
        states.total() == payouts
        and states[PayoutState.CREATED] == 0
        and states.total() - states[PayoutState.SUCCEEDED] == kills
    )


def unfinished_payouts() -> str:
    states = Counter(Payout.objects.values_list("state", flat=True))
    return f"every payout paid or left by a kill; payouts by state: {dict(states)}"


def start_payouts(workers: list) -> None:
    for worker in workers:
        enqueue_payout_start(worker.pk)


def in_chunks(items: list, count: int) -> list[list]:
    """`items` in `count` consecutive chunks of (nearly) equal size."""
    return [items[number * len(items) // count : (number + 1) * len(items) // count] for number in range(count)]


def test_pool_children_killed_at_every_payout_kill_point_pay_each_reward_exactly_once(
    settings,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    started = time.monotonic()
    environment = money_environment(settings, lnbits, lnbits_platform_wallet)
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    paid = workers_with_approved_rewards(lnbits, count=MANY_PAYOUTS, name="many-kills")
    made = time.monotonic()

    kill_folder = tempfile.mkdtemp(prefix="kill-many-")
    kills: Counter[str] = Counter()
    try:
        killing = {**environment, KILL_DIR_VARIABLE: kill_folder}
        with run_celery_worker(environment=killing, concurrency=2, name="prefork-killed") as celery:
            # Each round arms the next point and starts a few fresh payouts, which all pass every point: the flag is
            # certainly taken, by one of them or by a payout of an earlier round still under way. One chunk is
            # started ahead, so the pool is never idle while the test arms the next point.
            chunks = in_chunks(paid.workers, MANY_KILLS + 1)
            start_payouts(chunks[0])
            for round_number, chunk in enumerate(chunks[1:]):
                point = KILL_POINTS[round_number % len(KILL_POINTS)]
                flag = kill_point_arm(kill_folder, point)
                start_payouts(chunk)
                wait_for(lambda flag=flag: not flag.exists(), timeout=60, interval=0.02, worker=celery,
                         message=f"a pool child to die at {point} (round {round_number})")  # fmt: skip
                kills[point] += 1
            wait_for(lambda: only_the_killed_payouts_left(MANY_PAYOUTS, MANY_KILLS), timeout=120, interval=0.2,
                     worker=celery, message=unfinished_payouts)  # fmt: skip
            wait_until_idle_but_for_lost_jobs(celery)
            lost_children = celery.log().count(LOST_CHILD)
        # The worker is stopped before the sweeps: they move their clock ahead, and a job paying beside them on the
        # real clock would have its payment (not yet known to LNbits) taken for failed. Nothing is running: the
        # worker's shutdown waits for nothing.
        killed = time.monotonic()
        left_by_the_dead = Payout.objects.exclude(state=PayoutState.SUCCEEDED).count()
        sweeps = sweep_ahead_until_paid(paid.workers)
    finally:
        shutil.rmtree(kill_folder, ignore_errors=True)

    assert sum(kills.values()) == MANY_KILLS
    assert set(kills.values()) == {MANY_KILLS // len(KILL_POINTS)}
    assert lost_children == MANY_KILLS, "the worker's log shows every child lost"
    assert_each_reward_paid_exactly_once(
        lnbits, paid, platform_wallet=lnbits_platform_wallet, platform_before_msat=platform_before
    )
    print(
        f"\n{MANY_PAYOUTS} payouts, {sum(kills.values())} pool children killed ({dict(kills)}), "
        f"{left_by_the_dead} payouts left for the sweeper, {sweeps} sweeps; all paid exactly once. "
        f"{time.monotonic() - started:.0f} s: setup {made - started:.0f} s, payouts under kills {killed - made:.0f} s, "
        f"sweeps and checks {time.monotonic() - killed:.0f} s"
    )


def test_two_jobs_for_one_payout_at_once_pay_it_once(
    settings,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    started = time.monotonic()
    environment = money_environment(settings, lnbits, lnbits_platform_wallet)
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    paid = workers_with_approved_rewards(lnbits, count=RACED_PAYOUTS, name="two-jobs")
    # The payouts exist before any worker runs; their own jobs are purged as the workers start.
    payout_ids = [payouts.payout_start_for_worker(worker_id=worker.pk).pk for worker in paid.workers]

    with (
        run_celery_worker(environment=environment, concurrency=2, name="first") as first,
        run_celery_worker(environment=environment, concurrency=2, name="second") as second,
    ):
        for payout_id in payout_ids:
            enqueue_payout_advance(payout_id)
            enqueue_payout_advance(payout_id)

        def swept_and_paid() -> bool:
            # Meanwhile the sweeper, as beat runs it, enqueues one more job for every payout whose step is due, also
            # while the payout's own job is paying it: a third job asks LNbits about a payment still under way.
            advance_due_payouts()
            return everyone_paid(paid.workers)

        wait_for(swept_and_paid, timeout=60, interval=0.1, worker=first, message="every payout paid by its jobs")
        first.wait_until_idle()
        second.wait_until_idle()
        logs = [first.log(), second.log()]

    jobs_run = [len(re.findall(r"advance_payout\[[0-9a-f-]{36}\] received", log)) for log in logs]
    # Each job that lost the race found the payout taken and ended quietly.
    raised = [line for log in logs for line in log.splitlines() if "raised unexpected" in line]
    assert raised == []

    assert_each_reward_paid_exactly_once(
        lnbits, paid, platform_wallet=lnbits_platform_wallet, platform_before_msat=platform_before
    )
    assert sum(jobs_run) >= 2 * RACED_PAYOUTS
    print(
        f"\n{RACED_PAYOUTS} payouts, each job twice and the sweeper's ({jobs_run} jobs run by the two workers); "
        "each paid once. "
        f"{time.monotonic() - started:.0f} s"
    )
