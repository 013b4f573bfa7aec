"""Claiming, returning and expiring assignments: who gets which task, and how slots open and close."""

import random
from datetime import timedelta

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import InvalidTransition, NotFound
from marketplace import services as job_services
from marketplace.errors import JobNotOpen
from marketplace.models import Job
from tasks import services
from tasks.errors import AssignmentClosed, DeadlinePassed, NoTaskAvailable
from tasks.models import SLOT_HOLDING_STATUSES, Assignment, AssignmentStatus, Task
from tests.factories import (
    answer_data,
    make_draft_job,
    make_job,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db


def slots(job):
    """(job.open_slot_count, [task.slots_open by position]) as stored."""
    job.refresh_from_db()
    return job.open_slot_count, list(job.tasks.order_by("position").values_list("slots_open", flat=True))


def assert_slot_bookkeeping(job):
    """Every task's open slots equal what is wanted minus its slot-holding assignments; the job sums them."""
    job.refresh_from_db()
    tasks = Task.objects.filter(job=job).annotate(
        live=Count("assignments", filter=Q(assignments__status__in=SLOT_HOLDING_STATUSES))
    )
    for task in tasks:
        assert task.live <= job.assignments_per_task
        assert task.slots_open == job.assignments_per_task - task.live
    assert job.open_slot_count == sum(task.slots_open for task in tasks)


# Claim ----------------------------------------------------------------------------------------------------------


def test_claim_takes_the_first_open_task_and_sets_the_deadline(worker):
    job = make_job(tasks=3, time_limit_seconds=300)
    now = timezone.now()
    assignment = services.assignment_claim(job=job, worker=worker, now=now)
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert assignment.worker == worker
    assert assignment.task.position == 1
    assert assignment.accepted_at == now
    assert assignment.deadline_at == now + timedelta(seconds=300)
    assert slots(job) == (2, [0, 1, 1])
    assert_slot_bookkeeping(job)


def test_reclaim_returns_the_workers_open_assignment(worker):
    job = make_job(tasks=3)
    first = services.assignment_claim(job=job, worker=worker)
    again = services.assignment_claim(job=job, worker=worker)
    assert again.pk == first.pk
    assert Assignment.objects.filter(worker=worker).count() == 1
    assert slots(job) == (2, [0, 1, 1])


def test_a_worker_never_gets_the_same_task_twice_even_after_returning(worker):
    job = make_job(tasks=2, assignments_per_task=3)
    first = services.assignment_claim(job=job, worker=worker)
    services.assignment_return(assignment=first, worker=worker)
    second = services.assignment_claim(job=job, worker=worker)
    assert second.task_id != first.task_id
    services.assignment_return(assignment=second, worker=worker)
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=worker)
    # The slots are open for others all the same.
    assert slots(job) == (6, [3, 3])
    other = services.assignment_claim(job=job, worker=make_user())
    assert other.task_id == first.task_id


def test_a_worker_never_gets_a_task_they_submitted_again(worker):
    job = make_job(tasks=2, assignments_per_task=2)
    done = make_submitted_assignment(job=job, worker=worker)
    nxt = services.assignment_claim(job=job, worker=worker)
    assert nxt.task_id != done.task_id
    services.assignment_submit(assignment=nxt, worker=worker, data=answer_data())
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=worker)


def test_never_more_live_assignments_than_assignments_per_task():
    job = make_job(tasks=1, assignments_per_task=2)
    services.assignment_claim(job=job, worker=make_user())
    services.assignment_claim(job=job, worker=make_user())
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=make_user())
    assert Assignment.objects.filter(job=job).count() == 2
    assert slots(job) == (0, [0])


def test_claims_walk_through_the_tasks():
    job = make_job(tasks=3, assignments_per_task=2)
    taken = [services.assignment_claim(job=job, worker=make_user()).task.position for _ in range(6)]
    assert sorted(taken) == [1, 1, 2, 2, 3, 3]
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=make_user())
    assert_slot_bookkeeping(job)


@pytest.mark.parametrize("status", ["draft", "paused", "closed", "cancelled"])
def test_claim_is_refused_when_the_job_is_not_published(requester, worker, status):
    job = make_draft_job(requester=requester)
    if status == "cancelled":
        job_services.job_cancel(job=job, actor=requester)
    elif status != "draft":
        job_services.job_publish(job=job, actor=requester)
        if status == "paused":
            job_services.job_pause(job=job, actor=requester)
        else:
            job_services.job_close(job=job, actor=requester)
    before = slots(job)
    with pytest.raises(JobNotOpen):
        services.assignment_claim(job=job, worker=worker)
    assert not Assignment.objects.exists()
    assert slots(job) == before


def test_claim_is_refused_once_the_job_expired_even_before_the_sweep(requester, worker):
    expires_at = timezone.now() + timedelta(hours=1)
    job = make_job(requester=requester, expires_at=expires_at)
    with pytest.raises(JobNotOpen):
        services.assignment_claim(job=job, worker=worker, now=expires_at)
    assert not Assignment.objects.exists()
    assert services.assignment_claim(job=job, worker=worker, now=expires_at - timedelta(minutes=1))


def test_claim_is_refused_on_an_exhausted_job(worker):
    job = make_job(tasks=1)
    services.assignment_claim(job=job, worker=make_user())
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=worker)
    assert not Assignment.objects.filter(worker=worker).exists()


def test_paused_job_keeps_open_assignments_submittable(requester, worker):
    job = make_job(requester=requester)
    assignment = services.assignment_claim(job=job, worker=worker)
    job_services.job_pause(job=job, actor=requester)
    services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED


def test_claim_of_a_missing_job_is_not_found(worker):
    with pytest.raises(NotFound):
        services.assignment_claim(job=Job(pk=999_999), worker=worker)


# Return ---------------------------------------------------------------------------------------------------------


def test_return_gives_the_slot_back(worker):
    job = make_job(tasks=1, assignments_per_task=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    assert slots(job) == (0, [0])
    returned = services.assignment_return(assignment=assignment, worker=worker)
    assert returned.status == AssignmentStatus.RETURNED
    assert returned.ended_at is not None
    assert slots(job) == (1, [1])
    # Returning again is a no-op: the slot is not given back twice.
    services.assignment_return(assignment=assignment, worker=worker)
    assert slots(job) == (1, [1])
    other = services.assignment_claim(job=job, worker=make_user())
    assert other.task_id == assignment.task_id


def test_return_of_someone_elses_assignment_is_not_found(worker, stranger):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    with pytest.raises(NotFound):
        services.assignment_return(assignment=assignment, worker=stranger)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert slots(job) == (0, [0])


def test_a_submitted_assignment_cannot_be_returned(worker):
    job = make_job(tasks=1)
    assignment = make_submitted_assignment(job=job, worker=worker)
    with pytest.raises(InvalidTransition):
        services.assignment_return(assignment=assignment, worker=worker)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert slots(job) == (0, [0])


# Expiry ---------------------------------------------------------------------------------------------------------


def test_overdue_assignments_expire_and_give_their_slots_back():
    job = make_job(tasks=3, time_limit_seconds=600)
    now = timezone.now()
    late = services.assignment_claim(job=job, worker=make_user(), now=now)
    later = services.assignment_claim(job=job, worker=make_user(), now=now + timedelta(minutes=5))
    done = make_submitted_assignment(job=job)
    assert slots(job) == (0, [0, 0, 0])

    assert services.assignments_expire_overdue(now=now + timedelta(minutes=9)) == 0
    assert services.assignments_expire_overdue(now=now + timedelta(minutes=10)) == 1
    late.refresh_from_db()
    later.refresh_from_db()
    assert late.status == AssignmentStatus.EXPIRED
    assert late.ended_at == now + timedelta(minutes=10)
    assert later.status == AssignmentStatus.ACCEPTED
    assert slots(job) == (1, [1, 0, 0])

    assert services.assignments_expire_overdue(now=now + timedelta(hours=1)) == 1
    assert services.assignments_expire_overdue(now=now + timedelta(hours=1)) == 0
    done.refresh_from_db()
    assert done.status == AssignmentStatus.SUBMITTED
    assert slots(job) == (2, [1, 1, 0])
    assert_slot_bookkeeping(job)


def test_an_expired_assignment_cannot_be_submitted_and_its_task_is_not_offered_again(worker):
    job = make_job(tasks=1, assignments_per_task=2)
    assignment = services.assignment_claim(job=job, worker=worker)
    services.assignments_expire_overdue(now=timezone.now() + timedelta(days=1))
    with pytest.raises(AssignmentClosed):
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
    assignment.refresh_from_db()
    assert assignment.answer is None
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=worker)


def test_expire_one_that_is_not_overdue_is_a_no_op(worker):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    assert services.assignment_expire(assignment_id=assignment.pk) is None
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert slots(job) == (0, [0])


def test_a_worker_past_their_deadline_gets_a_new_task_not_the_overdue_one(worker):
    job = make_job(tasks=2, time_limit_seconds=60)
    now = timezone.now()
    first = services.assignment_claim(job=job, worker=worker, now=now)
    second = services.assignment_claim(job=job, worker=worker, now=now + timedelta(minutes=2))
    assert second.pk != first.pk
    assert second.task_id != first.task_id


# Which review decisions give slots back -------------------------------------------------------------------------


def test_rejection_reopens_the_slot_and_approval_does_not(requester):
    job = make_job(requester=requester, tasks=2)
    approved = make_submitted_assignment(job=job)
    rejected = make_submitted_assignment(job=job)
    assert slots(job) == (0, [0, 0])
    services.assignment_review(assignment=approved, reviewer=requester, approve=True)
    assert slots(job) == (0, [0, 0])
    services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="Off topic.")
    assert slots(job) == (1, [0, 1])
    redo = services.assignment_claim(job=job, worker=make_user())
    assert redo.task_id == rejected.task_id
    assert_slot_bookkeeping(job)


def test_auto_approval_does_not_reopen_slots(requester):
    job = make_job(requester=requester, tasks=1, auto_approve_seconds=60)
    make_submitted_assignment(job=job)
    assert services.assignments_auto_approve_due(now=timezone.now() + timedelta(minutes=5)) == 1
    assert slots(job) == (0, [0])


def test_slot_bookkeeping_holds_through_every_kind_of_step(requester):
    """A fixed, shuffled mix of claims, returns, submits, expiries and reviews; the counters the board and the
    claim query trust always equal what the assignment rows say."""
    job = make_job(requester=requester, tasks=6, assignments_per_task=2, time_limit_seconds=120)
    workers = [make_user() for _ in range(8)]
    clock = timezone.now()
    steps = random.Random(20261125)
    for _ in range(150):
        clock += timedelta(seconds=steps.choice([1, 5, 20]))
        action = steps.choice(["claim", "claim", "claim", "return", "submit", "submit", "submit", "expire", "review"])
        worker = steps.choice(workers)
        open_one = Assignment.objects.filter(job=job, worker=worker, status=AssignmentStatus.ACCEPTED).first()
        try:
            if action == "claim":
                services.assignment_claim(job=job, worker=worker, now=clock)
            elif action == "return" and open_one:
                services.assignment_return(assignment=open_one, worker=worker, now=clock)
            elif action == "submit" and open_one:
                services.assignment_submit(assignment=open_one, worker=worker, data=answer_data(), now=clock)
            elif action == "expire":
                services.assignments_expire_overdue(now=clock)
            elif action == "review":
                waiting = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED).first()
                if waiting:
                    approve = steps.random() < 0.6
                    services.assignment_review(
                        assignment=waiting, reviewer=requester, approve=approve, feedback="Reason.", now=clock
                    )
        except (NoTaskAvailable, DeadlinePassed):
            pass
        assert_slot_bookkeeping(job)
    statuses = set(Assignment.objects.filter(job=job).values_list("status", flat=True))
    assert statuses == set(AssignmentStatus.values), "the walk should reach every status"
    assert Assignment.objects.filter(job=job).count() > 20, "the walk should have done real work"
