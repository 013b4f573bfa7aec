"""Job pages run a fixed number of queries however many jobs, tasks and tags there are.

Each test measures a page with few rows, adds many more, and asserts the same count again. The expected counts are
pinned so a change shows up in review; they include the session and user lookups of a logged-in request.
"""

import pytest
from django.urls import reverse

from tests.factories import make_board_jobs, make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db

BOARD_ANONYMOUS = 3  # count, page of jobs, tags of those jobs
# The header's unread-notification count: one query on every page someone logged in sees (issue 10).
BELL = 1
# + session, user, which of the page's jobs they have done all of, and their qualifications: system values, grants,
# and the requirements of the board's jobs that have any (tasks.eligibility)
BOARD_LOGGED_IN = BOARD_ANONYMOUS + 3 + BELL + 3
# session, user, job with requester, its tags, whether the user has done all they can of it, what their
# qualifications allow (tasks.eligibility.job_access)
JOB_DETAIL = 6 + BELL
REQUESTER_DASHBOARD = 5 + BELL  # session, user, count, page of jobs with assignment counts, the sandbox play money


def test_board_queries_do_not_grow_with_jobs(client, django_assert_num_queries, requester):
    make_board_jobs(3, requester=requester)
    with django_assert_num_queries(BOARD_ANONYMOUS):
        assert len(client.get(reverse("board")).context["page"].object_list) == 3
    make_board_jobs(30, requester=requester, tags=["images", "cats", "text", "audio"])
    with django_assert_num_queries(BOARD_ANONYMOUS):
        assert len(client.get(reverse("board")).context["page"].object_list) == 20
    with django_assert_num_queries(BOARD_ANONYMOUS):
        response = client.get(reverse("board"), {"tag": "images", "sort": "reward", "q": "Board", "page": 2})
        assert len(response.context["page"].object_list) == 13


def test_board_queries_for_a_logged_in_worker(client, django_assert_num_queries, worker, requester):
    client.force_login(worker)
    make_board_jobs(3, requester=requester)
    with django_assert_num_queries(BOARD_LOGGED_IN):
        client.get(reverse("board"))
    make_board_jobs(30, requester=requester)
    with django_assert_num_queries(BOARD_LOGGED_IN):
        client.get(reverse("board"))


def test_job_page_queries_do_not_grow_with_tags_or_tasks(client, django_assert_num_queries, worker):
    client.force_login(worker)
    small = make_job(tasks=1, tags=["one"])
    big = make_job(tasks=200, tags=[f"tag{n}" for n in range(10)])
    for job in (small, big):
        with django_assert_num_queries(JOB_DETAIL):
            assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 200


def test_requester_dashboard_queries_do_not_grow_with_jobs(client, django_assert_num_queries, requester):
    client.force_login(requester)
    jobs = make_board_jobs(3, requester=requester)
    make_submitted_assignment(job=jobs[0])
    with django_assert_num_queries(REQUESTER_DASHBOARD):
        assert client.get(reverse("requester_dashboard")).status_code == 200
    more = make_board_jobs(30, requester=requester)
    for job in more[:5]:
        make_submitted_assignment(job=job)
    with django_assert_num_queries(REQUESTER_DASHBOARD):
        response = client.get(reverse("requester_dashboard"))
        assert len(response.context["page"].object_list) == 25
