"""Which jobs a requirement hides from a worker on the board is decided once per distinct requirement list
(tasks.eligibility.board_hiding_requirements), not once per job: the work stays flat however many jobs share a list."""

import pytest
from django.urls import reverse

from marketplace import qualifications
from marketplace.models import Job
from marketplace.qualifications import APPROVED_COUNT_TYPE_ID, Guard
from marketplace.selectors import board_jobs
from marketplace.services import job_set_worker_rules
from tasks import eligibility
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

HIDING = [
    {
        "qualification_type_id": APPROVED_COUNT_TYPE_ID,
        "comparator": "GreaterThan",
        "integer_values": [100],
        "actions_guarded": Guard.DISCOVER_PREVIEW_AND_ACCEPT,
    }
]


def jobs_with_rules(requester, count: int, requirements: list[dict], title: str) -> list[Job]:
    jobs = [make_job(requester=requester, tasks=1, title=f"{title} {n}") for n in range(count)]
    for job in jobs:
        job_set_worker_rules(job=job, actor=requester, requirements=requirements)
    return jobs


def listed_titles(client) -> set[str]:
    response = client.get(reverse("board"))
    assert response.status_code == 200
    return {job.title for job in response.context["page"].object_list}


def test_many_jobs_sharing_a_list_are_checked_once_and_all_hidden(client):
    requester = make_user("veteran-requester")
    jobs_with_rules(requester, 6, HIDING, "Veterans only")
    make_job(requester=requester, tasks=1, title="Open to all")
    newcomer = make_user("newcomer")
    viewer = eligibility.BoardViewer.of(newcomer)
    hiding = eligibility.board_hiding_requirements(board_jobs(viewer=newcomer), viewer, qualified_only=False)
    assert hiding == [qualifications.requirements_clean(owner=requester, requirements=HIDING)]
    client.force_login(newcomer)
    assert listed_titles(client) == {"Open to all"}


def test_the_requester_still_sees_their_own_hidden_jobs_and_others_stay_hidden(client):
    requester = make_user("veteran-requester")
    jobs_with_rules(requester, 2, HIDING, "Mine")
    jobs_with_rules(make_user("someone-else"), 2, HIDING, "Theirs")
    client.force_login(requester)
    assert listed_titles(client) == {"Mine 0", "Mine 1"}
