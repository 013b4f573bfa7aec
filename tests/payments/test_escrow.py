"""Escrow: publishing pays for every slot; approval pays the worker; closing refunds what nobody can claim."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace import services as job_services
from marketplace.escrow import escrow_per_slot_msat, platform_fee_msat, publish_cost_msat
from marketplace.models import JobStatus
from payments.errors import InsufficientFunds
from payments.ledger import account_of_job, balance_msat, platform_account
from payments.models import AccountKind
from tasks import services as task_services
from tasks.models import Assignment, AssignmentStatus
from tests.balances import available, earned
from tests.factories import make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db

REWARD = 10_000  # msat
FEE = 1_000  # 10 % (the default PLATFORM_FEE_PERCENT)


def escrow(job) -> int:
    return balance_msat(account=account_of_job(job=job))


def assert_escrow_covers_exactly_what_can_still_be_approved(job):
    job.refresh_from_db()
    live = Assignment.objects.filter(
        job=job, status__in=[AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED]
    ).count()
    claimable_slots = live + (job.open_slot_count if job.status in {JobStatus.PUBLISHED, JobStatus.PAUSED} else 0)
    assert escrow(job) == escrow_per_slot_msat(job) * claimable_slots


def test_the_fee_is_rounded_up_to_the_millisatoshi(settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 250  # 2.5 %
    assert platform_fee_msat(1_000) == 25
    assert platform_fee_msat(1_001) == 26  # 25.025 → 26
    settings.PLATFORM_FEE_BASIS_POINTS = 0
    assert platform_fee_msat(1_001) == 0


def test_publishing_moves_reward_and_fee_for_every_slot_into_escrow():
    requester = make_user(funds_sats=100)
    job = make_job(requester=requester, tasks=3, assignments_per_task=2, reward_msat=REWARD)

    assert job.fee_per_assignment_msat == FEE
    assert escrow(job) == (REWARD + FEE) * 3 * 2
    assert available(requester) == 100_000 - 66_000
    assert_escrow_covers_exactly_what_can_still_be_approved(job)


def test_publishing_without_enough_balance_is_refused_with_the_missing_amount_and_changes_nothing():
    requester = make_user(funds_sats=20)
    job = make_job(requester=requester, tasks=2, reward_msat=REWARD, publish=False)
    assert publish_cost_msat(job) == 22_000

    with pytest.raises(InsufficientFunds) as refused:
        job_services.job_publish(job=job, actor=requester)

    assert refused.value.details["missing_msat"] == 2_000
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert available(requester) == 20_000
    assert escrow(job) == 0


def test_adding_tasks_to_a_published_job_tops_escrow_up_or_adds_nothing():
    requester = make_user(funds_sats=40)
    job = make_job(requester=requester, tasks=2, reward_msat=REWARD)  # 22 sats into escrow, 18 left

    task_services.tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "one more"}])
    assert escrow(job) == 33_000
    assert available(requester) == 7_000

    with pytest.raises(InsufficientFunds):
        task_services.tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "a"}, {"review": "b"}])
    job.refresh_from_db()
    assert job.task_count == 3
    assert escrow(job) == 33_000
    assert_escrow_covers_exactly_what_can_still_be_approved(job)


def test_approval_pays_the_reward_to_the_worker_and_the_fee_to_the_platform_once():
    requester = make_user()
    job = make_job(requester=requester, tasks=2, reward_msat=REWARD)
    worker = make_user(funds_sats=0)
    submitted = make_submitted_assignment(job=job, worker=worker)
    fees_before = balance_msat(account=platform_account(kind=AccountKind.PLATFORM_FEES))

    task_services.assignment_review(assignment=submitted, reviewer=requester, approve=True)
    task_services.assignment_review(assignment=submitted, reviewer=requester, approve=True)  # a repeat: no-op

    assert earned(worker) == REWARD
    assert balance_msat(account=platform_account(kind=AccountKind.PLATFORM_FEES)) == fees_before + FEE
    assert escrow(job) == (REWARD + FEE) * 1
    assert_escrow_covers_exactly_what_can_still_be_approved(job)


def test_a_rejected_slot_stays_funded_for_the_next_worker():
    requester = make_user()
    job = make_job(requester=requester, tasks=1, reward_msat=REWARD)
    worker = make_user(funds_sats=0)
    submitted = make_submitted_assignment(job=job, worker=worker)

    task_services.assignment_review(assignment=submitted, reviewer=requester, approve=False, feedback="Wrong.")

    assert earned(worker) == 0
    assert escrow(job) == REWARD + FEE
    assert_escrow_covers_exactly_what_can_still_be_approved(job)


def test_closing_refunds_open_slots_at_once_and_live_ones_as_they_end_unapproved():
    requester = make_user(funds_sats=100)
    job = make_job(requester=requester, tasks=4, reward_msat=REWARD)  # 44 sats in escrow
    in_progress = task_services.assignment_claim(job=job, worker=make_user(funds_sats=0))
    waiting = make_submitted_assignment(job=job)
    to_approve = make_submitted_assignment(job=job)

    job_services.job_close(job=job, actor=requester)
    assert escrow(job) == 3 * (REWARD + FEE)  # one open slot refunded; three assignments can still be approved
    assert available(requester) == 100_000 - 44_000 + 11_000
    assert_escrow_covers_exactly_what_can_still_be_approved(job)

    task_services.assignment_review(assignment=to_approve, reviewer=requester, approve=True)
    task_services.assignment_review(assignment=waiting, reviewer=requester, approve=False, feedback="No.")
    task_services.assignment_expire(assignment_id=in_progress.pk, now=timezone.now() + timedelta(days=1))

    assert escrow(job) == 0
    assert available(requester) == 100_000 - 11_000
    assert_escrow_covers_exactly_what_can_still_be_approved(job)


def test_an_expired_job_is_closed_and_refunded_by_the_sweeper():
    requester = make_user(funds_sats=100)
    job = make_job(requester=requester, tasks=2, reward_msat=REWARD, expires_at=timezone.now() + timedelta(hours=1))

    job_services.jobs_close_expired(now=timezone.now() + timedelta(hours=2))

    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED
    assert escrow(job) == 0
    assert available(requester) == 100_000
