"""Rate limits as people meet them on the site: allauth's for log-in, sign-up and password resets (the 429 page),
and claims per worker per minute (a message on the job's page)."""

import pytest
from allauth.account import app_settings as allauth_settings
from django.core import mail
from django.urls import reverse

from marketplace.models import User
from tasks.models import Assignment, AssignmentStatus
from tests.factories import PASSWORD, answer_data, make_job, make_user
from tests.pages import messages_of

pytestmark = pytest.mark.django_db


def with_rates(settings, **rates) -> None:
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, **rates}


def assert_the_429_page(response, heading: str) -> None:
    assert response.status_code == 429
    page = response.content.decode()
    assert response.templates[0].name == "429.html"
    assert f"<h1>{heading}</h1>" in page
    assert "Wait a minute, then try again." in page
    assert 'class="error-page"' in page  # the site's layout, not allauth's bare fallback


# allauth --------------------------------------------------------------------------------------------------------


def test_the_limits_are_set_explicitly_and_allauth_reads_them():
    limits = allauth_settings.RATE_LIMITS

    assert limits["login"] == "30/m/ip"
    assert limits["login_failed"] == "10/m/ip,5/5m/key"
    assert limits["signup"] == "20/m/ip"
    assert limits["reset_password"] == "20/m/ip,5/m/key"
    assert limits["reset_password_from_key"] == "20/m/ip"


def test_log_in_attempts_past_the_limit_get_the_429_page(client, settings):
    with_rates(settings, login="2/m/ip")
    make_user("omar")

    for _ in range(2):
        client.post("/accounts/login/", {"login": "omar", "password": "wrong password"})
    response = client.post("/accounts/login/", {"login": "omar", "password": PASSWORD})

    assert_the_429_page(response, "Too many log-in attempts")
    assert "_auth_user_id" not in client.session


def test_too_many_failed_log_ins_for_one_account_are_refused_on_the_form(client, settings):
    with_rates(settings, login_failed="10/m/ip,2/5m/key")
    make_user("omar")
    for _ in range(2):
        client.post("/accounts/login/", {"login": "omar", "password": "wrong password"})

    response = client.post("/accounts/login/", {"login": "omar", "password": PASSWORD})

    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_ups_past_the_limit_get_the_429_page_and_make_no_account(client, settings):
    with_rates(settings, signup="1/m/ip")
    form = {"email": "nina@example.com", "username": "nina", "password1": PASSWORD, "password2": PASSWORD}
    client.post("/accounts/signup/", form)

    response = client.post("/accounts/signup/", {**form, "email": "zoe@example.com", "username": "zoe"})

    assert_the_429_page(response, "Too many sign-ups")
    assert not User.objects.filter(username="zoe").exists()


def test_password_resets_for_one_address_past_the_limit_get_the_429_page_and_send_nothing(client, settings):
    with_rates(settings, reset_password="20/m/ip,1/m/key")
    make_user("omar")
    client.post("/accounts/password/reset/", {"email": "omar@example.com"})
    assert len(mail.outbox) == 1

    response = client.post("/accounts/password/reset/", {"email": "omar@example.com"})

    assert_the_429_page(response, "Too many password resets")
    assert len(mail.outbox) == 1


# Claims -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def two_claims_a_minute(settings):
    settings.CLAIMS_PER_MINUTE = 2


def start(client, job):
    return client.post(reverse("job_start", args=[job.public_id]), follow=True)


def test_the_claim_past_the_limit_is_refused_with_a_message_on_the_jobs_page(
    two_claims_a_minute, worker_client, worker
):
    jobs = [make_job(tasks=1) for _ in range(3)]
    for job in jobs[:2]:
        assert start(worker_client, job).resolver_match.url_name == "assignment_detail"

    response = start(worker_client, jobs[2])

    assert response.resolver_match.url_name == "job_detail"
    assert response.resolver_match.kwargs["job_id"] == jobs[2].public_id
    [message] = messages_of(response)
    assert message.startswith("Too many claims: at most 2 a minute. Try again in ")
    assert message.endswith(" seconds.")
    assert not Assignment.objects.filter(job=jobs[2]).exists()


def test_the_limit_is_per_worker(two_claims_a_minute, client, worker_client):
    jobs = [make_job(tasks=2) for _ in range(3)]
    for job in jobs:
        start(worker_client, job)
    client.force_login(make_user())

    assert start(client, jobs[2]).resolver_match.url_name == "assignment_detail"


def test_submit_and_take_the_next_task_past_the_limit_keeps_the_answer_and_says_why_no_task_follows(
    two_claims_a_minute, worker_client, worker
):
    job = make_job(tasks=3)
    start(worker_client, job)
    first = Assignment.objects.get(worker=worker)
    worker_client.post(
        reverse("assignment_submit", args=[first.public_id]), {**answer_data(), "next": "1"}, follow=True
    )
    second = Assignment.objects.get(worker=worker, status=AssignmentStatus.ACCEPTED)

    response = worker_client.post(
        reverse("assignment_submit", args=[second.public_id]), {**answer_data(), "next": "1"}, follow=True
    )

    second.refresh_from_db()
    assert second.status == AssignmentStatus.SUBMITTED
    assert response.resolver_match.url_name == "job_detail"
    submitted, refused = messages_of(response)
    assert submitted == "Submitted. Thank you!"
    assert refused.startswith("Too many claims: at most 2 a minute.")
    assert Assignment.objects.filter(worker=worker).count() == 2
