"""Reviewing submissions: one by one, in bulk (all or nothing) and by the auto-approve rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition, NotFound
from tasks import services
from tasks.models import Assignment, AssignmentStatus, ReviewSource
from tests.factories import answer_data, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def snapshot(*assignments):
    return list(Assignment.objects.filter(pk__in=[a.pk for a in assignments]).order_by("pk").values())


def open_slots(job):
    job.refresh_from_db()
    return job.open_slot_count


def test_approve(job, requester):
    assignment = make_submitted_assignment(job=job)
    now = timezone.now()
    reviewed = services.assignment_review(
        assignment=assignment, reviewer=requester, approve=True, feedback=" Nice work. ", now=now
    )
    reviewed.refresh_from_db()
    assert reviewed.status == AssignmentStatus.APPROVED
    assert reviewed.reviewed_at == now
    assert reviewed.review_source == ReviewSource.REQUESTER
    assert reviewed.feedback == "Nice work."


def test_reject_with_a_reason(job, requester):
    assignment = make_submitted_assignment(job=job)
    slots_before = open_slots(job)
    services.assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback="Wrong label.")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.REJECTED
    assert assignment.feedback == "Wrong label."
    assert assignment.review_source == ReviewSource.REQUESTER
    assert open_slots(job) == slots_before + 1


@pytest.mark.parametrize("feedback", ["", "   ", None])
def test_a_rejection_needs_a_reason(job, requester, feedback):
    assignment = make_submitted_assignment(job=job)
    before = snapshot(assignment)
    with pytest.raises(InvalidInput, match="reason"):
        services.assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback=feedback)
    assert snapshot(assignment) == before


def test_feedback_is_limited(job, requester):
    assignment = make_submitted_assignment(job=job)
    before = snapshot(assignment)
    with pytest.raises(InvalidInput):
        services.assignment_review(assignment=assignment, reviewer=requester, approve=True, feedback="x" * 2_001)
    assert snapshot(assignment) == before


def test_review_by_anyone_but_the_requester_is_not_found(job, requester, stranger):
    worker = make_user()
    assignment = make_submitted_assignment(job=job, worker=worker)
    other_requester_job = make_job(requester=stranger)
    assert other_requester_job.pk
    before = snapshot(assignment)
    for intruder in (stranger, worker):
        for approve in (True, False):
            with pytest.raises(NotFound):
                services.assignment_review(assignment=assignment, reviewer=intruder, approve=approve, feedback="No")
    assert snapshot(assignment) == before


def test_only_submitted_work_can_be_reviewed(job, requester, worker):
    accepted = services.assignment_claim(job=job, worker=worker)
    returned_worker = make_user()
    returned = services.assignment_claim(job=job, worker=returned_worker)
    services.assignment_return(assignment=returned, worker=returned_worker)
    before = snapshot(accepted, returned)
    slots_before = open_slots(job)
    for assignment in (accepted, returned):
        for approve in (True, False):
            with pytest.raises(InvalidTransition):
                services.assignment_review(assignment=assignment, reviewer=requester, approve=approve, feedback="x")
    assert snapshot(accepted, returned) == before
    assert open_slots(job) == slots_before


def reviewed_once(job, requester, *, approve: bool):
    """A new submission to the job, approved or rejected by its requester."""
    assignment = make_submitted_assignment(job=job)
    services.assignment_review(assignment=assignment, reviewer=requester, approve=approve, feedback="First.")
    return assignment


@pytest.mark.parametrize("approve", [True, False])
def test_the_same_decision_again_is_a_no_op(job, requester, approve):
    assignment = reviewed_once(job, requester, approve=approve)
    before = snapshot(assignment)
    slots_before = open_slots(job)
    again = services.assignment_review(assignment=assignment, reviewer=requester, approve=approve, feedback="Second.")
    assert again.status == before[0]["status"]
    assert snapshot(assignment) == before
    assert open_slots(job) == slots_before, "a repeated rejection must not give the slot back twice"


@pytest.mark.parametrize("first_approve", [True, False])
def test_changing_a_decision_is_refused(job, requester, first_approve):
    assignment = reviewed_once(job, requester, approve=first_approve)
    before = snapshot(assignment)
    slots_before = open_slots(job)
    with pytest.raises(InvalidTransition):
        services.assignment_review(
            assignment=assignment, reviewer=requester, approve=not first_approve, feedback="Changed my mind."
        )
    assert snapshot(assignment) == before
    assert open_slots(job) == slots_before


# Bulk -----------------------------------------------------------------------------------------------------------


def test_bulk_review_approves_and_rejects(requester):
    job = make_job(requester=requester, tasks=4)
    a, b, c, untouched = (make_submitted_assignment(job=job) for _ in range(4))
    reviewed = services.assignments_review_bulk(
        job=job,
        reviewer=requester,
        approve_ids=[a.public_id, b.public_id],
        reject={c.public_id: "Spam."},
        feedback="Thanks!",
    )
    assert sorted(item.pk for item in reviewed) == sorted([a.pk, b.pk, c.pk])
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {
        a.pk: AssignmentStatus.APPROVED,
        b.pk: AssignmentStatus.APPROVED,
        c.pk: AssignmentStatus.REJECTED,
        untouched.pk: AssignmentStatus.SUBMITTED,
    }
    assert Assignment.objects.get(pk=a.pk).feedback == "Thanks!"
    assert Assignment.objects.get(pk=c.pk).feedback == "Spam."
    assert open_slots(job) == 1


def test_bulk_review_with_one_foreign_id_reviews_nothing(requester, stranger):
    job = make_job(requester=requester, tasks=3)
    mine = [make_submitted_assignment(job=job) for _ in range(2)]
    foreign = make_submitted_assignment(job=make_job(requester=stranger))
    before = snapshot(*mine, foreign)
    with pytest.raises(NotFound):
        services.assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[mine[0].pk, mine[1].pk, foreign.pk], reject={}
        )
    with pytest.raises(NotFound):
        services.assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[mine[0].pk], reject={foreign.public_id: "No."}
        )
    with pytest.raises(NotFound):
        services.assignments_review_bulk(job=job, reviewer=requester, approve_ids=[mine[0].pk, 999_999], reject={})
    assert snapshot(*mine, foreign) == before


def test_bulk_review_of_another_of_my_jobs_reviews_nothing(requester):
    job = make_job(requester=requester, tasks=2)
    other_job = make_job(requester=requester, tasks=2)
    mine = make_submitted_assignment(job=job)
    elsewhere = make_submitted_assignment(job=other_job)
    before = snapshot(mine, elsewhere)
    with pytest.raises(NotFound):
        services.assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[mine.public_id, elsewhere.public_id], reject={}
        )
    assert snapshot(mine, elsewhere) == before


def test_bulk_review_by_someone_else_reviews_nothing(requester, stranger):
    job = make_job(requester=requester, tasks=2)
    mine = make_submitted_assignment(job=job)
    before = snapshot(mine)
    with pytest.raises(NotFound):
        services.assignments_review_bulk(job=job, reviewer=stranger, approve_ids=[mine.public_id], reject={})
    assert snapshot(mine) == before


def test_bulk_review_with_one_unsubmitted_assignment_reviews_nothing(requester, worker):
    job = make_job(requester=requester, tasks=3)
    submitted = [make_submitted_assignment(job=job) for _ in range(2)]
    in_progress = services.assignment_claim(job=job, worker=worker)
    before = snapshot(*submitted, in_progress)
    with pytest.raises(InvalidTransition):
        services.assignments_review_bulk(
            job=job,
            reviewer=requester,
            approve_ids=[*(a.public_id for a in submitted), in_progress.public_id],
            reject={},
        )
    assert snapshot(*submitted, in_progress) == before


def test_bulk_rejection_without_a_reason_reviews_nothing(requester):
    job = make_job(requester=requester, tasks=2)
    a, b = (make_submitted_assignment(job=job) for _ in range(2))
    before = snapshot(a, b)
    with pytest.raises(InvalidInput):
        services.assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[a.public_id], reject={b.public_id: " "}
        )
    assert snapshot(a, b) == before


def test_bulk_review_refuses_contradictions_and_empty_selections(job, requester):
    a = make_submitted_assignment(job=job)
    with pytest.raises(InvalidInput):
        services.assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[a.public_id], reject={a.public_id: "No."}
        )
    with pytest.raises(InvalidInput):
        services.assignments_review_bulk(job=job, reviewer=requester, approve_ids=[], reject={})
    a.refresh_from_db()
    assert a.status == AssignmentStatus.SUBMITTED


# Auto-approve ---------------------------------------------------------------------------------------------------


def test_auto_approve_approves_only_due_submissions(requester):
    job = make_job(requester=requester, tasks=5, auto_approve_seconds=3600)
    t0 = timezone.now()
    workers = [make_user() for _ in range(5)]
    claims = [services.assignment_claim(job=job, worker=w, now=t0) for w in workers]
    due, not_due, reviewed, in_progress, rejected = claims
    services.assignment_submit(assignment=due, worker=workers[0], data=answer_data(), now=t0)
    services.assignment_submit(assignment=not_due, worker=workers[1], data=answer_data(), now=t0 + timedelta(minutes=9))
    services.assignment_submit(assignment=reviewed, worker=workers[2], data=answer_data(), now=t0)
    services.assignment_review(assignment=reviewed, reviewer=requester, approve=True, feedback="Mine.")
    services.assignment_submit(assignment=rejected, worker=workers[4], data=answer_data(), now=t0)
    services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="Wrong.")
    reviewed_before = snapshot(reviewed, rejected)

    assert services.assignments_auto_approve_due(now=t0 + timedelta(minutes=59)) == 0
    sweep_time = t0 + timedelta(minutes=60)
    assert services.assignments_auto_approve_due(now=sweep_time) == 1

    due.refresh_from_db()
    assert due.status == AssignmentStatus.APPROVED
    assert due.review_source == ReviewSource.AUTO
    assert due.reviewed_at == sweep_time
    assert due.feedback
    not_due.refresh_from_db()
    assert not_due.status == AssignmentStatus.SUBMITTED
    in_progress.refresh_from_db()
    assert in_progress.status == AssignmentStatus.ACCEPTED
    assert snapshot(reviewed, rejected) == reviewed_before

    assert services.assignments_auto_approve_due(now=sweep_time) == 0
    assert services.assignments_auto_approve_due(now=t0 + timedelta(hours=2)) == 1
    not_due.refresh_from_db()
    assert (not_due.status, not_due.review_source) == (AssignmentStatus.APPROVED, ReviewSource.AUTO)


def test_auto_approve_delay_of_zero_approves_at_the_next_sweep(requester):
    job = make_job(requester=requester, tasks=1, auto_approve_seconds=0)
    assignment = make_submitted_assignment(job=job)
    assert services.assignments_auto_approve_due() == 1
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
