"""Requesters' reputations on the board and the job page, and the board's sort by sats per hour."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Job
from tasks.reputations import reputations_refresh
from tests.factories import approved_work, make_board_jobs, make_job, make_user
from tests.html_parsing import visible_text
from tests.marketplace.test_query_counts import BOARD_ANONYMOUS, JOB_DETAIL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_approved_make_a_rating(settings):
    settings.REPUTATION_MIN_APPROVED = 3
    settings.REPUTATION_MIN_WORKERS = 1


def a_day_ago():
    return timezone.now() - timedelta(days=1)


def card_of(response, title: str) -> str:
    """The visible text of the board's card of the job titled `title`."""
    assert response.status_code == 200
    cards = response.content.decode().split('<li class="job-card card">')[1:]
    [card] = [visible_text(card) for card in cards if visible_text(card).startswith(title)]
    return card


def test_the_board_sorts_by_sats_per_hour_measured_first_then_estimated_and_jobs_without_either_last(client):
    measured = make_job(title="Measured job", tasks=5, estimated_seconds_per_task=600)  # estimate 60 sats/hour
    approved_work(measured, 3, seconds=20, accepted_at=a_day_ago())  # 10 sats in 20 s: 1,800 sats/hour
    reputations_refresh()
    quick = make_job(title="Quick job", tasks=2, estimated_seconds_per_task=30)  # 1,200 sats/hour
    slow = make_job(title="Slow job", tasks=2, estimated_seconds_per_task=60)  # 600 sats/hour
    unknown = make_job(title="Unknown job", tasks=2)

    response = client.get(reverse("board"), {"sort": "sats_per_hour"})
    assert [job.pk for job in response.context["page"].object_list] == [measured.pk, quick.pk, slow.pk, unknown.pk]
    assert 'value="sats_per_hour" selected' in response.content.decode()
    # Newest first is still the default.
    assert client.get(reverse("board")).context["page"].object_list[0].pk == unknown.pk


def test_a_card_shows_the_requester_reputation_or_says_they_are_new(client):
    rated = make_job(requester=make_user("rated"), title="Rated job", tasks=5, estimated_seconds_per_task=600)
    approved_work(rated, 3, seconds=20, accepted_at=a_day_ago())
    fresh = make_job(requester=make_user("fresh"), title="Fresh job", tasks=5, estimated_seconds_per_task=60)
    approved_work(fresh, 2, seconds=20, accepted_at=a_day_ago())
    reputations_refresh()

    board = client.get(reverse("board"))
    rated_card, fresh_card = card_of(board, "Rated job"), card_of(board, "Fresh job")
    assert "100% approved · 1,800 sats/hour measured · reviews in about 1 min" in rated_card
    assert "active since" in rated_card
    assert "New requester · 600 sats/hour (requester's estimate)" in fresh_card
    assert "approved" not in fresh_card


def test_the_job_page_shows_the_requester_reputation_in_full(client):
    job = make_job(requester=make_user("steady"), tasks=5, estimated_seconds_per_task=600)
    approved_work(job, 3, seconds=20, accepted_at=a_day_ago())
    reputations_refresh()
    text = visible_text(client.get(reverse("job_detail", args=[job.public_id])).content.decode())
    assert "The requester, steady" in text
    assert "Sats per hour 1,800 · measured from approved work on this job" in text
    assert "Work approved 100% of what they reviewed" in text
    assert "Time to review reviews in about 1 min (median)" in text
    assert "Approval to sats no payouts yet" in text
    assert "Disputes lost 0" in text
    assert "Active since" in text
    assert "New requester" not in text

    newcomer_job = make_job(requester=make_user("newcomer"), estimated_seconds_per_task=60)
    text = visible_text(client.get(reverse("job_detail", args=[newcomer_job.public_id])).content.decode())
    assert "New requester" in text
    assert "Sats per hour 600 · the requester's estimate" in text
    assert "Work approved" not in text


def test_reputations_add_no_query_to_the_board_or_the_job_page(client, django_assert_num_queries, worker):
    rated = make_job(tasks=5)
    approved_work(rated, 3, seconds=20, accepted_at=a_day_ago())
    reputations_refresh()
    for _ in range(5):  # requesters with a reputation row and without
        make_board_jobs(2, requester=make_user())
    reputations_refresh()
    make_board_jobs(3, requester=make_user())
    with django_assert_num_queries(BOARD_ANONYMOUS):
        response = client.get(reverse("board"), {"sort": "sats_per_hour"})
    assert len(response.context["page"].object_list) == 14
    assert "New requester" in response.content.decode()
    client.force_login(worker)
    for job in (rated, Job.objects.filter(requester__requester_stats__isnull=True).first()):
        with django_assert_num_queries(JOB_DETAIL):
            assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 200
