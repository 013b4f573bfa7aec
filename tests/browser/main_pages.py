"""The main pages of the site, for the checks that every page must pass (axe-core, nothing wider than the screen),
with data to show on them."""

from dataclasses import dataclass

from django.utils import timezone

from alerts.services import saved_search_create
from marketplace.models import Job, User
from payments.deposits import deposit_create
from payments.models import Deposit, Payout, PayoutKind, PayoutState
from tasks.disputes import dispute_open
from tasks.models import Assignment, Dispute
from tasks.services import assignment_review
from tests.factories import (
    give_earnings,
    make_claimed_assignment,
    make_draft_job,
    make_job,
    make_submitted_assignment,
    make_user,
)


@dataclass
class Marketplace:
    requester: User
    worker: User
    job: Job
    draft: Job
    claimed: Assignment
    deposit: Deposit
    dispute: Dispute


def make_marketplace() -> Marketplace:
    """A requester with a published form-builder job (submitted, approved and claimed work on it), a draft and a
    deposit; a worker with a task in progress (a form-builder task: an HTML template's task page embeds a sandboxed
    frame), a submission waiting for review, earnings and a paid payout."""
    requester = make_user()
    worker = make_user(funds_sats=0)
    job = make_job(requester=requester, tasks=5, tags=["reviews", "english"], estimated_seconds_per_task=45)
    draft = make_draft_job(requester=requester, title="A draft")
    make_submitted_assignment(job=job, worker=worker)
    approved = make_submitted_assignment(job=job)
    assignment_review(assignment=approved, reviewer=requester, approve=True, feedback="Thank you.")
    rejected = make_submitted_assignment(job=job, worker=worker)
    assignment_review(
        assignment=rejected, reviewer=requester, approve=False, feedback="Skipped.", rejection_reason="incomplete"
    )
    dispute = dispute_open(assignment_id=rejected.public_id, worker=worker, message="I answered every question.")
    claimed = make_claimed_assignment(job=job, worker=worker)
    give_earnings(worker, 21_000)
    # Shown as paid on the payouts page; how a payout gets there has tests of its own.
    Payout.objects.create(
        worker=worker,
        kind=PayoutKind.WITHDRAW,
        amount_msat=21_000,
        state=PayoutState.SUCCEEDED,
        payment_hash="ab" * 32,
        preimage="cd" * 32,
        fee_msat=0,
        settled_at=timezone.now(),
    )
    deposit = deposit_create(user=requester, amount_msat=21_000)
    saved_search_create(worker=worker, keywords="review", tag="english", min_reward_msat=5_000, email=True)
    return Marketplace(
        requester=requester, worker=worker, job=job, draft=draft, claimed=claimed, deposit=deposit, dispute=dispute
    )


def visitor_pages(data: Marketplace) -> list[str]:
    job = data.job.public_id
    return ["/", f"/jobs/{job}/", f"/jobs/{job}/preview/", "/accounts/login/", "/accounts/signup/"]


def worker_pages(data: Marketplace) -> list[str]:
    return [
        "/",
        f"/jobs/{data.job.public_id}/",
        f"/work/assignments/{data.claimed.public_id}/",
        "/work/",
        "/wallet/",
        "/wallet/payouts/",
        "/wallet/withdraw/",
        "/wallet/how-to-be-paid/",
        f"/work/assignments/{data.dispute.assignment.public_id}/",
        "/disputes/",
        f"/disputes/{data.dispute.public_id}/",
        "/activity/",
        "/notifications/",
        "/notifications/settings/",
        "/?q=review&tag=english",  # the board with filters in use: its "Save this search as an alert" form
        "/work/alerts/",
    ]


def requester_pages(data: Marketplace) -> list[str]:
    job, draft = data.job.public_id, data.draft.public_id
    review = f"/requester/jobs/{job}/review/"
    return [
        "/requester/",
        f"/disputes/{data.dispute.public_id}/",
        "/requester/jobs/new/",
        f"/requester/jobs/{job}/",
        f"/requester/jobs/{job}/form/",
        f"/requester/jobs/{draft}/form/",
        f"/requester/jobs/{draft}/tasks/",
        f"/requester/jobs/{draft}/tasks/{data.draft.tasks.order_by('position').first().public_id}/",
        f"/requester/jobs/{job}/tasks/",
        f"/requester/jobs/{job}/preview/",
        review,
        f"{review}?status=approved",
        f"{review}?status=submitted&worker={data.worker.public_id}",
        "/wallet/",
        "/wallet/deposits/new/",
        f"/wallet/deposits/{data.deposit.public_id}/",
        "/activity/",
        "/settings/api/",
    ]
