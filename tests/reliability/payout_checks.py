"""Shared by the payout reliability tests that run many payouts on the real LNbits: workers with wallets and approved
rewards made in bulk, the sweeper run with its clock moved ahead, and the exactly-once checks."""

import functools
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from marketplace.models import User
from payments import payouts, services
from payments.ledger import ledger_check
from payments.models import Account, AccountKind, Payout, PayoutDestination, PayoutState
from tasks.services import assignments_review_bulk
from tests.factories import make_job, make_many_submitted_assignments, make_user
from tests.integration.conftest import lnbits_host_port, wait_for

REWARD_MSAT = 21_000
# Past the waits a lost step leaves (payments.payouts: STALE_REQUEST_AFTER and SENDING_SETTLE_TIME, 5 minutes), well
# within the invoices' own expiry (an hour): what beat would see a few minutes after the crash.
SWEEP_AHEAD = timedelta(minutes=6)
# Each sweep moves the clock one SWEEP_AHEAD further, so a retry's backoff (30 s after a failed payment) is over at
# the next sweep instead of half a minute later; never past the invoices' hour.
MOST_SWEEPS_AHEAD = 5
SWEEP_THREADS = 4
OPEN_STATES = [PayoutState.CREATED, PayoutState.INVOICE_REQUESTED, PayoutState.INVOICE_VERIFIED, PayoutState.SENDING]


@dataclass
class PaidWorkers:
    workers: list[User]
    wallets: list  # tests.lnbits_server.Wallet, one per worker


def workers_with_approved_rewards(lnbits, *, count: int, name: str) -> PaidWorkers:
    """`count` workers, each with an LNbits wallet as their Lightning Address (automatic payouts on) and one approved
    reward of REWARD_MSAT. The approvals enqueue the payout jobs on commit; a Celery worker started afterwards
    purges them, so the test decides when payouts start."""
    job = make_job(tasks=count, reward_msat=REWARD_MSAT)
    assignments = make_many_submitted_assignments(job=job, count=count)
    workers = [assignment.worker for assignment in assignments]
    # One HTTP call per wallet: a few at a time.
    with ThreadPoolExecutor(max_workers=8) as pool:
        wallets = list(pool.map(lambda number: lnbits.create_wallet(f"{name}-{number}"), range(count)))
    host = lnbits_host_port(lnbits)
    now = timezone.now()
    # What payout_destination_set saves once it resolved the address (its resolution has tests of its own).
    PayoutDestination.objects.bulk_create(
        PayoutDestination(
            user=worker,
            address=f"{wallet.lightning_address}@{host}",
            auto_payout=True,
            minimum_payout_msat=1_000,
            verified_at=now,
        )
        for worker, wallet in zip(workers, wallets, strict=True)
    )
    assignments_review_bulk(
        job=job,
        reviewer=job.requester,
        approve_ids=[assignment.public_id for assignment in assignments],
        reject={},
    )
    return PaidWorkers(workers=workers, wallets=wallets)


def workers_paid_by_lnbits(lnbits, count: int, prefix: str) -> tuple[list, list]:
    """`count` workers, each with a wallet of their own on `lnbits` as their Lightning Address (automatic payouts),
    set one at a time through the service (workers_with_approved_rewards does it in bulk)."""
    workers, wallets = [], []
    for number in range(count):
        worker = make_user(funds_sats=0)
        wallet = lnbits.create_wallet(f"{prefix}-{number}")
        services.payout_destination_set(
            user=worker,
            address=f"{wallet.lightning_address}@{lnbits_host_port(lnbits)}",
            auto_payout=True,
            minimum_payout_msat=1_000,
        )
        workers.append(worker)
        wallets.append(wallet)
    return workers, wallets


def platform_balance(kind: str) -> int:
    platform = Account.objects.filter(kind=kind, user__isnull=True, job__isnull=True)
    return platform.aggregate(total=Sum("balance_msat"))["total"] or 0


def everyone_paid(workers: Sequence[User]) -> bool:
    paid = Payout.objects.filter(worker__in=workers, state=PayoutState.SUCCEEDED).values("worker").distinct().count()
    return paid == len(workers) and not Payout.objects.filter(state__in=OPEN_STATES).exists()


def advance_in_own_connection(payout_id: int, *, now: datetime) -> None:
    try:
        payouts.payout_advance(payout_id=payout_id, now=now)
    finally:
        connection.close()  # this thread's own


def sweep_ahead_until_paid(workers: Sequence[User], *, timeout: float = 90.0) -> int:
    """The sweeper's work (payments.background.advance_due_payouts), run in this process with its clock moved ahead,
    as beat would run it minutes after the crashes: lost requests are asked again, payments whose answer was lost
    are looked up by their hash. Until every worker is paid; returns the number of sweeps."""
    sweeps = 0

    def swept_and_paid() -> bool:
        nonlocal sweeps
        sweeps += 1
        later = timezone.now() + SWEEP_AHEAD * min(sweeps, MOST_SWEEPS_AHEAD)
        # A few at a time, as beat's jobs are run by several worker processes.
        due = payouts.payouts_due(now=later)
        with ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
            list(pool.map(functools.partial(advance_in_own_connection, now=later), due))
        for worker_id in payouts.workers_waiting_for_payout(now=later):
            started = payouts.payout_start_for_worker(worker_id=worker_id)
            if started is not None:
                payouts.payout_advance(payout_id=started.pk, now=later)
        return everyone_paid(workers)

    wait_for(
        swept_and_paid,
        timeout=timeout,
        interval=0.2,
        message=lambda: (
            "every worker paid after the sweeps; open payouts: "
            + repr(
                list(Payout.objects.filter(state__in=OPEN_STATES).values_list("pk", "state", "attempts", "last_error"))
            )
        ),
    )
    return sweeps


def assert_each_reward_paid_exactly_once(lnbits, paid: PaidWorkers, *, platform_wallet, platform_before_msat: int):
    """Each wallet holds exactly one reward and each worker has one succeeded payout (and no other); the ledger
    balances and agrees with LNbits to the millisatoshi."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        balances = list(pool.map(lnbits.balance_msat, paid.wallets))
    wrong = [(worker.username, balance) for worker, balance in zip(paid.workers, balances, strict=True)]
    wrong = [entry for entry in wrong if entry[1] != REWARD_MSAT]
    assert not wrong, f"{len(wrong)} wallets do not hold exactly one reward of {REWARD_MSAT} msat: {wrong[:10]}"
    states = Counter(Payout.objects.filter(worker__in=paid.workers).values_list("state", flat=True))
    assert states == {PayoutState.SUCCEEDED: len(paid.workers)}, f"one succeeded payout per worker, not {states}"
    problems = ledger_check()
    assert problems == [], problems
    succeeded = Payout.objects.filter(state=PayoutState.SUCCEEDED)
    sent = succeeded.aggregate(amount=Sum("amount_msat"), fees=Sum("fee_msat"))
    paid_and_fees = sent["amount"] + sent["fees"]
    assert sent["amount"] == len(paid.workers) * REWARD_MSAT, sent
    out = platform_balance(AccountKind.LIGHTNING_OUT)
    assert out == paid_and_fees, f"lightning_out {out} msat, paid with fees {paid_and_fees} msat"
    in_flight = platform_balance(AccountKind.PAYOUTS_IN_FLIGHT)
    assert in_flight == 0, f"{in_flight} msat still in flight"
    spent = platform_before_msat - lnbits.balance_msat(platform_wallet)
    assert spent == paid_and_fees, f"the platform's LNbits wallet spent {spent} msat, the ledger says {paid_and_fees}"
