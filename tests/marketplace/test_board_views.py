"""The public job board and job pages."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace import services
from marketplace.models import Job
from tasks.services import assignment_claim
from tests.factories import make_bare_draft, make_draft_job, make_job, make_user

pytestmark = pytest.mark.django_db


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [job.pk for job in response.context["page"].object_list]


def board(client, **params):
    return client.get(reverse("board"), params)


def test_board_lists_only_jobs_workers_can_take(client, requester):
    published = make_job(requester=requester, title="Open job")
    paused = make_job(requester=requester, title="Paused job")
    services.job_pause(job=paused, actor=requester)
    closed = make_job(requester=requester, title="Closed job")
    services.job_close(job=closed, actor=requester)
    draft = make_draft_job(requester=requester, title="Draft job")
    cancelled = make_draft_job(requester=requester, title="Cancelled job")
    services.job_cancel(job=cancelled, actor=requester)
    expired = make_job(requester=requester, title="Expired job", expires_at=timezone.now() + timedelta(hours=1))
    Job.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))  # before the sweep
    exhausted = make_job(requester=requester, title="Exhausted job", tasks=1)
    assignment_claim(job=exhausted, worker=make_user())

    response = board(client)
    assert listed(response) == [published.pk]
    content = response.content.decode()
    assert "Open job" in content
    for hidden in (paused, closed, draft, cancelled, expired, exhausted):
        assert hidden.title not in content


def test_board_search_matches_title_and_description_case_insensitively(client, requester):
    by_title = make_job(requester=requester, title="Transcribe RECEIPTS")
    by_description = make_job(requester=requester, title="Other", description="Read the receipts aloud.")
    make_job(requester=requester, title="Unrelated", description="Cats.")
    assert sorted(listed(board(client, q="receipts"))) == sorted([by_title.pk, by_description.pk])
    assert listed(board(client, q="nothing like it")) == []


def test_board_filters_by_tag(client, requester):
    images = make_job(requester=requester, tags=["images", "cats"])
    make_job(requester=requester, tags=["text"])
    make_job(requester=requester)
    assert listed(board(client, tag="images")) == [images.pk]
    assert listed(board(client, tag="cats")) == [images.pk]


def test_board_filters_by_minimum_reward_in_sats(client, requester):
    cheap = make_job(requester=requester, reward_msat=5_000)
    exact = make_job(requester=requester, reward_msat=10_000)
    rich = make_job(requester=requester, reward_msat=50_000)
    assert sorted(listed(board(client, min_reward=10))) == sorted([exact.pk, rich.pk])
    assert sorted(listed(board(client, min_reward=0))) == sorted([cheap.pk, exact.pk, rich.pk])


def test_board_sorts_by_newest_or_reward(client, requester):
    first = make_job(requester=requester, reward_msat=20_000)
    second = make_job(requester=requester, reward_msat=5_000)
    third = make_job(requester=requester, reward_msat=90_000)
    assert listed(board(client)) == [third.pk, second.pk, first.pk]
    assert listed(board(client, sort="newest")) == [third.pk, second.pk, first.pk]
    assert listed(board(client, sort="reward")) == [third.pk, first.pk, second.pk]


def test_board_ignores_filters_it_cannot_read(client, requester):
    job = make_job(requester=requester)
    response = board(client, min_reward="-5", sort="cheapest", tag="not a slug!")
    assert listed(response) == [job.pk]


def test_board_paginates_and_keeps_the_filters(client, requester):
    jobs = [make_job(requester=requester, tasks=1, title=f"Page job {n}", tags=["paged"]) for n in range(23)]
    make_job(requester=requester, tasks=1, title="Not tagged")
    first_page = board(client, tag="paged")
    assert len(listed(first_page)) == 20
    assert first_page.context["page"].paginator.count == 23
    assert "tag=paged&amp;page=2" in first_page.content.decode()
    second_page = board(client, tag="paged", page=2)
    assert len(listed(second_page)) == 3
    assert set(listed(first_page)) | set(listed(second_page)) == {job.pk for job in jobs}
    assert listed(board(client, tag="paged", page=99)) == listed(second_page)


def test_job_page_for_published_paused_and_closed_jobs(client, requester):
    job = make_job(requester=requester, title="Visible job")
    response = client.get(reverse("job_detail", args=[job.public_id]))
    assert response.status_code == 200
    assert "Visible job" in response.content.decode()
    assert reverse("account_login") in response.content.decode(), "anonymous visitors are asked to log in"
    services.job_pause(job=job, actor=requester)
    response = client.get(reverse("job_detail", args=[job.public_id]))
    assert response.status_code == 200
    assert reverse("job_start", args=[job.public_id]) not in response.content.decode()
    services.job_close(job=job, actor=requester)
    assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 200


def test_job_page_of_a_draft_or_cancelled_job_is_404_even_for_its_requester(client, requester):
    draft = make_draft_job(requester=requester)
    cancelled = make_bare_draft(requester=requester)
    services.job_cancel(job=cancelled, actor=requester)
    for viewer in (None, requester, make_user()):
        if viewer:
            client.force_login(viewer)
        for job in (draft, cancelled):
            assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 404
    assert client.get(reverse("job_detail", args=["Z" * 30])).status_code == 404


def test_start_button_for_logged_in_workers(client, requester, worker):
    job = make_job(requester=requester)
    client.force_login(worker)
    content = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert f'action="{reverse("job_start", args=[job.public_id])}"' in content


# Security headers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["board", "requester_dashboard", "worker_dashboard", "job_create"])
def test_pages_carry_a_content_security_policy(client, worker, url_name):
    client.force_login(worker)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in policy.split(";")}
    assert directives["script-src"] == "script-src 'self'"
    assert "unsafe-inline" not in policy
    assert "sandbox" not in policy


def test_job_page_carries_a_content_security_policy(client):
    job = make_job()
    response = client.get(reverse("job_detail", args=[job.public_id]))
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_tag_filter_ignores_case(client, requester):
    """Tags are stored as lowercase slugs; someone typing "Images" in the tag box expects the images jobs."""
    job = make_job(requester=requester, tags=["images"])
    assert listed(board(client, tag="Images")) == [job.pk]


def test_posts_need_a_csrf_token(requester, worker):
    job = make_job(requester=requester)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(worker)
    assert browser.post(reverse("job_start", args=[job.public_id])).status_code == 403
    browser.force_login(requester)
    assert browser.post(reverse("job_action", args=[job.public_id, "close"])).status_code == 403
    job.refresh_from_db()
    assert job.status == "published"
    assert not job.assignments.exists()
