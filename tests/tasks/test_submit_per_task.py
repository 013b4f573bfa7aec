"""Answers checked against the task's own question (a HIT made through the Mechanical Turk API carries one), and an
external study's answer: what a worker's submit stores, and what it refuses without changing anything."""

import pytest

from core.errors import InvalidInput
from marketplace.answer_forms import MAX_FREE_ANSWER_FIELDS, AnswerForm
from marketplace.models import FormKind, Job
from mturk.questions import answers_xml, parse_question
from tasks import services
from tasks.errors import AnswerInvalid
from tasks.models import AssignmentStatus, Task
from tests.factories import make_job

pytestmark = pytest.mark.django_db

FORM_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"
QUESTION_FORM = f"""<QuestionForm xmlns="{FORM_NS}">
  <Question>
    <QuestionIdentifier>Best-Move</QuestionIdentifier>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>Where should X play?</Text></QuestionContent>
    <AnswerSpecification><FreeTextAnswer/></AnswerSpecification>
  </Question>
  <Question>
    <QuestionIdentifier>fruit</QuestionIdentifier>
    <QuestionContent><Text>Pick fruit</Text></QuestionContent>
    <AnswerSpecification><SelectionAnswer><StyleSuggestion>checkbox</StyleSuggestion><Selections>
      <Selection><SelectionIdentifier>a</SelectionIdentifier><Text>Apple</Text></Selection>
      <Selection><SelectionIdentifier>b</SelectionIdentifier><Text>Banana</Text></Selection>
    </Selections></SelectionAnswer></AnswerSpecification>
  </Question>
</QuestionForm>"""
HTML_QUESTION = {
    "kind": "html",
    "html": "<crowd-form><textarea name='weather'></textarea></crowd-form>",
    "frame_height": 0,
}
EXTERNAL_QUESTION = {"kind": "external", "url": "https://study.example.org/", "frame_height": 600}


def per_task_assignment(requester, worker, question: dict | None):
    """A claimed assignment on a job whose tasks carry their own question, as HITs made through the API do. The
    job is made with the form builder and turned into a per-task job, since what is checked here is the submit."""
    job = make_job(requester=requester, tasks=1)
    Job.objects.filter(pk=job.pk).update(form_kind=FormKind.PER_TASK)
    Task.objects.filter(job=job).update(question=question)
    job.refresh_from_db()
    return services.assignment_claim(job=job, worker=worker)


def submitted(assignment, worker, data):
    services.assignment_submit(assignment=assignment, worker=worker, data=data)
    assignment.refresh_from_db()
    return assignment


def assert_nothing_stored(assignment):
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    assert assignment.answer is None


# --- A QuestionForm: the form builder's rules -------------------------------------------------------------------------


def test_a_question_form_answer_is_checked_and_stored_like_a_form_builders(requester, worker):
    assignment = per_task_assignment(requester, worker, parse_question(QUESTION_FORM))

    assignment = submitted(assignment, worker, {"answer-best_move": "B2", "answer-fruit": ["Apple", "Banana"]})

    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"best_move": "B2", "fruit": ["Apple", "Banana"]}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"answer-fruit": ["Apple"]}, "best_move"),  # required, left empty
        ({"answer-best_move": "B2", "answer-fruit": ["Cherry"]}, "fruit"),  # not one of the selections
    ],
)
def test_a_question_form_answer_the_form_refuses_is_not_stored(requester, worker, data, field):
    assignment = per_task_assignment(requester, worker, parse_question(QUESTION_FORM))

    with pytest.raises(AnswerInvalid) as refused:
        services.assignment_submit(assignment=assignment, worker=worker, data=data)

    assert field in refused.value.details
    assert_nothing_stored(assignment)


def test_a_question_form_answer_sent_as_json_runs_the_same_checks_and_reads_back_as_mturk_xml(requester, worker):
    question = parse_question(QUESTION_FORM)
    assignment = per_task_assignment(requester, worker, question)

    services.assignment_submit_json(
        assignment=assignment, worker=worker, answer={"best_move": "C3", "fruit": ["Banana"]}
    )
    assignment.refresh_from_db()

    assert assignment.answer == {"best_move": "C3", "fruit": ["Banana"]}
    xml = answers_xml(assignment.answer, question=question)
    assert "<QuestionIdentifier>Best-Move</QuestionIdentifier><FreeText>C3</FreeText>" in xml
    assert "<QuestionIdentifier>fruit</QuestionIdentifier><SelectionIdentifier>b</SelectionIdentifier>" in xml


# --- An HTMLQuestion or an ExternalQuestion: any text fields ---------------------------------------------------------


@pytest.mark.parametrize("question", [HTML_QUESTION, EXTERNAL_QUESTION], ids=["html", "external"])
def test_a_free_form_answer_keeps_every_text_field_but_the_assignment_id(requester, worker, question):
    assignment = per_task_assignment(requester, worker, question)
    data = {
        "weather": "Sunny & warm",
        "tags": ["hot", "dry"],
        "assignmentId": assignment.public_id,
        "hitId": "H",
        "workerId": "W",
        "turkSubmitTo": "https://boltwork.example",
    }

    assignment = submitted(assignment, worker, data)

    assert assignment.answer == {
        "weather": "Sunny & warm",
        "tags": ["hot", "dry"],
        "hitId": "H",
        "workerId": "W",
        "turkSubmitTo": "https://boltwork.example",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"assignmentId": "x"}, "The answer is empty"),  # only the id of the assignment
        ({}, "The answer is empty"),
        ("not a dict", "The answer is empty"),
        ({"weather": 12}, "must be text"),
        ({"weather": "x" * (64 * 1024 + 1)}, "too large"),
        ({"weather": "nul \x00"}, "cannot be saved"),
        ({f"field{number}": "x" for number in range(MAX_FREE_ANSWER_FIELDS + 1)}, "at most 200"),
        ({"n" * 201: "x"}, "longer than 200 characters"),
    ],
)
def test_a_free_form_answer_that_cannot_be_stored_is_refused_whole(requester, worker, data, message):
    assignment = per_task_assignment(requester, worker, HTML_QUESTION)

    with pytest.raises(InvalidInput, match=message):
        services.assignment_submit(assignment=assignment, worker=worker, data=data)

    assert_nothing_stored(assignment)


def test_a_per_task_job_whose_task_has_no_question_takes_no_answer(requester, worker):
    assignment = per_task_assignment(requester, worker, {})

    with pytest.raises(InvalidInput, match="no question"):
        services.assignment_submit(assignment=assignment, worker=worker, data={"weather": "rain"})

    assert_nothing_stored(assignment)


# --- An external study made on the web -------------------------------------------------------------------------------


def test_an_external_study_jobs_answer_is_its_posted_fields(requester, worker):
    job = make_job(requester=requester, tasks=1)
    Job.objects.filter(pk=job.pk).update(form_kind=FormKind.EXTERNAL, external_url="https://study.example.org/")
    job.refresh_from_db()
    assignment = services.assignment_claim(job=job, worker=worker)

    assignment = submitted(assignment, worker, {"completion_code": "C0DE42", "assignmentId": assignment.public_id})

    assert assignment.answer == {"completion_code": "C0DE42"}


def test_a_form_builder_job_still_ignores_the_task_question(requester, worker):
    """Only a per-task job reads the task's question: a form builder job keeps its own form."""
    job = make_job(requester=requester, tasks=1)
    Task.objects.filter(job=job).update(question=HTML_QUESTION)
    assignment = services.assignment_claim(job=job, worker=worker)

    with pytest.raises(AnswerInvalid):
        services.assignment_submit(assignment=assignment, worker=worker, data={"weather": "rain"})

    assert_nothing_stored(assignment)


def test_a_question_forms_default_text_is_filled_in_on_the_workers_form():
    question = parse_question(
        f"""<QuestionForm xmlns="{FORM_NS}"><Question><QuestionIdentifier>move</QuestionIdentifier>
        <QuestionContent><Text>Your move</Text></QuestionContent>
        <AnswerSpecification><FreeTextAnswer><DefaultText>C1</DefaultText></FreeTextAnswer></AnswerSpecification>
        </Question></QuestionForm>"""
    )

    html = str(AnswerForm(question["fields"])["move"])

    assert 'value="C1"' in html


LIMITED_FORM = f"""<QuestionForm xmlns="{FORM_NS}">
  <Question>
    <QuestionIdentifier>code</QuestionIdentifier>
    <QuestionContent><Text>Two-letter code</Text></QuestionContent>
    <AnswerSpecification><FreeTextAnswer><Constraints><Length minLength="2" maxLength="2"/></Constraints>
    </FreeTextAnswer></AnswerSpecification>
  </Question>
  <Question>
    <QuestionIdentifier>fruit</QuestionIdentifier>
    <QuestionContent><Text>Pick two or three</Text></QuestionContent>
    <AnswerSpecification><SelectionAnswer>
      <MinSelectionCount>2</MinSelectionCount><MaxSelectionCount>3</MaxSelectionCount>
      <StyleSuggestion>checkbox</StyleSuggestion><Selections>
      <Selection><SelectionIdentifier>a</SelectionIdentifier><Text>Apple</Text></Selection>
      <Selection><SelectionIdentifier>b</SelectionIdentifier><Text>Banana</Text></Selection>
      <Selection><SelectionIdentifier>c</SelectionIdentifier><Text>Cherry</Text></Selection>
      <Selection><SelectionIdentifier>d</SelectionIdentifier><Text>Date</Text></Selection>
    </Selections></SelectionAnswer></AnswerSpecification>
  </Question>
</QuestionForm>"""


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"answer-code": "A", "answer-fruit": ["Apple", "Date"]}, "code"),  # shorter than minLength
        ({"answer-code": "ABC", "answer-fruit": ["Apple", "Date"]}, "code"),  # longer than maxLength
        ({"answer-code": "AB", "answer-fruit": ["Apple"]}, "fruit"),  # fewer than MinSelectionCount
        ({"answer-code": "AB", "answer-fruit": ["Apple", "Banana", "Cherry", "Date"]}, "fruit"),  # over the max
    ],
)
def test_a_question_forms_lengths_and_selection_counts_are_enforced(requester, worker, data, field):
    assignment = per_task_assignment(requester, worker, parse_question(LIMITED_FORM))

    with pytest.raises(AnswerInvalid) as refused:
        services.assignment_submit(assignment=assignment, worker=worker, data=data)

    assert list(refused.value.details) == [field]
    assert_nothing_stored(assignment)


def test_an_answer_within_a_question_forms_limits_is_stored(requester, worker):
    assignment = per_task_assignment(requester, worker, parse_question(LIMITED_FORM))

    assignment = submitted(assignment, worker, {"answer-code": "AB", "answer-fruit": ["Banana", "Date"]})

    assert assignment.answer == {"code": "AB", "fruit": ["Banana", "Date"]}
