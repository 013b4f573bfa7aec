"""The board counts its jobs up to a cap (web.pagination.CappedCountPaginator): past it, it says "more than" and
offers the pages up to the cap, so a page view costs the same with 10,000 jobs as with 1,000."""

import pytest
from django.urls import reverse

from tests.factories import make_job, make_user
from web import job_views

pytestmark = pytest.mark.django_db


def board_page(client, **params):
    response = client.get(reverse("board"), params)
    assert response.status_code == 200
    return response


def test_a_board_longer_than_the_cap_says_more_than_and_stops_at_the_cap(client, monkeypatch):
    monkeypatch.setattr(job_views, "BOARD_COUNT_CAP", 25)
    requester = make_user("many-jobs")
    for n in range(27):
        make_job(requester=requester, tasks=1, title=f"Capped job {n}")
    first = board_page(client)
    assert first.context["page"].paginator.count == 25
    assert "More than 25 jobs with work available" in first.content.decode()
    assert first.context["page"].paginator.num_pages == 2
    last = board_page(client, page=5)
    assert last.context["page"].number == 2
    assert len(last.context["page"].object_list) == 5


def test_a_board_within_the_cap_gives_its_exact_count(client, monkeypatch):
    monkeypatch.setattr(job_views, "BOARD_COUNT_CAP", 25)
    requester = make_user("few-jobs")
    for n in range(25):
        make_job(requester=requester, tasks=1, title=f"Counted job {n}")
    response = board_page(client)
    assert response.context["page"].paginator.count == 25
    assert "25 jobs with work available" in response.content.decode()
    assert "More than" not in response.content.decode()
