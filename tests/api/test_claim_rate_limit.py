"""Claims per worker per minute through the API: the claim past the limit is a 429 in the API's error shape, with
Retry-After, and claims nothing."""

import pytest

from tasks.models import Assignment
from tests.api.conftest import api_client_for, assert_error
from tests.factories import make_job, make_user


@pytest.fixture
def two_claims_a_minute(settings):
    settings.CLAIMS_PER_MINUTE = 2


def claim(api, job):
    return api.post(f"/jobs/{job.public_id}/claim")


def test_the_claim_past_the_limit_is_429_with_retry_after_and_claims_nothing(two_claims_a_minute, worker_api, worker):
    jobs = [make_job(tasks=1) for _ in range(3)]
    for job in jobs[:2]:
        assert claim(worker_api, job).status_code == 201

    response = claim(worker_api, jobs[2])

    error = assert_error(response, 429, "rate_limited")
    assert error["message"].startswith("Too many claims: at most 2 a minute. Try again in ")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"limit": 2, "period_seconds": 60, "retry_after_seconds": retry_after}
    assert not Assignment.objects.filter(job=jobs[2]).exists()


def test_web_and_api_claims_count_together(two_claims_a_minute, client, worker_api, worker):
    jobs = [make_job(tasks=1) for _ in range(3)]
    client.force_login(worker)
    client.post(f"/jobs/{jobs[0].public_id}/start/")
    assert claim(worker_api, jobs[1]).status_code == 201

    assert_error(claim(worker_api, jobs[2]), 429, "rate_limited")


def test_another_worker_still_claims(two_claims_a_minute, worker_api):
    jobs = [make_job(tasks=2) for _ in range(3)]
    for job in jobs:
        claim(worker_api, job)

    assert claim(api_client_for(make_user()), jobs[2]).status_code == 201


def test_the_api_request_limit_also_says_when_to_try_again(settings, worker_api):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    worker_api.get("/me")

    response = worker_api.get("/me")

    error = assert_error(response, 429, "rate_limited")
    assert error["message"].startswith("Too many API requests: at most 1 a minute. Try again in ")
    assert 1 <= int(response["Retry-After"]) <= 60
