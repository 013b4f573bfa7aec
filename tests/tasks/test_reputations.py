"""Reputations from real data (tasks/reputations.py): every figure equals the one computed by hand from a seeded
history of claims, reviews, an auto-approval, disputes and paid payouts made through the services."""

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from marketplace.models import Job, RequesterStats, WorkerStats
from tasks.background import refresh_reputations
from tasks.disputes import dispute_decide, dispute_open, dispute_withdraw_rejection
from tasks.models import AssignmentStatus, ReviewSource
from tasks.reputations import median, reputations_refresh, requester_reputation
from tasks.services import assignments_auto_approve_due
from tests.factories import (
    approved_work,
    give_earnings,
    make_job,
    make_moderator,
    make_user,
    paid_out,
    reviewed,
    worked,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_approved_make_a_rating(settings):
    settings.REPUTATION_MIN_APPROVED = 3
    settings.REPUTATION_MIN_WORKERS = 1


@pytest.fixture(autouse=True)
def dev_backend(settings):
    """Withdrawals paid by the development Lightning backend, on its network."""
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "mainnet"


@pytest.fixture
def start():
    """Three days ago, on a whole second: the history's clock."""
    return (timezone.now() - timedelta(days=3)).replace(microsecond=0)


def published_long_ago(job: Job, start) -> Job:
    """The job as if published before the history began, so that a refresh now has no reason to look at it."""
    Job.objects.filter(pk=job.pk).update(published_at=start - timedelta(days=1))
    return job


@pytest.fixture
def history(start):
    """One requester's history on a job paying 10 sats per task (estimate: 60 s a task, 600 sats/hour):

    | worker | work | review                               | payout (created, settled after approval) |
    | w1     |  60s | approved by the requester after 600s | +100s, +150s                             |
    | w2     | 120s | approved after 1,800s                | +1,000s, +1,300s (an earlier one ignored) |
    | w3     |  30s | rejected after 300s; disputed, upheld | -                                        |
    | w4     | 240s | approved automatically after 3,600s  | +20s, +80s                               |
    | w5     |  90s | rejected after 120s; disputed, the requester withdraws the rejection (approved) | none |
    """
    requester = make_user("reputable")
    job = make_job(
        requester=requester, tasks=8, reward_msat=10_000, estimated_seconds_per_task=60, auto_approve_seconds=3600
    )
    Job.objects.filter(pk=job.pk).update(published_at=start - timedelta(days=1))
    later_job = make_job(requester=requester, tasks=2)  # published now: not the first
    w1, w2, w3, w4, w5 = (make_user(f"w{n}", funds_sats=0) for n in range(1, 6))

    a1 = reviewed(worked(job, worker=w1, accepted_at=start, seconds=60), after_seconds=600)
    paid_out(w1, created_at=a1.reviewed_at + timedelta(seconds=100), settled_at=a1.reviewed_at + timedelta(seconds=150))

    a2 = worked(job, worker=w2, accepted_at=start, seconds=120)
    approval_2 = a2.submitted_at + timedelta(seconds=1800)
    # w2's earlier payout (of another requester's reward) started before this approval and settled after it: it did
    # not carry this approval's sats.
    give_earnings(w2, 10_000)
    paid_out(w2, created_at=approval_2 - timedelta(seconds=500), settled_at=approval_2 + timedelta(seconds=10))
    a2 = reviewed(a2, after_seconds=1800)
    paid_out(w2, created_at=approval_2 + timedelta(seconds=1000), settled_at=approval_2 + timedelta(seconds=1300))

    a3 = reviewed(worked(job, worker=w3, accepted_at=start, seconds=30), approve=False, after_seconds=300)
    upheld = dispute_open(assignment_id=a3.public_id, worker=w3, message="I did follow them.", now=a3.reviewed_at)
    dispute_decide(
        dispute_id=upheld.public_id,
        moderator=make_moderator(),
        overturn=False,
        reason="It was wrong.",
        now=a3.reviewed_at + timedelta(days=1),
    )

    a5 = reviewed(worked(job, worker=w5, accepted_at=start, seconds=90), approve=False, after_seconds=120)
    lost = dispute_open(assignment_id=a5.public_id, worker=w5, message="Look again, please.", now=a5.reviewed_at)
    dispute_withdraw_rejection(dispute_id=lost.public_id, requester=requester, now=a5.reviewed_at + timedelta(hours=2))

    a4 = worked(job, worker=w4, accepted_at=start, seconds=240)
    assert assignments_auto_approve_due(now=a4.auto_approve_at) == 1
    a4.refresh_from_db()
    paid_out(w4, created_at=a4.reviewed_at + timedelta(seconds=20), settled_at=a4.reviewed_at + timedelta(seconds=80))

    a5.refresh_from_db()
    assert (a4.status, a4.review_source) == (AssignmentStatus.APPROVED, ReviewSource.AUTO)
    assert (a5.status, a5.review_source) == (AssignmentStatus.APPROVED, ReviewSource.DISPUTE)
    return {"requester": requester, "job": job, "later_job": later_job, "workers": (w1, w2, w3, w4, w5)}


def test_the_figures_equal_those_computed_by_hand(history, start):
    written = reputations_refresh()

    stats = RequesterStats.objects.get(requester=history["requester"])
    # Approved: w1, w2, w4 (automatically), w5 (after the dispute); rejected: w3. 4 * 100 // 5.
    assert (stats.approved_count, stats.rejected_count, stats.approval_percent) == (4, 1, 80)
    # Working times of the approved: 60, 90, 120, 240 s: an even count, the mean of the middle two.
    assert stats.median_work_seconds == (90 + 120) // 2 == 105
    # Per approval 10 sats * 3600 / its time: 600, 400, 300, 150 sats/hour; the median (300 + 400) / 2.
    assert stats.effective_sats_per_hour == 350
    # Reviews by the requester and the auto-approval: 300, 600, 1,800, 3,600 s (w5's approval came from the dispute).
    assert stats.median_review_seconds == (600 + 1800) // 2 == 1200
    # Approval to the payout that carried it: 150 (w1), 1,300 (w2), 80 (w4); w5 is not paid yet. An odd count.
    assert stats.median_payment_seconds == 150
    # w5's dispute (withdrawn by the requester) was lost; w3's (upheld by a moderator) was not.
    assert stats.disputes_lost == 1
    assert stats.active_since == start - timedelta(days=1)

    # The job: 10 sats * 3600 / 105 s, rounded down; the other job has no approved work.
    job, later_job = history["job"], history["later_job"]
    job.refresh_from_db()
    later_job.refresh_from_db()
    assert job.effective_sats_per_hour == 36_000 // 105 == 342
    assert job.shown_sats_per_hour == 342  # measured, no longer the estimate of 600
    assert later_job.effective_sats_per_hour is None

    w1, w2, w3, w4, w5 = history["workers"]
    figures = {
        stats.worker_id: (stats.approved_count, stats.rejected_count, stats.approval_percent)
        for stats in WorkerStats.objects.all()
    }
    assert figures[w1.pk] == (1, 0, 100)
    assert figures[w2.pk] == (2, 0, 100)  # and another requester's task
    assert figures[w3.pk] == (0, 1, 0)
    assert figures[w4.pk] == figures[w5.pk] == (1, 0, 100)
    # 5 workers, 2 requesters (this one, and the one who paid w2 earlier), 1 job whose rate changed.
    assert written == len(figures) + RequesterStats.objects.count() + 1


def test_a_requester_with_fewer_approved_than_the_threshold_is_new_and_not_rated(start):
    newcomer = make_user("newcomer")
    job = make_job(requester=newcomer, tasks=5, estimated_seconds_per_task=120)
    approved_work(job, 2, seconds=30, accepted_at=start)
    reputations_refresh()

    stats = RequesterStats.objects.get(requester=newcomer)
    assert (stats.approved_count, stats.approval_percent, stats.median_work_seconds) == (2, 100, 30)
    assert stats.effective_sats_per_hour is None
    job.refresh_from_db()
    assert job.effective_sats_per_hour is None
    reputation = requester_reputation(Job.objects.select_related("requester__requester_stats").get(pk=job.pk))
    assert reputation.new is True
    assert (reputation.approval_percent, reputation.median_review_seconds) == (None, None)
    assert (reputation.sats_per_hour, reputation.sats_per_hour_measured) == (300, False)  # the estimate

    # One more approval reaches the threshold: rated, and the rate is measured.
    approved_work(job, 1, seconds=30, accepted_at=start)
    reputations_refresh(full=True)
    job = Job.objects.select_related("requester__requester_stats").get(pk=job.pk)
    reputation = requester_reputation(job)
    assert reputation.new is False
    assert (reputation.sats_per_hour, reputation.sats_per_hour_measured) == (1200, True)
    assert reputation.approval_percent == 100


def test_a_requester_who_never_had_a_refresh_is_new(requester):
    job = make_job(requester=requester)
    reputation = requester_reputation(Job.objects.select_related("requester__requester_stats").get(pk=job.pk))
    assert (reputation.new, reputation.disputes_lost, reputation.active_since) == (True, 0, None)


def test_an_incremental_refresh_picks_up_a_new_review_and_leaves_the_rest_alone(start):
    busy, quiet = make_user("busy"), make_user("quiet")
    busy_job = published_long_ago(make_job(requester=busy, tasks=6), start)
    quiet_job = published_long_ago(make_job(requester=quiet, tasks=6), start)
    approved_work(busy_job, 3, seconds=60, accepted_at=start)
    approved_work(quiet_job, 3, seconds=60, accepted_at=start)
    reputations_refresh()
    quiet_before = RequesterStats.objects.get(requester=quiet)
    assert RequesterStats.objects.get(requester=busy).approved_count == 3

    # A new rejection of the busy requester's, reviewed now.
    now = timezone.now().replace(microsecond=0)
    reviewed(worked(busy_job, accepted_at=now - timedelta(minutes=5), seconds=40), approve=False, after_seconds=20)
    later = now + timedelta(minutes=5)
    written = reputations_refresh(now=later)

    busy_stats = RequesterStats.objects.get(requester=busy)
    assert (busy_stats.approved_count, busy_stats.rejected_count, busy_stats.approval_percent) == (3, 1, 75)
    assert busy_stats.refreshed_at == later
    assert busy_stats.median_review_seconds == 60  # 60, 60, 60 and the new 20: (60 + 60) / 2
    # Only the busy requester and the rejected worker were written; the quiet requester's row is as it was.
    assert written == 2
    assert model_to_dict(RequesterStats.objects.get(requester=quiet)) == model_to_dict(quiet_before)


def test_a_payout_settled_since_the_last_run_refreshes_the_requester_it_paid_for(start):
    requester = make_user("payer")
    job = published_long_ago(make_job(requester=requester, tasks=4), start)
    [first, *_] = approved_work(job, 3, seconds=60, accepted_at=start)
    reputations_refresh()
    assert RequesterStats.objects.get(requester=requester).median_payment_seconds is None

    approved_at = first.reviewed_at
    paid_out(first.worker, created_at=approved_at + timedelta(minutes=1), settled_at=timezone.now())
    reputations_refresh(now=timezone.now() + timedelta(minutes=5))

    stats = RequesterStats.objects.get(requester=requester)
    payout = first.worker.payouts.get()
    assert stats.median_payment_seconds == int((payout.settled_at - approved_at).total_seconds())


def test_a_refresh_is_idempotent(history):
    reputations_refresh()
    first = {row.pk: model_to_dict(row, exclude=["refreshed_at"]) for row in RequesterStats.objects.all()}
    workers = {row.pk: model_to_dict(row, exclude=["refreshed_at"]) for row in WorkerStats.objects.all()}
    assert reputations_refresh(full=True) == len(first) + len(workers)  # no job's rate changed
    assert {row.pk: model_to_dict(row, exclude=["refreshed_at"]) for row in RequesterStats.objects.all()} == first
    assert {row.pk: model_to_dict(row, exclude=["refreshed_at"]) for row in WorkerStats.objects.all()} == workers


def test_a_full_refresh_applies_a_raised_threshold_to_every_job(history, settings):
    reputations_refresh()
    settings.REPUTATION_MIN_APPROVED = 10
    reputations_refresh(full=True)
    history["job"].refresh_from_db()
    assert history["job"].effective_sats_per_hour is None
    assert RequesterStats.objects.get(requester=history["requester"]).effective_sats_per_hour is None


def test_the_median_of_odd_and_even_counts():
    assert median([]) is None
    assert median([7]) == 7
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5


def test_the_background_job_refreshes():
    job = make_job(tasks=3)
    approved_work(job, 3, seconds=60, accepted_at=timezone.now() - timedelta(hours=2))
    assert refresh_reputations.apply().get() > 0
    assert RequesterStats.objects.filter(requester=job.requester, approved_count=3).exists()


def test_a_rate_made_by_one_worker_is_not_measured(settings):
    """A requester's second account doing twenty instant tasks does not make a "measured" rate."""
    settings.REPUTATION_MIN_WORKERS = 5
    job = make_job(tasks=25, estimated_seconds_per_task=600)
    accomplice = make_user(funds_sats=0)
    day_ago = timezone.now() - timedelta(days=1)
    for _ in range(settings.REPUTATION_MIN_APPROVED):
        reviewed(worked(job, worker=accomplice, accepted_at=day_ago, seconds=1), after_seconds=1)
    reputations_refresh()
    job.refresh_from_db()
    assert job.effective_sats_per_hour is None
    assert RequesterStats.objects.get(requester=job.requester).effective_sats_per_hour is None
