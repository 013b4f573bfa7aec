"""Submitting an answer: validated against the job's form, once, before the deadline, by its own worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from marketplace import services as job_services
from tasks import services
from tasks.errors import AlreadySubmitted, AnswerInvalid, AssignmentClosed, DeadlinePassed
from tasks.models import Assignment, AssignmentStatus
from tests.factories import answer_data, make_bare_draft, make_html_job, make_job

pytestmark = pytest.mark.django_db

ALL_KINDS = [
    {"name": "word", "kind": "short_text", "label": "Word", "required": True},
    {"name": "essay", "kind": "long_text", "label": "Essay", "required": False},
    {"name": "colour", "kind": "single_choice", "label": "Colour", "required": True, "choices": ["Red", "Blue"]},
    {"name": "sizes", "kind": "multiple_choice", "label": "Sizes", "required": False, "choices": ["S", "M", "L"]},
    {"name": "count", "kind": "number", "label": "Count", "required": True, "min": "0", "max": "10"},
    {"name": "agree", "kind": "checkbox", "label": "I agree", "required": True},
]


def job_with_every_kind(requester, **terms):
    job = make_bare_draft(requester=requester, **terms)
    job_services.job_set_builder_form(job=job, actor=requester, prompt="{{review}}", fields=ALL_KINDS)
    services.tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "r1"}, {"review": "r2"}])
    return job_services.job_publish(job=job, actor=requester)


def good_answer(**changes):
    data = {
        "answer-word": "cat",
        "answer-essay": "",
        "answer-colour": "Blue",
        "answer-sizes": ["S", "L"],
        "answer-count": "7",
        "answer-agree": "on",
    }
    data.update({f"answer-{name}": value for name, value in changes.items()})
    return data


def test_submit_stores_the_validated_answer(requester, worker):
    job = job_with_every_kind(requester, auto_approve_seconds=3600)
    assignment = services.assignment_claim(job=job, worker=worker)
    now = timezone.now()
    submitted = services.assignment_submit(assignment=assignment, worker=worker, data=good_answer(), now=now)
    submitted.refresh_from_db()
    assert submitted.status == AssignmentStatus.SUBMITTED
    assert submitted.answer == {
        "word": "cat",
        "essay": "",
        "colour": "Blue",
        "sizes": ["S", "L"],
        "count": "7",
        "agree": True,
    }
    assert submitted.submitted_at == now
    assert submitted.auto_approve_at == now + timedelta(hours=1)


@pytest.mark.parametrize(
    ("changes", "bad_fields"),
    [
        pytest.param({"word": ""}, {"word"}, id="required-text-missing"),
        pytest.param({"word": "x" * 501}, {"word"}, id="short-text-too-long"),
        pytest.param({"essay": "x" * 10_001}, {"essay"}, id="long-text-too-long"),
        pytest.param({"colour": ""}, {"colour"}, id="required-choice-missing"),
        pytest.param({"colour": "Green"}, {"colour"}, id="choice-not-offered"),
        pytest.param({"sizes": ["S", "XXL"]}, {"sizes"}, id="multiple-choice-not-offered"),
        pytest.param({"count": "11"}, {"count"}, id="number-above-max"),
        pytest.param({"count": "-1"}, {"count"}, id="number-below-min"),
        pytest.param({"count": "seven"}, {"count"}, id="not-a-number"),
        pytest.param({"count": ""}, {"count"}, id="required-number-missing"),
        pytest.param({"agree": ""}, {"agree"}, id="required-checkbox-unticked"),
        pytest.param({"word": "", "colour": "Green", "count": "99"}, {"word", "colour", "count"}, id="several"),
    ],
)
def test_an_invalid_answer_is_refused_with_messages_per_field_and_nothing_changes(
    requester, worker, changes, bad_fields
):
    job = job_with_every_kind(requester)
    assignment = services.assignment_claim(job=job, worker=worker)
    with pytest.raises(AnswerInvalid) as caught:
        services.assignment_submit(assignment=assignment, worker=worker, data=good_answer(**changes))
    assert set(caught.value.details) == bad_fields
    assert all(caught.value.details[name] for name in bad_fields)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert assignment.answer is None
    assert assignment.submitted_at is None
    # The worker can fix the answer and submit.
    services.assignment_submit(assignment=assignment, worker=worker, data=good_answer())


def test_numbers_at_the_bounds_are_accepted(requester, worker):
    job = job_with_every_kind(requester)
    assignment = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=assignment, worker=worker, data=good_answer(count="10"))
    other = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=other, worker=worker, data=good_answer(count="0.0"))
    other.refresh_from_db()
    assert other.answer["count"] == "0"


def test_a_second_submit_is_refused_and_the_answer_unchanged(job, worker):
    assignment = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=assignment, worker=worker, data=answer_data("Positive", "first"))
    first = Assignment.objects.values().get(pk=assignment.pk)
    with pytest.raises(AlreadySubmitted):
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data("Negative", "second"))
    assert Assignment.objects.values().get(pk=assignment.pk) == first
    assert first["answer"] == {"sentiment": "Positive", "notes": "first"}


@pytest.mark.parametrize("approve", [True, False])
def test_submitting_a_reviewed_assignment_is_refused(job, requester, worker, approve):
    assignment = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
    services.assignment_review(assignment=assignment, reviewer=requester, approve=approve, feedback="Reason.")
    before = Assignment.objects.values().get(pk=assignment.pk)
    with pytest.raises(AlreadySubmitted):
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data("Negative"))
    assert Assignment.objects.values().get(pk=assignment.pk) == before


def test_submit_after_the_deadline_is_refused_and_nothing_changes(worker):
    job = make_job(tasks=1, time_limit_seconds=60)
    now = timezone.now()
    assignment = services.assignment_claim(job=job, worker=worker, now=now)
    before = Assignment.objects.values().get(pk=assignment.pk)
    for late in (now + timedelta(seconds=60), now + timedelta(hours=1)):
        with pytest.raises(DeadlinePassed):
            services.assignment_submit(assignment=assignment, worker=worker, data=answer_data(), now=late)
    assert Assignment.objects.values().get(pk=assignment.pk) == before
    services.assignment_submit(
        assignment=assignment, worker=worker, data=answer_data(), now=now + timedelta(seconds=59)
    )


def test_submit_of_a_returned_assignment_is_refused(job, worker):
    assignment = services.assignment_claim(job=job, worker=worker)
    services.assignment_return(assignment=assignment, worker=worker)
    with pytest.raises(AssignmentClosed):
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.RETURNED, None)


def test_submit_of_someone_elses_assignment_is_not_found(job, worker, stranger, requester):
    assignment = services.assignment_claim(job=job, worker=worker)
    for intruder in (stranger, requester):
        with pytest.raises(NotFound):
            services.assignment_submit(assignment=assignment, worker=intruder, data=answer_data("Negative"))
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


# HTML template answers ------------------------------------------------------------------------------------------


def test_html_template_answer_is_stored(worker):
    job = make_html_job()
    assignment = services.assignment_claim(job=job, worker=worker)
    answer = {"sentiment": ["Negative", "Positive"], "notes": "Rude"}  # a multiple select sends a list
    services.assignment_submit(assignment=assignment, worker=worker, data=answer)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == answer


@pytest.mark.parametrize(
    "data", [None, {}, "sentiment=Negative", {"sentiment": 5}, {"sentiment": "x" * (64 * 1024 + 1)}]
)
def test_bad_html_template_answers_are_refused(worker, data):
    job = make_html_job()
    assignment = services.assignment_claim(job=job, worker=worker)
    with pytest.raises(InvalidInput):
        services.assignment_submit(assignment=assignment, worker=worker, data=data)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


def test_an_html_answer_without_any_of_the_templates_fields_is_refused(worker):
    """The template asks for `sentiment` and `notes`; an answer naming neither is not an answer to this task, and
    would otherwise be auto-approved and paid with empty Answer.* columns."""
    job = make_html_job()
    assignment = services.assignment_claim(job=job, worker=worker)
    with pytest.raises(InvalidInput):
        services.assignment_submit(assignment=assignment, worker=worker, data={"unrelated": "free money"})
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


def test_an_html_answer_stores_only_the_templates_fields(worker):
    job = make_html_job()
    assignment = services.assignment_claim(job=job, worker=worker)
    try:
        services.assignment_submit(
            assignment=assignment, worker=worker, data={"sentiment": "Positive", "injected": "x" * 60_000}
        )
    except InvalidInput:
        return  # refusing unknown fields is fine too
    assignment.refresh_from_db()
    assert set(assignment.answer) <= set(job.answer_fields)
