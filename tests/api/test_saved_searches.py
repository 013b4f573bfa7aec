"""API v1 saved searches (work alerts): create, list, delete, and bad input in the API's error shape."""

import pytest

from alerts.models import MAX_SAVED_SEARCHES_PER_WORKER, SavedSearch
from core.selectors import events_for_user
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_a_worker_creates_lists_and_deletes_a_saved_search(worker_api, worker):
    created = worker_api.post(
        "/saved-searches",
        {"keywords": "  label   Photos ", "tag": "Street Photos", "min_reward_msat": 21_000, "email": True},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["keywords"] == "label Photos"
    assert body["tag"] == "street-photos"
    assert body["min_reward_msat"] == 21_000
    assert body["min_sats_per_hour"] is None
    assert body["qualified_only"] is False
    assert body["email"] is True
    search = SavedSearch.objects.get(worker=worker)
    assert body["id"] == search.public_id
    assert "T" in body["created_at"]

    listed = worker_api.get("/saved-searches")
    assert listed.status_code == 200
    assert listed.json() == {"items": [body], "next": None}

    deleted = worker_api.request("DELETE", f"/saved-searches/{search.public_id}")
    assert deleted.status_code == 204, deleted.content
    assert deleted.content == b""
    assert not SavedSearch.objects.exists()
    assert worker_api.get("/saved-searches").json() == {"items": [], "next": None}


def test_the_list_holds_only_the_callers_own_searches(worker_api, stranger_api):
    assert worker_api.post("/saved-searches", {"keywords": "mine"}).status_code == 201
    assert stranger_api.post("/saved-searches", {"keywords": "theirs"}).status_code == 201
    assert [item["keywords"] for item in worker_api.get("/saved-searches").json()["items"]] == ["mine"]


def test_someone_elses_or_a_deleted_search_is_404(worker_api, stranger_api):
    search_id = stranger_api.post("/saved-searches", {"keywords": "theirs"}).json()["id"]

    assert_error(worker_api.request("DELETE", f"/saved-searches/{search_id}"), 404, "not_found")
    assert SavedSearch.objects.filter(public_id=search_id).exists()

    assert stranger_api.request("DELETE", f"/saved-searches/{search_id}").status_code == 204
    assert_error(stranger_api.request("DELETE", f"/saved-searches/{search_id}"), 404, "not_found")
    assert_error(stranger_api.request("DELETE", "/saved-searches/not-an-id"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "at least one filter"),
        ({"email": True}, "at least one filter"),
        ({"min_reward_msat": 0, "min_sats_per_hour": 0}, "at least one filter"),
        ({"tag": "<b>cats</b>"}, "A tag is a word or two"),
        ({"keywords": " ".join(["word"] * 11)}, "At most 10 keywords"),
    ],
)
def test_a_search_the_service_refuses_is_400_with_its_reason(worker_api, body, words):
    error = assert_error(worker_api.post("/saved-searches", body), 400, "validation_error")
    assert words in error["message"]
    assert not SavedSearch.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"keywords": "x" * 101},
        {"tag": "t" * 41},
        {"min_reward_msat": -1},
        {"min_reward_msat": 10**12},
        {"min_sats_per_hour": 10**9 + 1},
        {"keywords": "cats", "colour": "blue"},  # an unknown field is a mistake, not ignored
        {"keywords": 5},
    ],
)
def test_a_body_out_of_shape_is_400_validation_error(worker_api, body):
    error = assert_error(worker_api.post("/saved-searches", body), 400, "validation_error")
    assert error["details"]["errors"]
    assert not SavedSearch.objects.exists()


def test_the_same_search_twice_and_one_too_many_are_refused(worker_api, worker):
    assert worker_api.post("/saved-searches", {"keywords": "cats"}).status_code == 201
    error = assert_error(worker_api.post("/saved-searches", {"keywords": "cats"}), 400, "validation_error")
    assert "already have an alert" in error["message"]

    for number in range(1, MAX_SAVED_SEARCHES_PER_WORKER):
        assert worker_api.post("/saved-searches", {"keywords": f"cats{number}"}).status_code == 201
    error = assert_error(worker_api.post("/saved-searches", {"keywords": "dogs"}), 400, "validation_error")
    assert f"{MAX_SAVED_SEARCHES_PER_WORKER} work alerts" in error["message"]
    assert SavedSearch.objects.filter(worker=worker).count() == MAX_SAVED_SEARCHES_PER_WORKER


def test_a_repeated_post_with_an_idempotency_key_creates_one_search(worker_api, worker):
    headers = {"Idempotency-Key": "alert-1"}
    first = worker_api.post("/saved-searches", {"keywords": "cats"}, headers=headers)
    again = worker_api.post("/saved-searches", {"keywords": "cats"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert SavedSearch.objects.filter(worker=worker).count() == 1


def test_creating_and_deleting_are_recorded_for_the_worker(worker_api, worker):
    search_id = worker_api.post("/saved-searches", {"keywords": "cats"}).json()["id"]
    worker_api.request("DELETE", f"/saved-searches/{search_id}")
    events = list(events_for_user(user_id=worker.pk))
    assert [(event.type, event.subject_id) for event in events[:2]] == [
        ("saved_search.deleted", search_id),
        ("saved_search.created", search_id),
    ]
    assert all(event.actor_id == worker.pk for event in events[:2])
