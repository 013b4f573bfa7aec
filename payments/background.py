"""Celery jobs for money: thin wrappers that take primary keys and call services.

Every job is idempotent: the services re-read their rows under a lock and skip a step already taken, so a job
delivered twice (acks_late) or run beside the sweeper does no harm. The sweepers re-enqueue whatever is due, so
a lost message delays money, never loses it.
"""

from celery import shared_task
from django.db import OperationalError

from payments import deposits, payouts


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def pay_out_worker(worker_id: int) -> None:
    payouts.payout_start_for_worker(worker_id=worker_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def advance_payout(payout_id: int) -> None:
    payouts.payout_advance(payout_id=payout_id)


@shared_task
def advance_due_payouts() -> int:
    """Sweeper: every open payout whose next step is due gets a job, and so does every worker whose balance waits
    for a payout that never started."""
    due = payouts.payouts_due()
    for payout_id in due:
        advance_payout.delay(payout_id)
    waiting = payouts.workers_waiting_for_payout()
    for worker_id in waiting:
        pay_out_worker.delay(worker_id)
    return len(due) + len(waiting)


@shared_task
def sync_pending_deposits() -> int:
    """Sweeper: credit deposits that were paid while nobody had the page open; mark expired ones."""
    return deposits.deposits_sync()
