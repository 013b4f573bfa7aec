"""Celery jobs for money: thin wrappers that take primary keys and call services.

Every job is idempotent: the services re-read their rows under a lock and skip a step already taken, so a job
delivered twice (acks_late) or run beside the sweeper does no harm. The sweepers re-enqueue whatever is due, so
a lost message delays money, never loses it.

Payout jobs run on the `payouts` queue and the sweepers on `sweepers` (settings.CELERY_TASK_ROUTES), so a slow
wallet server never delays a sweep.
"""

import logging

import redis
from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from payments import deposits, payouts
from payments.host_limits import come_back_when_due, redis_client
from payments.models import PayoutState

logger = logging.getLogger(__name__)

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
    queued_payout_start(worker_id)


def queued_payout_start(worker_id: int) -> None:
    """What `pay_out_worker` does: clear the worker's queued mark (enqueue_payout_start), then start their payout.
    In that order: an approval that commits after the mark is cleared enqueues a job of its own, and one that
    committed before it is in the balance read here."""
    _start_queued_clear(worker_id)
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


def enqueue_payout_start(worker_id: int, *, even_if_queued: bool = False) -> None:
    """The one way `pay_out_worker` is enqueued (by event handlers, after the change commits, and the sweeper): not
    again while one for the worker waits in the queue, so a review of 300 approvals enqueues one per worker, not
    300 (docs/PERFORMANCE.md, "Payouts").

    Safe because the waiting job clears its mark before it reads the balance: whatever committed before a skipped
    enqueue is in what it reads. The sweeper passes `even_if_queued`: it looks for balances whose start was lost,
    and a lost job's mark would hold them back until it expires (QUEUED_START_SECONDS); a second job for a worker
    does nothing the first did not."""
    marked = _start_queued_mark(worker_id)
    if marked or even_if_queued:
        pay_out_worker.delay(worker_id)


QUEUED_START_KEY = "boltwork:payout-start-queued:{worker_id}"
QUEUED_START_SECONDS = 60


def _start_queued_mark(worker_id: int) -> bool:
    """Mark a start as queued for the worker; False when one already is. Without Redis (one machine, development)
    every enqueue goes ahead; when Redis cannot be reached too, for money is never held back by a mark."""
    if not settings.REDIS_URL:
        return True
    try:
        key = QUEUED_START_KEY.format(worker_id=worker_id)
        return bool(redis_client(settings.REDIS_URL).set(key, 1, nx=True, ex=QUEUED_START_SECONDS))
    except redis.RedisError:
        return True


def _start_queued_clear(worker_id: int) -> None:
    if not settings.REDIS_URL:
        return
    try:
        redis_client(settings.REDIS_URL).delete(QUEUED_START_KEY.format(worker_id=worker_id))
    except redis.RedisError:
        logger.warning("Could not clear the queued payout start of worker %s; it expires on its own", worker_id)


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
        enqueue_payout_start(worker_id, even_if_queued=True)
    return len(due) + len(waiting)


@shared_task
def sync_pending_deposits() -> int:
    """Sweeper: credit deposits that were paid while nobody had the page open; mark expired ones."""
    return deposits.deposits_sync()
