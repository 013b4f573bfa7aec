"""The quality pipeline run at the same time on one submission, and on every submission of one task: each approval
pays exactly once and no two runs wait on each other (real PostgreSQL, one connection per thread)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import events
from core.models import Event
from payments.models import LedgerTransaction
from tasks import handlers, quality
from tasks.models import Assignment, AssignmentStatus
from tasks.services import assignment_claim, assignment_submit
from tests.concurrency import raised, run_in_threads
from tests.factories import answer_data, make_quality_job, make_user, work_and_check

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _submissions_left_unchecked(monkeypatch):
    """The pipeline does not run on commit of the submissions here (as when the process dies right after it): the
    tests run it themselves, many at once."""
    subscribed = [
        handler for handler in events._handlers["assignment.submitted"] if handler is not handlers.check_submission
    ]
    monkeypatch.setitem(events._handlers, "assignment.submitted", subscribed)


def submitted(job, worker=None, sentiment="Positive") -> Assignment:
    """Claimed and submitted, its pipeline not run."""
    worker = worker or make_user()
    assignment = assignment_claim(job=job, worker=worker, now=timezone.now() - timedelta(seconds=30))
    return assignment_submit(assignment=assignment, worker=worker, data=answer_data(sentiment))


def test_one_submission_checked_by_many_at_once_is_approved_and_paid_once():
    job = make_quality_job(controls=4, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1)
    worker = make_user()
    work_and_check(job, worker)
    assignment = submitted(job, worker)

    results = run_in_threads(6, lambda _: quality.submission_checked(assignment_id=assignment.pk), what="a pipeline")

    assert raised(results) == []
    assert sorted(len(decisions) for decisions in results) == [0, 0, 0, 0, 0, 1]
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
    assert LedgerTransaction.objects.filter(key=f"reward:{assignment.pk}").count() == 1
    assert Event.objects.filter(type="assignment.approved", subject_id=assignment.public_id).count() == 1


def test_every_submission_of_a_task_checked_at_once_each_agreeing_one_paid_once():
    job = make_quality_job(regular=1, assignments_per_task=4, approve_on_agreement=True)
    answers = [submitted(job, sentiment=sentiment) for sentiment in ("Positive", "Positive", "Negative", "Positive")]

    results = run_in_threads(
        4, lambda index: quality.submission_checked(assignment_id=answers[index].pk), what="a pipeline"
    )

    assert raised(results) == []
    statuses = [Assignment.objects.get(pk=assignment.pk).status for assignment in answers]
    assert statuses == ["approved", "approved", "submitted", "approved"]
    for assignment in answers:
        paid = LedgerTransaction.objects.filter(key=f"reward:{assignment.pk}").count()
        assert paid == (0 if assignment.answer["sentiment"] == "Negative" else 1)
    assert Event.objects.filter(type="assignment.rule_applied").count() == 3
