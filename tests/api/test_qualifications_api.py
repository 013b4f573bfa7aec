"""Issue 11 in API v1: qualification types (system and custom), grants one by one and by CSV, a worker's request and
their values, who may work on a job (requirements, exclusions, a cap) on the requester's job object and on the board
with the caller's access, the claim refused with 403 `not_qualified`, and blocks. Bad input answers the API's error
body and changes nothing; another requester's types, grants and jobs are not found."""

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.api import api
from core.models import Event
from marketplace import qualifications
from marketplace.models import (
    APPROVAL_RATE_TYPE_ID,
    APPROVED_COUNT_TYPE_ID,
    Job,
    QualificationGrant,
    QualificationType,
    WorkerBlock,
    WorkerStats,
)
from marketplace.qualifications import Guard
from marketplace.services import job_close, job_set_worker_rules
from tasks.models import Assignment
from tests.api.conftest import api_client_for, assert_error, job_body, short
from tests.factories import make_claimed_assignment, make_job, make_user

pytestmark = pytest.mark.django_db

SYSTEM_IDS = list(qualifications.SYSTEM_TYPES)


def make_type(owner, name="Native speaker", **extra) -> QualificationType:
    return qualifications.qualification_type_create(owner=owner, name=name, **extra)


def grant(qualification, worker, value=1) -> None:
    qualifications.qualification_grant(
        qualification=qualification, actor=qualification.owner, worker_id=worker.public_id, value=value
    )


def requirement(type_id, comparator="Exists", values=(), guard=Guard.ACCEPT) -> dict:
    return {
        "qualification_type_id": type_id,
        "comparator": comparator,
        "integer_values": list(values),
        "actions_guarded": guard,
    }


def with_rules(job, *requirements, **rules) -> Job:
    return job_set_worker_rules(job=job, actor=job.requester, requirements=list(requirements), **rules)


def approval_rate(worker, percent: int) -> None:
    WorkerStats.objects.update_or_create(
        worker=worker,
        defaults={
            "approved_count": percent,
            "rejected_count": 100 - percent,
            "approval_percent": percent,
            "refreshed_at": timezone.now(),
        },
    )


def ids(response) -> list[str]:
    assert response.status_code == 200, short(response)
    return [item["id"] for item in response.json()["items"]]


def walk(client, path, limit) -> list[dict]:
    """Every item of a paginated list, following `next`."""
    items, cursor = [], None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, **query)
        assert response.status_code == 200, short(response)
        body = response.json()
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items


# Qualification types --------------------------------------------------------------------------------------------


def test_the_list_has_the_system_types_then_the_callers_own_newest_first(requester_api, requester, stranger):
    older = make_type(requester, "Older", description="First made", auto_grant_value=5)
    newer = make_type(requester, "Newer")
    make_type(stranger, "Not mine")

    response = requester_api.get("/qualification-types")

    assert ids(response) == [*SYSTEM_IDS, newer.public_id, older.public_id]
    items = response.json()["items"]
    assert response.json()["next"] is None
    assert items[0] == {
        "id": APPROVAL_RATE_TYPE_ID,
        "name": "Approval rate (%)",
        "description": qualifications.SYSTEM_TYPES[APPROVAL_RATE_TYPE_ID].description,
        "system": True,
        "auto_grant_value": None,
        "has_test": False,
        "created_at": None,
    }
    assert items[-1] == {
        "id": older.public_id,
        "name": "Older",
        "description": "First made",
        "system": False,
        "auto_grant_value": 5,
        "has_test": False,
        "created_at": items[-1]["created_at"],
    }
    assert datetime.fromisoformat(items[-1]["created_at"]).tzinfo is not None


@pytest.mark.parametrize("limit", [1, 3, 4, 5, 50])
def test_the_list_pages_through_system_and_custom_types_without_gaps_or_repeats(requester_api, requester, limit):
    custom = [make_type(requester, f"Type {n}").public_id for n in range(5)]

    walked = [item["id"] for item in walk(requester_api, "/qualification-types", limit)]

    assert walked == [*SYSTEM_IDS, *reversed(custom)]


def test_a_page_that_ends_with_the_last_system_type_has_no_next_without_custom_types(requester_api):
    response = requester_api.get("/qualification-types", limit=len(SYSTEM_IDS))
    assert ids(response) == SYSTEM_IDS
    assert response.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [({"limit": 0}, "validation_error"), ({"limit": 501}, "validation_error"), ({"cursor": "%%%"}, "invalid_cursor")],
)
def test_bad_list_queries_are_400(requester_api, query, code):
    assert_error(requester_api.get("/qualification-types", **query), 400, code)


def test_create_a_type_and_replay_it_with_the_same_idempotency_key(requester_api, requester):
    body = {"name": "Speaks Welsh", "description": "Tested by us", "auto_grant_value": 3}
    headers = {"Idempotency-Key": "welsh-1"}

    first = requester_api.post("/qualification-types", body, headers=headers)
    again = requester_api.post("/qualification-types", body, headers=headers)

    assert first.status_code == 201, short(first)
    created = first.json()
    assert created["name"] == "Speaks Welsh"
    assert created["auto_grant_value"] == 3
    assert created["system"] is False
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == created
    assert list(QualificationType.objects.filter(owner=requester).values_list("public_id", flat=True)) == [
        created["id"]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "Fine", "description": "x" * 2_001},
        {"name": "Fine", "auto_grant_value": 2**31},
        {"name": "Fine", "auto_grant_value": "ten"},
        {"name": "Fine", "owner": "someone"},
        {"name": "   "},
    ],
)
def test_a_bad_type_is_400_and_creates_nothing(requester_api, requester, body):
    assert_error(requester_api.post("/qualification-types", body), 400, "validation_error")
    assert not QualificationType.objects.exists()


def test_a_second_type_of_the_same_name_is_400(requester_api, requester):
    make_type(requester, "Twice")
    error = assert_error(requester_api.post("/qualification-types", {"name": "Twice"}), 400, "validation_error")
    assert "Twice" in error["message"]
    assert QualificationType.objects.filter(owner=requester).count() == 1


def test_anyone_may_read_a_type_a_job_asks_for(worker_api, requester):
    theirs = make_type(requester, "Their type", description="What it means")

    response = worker_api.get(f"/qualification-types/{theirs.public_id}")

    assert response.status_code == 200, short(response)
    assert response.json()["name"] == "Their type"
    assert response.json()["description"] == "What it means"
    system = worker_api.get(f"/qualification-types/{APPROVED_COUNT_TYPE_ID}").json()
    assert system["system"] is True
    assert system["name"] == "Approved assignments"
    assert_error(worker_api.get(f"/qualification-types/{'X' * 30}"), 404, "not_found")
    assert_error(worker_api.get("/qualification-types/nonsense"), 404, "not_found")


def test_patch_changes_only_what_is_sent(requester_api, requester):
    qualification = make_type(requester, "Before", description="Kept", auto_grant_value=4)

    response = requester_api.patch(f"/qualification-types/{qualification.public_id}", {"name": "After"})

    assert response.status_code == 200, short(response)
    assert response.json()["name"] == "After"
    assert response.json()["description"] == "Kept"
    assert response.json()["auto_grant_value"] == 4
    cleared = requester_api.patch(f"/qualification-types/{qualification.public_id}", {"auto_grant_value": None})
    assert cleared.json()["auto_grant_value"] is None
    qualification.refresh_from_db()
    assert (qualification.name, qualification.description, qualification.auto_grant_value) == ("After", "Kept", None)


@pytest.mark.parametrize("body", [{"name": None}, {"description": None}, {"name": ""}, {"colour": "red"}])
def test_a_bad_patch_is_400_and_changes_nothing(requester_api, requester, body):
    qualification = make_type(requester, "Unchanged")
    assert_error(requester_api.patch(f"/qualification-types/{qualification.public_id}", body), 400, "validation_error")
    qualification.refresh_from_db()
    assert qualification.name == "Unchanged"


def test_another_requesters_type_cannot_be_changed_deleted_or_granted(stranger_api, requester, worker):
    theirs = make_type(requester, "Theirs")
    grant(theirs, worker, 7)
    path = f"/qualification-types/{theirs.public_id}"

    assert_error(stranger_api.patch(path, {"name": "Mine now"}), 404, "not_found")
    assert_error(stranger_api.request("DELETE", path), 404, "not_found")
    assert_error(stranger_api.get(f"{path}/grants"), 404, "not_found")
    assert_error(stranger_api.put(f"{path}/grants/{worker.public_id}", {"value": 1}), 404, "not_found")
    assert_error(stranger_api.request("DELETE", f"{path}/grants/{worker.public_id}"), 404, "not_found")
    csv_body = f"{worker.public_id},2\n"
    assert_error(stranger_api.post(f"{path}/grants/csv", csv_body, content_type="text/csv"), 404, "not_found")

    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert QualificationGrant.objects.get(type=theirs, worker=worker).value == 7


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"name": "Mine"}),
        ("DELETE", "", None),
        ("GET", "/grants", None),
        ("PUT", "/grants/AAAAAAAAAAAAAA", {"value": 1}),
        ("DELETE", "/grants/AAAAAAAAAAAAAA", None),
    ],
)
def test_a_system_type_can_be_read_but_not_changed(requester_api, method, suffix, body):
    response = requester_api.request(method, f"/qualification-types/{APPROVAL_RATE_TYPE_ID}{suffix}", body)
    error = assert_error(response, 403, "system_qualification_type")
    assert "system" in error["message"]


def test_delete_a_type_and_its_grants(requester_api, requester, worker):
    qualification = make_type(requester, "Gone soon")
    grant(qualification, worker)

    response = requester_api.request("DELETE", f"/qualification-types/{qualification.public_id}")

    assert response.status_code == 204, short(response)
    assert response.content == b""
    assert not QualificationType.objects.exists()
    assert not QualificationGrant.objects.exists()


def test_a_type_a_live_job_requires_cannot_be_deleted(requester_api, requester):
    qualification = make_type(requester, "Needed")
    with_rules(make_job(requester=requester), requirement(qualification.public_id))

    response = requester_api.request("DELETE", f"/qualification-types/{qualification.public_id}")

    error = assert_error(response, 400, "validation_error")
    assert "requires this qualification" in error["message"]
    assert QualificationType.objects.filter(pk=qualification.pk).exists()


# Grants ---------------------------------------------------------------------------------------------------------


def test_grant_change_list_and_revoke(requester_api, requester, worker):
    qualification = make_type(requester)
    path = f"/qualification-types/{qualification.public_id}/grants"

    granted = requester_api.put(f"{path}/{worker.public_id}", {"value": 80})
    changed = requester_api.put(f"{path}/{worker.public_id}", {"value": 90})

    assert granted.status_code == 200, short(granted)
    assert granted.json()["worker_id"] == worker.public_id
    assert granted.json()["value"] == 80
    assert datetime.fromisoformat(granted.json()["granted_at"]).tzinfo is not None
    assert changed.json()["value"] == 90
    listed = requester_api.get(path).json()
    assert listed == {"items": [changed.json()], "next": None}

    revoked = requester_api.request("DELETE", f"{path}/{worker.public_id}")
    assert revoked.status_code == 204, short(revoked)
    assert not QualificationGrant.objects.exists()
    assert requester_api.request("DELETE", f"{path}/{worker.public_id}").status_code == 204  # already gone
    assert requester_api.get(path).json() == {"items": [], "next": None}


def test_grants_page_by_worker_newest_first(requester_api, requester):
    qualification = make_type(requester)
    workers = [make_user(funds_sats=0) for _ in range(5)]
    for number, each in enumerate(workers):
        grant(qualification, each, number)

    walked = walk(requester_api, f"/qualification-types/{qualification.public_id}/grants", 2)

    assert [item["worker_id"] for item in walked] == [each.public_id for each in reversed(workers)]
    assert [item["value"] for item in walked] == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("cursor", ["%%%", "QUFBQUFBQUFBQUFBQUE", "bm90IGEgd29ya2Vy"])
def test_a_bad_grants_cursor_is_400(requester_api, requester, cursor):
    qualification = make_type(requester)
    response = requester_api.get(f"/qualification-types/{qualification.public_id}/grants", cursor=cursor)
    assert_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize(
    "body", [{}, {"value": "high"}, {"value": 2**31}, {"value": 1.5}, {"value": True}, {"value": 1, "note": "x"}]
)
def test_a_bad_grant_is_400_and_grants_nothing(requester_api, requester, worker, body):
    qualification = make_type(requester)
    response = requester_api.put(f"/qualification-types/{qualification.public_id}/grants/{worker.public_id}", body)
    assert_error(response, 400, "validation_error")
    assert not QualificationGrant.objects.exists()


@pytest.mark.parametrize("worker_id", ["AAAAAAAAAAAAAA", "not-a-worker"])
def test_a_grant_to_nobody_is_404(requester_api, requester, worker_id):
    qualification = make_type(requester)
    response = requester_api.put(f"/qualification-types/{qualification.public_id}/grants/{worker_id}", {"value": 1})
    assert_error(response, 404, "not_found")
    assert not QualificationGrant.objects.exists()


def test_grants_from_a_csv_body(requester_api, requester, worker, stranger):
    qualification = make_type(requester)
    grant(qualification, worker, 1)
    csv_text = f"worker_id,value\n{worker.public_id},70\n{stranger.public_id}\n"
    headers = {"Idempotency-Key": "csv-1"}
    path = f"/qualification-types/{qualification.public_id}/grants/csv"

    response = requester_api.post(path, csv_text, content_type="text/csv", headers=headers)
    replayed = requester_api.post(path, csv_text, content_type="text/csv", headers=headers)

    assert response.status_code == 200, short(response)
    assert response.json() == {"granted": 2}
    assert replayed["Idempotent-Replayed"] == "true"
    assert dict(QualificationGrant.objects.values_list("worker__public_id", "value")) == {
        worker.public_id: 70,
        stranger.public_id: 1,
    }
    assert Event.objects.filter(type="qualification.granted_many").count() == 1


@pytest.mark.parametrize(
    ("csv_text", "words"),
    [
        ("{worker},70\nnobody,1\n", "not a worker id"),
        ("{worker},70\n{worker_unknown},1\n", "No such worker"),
        ("{worker},seventy\n", "not a whole number"),
        ("worker_id,value\n\n", "no worker ids"),
        ("{worker}," + "9" * 200_000 + "\n", "cannot be read"),
    ],
)
def test_a_bad_csv_is_400_and_grants_nothing(requester_api, requester, worker, csv_text, words):
    qualification = make_type(requester)
    body = csv_text.format(worker=worker.public_id, worker_unknown="A" + "Z" * 13)

    response = requester_api.post(
        f"/qualification-types/{qualification.public_id}/grants/csv", body, content_type="text/csv"
    )

    error = assert_error(response, 400, "validation_error")
    assert words in error["message"]
    assert not QualificationGrant.objects.exists()


def test_grants_csv_in_json_is_415(requester_api, requester, worker):
    qualification = make_type(requester)
    response = requester_api.post(
        f"/qualification-types/{qualification.public_id}/grants/csv", {"csv": f"{worker.public_id},1"}
    )
    assert_error(response, 415, "unsupported_media_type")
    assert not QualificationGrant.objects.exists()


def test_the_document_says_grants_csv_takes_text_csv():
    operation = api.get_openapi_schema()["paths"]["/api/v1/qualification-types/{type_id}/grants/csv"]["post"]
    assert list(operation["requestBody"]["content"]) == ["text/csv"]
    assert "worker_id,value" in operation["requestBody"]["description"]


# A worker's side ------------------------------------------------------------------------------------------------


def test_a_worker_asks_for_an_auto_granted_type(worker_api, worker, requester):
    qualification = make_type(requester, "Open to all", auto_grant_value=50)
    path = f"/qualification-types/{qualification.public_id}/request"

    first = worker_api.post(path)
    again = worker_api.post(path)

    assert first.status_code == 200, short(first)
    assert first.json()["qualification_type_id"] == qualification.public_id
    assert first.json()["name"] == "Open to all"
    assert first.json()["value"] == 50
    assert first.json()["system"] is False
    assert again.json() == first.json()
    assert QualificationGrant.objects.get(worker=worker).value == 50


def test_a_type_not_granted_on_request_is_403_and_grants_nothing(worker_api, requester):
    qualification = make_type(requester, "By hand only")
    error = assert_error(
        worker_api.post(f"/qualification-types/{qualification.public_id}/request"), 403, "qualification_not_granted"
    )
    assert "not granted on request" in error["message"]
    assert_error(
        worker_api.post(f"/qualification-types/{APPROVAL_RATE_TYPE_ID}/request"), 403, "qualification_not_granted"
    )
    assert_error(worker_api.post(f"/qualification-types/{'X' * 30}/request"), 404, "not_found")
    assert not QualificationGrant.objects.exists()


def test_a_worker_sees_their_values_system_ones_and_grants(worker_api, worker, requester):
    approval_rate(worker, 96)
    qualification = make_type(requester, "Careful reader")
    grant(qualification, worker, 12)

    response = worker_api.get("/me/qualifications")

    assert response.status_code == 200, short(response)
    items = response.json()["items"]
    by_type = {item["qualification_type_id"]: item for item in items}
    assert [item["qualification_type_id"] for item in items] == [*SYSTEM_IDS, qualification.public_id]
    assert by_type[APPROVAL_RATE_TYPE_ID] == {
        "qualification_type_id": APPROVAL_RATE_TYPE_ID,
        "name": "Approval rate (%)",
        "system": True,
        "value": 96,
        "granted_at": None,
    }
    assert by_type[APPROVED_COUNT_TYPE_ID]["value"] == 96
    assert by_type[qualification.public_id]["name"] == "Careful reader"
    assert by_type[qualification.public_id]["value"] == 12
    assert by_type[qualification.public_id]["granted_at"] is not None


def test_a_new_worker_has_no_approval_rate_yet(stranger_api):
    items = {
        item["qualification_type_id"]: item["value"] for item in stranger_api.get("/me/qualifications").json()["items"]
    }
    assert items[APPROVAL_RATE_TYPE_ID] is None
    assert items[APPROVED_COUNT_TYPE_ID] == 0


# Who may work on a job ------------------------------------------------------------------------------------------


def test_a_job_is_created_with_its_worker_rules(requester_api, requester):
    qualification = make_type(requester)
    earlier = make_job(requester=requester)
    rules = {
        "qualification_requirements": [
            {
                "qualification_type_id": APPROVAL_RATE_TYPE_ID,
                "comparator": "GreaterThanOrEqualTo",
                "integer_values": [95],
            },
            {
                "qualification_type_id": qualification.public_id,
                "comparator": "In",
                "integer_values": [1, 2],
                "actions_guarded": "DiscoverPreviewAndAccept",
            },
        ],
        "excluded_job_ids": [earlier.public_id],
        "max_tasks_per_worker": 3,
    }

    response = requester_api.post("/jobs", job_body(**rules))

    assert response.status_code == 201, short(response)
    job = response.json()
    assert job["qualification_requirements"] == [
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95]),
        requirement(qualification.public_id, "In", [1, 2], Guard.DISCOVER_PREVIEW_AND_ACCEPT),
    ]
    assert job["excluded_job_ids"] == [earlier.public_id]
    assert job["max_tasks_per_worker"] == 3
    stored = Job.objects.get(public_id=job["id"])
    assert stored.hides_from_unqualified is True
    assert requester_api.get(f"/jobs/{job['id']}").json() == job


def test_a_job_without_rules_says_so(requester_api):
    job = requester_api.post("/jobs", job_body()).json()
    assert job["qualification_requirements"] == []
    assert job["excluded_job_ids"] == []
    assert job["max_tasks_per_worker"] is None


@pytest.mark.parametrize(
    "rules",
    [
        {"qualification_requirements": [{"qualification_type_id": "X" * 30, "comparator": "Exists"}]},
        {"qualification_requirements": [{"qualification_type_id": APPROVAL_RATE_TYPE_ID, "comparator": "Around"}]},
        {"qualification_requirements": [{"qualification_type_id": APPROVAL_RATE_TYPE_ID, "comparator": "LessThan"}]},
        {
            "qualification_requirements": [
                {"qualification_type_id": APPROVAL_RATE_TYPE_ID, "comparator": "Exists", "actions_guarded": "All"}
            ]
        },
        {"excluded_job_ids": ["Y" * 30]},
        {"max_tasks_per_worker": 0},
        {"max_tasks_per_worker": "many"},
    ],
)
def test_a_job_with_bad_rules_is_400_and_not_created(requester_api, requester, rules):
    before = Job.objects.count()
    assert_error(requester_api.post("/jobs", job_body(**rules)), 400, "validation_error")
    assert Job.objects.count() == before


def test_another_requesters_custom_type_cannot_be_required(requester_api, stranger):
    theirs = make_type(stranger, "Theirs")
    body = job_body(qualification_requirements=[{"qualification_type_id": theirs.public_id, "comparator": "Exists"}])
    error = assert_error(requester_api.post("/jobs", body), 400, "validation_error")
    assert "no such qualification type" in error["message"]
    assert not Job.objects.exists()


def test_put_worker_rules_sets_all_three(requester_api, requester):
    job = make_job(requester=requester)
    earlier = make_job(requester=requester)
    path = f"/jobs/{job.public_id}/worker-rules"
    body = {
        "qualification_requirements": [
            {"qualification_type_id": APPROVED_COUNT_TYPE_ID, "comparator": "GreaterThan", "integer_values": [10]}
        ],
        "excluded_job_ids": [earlier.public_id],
        "max_tasks_per_worker": 2,
    }

    response = requester_api.put(path, body)

    assert response.status_code == 200, short(response)
    assert response.json()["qualification_requirements"] == [requirement(APPROVED_COUNT_TYPE_ID, "GreaterThan", [10])]
    assert response.json()["excluded_job_ids"] == [earlier.public_id]
    assert response.json()["max_tasks_per_worker"] == 2
    listed = requester_api.get("/jobs").json()["items"]
    assert {item["id"]: item["excluded_job_ids"] for item in listed} == {
        job.public_id: [earlier.public_id],
        earlier.public_id: [],
    }
    # One left out is set to none.
    cleared = requester_api.put(path, {"max_tasks_per_worker": 5}).json()
    assert cleared["qualification_requirements"] == []
    assert cleared["excluded_job_ids"] == []
    assert cleared["max_tasks_per_worker"] == 5


@pytest.mark.parametrize(
    "body",
    [
        {"qualification_requirements": [{"qualification_type_id": APPROVAL_RATE_TYPE_ID, "comparator": "In"}]},
        {"qualification_requirements": "all of them"},
        {"excluded_job_ids": ["SELF"]},
        {"max_tasks_per_worker": -1},
        {"hides": True},
    ],
)
def test_bad_worker_rules_are_400_and_change_nothing(requester_api, requester, body):
    job = with_rules(make_job(requester=requester), requirement(APPROVAL_RATE_TYPE_ID), max_tasks_per_worker=4)
    if body.get("excluded_job_ids") == ["SELF"]:
        body = {"excluded_job_ids": [job.public_id]}

    assert_error(requester_api.put(f"/jobs/{job.public_id}/worker-rules", body), 400, "validation_error")

    job.refresh_from_db()
    assert job.qualification_requirements == [requirement(APPROVAL_RATE_TYPE_ID)]
    assert job.max_tasks_per_worker == 4


def test_worker_rules_of_another_requesters_job_are_404_and_of_a_closed_job_409(requester_api, requester, stranger):
    theirs = make_job(requester=stranger)
    assert_error(requester_api.put(f"/jobs/{theirs.public_id}/worker-rules", {}), 404, "not_found")
    closed = job_close(job=make_job(requester=requester), actor=requester)
    assert_error(requester_api.put(f"/jobs/{closed.public_id}/worker-rules", {}), 409, "invalid_state")


def test_the_claim_is_403_not_qualified_with_the_reason(worker_api, worker, requester):
    job = with_rules(make_job(requester=requester), requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95]))
    approval_rate(worker, 94)

    error = assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 403, "not_qualified")

    assert "your approval rate is 94% and this job asks at least 95%" in error["message"]
    assert not Assignment.objects.exists()
    approval_rate(worker, 95)
    assert worker_api.post(f"/jobs/{job.public_id}/claim").status_code == 201


def test_the_claim_names_a_missing_custom_qualification(worker_api, requester):
    qualification = make_type(requester, "Native speaker")
    job = with_rules(make_job(requester=requester), requirement(qualification.public_id))
    error = assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 403, "not_qualified")
    assert "“Native speaker”" in error["message"]


# The board ------------------------------------------------------------------------------------------------------


def board_items(client, **query) -> dict[str, dict]:
    response = client.get("/board", **query)
    assert response.status_code == 200, short(response)
    return {item["id"]: item for item in response.json()["items"]}


def test_board_jobs_carry_their_requirements_and_the_callers_access(worker_api, worker, requester):
    open_job = make_job(requester=requester, title="Anyone")
    asks = with_rules(
        make_job(requester=requester, title="Careful workers"),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95]),
    )
    approval_rate(worker, 93)

    items = board_items(worker_api)

    assert items[open_job.public_id]["qualification_requirements"] == []
    assert items[open_job.public_id]["access"] == {"may_preview": True, "may_accept": True, "reasons": []}
    assert items[asks.public_id]["qualification_requirements"] == [
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95])
    ]
    assert items[asks.public_id]["access"] == {
        "may_preview": True,
        "may_accept": False,
        "reasons": ["your approval rate is 93% and this job asks at least 95%"],
    }


def test_the_callers_own_jobs_have_no_access_on_the_board(requester_api, requester):
    own = with_rules(
        make_job(requester=requester), requirement(APPROVAL_RATE_TYPE_ID, guard=Guard.DISCOVER_PREVIEW_AND_ACCEPT)
    )
    assert board_items(requester_api)[own.public_id]["access"] is None


def test_a_job_a_requirement_hides_is_not_on_the_board_of_those_who_miss_it(worker_api, worker, requester):
    qualification = make_type(requester)
    hidden = with_rules(
        make_job(requester=requester), requirement(qualification.public_id, guard=Guard.DISCOVER_PREVIEW_AND_ACCEPT)
    )
    preview_guarded = with_rules(
        make_job(requester=requester), requirement(qualification.public_id, guard=Guard.PREVIEW_AND_ACCEPT)
    )

    items = board_items(worker_api)

    assert hidden.public_id not in items
    assert items[preview_guarded.public_id]["access"]["may_preview"] is False
    assert items[preview_guarded.public_id]["access"]["reasons"] == [
        "you do not have the qualification “Native speaker” this job asks for"
    ]
    grant(qualification, worker)
    items = board_items(worker_api)
    assert items[hidden.public_id]["access"] == {"may_preview": True, "may_accept": True, "reasons": []}


def test_qualified_only_leaves_out_jobs_the_caller_cannot_take(worker_api, worker, requester):
    takes = make_job(requester=requester)
    misses = with_rules(make_job(requester=requester), requirement(APPROVED_COUNT_TYPE_ID, "GreaterThan", [0]))
    earlier = make_job(requester=requester)
    make_claimed_assignment(job=earlier, worker=worker)
    excluded = with_rules(make_job(requester=requester), excluded_job_ids=[earlier.public_id])
    capped = with_rules(make_job(requester=requester, tasks=3), max_tasks_per_worker=1)
    make_claimed_assignment(job=capped, worker=worker)

    everything = set(board_items(worker_api))
    qualified = set(board_items(worker_api, qualified_only="true"))

    assert {takes.public_id, misses.public_id, excluded.public_id, capped.public_id} <= everything
    assert takes.public_id in qualified
    assert qualified.isdisjoint({misses.public_id, excluded.public_id, capped.public_id})
    assert set(board_items(worker_api, qualified_only="false")) == everything


def test_a_bad_qualified_only_is_400(worker_api):
    assert_error(worker_api.get("/board", qualified_only="perhaps"), 400, "validation_error")


# What the board costs: the caller's values are read once (their row and their grants) and the jobs a requirement
# hides are found in one query, however many jobs and requirements; pinned so a change shows up in review.
BOARD_QUERIES = 6  # the key, the caller's values (2), the jobs a requirement hides, the page of jobs, their tags


def test_the_boards_query_count_does_not_grow_with_jobs_or_requirements(worker_api, worker, requester):
    qualification = make_type(requester)
    grant(qualification, worker, 3)
    worker_api.get("/me")  # the key's last-used time is written once a while: not part of what is measured

    def measured(**query) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = worker_api.get("/board", **query)
        assert response.status_code == 200, short(response)
        return len(queries)

    make_job(requester=requester)
    few = (measured(), measured(qualified_only="true"))
    for guard in [Guard.ACCEPT, Guard.PREVIEW_AND_ACCEPT, Guard.DISCOVER_PREVIEW_AND_ACCEPT] * 5:
        with_rules(
            make_job(requester=requester, tags=["a", "b"]),
            requirement(APPROVAL_RATE_TYPE_ID, "DoesNotExist", guard=guard),
            requirement(qualification.public_id, "GreaterThan", [1], guard=guard),
            requirement(APPROVED_COUNT_TYPE_ID, "LessThan", [5], guard=guard),
        )
    many = (measured(), measured(qualified_only="true"))

    assert few == many == (BOARD_QUERIES, BOARD_QUERIES)


def test_a_board_with_reasons_naming_custom_types_reads_their_names_once(worker_api, requester):
    worker_api.get("/me")
    for number in range(3):
        qualification = make_type(requester, f"Skill {number}")
        with_rules(make_job(requester=requester), requirement(qualification.public_id))
    with CaptureQueriesContext(connection) as queries:
        items = board_items(worker_api)
    assert len(queries) == BOARD_QUERIES + 1  # the names of the types the caller misses
    assert sorted(reason for item in items.values() for reason in item["access"]["reasons"]) == [
        f"you do not have the qualification “Skill {number}” this job asks for" for number in range(3)
    ]


# Blocks ---------------------------------------------------------------------------------------------------------


def test_block_list_and_unblock(requester_api, requester, worker):
    job = make_job(requester=requester)
    worker_api = api_client_for(worker)

    blocked = requester_api.put(f"/blocks/{worker.public_id}", {"reason": "Copied answers"})

    assert blocked.status_code == 200, short(blocked)
    assert blocked.json()["worker_id"] == worker.public_id
    assert blocked.json()["reason"] == "Copied answers"
    assert datetime.fromisoformat(blocked.json()["created_at"]).tzinfo is not None
    assert requester_api.get("/blocks").json() == {"items": [blocked.json()], "next": None}
    assert job.public_id not in board_items(worker_api)
    assert_error(worker_api.post(f"/jobs/{job.public_id}/claim"), 404, "not_found")
    # Blocking again changes nothing, the first reason stays.
    again = requester_api.put(f"/blocks/{worker.public_id}", {"reason": "Another reason"})
    assert again.json() == blocked.json()

    unblocked = requester_api.request("DELETE", f"/blocks/{worker.public_id}")

    assert unblocked.status_code == 204, short(unblocked)
    assert not WorkerBlock.objects.exists()
    assert requester_api.get("/blocks").json() == {"items": [], "next": None}
    assert job.public_id in board_items(worker_api)
    assert requester_api.request("DELETE", f"/blocks/{worker.public_id}").status_code == 204


def test_blocks_page_newest_first_and_are_the_callers_own(requester_api, requester, stranger):
    workers = [make_user(funds_sats=0) for _ in range(3)]
    for each in workers:
        requester_api.put(f"/blocks/{each.public_id}", {"reason": "Spam"})
    api_client_for(stranger).put(f"/blocks/{workers[0].public_id}", {"reason": "Theirs"})

    walked = walk(requester_api, "/blocks", 2)

    assert [item["worker_id"] for item in walked] == [each.public_id for each in reversed(workers)]
    assert {item["reason"] for item in walked} == {"Spam"}


@pytest.mark.parametrize(("body", "status"), [({}, 400), ({"reason": ""}, 400), ({"reason": "x" * 1_001}, 400)])
def test_a_block_without_a_fitting_reason_is_400(requester_api, worker, body, status):
    assert_error(requester_api.put(f"/blocks/{worker.public_id}", body), status, "validation_error")
    assert not WorkerBlock.objects.exists()


def test_blocking_nobody_or_oneself_is_refused(requester_api, requester):
    assert_error(requester_api.put("/blocks/AZZZZZZZZZZZZZ", {"reason": "Spam"}), 404, "not_found")
    assert_error(requester_api.put(f"/blocks/{requester.public_id}", {"reason": "Me"}), 400, "validation_error")
    assert_error(requester_api.request("DELETE", "/blocks/nobody"), 404, "not_found")
    assert not WorkerBlock.objects.exists()


# The document ---------------------------------------------------------------------------------------------------


def test_the_document_lists_the_new_paths():
    paths = api.get_openapi_schema()["paths"]
    expected = {
        "/api/v1/qualification-types": {"get", "post"},
        "/api/v1/qualification-types/{type_id}": {"get", "patch", "delete"},
        "/api/v1/qualification-types/{type_id}/grants": {"get"},
        "/api/v1/qualification-types/{type_id}/grants/{worker_id}": {"put", "delete"},
        "/api/v1/qualification-types/{type_id}/grants/csv": {"post"},
        "/api/v1/qualification-types/{type_id}/request": {"post"},
        "/api/v1/me/qualifications": {"get"},
        "/api/v1/jobs/{job_id}/worker-rules": {"put"},
        "/api/v1/blocks": {"get"},
        "/api/v1/blocks/{worker_id}": {"put", "delete"},
    }
    assert {path: set(paths[path]) for path in expected} == expected
    board = {parameter["name"] for parameter in paths["/api/v1/board"]["get"]["parameters"]}
    assert "qualified_only" in board
