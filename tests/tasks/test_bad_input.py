"""A worker's HTML template answer that the database cannot store is a clear 400 on the task page, never a 500.

The page's script posts the answer as JSON text in `answer_json`; JSON may escape any code unit, so `"\\u0000"` (NUL,
which PostgreSQL's jsonb refuses) and a lone `"\\ud800"` (no UTF-8 form at all) reach the server as Python text.
"""

import json

import pytest
from django.urls import reverse

from core.errors import InvalidInput
from marketplace.answer_forms import clean_html_answer
from tasks import services
from tasks.models import AssignmentStatus
from tests.factories import make_html_job

pytestmark = pytest.mark.django_db

UNSTORABLE_ANSWERS = [
    pytest.param('{"sentiment": "Pos\\u0000itive"}', id="nul-in-a-value"),
    pytest.param('{"sentiment": "\\ud800"}', id="lone-high-surrogate"),
    pytest.param('{"sentiment": "Positive", "notes": "ok \\udfff"}', id="lone-low-surrogate"),
    pytest.param('{"sentiment": ["Positive", "\\ud83d"]}', id="surrogate-in-a-list"),
    pytest.param('{"sentiment": "Positive", "x\\u0000": "a"}', id="nul-in-a-key"),
    pytest.param('{"sentiment": "Positive", "\\udc00": "a"}', id="surrogate-in-a-key"),
]


def submit(client, assignment, answer_json: str):
    return client.post(reverse("assignment_submit", args=[assignment.public_id]), {"answer_json": answer_json})


@pytest.mark.parametrize(
    ("answer_json", "message"),
    [
        *[pytest.param(*case.values, "cannot be saved", id=f"unstorable-{case.id}") for case in UNSTORABLE_ANSWERS],
        pytest.param("[" * 100_000, "The answer is empty", id="arrays-nested-past-the-parser-stack"),
        pytest.param('{"a":' * 100_000, "The answer is empty", id="objects-nested-past-the-parser-stack"),
        pytest.param("not json", "The answer is empty", id="not-json"),
    ],
)
def test_an_html_answer_that_cannot_be_stored_or_parsed_is_a_400_on_the_page_and_nothing_is_stored(
    worker_client, worker, answer_json, message
):
    assignment = services.assignment_claim(job=make_html_job(), worker=worker)

    response = submit(worker_client, assignment, answer_json)

    assert response.status_code == 400
    assert message in response.content.decode()
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


def test_a_character_escaped_as_a_valid_surrogate_pair_is_stored(worker_client, worker):
    """JSON writes characters outside the Basic Multilingual Plane as a pair of escapes: that is not refused."""
    assignment = services.assignment_claim(job=make_html_job(), worker=worker)

    response = submit(worker_client, assignment, '{"sentiment": "Positive", "notes": "\\ud83d\\ude00 great"}')

    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.answer == {"sentiment": "Positive", "notes": "\U0001f600 great"}


@pytest.mark.parametrize("answer_json", UNSTORABLE_ANSWERS)
def test_the_answer_check_refuses_unstorable_text_for_every_caller(answer_json):
    """The same check serves the web page and the API's submit, since both call clean_html_answer."""
    with pytest.raises(InvalidInput, match="cannot be saved"):
        clean_html_answer(json.loads(answer_json), field_names=["sentiment", "notes"])
