"""Celery jobs for money: thin wrappers that take primary keys and call services.

Every job is idempotent: the services re-read their rows under a lock and skip a step already taken, so a job
delivered twice (acks_late) or run beside the sweeper does no harm. The sweepers re-enqueue whatever is due, so
a lost message delays money, never loses it.

Payout jobs run on the `payouts` queue and the sweepers on `sweepers` (settings.CELERY_TASK_ROUTES), so a slow
wallet server never delays a sweep.
"""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from payments import deposits, payouts
from payments.host_limits import come_back_when_due
from payments.models import PayoutState

# The payout job may ask the wallet for its terms and an invoice (four requests at most, when an invoice expires
# and a fresh one is needed), each ending by LNURL_TIMEOUT_SECONDS, DNS included; then wait for the Lightning
# backend's pay call, which may take about 90 s (LND: 60 s + a 30 s margin). At the soft limit the job stops with
# SoftTimeLimitExceeded wherever it is, and every state is committed before the call it guards: a payout stopped
# mid-send stays `sending` and the sweeper asks the backend what became of it; one stopped while asking for an
# invoice stays `invoice_requested` and the sweeper asks again after STALE_REQUEST_AFTER. The hard limit kills a
# process that did not stop.
PAYOUT_SOFT_TIME_LIMIT = round(4 * settings.LNURL_TIMEOUT_SECONDS) + 90 + 30
PAYOUT_TIME_LIMIT = PAYOUT_SOFT_TIME_LIMIT + 30
# Starting a payout is database work only.
START_SOFT_TIME_LIMIT = 60
START_TIME_LIMIT = 90


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=START_SOFT_TIME_LIMIT,
    time_limit=START_TIME_LIMIT,
)
def pay_out_worker(worker_id: int) -> None:
    payouts.payout_start_for_worker(worker_id=worker_id)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=PAYOUT_SOFT_TIME_LIMIT,
    time_limit=PAYOUT_TIME_LIMIT,
)
def advance_payout(payout_id: int) -> None:
    payout = payouts.payout_advance(payout_id=payout_id)
    if payout.state == PayoutState.CREATED:
        # Its wallet's server was busy with another payout: come back in a moment rather than at the next sweep.
        come_back_when_due(advance_payout, payout_id, payout.next_attempt_at)


def enqueue_payout_start(worker_id: int) -> None:
    """The one way `pay_out_worker` is enqueued (by event handlers, after the change commits, and the sweeper)."""
    pay_out_worker.delay(worker_id)


def enqueue_payout_advance(payout_id: int) -> None:
    """The one way `advance_payout` is enqueued."""
    advance_payout.delay(payout_id)


@shared_task
def advance_due_payouts() -> int:
    """Sweeper: every open payout whose next step is due gets a job, and so does every worker whose balance waits
    for a payout that never started."""
    due = payouts.payouts_due()
    for payout_id in due:
        enqueue_payout_advance(payout_id)
    waiting = payouts.workers_waiting_for_payout()
    for worker_id in waiting:
        enqueue_payout_start(worker_id)
    return len(due) + len(waiting)


@shared_task
def sync_pending_deposits() -> int:
    """Sweeper: credit deposits that were paid while nobody had the page open; mark expired ones."""
    return deposits.deposits_sync()
