"""`Idempotency-Key` on the POSTs that create or move money, and cursor pagination of every list."""

import base64

import pytest
from django.core.cache import cache

from api.models import IdempotencyRecord
from api.services import request_fingerprint
from marketplace import services
from marketplace.models import Job, JobStatus
from payments.ledger import account_of_user, balance_msat
from payments.models import AccountKind, Bonus, Deposit
from payments.payouts import payout_create
from tasks.models import Assignment, AssignmentStatus, Task
from tests.api.conftest import ApiClient, api_client_for, assert_error, job_body, short
from tests.balances import available as available_msat
from tests.factories import give_earnings, make_board_jobs, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def assert_replayed(first, repeat) -> None:
    assert repeat.status_code == first.status_code
    assert repeat.json() == first.json()
    assert repeat["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


# Idempotency ------------------------------------------------------------------------------------------------------


def test_a_repeated_deposit_returns_the_first_invoice_and_makes_one(requester_api, requester):
    first = requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("dep-1"))
    assert first.status_code == 201, short(first)
    repeat = requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("dep-1"))
    assert_replayed(first, repeat)
    assert Deposit.objects.filter(user=requester).count() == 1


def test_a_repeated_bonus_pays_once(requester_api, requester, worker):
    job = make_job(requester=requester, tasks=1)
    make_submitted_assignment(job=job, worker=worker)
    before = available_msat(requester)
    body = {"worker_id": worker.public_id, "amount_msat": 20_000, "reason": "Thanks"}
    first = requester_api.post("/bonuses", body, headers=key("bonus-1"))
    assert first.status_code == 201, short(first)
    for _ in range(2):
        assert_replayed(first, requester_api.post("/bonuses", body, headers=key("bonus-1")))
    assert Bonus.objects.count() == 1
    assert before - available_msat(requester) == 22_000
    assert balance_msat(account=account_of_user(user=worker, kind=AccountKind.WORKER_EARNED)) == 20_000


def test_a_repeated_job_creation_makes_one_job(requester_api, requester):
    first = requester_api.post("/jobs", job_body(), headers=key("job-1"))
    assert first.status_code == 201, short(first)
    assert_replayed(first, requester_api.post("/jobs", job_body(), headers=key("job-1")))
    assert Job.objects.filter(requester=requester).count() == 1


def test_repeated_tasks_are_added_once(requester_api, requester):
    job = make_job(requester=requester, tasks=1)
    body = {"tasks": [{"input": {"review": "once"}}]}
    first = requester_api.post(f"/jobs/{job.public_id}/tasks", body, headers=key("tasks-1"))
    assert first.status_code == 201, short(first)
    assert_replayed(first, requester_api.post(f"/jobs/{job.public_id}/tasks", body, headers=key("tasks-1")))
    assert Task.objects.filter(job=job).count() == 2
    assert available_msat(requester) == 1_000_000_000 - 2 * 11_000


def test_repeated_csv_tasks_are_added_once(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    first = requester_api.post(
        f"/jobs/{job.public_id}/tasks", "review\na\nb\n", content_type="text/csv", headers=key("c")
    )
    repeat = requester_api.post(
        f"/jobs/{job.public_id}/tasks", "review\na\nb\n", content_type="text/csv", headers=key("c")
    )
    assert_replayed(first, repeat)
    assert Task.objects.filter(job=job).count() == 2


def test_a_repeated_publish_and_approve_replay(requester_api, requester):
    job = make_job(requester=requester, tasks=1, publish=False)
    first = requester_api.post(f"/jobs/{job.public_id}/publish", headers=key("pub"))
    assert first.json()["status"] == "published"
    assert_replayed(first, requester_api.post(f"/jobs/{job.public_id}/publish", headers=key("pub")))
    assignment = make_submitted_assignment(job=job)
    approve = requester_api.post(f"/assignments/{assignment.public_id}/approve", {}, headers=key("ok"))
    assert_replayed(approve, requester_api.post(f"/assignments/{assignment.public_id}/approve", {}, headers=key("ok")))
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.APPROVED


def test_the_same_key_with_another_body_is_409_and_does_nothing(requester_api, requester):
    requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("dep"))
    error = assert_error(
        requester_api.post("/deposits", {"amount_msat": 42_000}, headers=key("dep")), 409, "idempotency_key_reused"
    )
    assert error["details"] == {"idempotency_key": "dep"}
    assert list(Deposit.objects.values_list("amount_msat", flat=True)) == [21_000]


def test_the_same_key_on_another_endpoint_is_409(requester_api, requester):
    requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("shared"))
    assert_error(requester_api.post("/jobs", job_body(), headers=key("shared")), 409, "idempotency_key_reused")
    assert not Job.objects.filter(requester=requester).exists()


def test_the_same_key_for_another_job_is_409(requester_api, requester):
    first, second = (make_job(requester=requester, tasks=1, publish=False) for _ in range(2))
    requester_api.post(f"/jobs/{first.public_id}/publish", headers=key("publish"))
    assert_error(
        requester_api.post(f"/jobs/{second.public_id}/publish", headers=key("publish")), 409, "idempotency_key_reused"
    )
    assert Job.objects.get(pk=second.pk).status == JobStatus.DRAFT


def test_keys_belong_to_one_user(requester_api, stranger_api, requester, stranger):
    assert requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("k")).status_code == 201
    theirs = stranger_api.post("/deposits", {"amount_msat": 21_000}, headers=key("k"))
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert Deposit.objects.filter(user=requester).count() == Deposit.objects.filter(user=stranger).count() == 1


def test_without_a_key_every_post_acts(requester_api, requester):
    for _ in range(2):
        requester_api.post("/deposits", {"amount_msat": 21_000})
    assert Deposit.objects.filter(user=requester).count() == 2


@pytest.mark.parametrize("value", ["", "k" * 256])
def test_a_key_that_is_empty_or_too_long_is_400(requester_api, value):
    response = requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key(value))
    assert_error(response, 400, "validation_error")
    assert not Deposit.objects.exists()


def test_a_key_of_255_characters_is_fine(requester_api):
    assert requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("k" * 255)).status_code == 201


def test_a_repeat_while_the_first_is_still_running_is_409_in_progress(requester_api, requester):
    body = b'{"amount_msat": 21000}'
    fingerprint = request_fingerprint(method="POST", path="/api/v1/deposits", body=body)
    IdempotencyRecord.objects.create(user=requester, key="busy", request_fingerprint=fingerprint)  # no answer yet
    error = assert_error(requester_api.post("/deposits", body, headers=key("busy")), 409, "idempotency_key_in_progress")
    assert error["details"] == {"idempotency_key": "busy"}
    assert not Deposit.objects.exists()


def test_a_refusal_is_replayed_too_and_acts_no_more(broke_api, broke_requester):
    job = make_job(requester=broke_requester, tasks=1, publish=False)
    first = broke_api.post(f"/jobs/{job.public_id}/publish", headers=key("try"))
    assert_error(first, 402, "insufficient_funds")
    assert_replayed(first, broke_api.post(f"/jobs/{job.public_id}/publish", headers=key("try")))


def test_a_key_is_not_claimed_by_a_request_without_a_valid_api_key(requester_api, requester):
    assert_error(
        ApiClient("bw_not-a-key").post("/deposits", {"amount_msat": 21_000}, headers=key("anon")), 401, "unauthorized"
    )
    assert not IdempotencyRecord.objects.exists()
    assert requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("anon")).status_code == 201


def test_a_rate_limited_request_does_not_use_up_its_idempotency_key(settings, requester_api, requester):
    """BUG: `idempotent` wraps ninja's whole `operation.run`, rate limit included, and remembers every answer
    below 500. A 429 becomes the key's answer for good: after the minute, the client's retry with the same key
    (exactly what keys are for) gets the old 429 replayed and the deposit is never made."""
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    requester_api.get("/me")
    limited = requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("after-the-limit"))
    assert_error(limited, 429, "rate_limited")
    cache.clear()  # a minute later
    retry = requester_api.post("/deposits", {"amount_msat": 21_000}, headers=key("after-the-limit"))
    assert retry.status_code == 201, (short(retry), retry.get("Idempotent-Replayed"))
    assert Deposit.objects.filter(user=requester).count() == 1


# Pagination ------------------------------------------------------------------------------------------------------


def walk(client, path: str, limit: int, **query) -> list[list[str]]:
    """Follow `next` from the first page to the last; the ids of each page."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **query}
        if cursor:
            params["cursor"] = cursor
        response = client.get(path, **params)
        assert response.status_code == 200, short(response)
        body = response.json()
        assert set(body) == {"items", "next"}
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


def test_jobs_page_through_without_duplicates_or_gaps(requester_api, requester):
    jobs = [make_job(requester=requester, tasks=1, publish=False, title=f"Job {n}") for n in range(7)]
    pages = walk(requester_api, "/jobs", limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    flat = [job_id for page in pages for job_id in page]
    assert flat == [job.public_id for job in reversed(jobs)]  # newest first, each once


def test_an_exact_multiple_of_the_limit_ends_without_an_empty_page(requester_api, requester):
    for _ in range(4):
        make_job(requester=requester, tasks=1, publish=False)
    assert [len(page) for page in walk(requester_api, "/jobs", limit=2)] == [2, 2]


def test_items_created_while_paging_are_not_repeated(requester_api, requester):
    for _ in range(4):
        make_job(requester=requester, tasks=1, publish=False)
    first = requester_api.get("/jobs", limit=2).json()
    make_job(requester=requester, tasks=1, publish=False)  # newer than everything: not on later pages
    rest = requester_api.get("/jobs", limit=10, cursor=first["next"]).json()
    seen = [item["id"] for item in first["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) == 4


def test_the_board_pages_through(worker_api, requester):
    jobs = make_board_jobs(5, requester=requester)
    flat = [job_id for page in walk(worker_api, "/board", limit=2) for job_id in page]
    assert sorted(flat) == sorted(job.public_id for job in jobs)
    assert len(flat) == len(set(flat))


def test_assignments_page_through_with_a_status_filter(requester_api, requester):
    job = make_job(requester=requester, tasks=5)
    submitted = [make_submitted_assignment(job=job) for _ in range(5)]
    flat = [
        i
        for page in walk(requester_api, f"/jobs/{job.public_id}/assignments", limit=2, status="submitted")
        for i in page
    ]
    assert flat == [assignment.public_id for assignment in reversed(submitted)]


def test_payouts_page_through(worker_api, worker):
    give_earnings(worker, 30_000)
    made = [payout_create(worker=worker, kind="withdraw", amount_msat=5_000, destination=f"lnbc{n}") for n in range(5)]
    flat = [payout_id for page in walk(worker_api, "/payouts", limit=2) for payout_id in page]
    assert flat == [payout.public_id for payout in reversed(made)]


def test_the_default_page_is_50_and_500_is_allowed(requester_api, requester):
    for n in range(51):
        services.job_create(requester=requester, title=f"J{n}", description="d", reward_msat=1_000)
    default = requester_api.get("/jobs").json()
    assert len(default["items"]) == 50
    assert default["next"] is not None
    everything = requester_api.get("/jobs", limit=500).json()
    assert len(everything["items"]) == 51
    assert everything["next"] is None


@pytest.mark.parametrize("path", ["/jobs", "/board", "/payouts"])
@pytest.mark.parametrize("limit", ["501", "-1", "abc", "1.5", "99999999999999999999999"])
def test_a_limit_out_of_bounds_is_400(requester_api, path, limit):
    assert_error(requester_api.get(path, limit=limit), 400, "validation_error")


@pytest.mark.parametrize("path", ["/jobs", "/board", "/payouts"])
def test_a_limit_of_zero_is_400(requester_api, requester, path):
    """BUG: `page_of` reads `limit or DEFAULT_PAGE_SIZE`, so limit=0 silently means 50 instead of a 400 like
    limit=-1 and limit=501."""
    make_job(requester=requester, tasks=1)
    assert_error(requester_api.get(path, limit="0"), 400, "validation_error")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "%%%", "====", "\u00e9t\u00e9", b64("abc"), b64("-5"), b64("1" * 19), "A", "a" * 10_001],
)
@pytest.mark.parametrize("path", ["/jobs", "/board", "/payouts"])
def test_a_cursor_we_never_gave_out_is_400_invalid_cursor(requester_api, path, cursor):
    assert_error(requester_api.get(path, cursor=cursor), 400, "invalid_cursor")


@pytest.mark.parametrize("cursor", [b64("\u00b2"), b64("\u2460\u2461")])
def test_a_cursor_of_non_ascii_digits_is_400_not_a_server_error(requester_api, cursor):
    """BUG: `decode_cursor` accepts any `str.isdigit()` text, and `int("²")` raises ValueError: a 500."""
    assert_error(requester_api.get("/jobs", cursor=cursor), 400, "invalid_cursor")


def test_a_cursor_from_one_list_only_narrows_another(requester_api, requester, stranger):
    """Cursors are opaque positions; one from another list of jobs is still a position, not an error."""
    older = make_job(requester=requester, tasks=1, publish=False)
    someone_elses = make_job(requester=stranger, tasks=1)
    make_job(requester=requester, tasks=1, publish=False)
    response = requester_api.get("/jobs", cursor=b64(someone_elses.public_id))
    assert response.status_code == 200
    assert response.json()["items"] == [requester_api.get(f"/jobs/{older.public_id}").json()]


def test_a_cursor_that_names_nothing_is_refused(requester_api, requester):
    """A well-formed cursor of no item would look like the end of the list: it is an error instead."""
    make_job(requester=requester, tasks=1, publish=False)
    assert_error(requester_api.get("/jobs", cursor=b64("Z" * 30)), 400, "invalid_cursor")


def test_pages_of_someone_else_never_leak(requester_api, requester, stranger):
    for _ in range(3):
        make_job(requester=stranger, tasks=1, publish=False)
    mine = make_job(requester=requester, tasks=1, publish=False)
    assert walk(requester_api, "/jobs", limit=1) == [[mine.public_id]]
    assert api_client_for(make_user()).get("/jobs").json() == {"items": [], "next": None}
