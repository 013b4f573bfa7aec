"""Issue 12: a job's quality control in API v1, `GET` and `PUT /jobs/{id}/quality`, with the API's error shape."""

import pytest

from tasks.models import JobQuality
from tests.api.conftest import assert_error
from tests.factories import make_draft_job, make_job

pytestmark = pytest.mark.django_db


def test_get_shows_the_defaults_then_put_sets_every_setting(requester, requester_api):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    url = f"/jobs/{job.public_id}/quality"
    response = requester_api.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == job.public_id
    assert (body["control_rate_percent"], body["approve_accuracy_percent"], body["rules_for_workers"]) == (0, None, [])

    response = requester_api.put(
        url, {"control_rate_percent": 10, "approve_accuracy_percent": 90, "approve_on_agreement": True}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["control_rate_percent"], body["approve_accuracy_percent"], body["approve_on_agreement"]) == (
        10,
        90,
        True,
    )
    assert (
        "Approved when your answer agrees with the other workers' (once 3 have answered, "
        "and at least 70% of the answers agree)." in body["rules_for_workers"]
    )
    # PUT sets them all: what is left out goes back to its default.
    body = requester_api.put(url, {"control_rate_percent": 20}).json()
    assert (body["control_rate_percent"], body["approve_accuracy_percent"], body["approve_on_agreement"]) == (
        20,
        None,
        False,
    )
    assert requester_api.get(url).json()["control_rate_percent"] == 20


def test_a_refusal_names_each_setting_in_the_error_shape(requester, requester_api):
    job = make_job(requester=requester, tasks=1)
    url = f"/jobs/{job.public_id}/quality"
    error = assert_error(requester_api.put(url, {"approve_accuracy_percent": 90, "approve_on_agreement": True}), 400,
                         "validation_error")  # fmt: skip
    assert set(error["details"]["fields"]) == {"approve_accuracy_percent", "approve_on_agreement"}
    assert_error(requester_api.put(url, {"control_rate_percent": 51}), 400, "validation_error")
    assert_error(requester_api.put(url, {"aggregation_method": "vote"}), 400, "validation_error")
    assert_error(requester_api.put(url, {"colour": "red"}), 400, "validation_error")
    assert not JobQuality.objects.exists()


def test_only_the_owner_sees_and_sets_them(requester, requester_api, stranger_api, anonymous_api):
    job = make_job(requester=requester, tasks=1)
    url = f"/jobs/{job.public_id}/quality"
    assert_error(stranger_api.get(url), 404, "not_found")
    assert_error(stranger_api.put(url, {"control_rate_percent": 10}), 404, "not_found")
    assert_error(anonymous_api.get(url), 401, "unauthorized")
    assert_error(requester_api.get("/jobs/NOSUCHJOB/quality"), 404, "not_found")
    assert not JobQuality.objects.exists()


def test_the_starting_overlap_changes_on_a_draft_and_a_published_job_keeps_it(requester, requester_api):
    draft = make_draft_job(requester=requester, tasks=2, assignments_per_task=3)
    url = f"/jobs/{draft.public_id}/quality"
    assert requester_api.put(url, {"overlap_start": 2}).json()["overlap_start"] == 2
    requester_api.post(f"/jobs/{draft.public_id}/publish")
    draft.refresh_from_db()
    assert draft.status == "published"
    error = assert_error(requester_api.put(url, {"overlap_start": 3}), 400, "validation_error")
    assert "overlap_start" in error["details"]["fields"]
    assert requester_api.put(url, {"agreement_percent": 80}).json()["overlap_start"] == 2


def test_a_closed_job_is_refused(requester, requester_api):
    job = make_job(requester=requester, tasks=1)
    requester_api.post(f"/jobs/{job.public_id}/close")
    assert_error(requester_api.put(f"/jobs/{job.public_id}/quality", {"control_rate_percent": 5}), 409, "invalid_state")
