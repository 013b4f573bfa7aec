"""A worker's side of the API: the board, claim, submit, return; and the whole loop over the API alone, paid out to
the development backend's test wallet on a live server."""

import hashlib
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from marketplace import services
from marketplace.models import Job
from payments.models import Payout, PayoutState
from tasks.models import Assignment, AssignmentStatus
from tasks.services import tasks_add
from tests.api.conftest import api_client_for, assert_error, job_body, short
from tests.balances import earned as earned_msat
from tests.factories import make_claimed_assignment, make_html_job, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db

ANSWER = {"sentiment": "Positive", "notes": "Clear praise"}


# The board --------------------------------------------------------------------------------------------------------


def test_the_board_lists_published_jobs_with_work_left(worker_api, requester):
    published = make_job(requester=requester, tasks=2, title="Label cats", tags=["images"])
    make_job(requester=requester, tasks=2, publish=False, title="Still a draft")
    full = make_job(requester=requester, tasks=1, title="All taken")
    make_claimed_assignment(job=full)
    response = worker_api.get("/board")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [published.public_id]
    item = items[0]
    assert item == {
        "id": published.public_id,
        "title": "Label cats",
        "description": "Say whether a review is positive.",
        "requester": "requester",
        "reward_msat": 10_000,
        "time_limit_seconds": 600,
        "auto_approve_seconds": 3 * 24 * 3600,
        "estimated_seconds_per_task": None,
        "sats_per_hour": None,
        "tasks_left": 2,
        "qualification_requirements": [],
        "access": {"may_preview": True, "may_accept": True, "reasons": []},
        "tags": ["images"],
        "published_at": item["published_at"],
        "requester_reputation": {
            "new": True,
            "sats_per_hour": None,
            "sats_per_hour_measured": False,
            "approval_percent": None,
            "median_review_seconds": None,
            "median_payment_seconds": None,
            "disputes_lost": 0,
            "active_since": None,
        },
    }
    assert datetime.fromisoformat(item["published_at"]).tzinfo is not None


def test_the_board_filters(worker_api, requester):
    cats = make_job(requester=requester, tasks=1, title="Label cats", tags=["images"], reward_msat=50_000)
    dogs = make_job(requester=requester, tasks=1, title="Label dogs", tags=["animals"])

    def ids(**query):
        response = worker_api.get("/board", **query)
        assert response.status_code == 200, short(response)
        return {item["id"] for item in response.json()["items"]}

    assert ids(q="cats") == {cats.public_id}
    assert ids(tag="animals") == {dogs.public_id}
    assert ids(tag="Animals") == {dogs.public_id}
    assert ids(min_reward_msat=20_000) == {cats.public_id}
    assert ids(q="nothing like it") == set()
    assert ids(q="x" * 5_000) == set()


@pytest.mark.parametrize("query", [{"min_reward_msat": "lots"}, {"limit": "ten"}, {"cursor": "%%%"}])
def test_bad_board_queries_are_400(worker_api, query):
    assert_error(
        worker_api.get("/board", **query), 400, "validation_error" if "cursor" not in query else "invalid_cursor"
    )


@pytest.mark.parametrize("query", [{"q": "cat\x00"}, {"tag": "a\x00b"}])
def test_a_nul_in_a_board_search_is_400_not_a_server_error(worker_api, requester, query):
    """BUG: the search text goes into an ILIKE / equality on a text column; PostgreSQL refuses NUL: a 500."""
    make_job(requester=requester, tasks=1)
    assert_error(worker_api.get("/board", **query), 400, "validation_error")


# Claiming ---------------------------------------------------------------------------------------------------------


def test_claim_gives_the_task_and_its_form(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=2)
    before = timezone.now()
    response = worker_api.post(f"/jobs/{job.public_id}/claim")
    assert response.status_code == 201, short(response)
    body = response.json()
    assignment = Assignment.objects.get(worker=worker)
    assert body["id"] == assignment.public_id
    assert body["job_id"] == job.public_id
    assert body["task_input"] == {"review": "Review number 1"}
    assert body["form"]["prompt"] == "Review: {{review}}"
    assert body["html"] is None
    deadline = datetime.fromisoformat(body["deadline"])
    assert deadline.tzinfo is not None
    assert before + timedelta(seconds=599) <= deadline <= timezone.now() + timedelta(seconds=601)
    job.refresh_from_db()
    assert job.open_slot_count == 1


# The key (and its user), the job, the claim (tests/tasks/test_query_counts.py's CLAIM). The answer is made from
# the rows the claim holds (the task it locked, the job found first), not read again. Not the job's tags,
# requester or quality rules: the claim does not show them.
API_CLAIM = 1 + 1 + 11


def test_a_claim_over_the_api_costs_a_fixed_number_of_queries(worker_api, requester, django_assert_num_queries):
    assert worker_api.get("/me").status_code == 200  # notes the key's use, which it does at most once a minute
    for tasks in (2, 200):
        job = make_job(requester=requester, tasks=tasks, tags=["a", "b"])
        with django_assert_num_queries(API_CLAIM):
            assert worker_api.post(f"/jobs/{job.public_id}/claim").status_code == 201


def test_claiming_again_gives_back_the_open_assignment(worker_api, requester):
    job = make_job(requester=requester, tasks=3)
    first = worker_api.post(f"/jobs/{job.public_id}/claim").json()
    second = worker_api.post(f"/jobs/{job.public_id}/claim").json()
    assert first["id"] == second["id"]
    assert Assignment.objects.filter(job=job).count() == 1


def test_claim_on_an_html_job_renders_the_template_with_escaped_input(worker_api, requester):
    job = make_html_job(requester=requester, rows=[{"review": "<script>alert(1)</script>"}])
    body = worker_api.post(f"/jobs/{job.public_id}/claim").json()
    assert body["form"] is None
    assert "&lt;script&gt;" in body["html"]
    assert "<script>alert" not in body["html"]


def test_claim_when_nothing_is_left_for_me_is_409_no_task_available(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1, assignments_per_task=2)
    make_submitted_assignment(job=job, worker=worker)
    assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 409, "no_task_available")
    assert Assignment.objects.filter(job=job).count() == 1


@pytest.mark.parametrize("action", ["pause", "close"])
def test_claim_on_a_job_not_taking_work_is_409_job_not_published(worker_api, requester_api, requester, action):
    job = make_job(requester=requester, tasks=2)
    requester_api.post(f"/jobs/{job.public_id}/{action}")
    assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 409, "job_not_published")
    assert not Assignment.objects.filter(job=job).exists()


def test_claim_on_a_draft_or_unknown_job_is_404(worker_api, requester):
    draft = make_job(requester=requester, tasks=2, publish=False)
    assert_error(worker_api.post(f"/jobs/{draft.public_id}/claim"), 404, "not_found")
    assert_error(worker_api.post("/jobs/999999/claim"), 404, "not_found")
    assert not Assignment.objects.exists()


def test_claim_on_an_expired_job_is_409(worker_api, requester):
    job = make_job(requester=requester, tasks=2)
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 409, "job_not_published")


# Submitting and returning -----------------------------------------------------------------------------------------


def test_submit_an_answer(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": ANSWER})
    assert response.status_code == 200, short(response)
    body = response.json()
    assert (body["id"], body["job_id"], body["status"]) == (assignment.public_id, job.public_id, "submitted")
    assert body["answer"] == {"sentiment": "Positive", "notes": "Clear praise"}
    assert datetime.fromisoformat(body["submitted_at"]).tzinfo is not None
    assert body["reviewed_at"] is None


def test_submit_checks_the_answer_against_the_form(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    error = assert_error(
        worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": {"sentiment": "Ecstatic"}}),
        400,
        "validation_error",
    )
    assert "sentiment" in error["details"]
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.ACCEPTED


def test_submit_a_form_with_every_kind_of_field(worker_api, worker, requester):
    job = services.job_create(requester=requester, title="All kinds", description="Every field", reward_msat=5_000)
    fields = [
        {"name": "many", "kind": "multiple_choice", "label": "Many", "choices": ["a", "b", "c"], "required": True},
        {"name": "agree", "kind": "checkbox", "label": "Agree", "required": True},
        {"name": "count", "kind": "number", "label": "Count", "min": "0", "max": "10"},
        {"name": "essay", "kind": "long_text", "label": "Essay"},
    ]
    services.job_set_builder_form(job=job, actor=requester, prompt="Go", fields=fields)
    tasks_add(job=job, actor=requester, columns=["x"], rows=[{"x": "1"}])
    services.job_publish(job=job, actor=requester)
    assignment = make_claimed_assignment(job=job, worker=worker)
    answer = {"many": ["a", "c"], "agree": True, "count": 7.5, "essay": "Long"}
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": answer})
    assert response.status_code == 200, short(response)
    assert response.json()["answer"] == {"many": ["a", "c"], "agree": True, "count": "7.5", "essay": "Long"}


def test_submitting_twice_is_409_already_submitted_and_keeps_the_first_answer(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": ANSWER})
    second = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": {"sentiment": "Negative"}})
    assert_error(second, 409, "already_submitted")
    assert Assignment.objects.get(pk=assignment.pk).answer["sentiment"] == "Positive"


def test_submit_after_the_deadline_is_409(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    Assignment.objects.filter(pk=assignment.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": ANSWER})
    assert_error(response, 409, "deadline_passed")
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.ACCEPTED


def test_submit_after_returning_is_409_assignment_closed(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    worker_api.post(f"/assignments/{assignment.public_id}/return")
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": ANSWER})
    assert_error(response, 409, "assignment_closed")


@pytest.mark.parametrize("action", ["submit", "return"])
def test_someone_elses_assignment_is_404_and_untouched(stranger_api, requester_api, worker, requester, action):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    for client in (stranger_api, requester_api):  # another worker, and the job's own requester
        response = client.post(f"/assignments/{assignment.public_id}/{action}", {"answer": ANSWER})
        assert_error(response, 404, "not_found")
    stored = Assignment.objects.get(pk=assignment.pk)
    assert (stored.status, stored.answer) == (AssignmentStatus.ACCEPTED, None)


@pytest.mark.parametrize("body", [{}, {"answer": "Positive"}, {"answer": None}, {"answer": []}, None])
def test_a_submit_without_an_answer_object_is_400(worker_api, worker, requester, body):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    assert_error(worker_api.post(f"/assignments/{assignment.public_id}/submit", body), 400, "validation_error")


def test_submit_to_an_html_template_job(worker_api, worker, requester):
    job = make_html_job(requester=requester)
    assignment = make_claimed_assignment(job=job, worker=worker)
    answer = {"sentiment": "Positive", "notes": "ok", "stuffed": "dropped"}
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": answer})
    assert response.status_code == 200, short(response)
    assert response.json()["answer"] == {"sentiment": "Positive", "notes": "ok"}
    other = make_claimed_assignment(job=job, worker=make_user())
    not_text = api_client_for(other.worker).post(f"/assignments/{other.public_id}/submit", {"answer": {"sentiment": 5}})
    assert_error(not_text, 400, "validation_error")


def test_a_nul_in_an_html_answer_is_400_not_a_server_error(worker_api, worker, requester):
    """BUG: HTML template answers are stored as given in a JSON column; jsonb refuses \\u0000: a 500."""
    job = make_html_job(requester=requester)
    assignment = make_claimed_assignment(job=job, worker=worker)
    response = worker_api.post(f"/assignments/{assignment.public_id}/submit", {"answer": {"sentiment": "Pos\x00itive"}})
    assert_error(response, 400, "validation_error")
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.ACCEPTED


def test_return_gives_the_task_back(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_claimed_assignment(job=job, worker=worker)
    response = worker_api.post(f"/assignments/{assignment.public_id}/return")
    assert response.status_code == 200, short(response)
    assert response.json()["status"] == "returned"
    job.refresh_from_db()
    assert job.open_slot_count == 1
    assert worker_api.post(f"/assignments/{assignment.public_id}/return").json()["status"] == "returned"  # no-op
    job.refresh_from_db()
    assert job.open_slot_count == 1


def test_returning_submitted_work_is_409(worker_api, worker, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_submitted_assignment(job=job, worker=worker)
    assert_error(worker_api.post(f"/assignments/{assignment.public_id}/return"), 409, "invalid_state")
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.SUBMITTED


# The whole loop ------------------------------------------------------------------------------------------------


@pytest.fixture
def test_wallet(live_server, settings):
    """The site's own development test wallet (`/.well-known/lnurlp/<username>`), reachable on the live server."""
    host_port = live_server.url.removeprefix("http://")
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host_port]
    settings.SITE_URL = live_server.url
    return host_port


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("background_jobs_run_at_once")
def test_the_whole_loop_over_the_api_pays_the_worker(test_wallet):
    alice = make_user("alice")  # a requester with 1,000,000 sats
    bob = make_user("bob", funds_sats=0)
    boss, hand = api_client_for(alice), api_client_for(bob)

    # The requester creates a job, adds tasks from a CSV and publishes it.
    created = boss.post("/jobs", job_body(title="Rate two reviews", tags=["reviews"]))
    assert created.status_code == 201, short(created)
    job_id = created.json()["id"]
    tasks = boss.post(f"/jobs/{job_id}/tasks", "review\nGreat product\nBroke in a week\n", content_type="text/csv")
    assert tasks.json() == {"created": 2}
    published = boss.post(f"/jobs/{job_id}/publish")
    assert published.json()["status"] == "published", short(published)
    assert boss.get("/me").json()["escrow_msat"] == 2 * 11_000

    # The worker says where to be paid: their own test wallet on this site.
    destination = hand.put(
        "/me/payout-destination",
        {"lightning_address": f"bob@{test_wallet}", "auto_payout": True, "minimum_payout_msat": 1_000},
    )
    assert destination.status_code == 200, short(destination)
    assert destination.json()["address"] == f"bob@{test_wallet}"

    # The worker finds the job, claims a task and submits an answer.
    assert job_id in [item["id"] for item in hand.get("/board").json()["items"]]
    claim = hand.post(f"/jobs/{job_id}/claim")
    assert claim.status_code == 201, short(claim)
    assert claim.json()["task_input"] == {"review": "Great product"}
    submitted = hand.post(f"/assignments/{claim.json()['id']}/submit", {"answer": ANSWER})
    assert submitted.json()["status"] == "submitted", short(submitted)

    # The requester reviews it and approves: the reward is paid out at once (the background job runs eagerly).
    queue = boss.get(f"/jobs/{job_id}/assignments", status="submitted").json()["items"]
    assert [item["id"] for item in queue] == [claim.json()["id"]]
    approved = boss.post(f"/assignments/{queue[0]['id']}/approve", {"feedback": "Thanks!"})
    assert approved.json()["status"] == "approved", short(approved)

    payouts = hand.get("/payouts").json()
    assert payouts["next"] is None
    [payout] = payouts["items"]
    assert payout["status"] == PayoutState.SUCCEEDED == "succeeded", payout
    assert payout["amount_msat"] == 10_000
    assert payout["fee_msat"] == 0
    assert len(payout["payment_hash"]) == 64
    assert len(payout["preimage"]) == 64
    assert hashlib.sha256(bytes.fromhex(payout["preimage"])).hexdigest() == payout["payment_hash"]
    assert datetime.fromisoformat(payout["settled_at"]).tzinfo is not None
    assert hand.get("/me").json()["earned_msat"] == 0
    assert Payout.objects.get(worker=bob).state == PayoutState.SUCCEEDED

    # The requester's money: one slot paid (reward + fee), one still in escrow.
    me = boss.get("/me").json()
    assert me["escrow_msat"] == 11_000
    assert me["available_msat"] == 1_000_000_000 - 22_000
    results = boss.get(f"/jobs/{job_id}/results.csv")
    assert "Great product" in b"".join(results.streaming_content).decode()
    assert earned_msat(bob) == 0
