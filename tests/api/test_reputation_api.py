"""API v1: the requester's reputation on the public job objects of the board."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.api import api
from marketplace.models import RequesterStats
from tasks.reputations import reputations_refresh
from tests.factories import approved_work, make_board_jobs, make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_approved_make_a_rating(settings):
    settings.REPUTATION_MIN_APPROVED = 3
    settings.REPUTATION_MIN_WORKERS = 1


def board_items(api_client) -> dict[str, dict]:
    response = api_client.get("/board")
    assert response.status_code == 200
    return {item["id"]: item for item in response.json()["items"]}


def test_a_job_on_the_board_carries_its_requesters_reputation(worker_api):
    rated = make_job(requester=make_user("rated"), tasks=5, estimated_seconds_per_task=600)
    approved_work(rated, 3, seconds=20, accepted_at=timezone.now() - timedelta(days=1))
    fresh = make_job(requester=make_user("fresh"), tasks=5, estimated_seconds_per_task=60)
    approved_work(fresh, 1, seconds=20, accepted_at=timezone.now() - timedelta(days=1))
    reputations_refresh()
    since = RequesterStats.objects.get(requester=rated.requester).active_since

    items = board_items(worker_api)
    assert items[rated.public_id]["requester_reputation"] == {
        "new": False,
        "sats_per_hour": 1800,  # 10 sats in 20 s, measured (the estimate says 60)
        "sats_per_hour_measured": True,
        "approval_percent": 100,
        "median_review_seconds": 60,
        "median_payment_seconds": None,  # nobody paid out yet
        "disputes_lost": 0,
        "active_since": since.isoformat(),
    }
    fresh_reputation = items[fresh.public_id]["requester_reputation"]
    assert fresh_reputation["new"] is True
    assert (fresh_reputation["sats_per_hour"], fresh_reputation["sats_per_hour_measured"]) == (600, False)
    assert fresh_reputation["approval_percent"] is None
    assert fresh_reputation["median_review_seconds"] is None


def test_reputations_add_no_query_to_the_board(worker_api, django_assert_num_queries):
    make_board_jobs(2, requester=make_user())
    reputations_refresh()
    board_items(worker_api)  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        assert len(board_items(worker_api)) == 2
    for _ in range(6):
        make_board_jobs(2, requester=make_user())
    reputations_refresh()
    make_board_jobs(2, requester=make_user())  # without a reputation row
    with django_assert_num_queries(len(few)):
        assert len(board_items(worker_api)) == 16


def test_the_openapi_document_describes_the_reputation():
    schemas = api.get_openapi_schema()["components"]["schemas"]
    assert schemas["BoardJobOut"]["properties"]["requester_reputation"] == {
        "$ref": "#/components/schemas/RequesterReputationOut"
    }
    assert set(schemas["RequesterReputationOut"]["properties"]) == {
        "new",
        "sats_per_hour",
        "sats_per_hour_measured",
        "approval_percent",
        "median_review_seconds",
        "median_payment_seconds",
        "disputes_lost",
        "active_since",
    }
