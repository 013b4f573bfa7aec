"""A history of reviewed and paid work at chosen times, through the services, for the reputation figures."""

from datetime import datetime, timedelta

from marketplace.models import Job, User
from payments.lightning import get_backend
from payments.models import Payout, PayoutState
from payments.payouts import payout_advance
from payments.withdraw import withdraw_claim, withdraw_link_create
from tasks.models import Assignment
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.factories.assignments import answer_data
from tests.factories.users import make_user


def worked(job: Job, *, worker: User | None = None, accepted_at: datetime, seconds: int) -> Assignment:
    """An assignment claimed at `accepted_at` and submitted `seconds` later."""
    worker = worker or make_user(funds_sats=0)
    assignment = assignment_claim(job=job, worker=worker, now=accepted_at)
    return assignment_submit(
        assignment=assignment, worker=worker, data=answer_data(), now=accepted_at + timedelta(seconds=seconds)
    )


def reviewed(assignment: Assignment, *, approve: bool = True, after_seconds: int) -> Assignment:
    """The requester's review, `after_seconds` after the submission (a rejection with a reason)."""
    return assignment_review(
        assignment=assignment,
        reviewer=assignment.job.requester,
        approve=approve,
        feedback="" if approve else "The answer does not match the review.",
        now=assignment.submitted_at + timedelta(seconds=after_seconds),
    )


def approved_work(job: Job, count: int, *, seconds: int, accepted_at: datetime) -> list[Assignment]:
    """`count` assignments by new workers, each done in `seconds` and approved a minute after submission."""
    return [reviewed(worked(job, accepted_at=accepted_at, seconds=seconds), after_seconds=60) for _ in range(count)]


def paid_out(worker: User, *, created_at: datetime, settled_at: datetime) -> Payout:
    """The worker withdraws their whole earned balance with LNURL-withdraw, paid for real by the development backend
    (its invoice is the wallet's); then the payout's times are set to the ones the history needs."""
    link = withdraw_link_create(worker=worker)
    invoice = get_backend().create_invoice(amount_msat=link.max_withdrawable_msat, memo="Worker's wallet")
    payout = payout_advance(payout_id=withdraw_claim(k1=link.k1, invoice=invoice.bolt11).pk)
    assert payout.state == PayoutState.SUCCEEDED
    Payout.objects.filter(pk=payout.pk).update(created_at=created_at, settled_at=settled_at)
    payout.refresh_from_db()
    return payout
