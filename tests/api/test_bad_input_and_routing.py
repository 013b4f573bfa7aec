"""Bad input answered in the API's error shape, never a 500 (security issue 7, the API part of item 11): lone UTF-16
surrogates anywhere in a body or query, integers past PostgreSQL's bigint, unknown paths and methods. And the bonus
endpoint answering a missing user exactly as it answers an unrelated one (the API part of item 12)."""

import pytest
from django.urls import reverse

from api.models import IdempotencyRecord
from marketplace.models import Job
from payments.models import Bonus, PayoutDestination
from tasks.models import AssignmentStatus, Task
from tests.api.conftest import API, assert_error, short
from tests.factories import make_claimed_assignment, make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db

LONE = "\\ud800"  # as the JSON escape a client sends: the six characters \ud800
LONE_LOW = "\\udfff"


def raw_job(title: str, description: str = "d") -> bytes:
    """A POST /jobs body written as JSON text, so an escape reaches the server exactly as a client wrote it."""
    fields = '[{"name": "a", "kind": "short_text", "label": "A"}]'
    return (
        f'{{"title": "{title}", "description": "{description}", "reward_msat": 10000, '
        f'"form": {{"prompt": "P", "fields": {fields}}}}}'
    ).encode()


# Lone surrogates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("escape", [LONE, LONE_LOW, f"ok {LONE} ok", f"{LONE}\\ud800"])
def test_a_lone_surrogate_in_a_submitted_answer_is_400_and_the_answer_is_not_stored(worker_api, worker, escape):
    """BUG: `"\\ud800"` parses to a str with no UTF-8 form; saving the answer failed in the database driver: a 500."""
    assignment = make_claimed_assignment(job=make_job(tasks=1), worker=worker)
    body = f'{{"answer": {{"sentiment": "Positive", "notes": "{escape}"}}}}'.encode()

    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", body)

    error = assert_error(response, 400, "validation_error")
    assert "surrogate" in error["message"]
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


def test_a_lone_surrogate_in_an_answers_key_is_400(worker_api, worker):
    assignment = make_claimed_assignment(job=make_job(tasks=1), worker=worker)
    body = f'{{"answer": {{"sentiment": "Positive", "{LONE}": "x"}}}}'.encode()

    assert_error(worker_api.post(f"/assignments/{assignment.public_id}/submit", body), 400, "validation_error")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


@pytest.mark.parametrize("where", ["title", "description"])
def test_a_lone_surrogate_in_a_job_is_400_and_no_job_is_made(requester_api, requester, where):
    body = raw_job(title=LONE) if where == "title" else raw_job(title="T", description=f"x{LONE}")

    assert_error(requester_api.post("/jobs", body), 400, "validation_error")
    assert not Job.objects.filter(requester=requester).exists()


def test_a_lone_surrogate_in_a_patch_is_400_and_changes_nothing(requester_api, requester):
    job = make_job(requester=requester, tasks=1, publish=False, title="Before")

    response = requester_api.patch(f"/jobs/{job.public_id}", f'{{"title": "After {LONE}"}}'.encode())

    assert_error(response, 400, "validation_error")
    job.refresh_from_db()
    assert job.title == "Before"


@pytest.mark.parametrize(
    "body",
    [
        f'{{"tasks": [{{"input": {{"review": "{LONE}"}}}}]}}',
        f'{{"tasks": [{{"input": {{"{LONE}": "x"}}}}]}}',
        f'{{"tasks": [{{"input": {{"review": "fine"}}}}, {{"input": {{"review": "a{LONE_LOW}"}}}}]}}',
    ],
)
def test_a_lone_surrogate_in_json_tasks_is_400_and_adds_nothing(requester_api, requester, body):
    job = make_job(requester=requester, tasks=1, publish=False)

    assert_error(requester_api.post(f"/jobs/{job.public_id}/tasks", body.encode()), 400, "validation_error")
    assert Task.objects.filter(job=job).count() == 1


def test_a_surrogate_encoded_in_a_csv_body_is_400_and_adds_nothing(requester_api, requester):
    """UTF-8 has no surrogates: the bytes ED A0 80 are refused when the CSV is decoded."""
    job = make_job(requester=requester, tasks=1, publish=False)
    body = b"review\nfine\nbad \xed\xa0\x80 here\n"

    response = requester_api.post(f"/jobs/{job.public_id}/tasks", body, content_type="text/csv")

    assert 400 <= response.status_code < 500, short(response)
    assert Task.objects.filter(job=job).count() == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/bonuses", '{"worker_id": "1", "amount_msat": 1000, "reason": "thanks \\ud800"}'),
        ("/assignments/review", '{"reject": [{"id": "1", "reason": "\\udc00"}]}'),
        ("/assignments/1/reject", '{"reason": "\\ud800"}'),
        ("/me/payout-destination", '{"lightning_address": "\\ud800@wallet.example"}'),
        ("/deposits", '{"amount_msat": 1000, "\\ud800": 1}'),
    ],
)
def test_a_lone_surrogate_in_any_other_body_is_400(requester_api, path, body):
    method = "PUT" if path.startswith("/me/") else "POST"
    assert_error(requester_api.request(method, path, body.encode()), 400, "validation_error")
    assert not Bonus.objects.exists()
    assert not PayoutDestination.objects.exists()


def test_a_lone_surrogate_with_an_idempotency_key_is_400_and_not_remembered_as_a_500(requester_api, requester):
    headers = {"Idempotency-Key": "surrogate-job"}
    assert_error(requester_api.post("/jobs", raw_job(title=LONE), headers=headers), 400, "validation_error")

    record = IdempotencyRecord.objects.get(user=requester, key="surrogate-job")
    assert record.response_status == 400


def test_a_surrogate_pair_is_one_character_and_is_welcome(requester_api, requester):
    """Only a lone half is refused: an escaped pair is how JSON writes a character outside the BMP."""
    response = requester_api.post("/jobs", raw_job(title="Rate \\ud83d\\ude00"))

    assert response.status_code == 201, short(response)
    assert Job.objects.get(requester=requester).title == "Rate \U0001f600"


@pytest.mark.parametrize("query", ["%ED%A0%80", "%00", "a%00b"])
def test_a_bad_character_in_a_query_string_is_never_a_500(requester_api, query):
    response = requester_api.client.get(
        f"{API}/board?q={query}", headers={"Authorization": requester_api.authorization}
    )
    assert response.status_code in {200, 400}, short(response)
    if response.status_code == 400:
        assert_error(response, 400, "validation_error")


def test_an_idempotency_key_with_a_control_character_is_400(requester_api, requester):
    response = requester_api.post("/jobs", raw_job(title="T"), headers={"Idempotency-Key": "a\x00b"})

    assert_error(response, 400, "validation_error")
    assert not Job.objects.filter(requester=requester).exists()


# Integers past bigint ---------------------------------------------------------------------------------------------

BIG = 9_223_372_036_854_775_808  # 2**63: one past PostgreSQL's bigint


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/deposits", {"amount_msat": BIG}),
        ("POST", "/bonuses", {"worker_id": "1", "amount_msat": BIG, "reason": "x"}),
        ("PUT", "/me/payout-destination", {"minimum_payout_msat": BIG}),
        ("PUT", "/me/payout-destination", {"minimum_payout_msat": 9_223_372_036_854_776 * 1000}),
        ("POST", "/jobs", {"title": "T", "description": "d", "reward_msat": BIG, "form": None}),
    ],
)
def test_an_integer_past_bigint_in_a_body_is_400(requester_api, requester, method, path, body):
    assert_error(requester_api.request(method, path, body), 400, "validation_error")
    assert not PayoutDestination.objects.exists()


@pytest.mark.parametrize(
    "query", [{"min_reward_msat": str(BIG)}, {"min_reward_msat": "-1"}, {"limit": str(BIG)}, {"limit": "9" * 5000}]
)
def test_an_integer_past_bigint_in_a_query_is_400(requester_api, query):
    assert_error(requester_api.get("/board", **query), 400, "validation_error")


def test_the_board_filter_still_takes_any_real_reward(requester_api, requester):
    make_job(requester=requester, tasks=1, reward_msat=50_000)
    assert len(requester_api.get("/board", min_reward_msat="50000").json()["items"]) == 1
    assert requester_api.get("/board", min_reward_msat="1000000000").json()["items"] == []


# Unknown paths and methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/jobs/1/nope", "/me/", "/jobs/1/tasks/1", "/", "/v2/me", "/%ED%A0%80"])
def test_an_unknown_api_path_is_a_json_404(requester_api, path):
    """BUG: Django's HTML 404 page, not the API's error body."""
    response = requester_api.client.get(f"{API}{path}", headers={"Authorization": requester_api.authorization})

    assert response["Content-Type"].startswith("application/json")
    error = assert_error(response, 404, "not_found")
    assert "/api/v1/docs" in error["message"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_an_unknown_api_path_is_a_json_404_for_every_method_even_without_a_key_or_csrf_token(anonymous_api, method):
    response = anonymous_api.request(method, "/no/such/thing", {})
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/me", ["GET"]),
        ("POST", "/me", ["GET"]),
        ("PUT", "/jobs", ["GET", "POST"]),
        ("DELETE", "/jobs/1", ["GET", "PATCH"]),
        ("GET", "/jobs/1/publish", ["POST"]),
        ("GET", "/me/payout-destination", ["PUT"]),
    ],
)
def test_a_method_a_path_does_not_allow_is_a_json_405_with_allow(requester_api, method, path, allowed):
    """BUG: ninja answers 405 in plain text ("Method not allowed")."""
    response = requester_api.request(method, path, {})

    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == ", ".join(allowed)
    assert error["details"] == {"allowed_methods": allowed}
    assert method in error["message"]


def test_a_405_changes_nothing(requester_api, requester):
    job = make_job(requester=requester, tasks=1, publish=False)
    assert_error(requester_api.request("DELETE", f"/jobs/{job.public_id}"), 405, "method_not_allowed")
    assert Job.objects.filter(pk=job.pk).exists()


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_the_documentation_and_the_document_still_answer(client):
    assert client.get(reverse("api:openapi-json")).status_code == 200
    assert client.get(reverse("api:openapi-view")).status_code == 200


# Item 12: a missing user and an unrelated one get the same answer -------------------------------------------------


@pytest.fixture
def unrelated(stranger):
    """A real user who never worked for the requester (they did work for someone else)."""
    make_submitted_assignment(job=make_job(tasks=1), worker=stranger)
    return stranger


@pytest.mark.parametrize(
    "body",
    [
        {"amount_msat": 1_000, "reason": "Thanks"},
        {"amount_msat": 1_000, "reason": "   "},
        {"amount_msat": 1_000, "reason": "Thanks", "assignment_id": "1"},
        {"amount_msat": 1_000, "reason": "Thanks", "assignment_id": "abc"},
    ],
)
def test_a_bonus_to_a_missing_user_is_answered_exactly_like_one_to_an_unrelated_user(
    requester_api, requester, worker, unrelated, body
):
    """BUG: "No such worker among your jobs." for an id that names nobody, "No such worker or assignment among your
    jobs." for a real user: which ids are accounts could be read off the answer."""
    make_submitted_assignment(job=make_job(requester=requester, tasks=1), worker=worker)
    missing_id = str(max(worker.pk, unrelated.pk, requester.pk) + 1000)

    to_missing = requester_api.post("/bonuses", {"worker_id": missing_id, **body})
    to_unrelated = requester_api.post("/bonuses", {"worker_id": unrelated.public_id, **body})

    assert (to_missing.status_code, to_missing.json()) == (to_unrelated.status_code, to_unrelated.json())
    assert to_missing.status_code in {400, 404}
    assert not Bonus.objects.exists()


def test_the_uniform_answer_is_the_services_404(requester_api, unrelated):
    for worker_id in ["987654321", unrelated.public_id, "9" * 18, "abc"]:
        response = requester_api.post("/bonuses", {"worker_id": worker_id, "amount_msat": 1_000, "reason": "Hi"})
        error = assert_error(response, 404, "not_found")
        assert error == {
            "code": "not_found",
            "message": "No such worker or assignment among your jobs.",
            "details": {},
        }, worker_id
    assert not Bonus.objects.exists()
