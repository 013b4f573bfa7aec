"""Moderators act through the admin panel with a group's permissions, not as superusers."""

import pytest
from django.contrib.auth.models import Group

from marketplace.models import JobStatus
from tests.factories import make_job, make_user


@pytest.fixture
def moderator(db):
    user = make_user("mod", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def test_moderator_sees_jobs_and_assignments_in_the_admin(client, moderator):
    job = make_job(title="A job to watch")
    client.force_login(moderator)

    assert "A job to watch" in client.get("/admin/marketplace/job/").content.decode()
    assert client.get(f"/admin/marketplace/job/{job.pk}/change/").status_code == 200
    assert client.get("/admin/tasks/assignment/").status_code == 200
    assert client.get("/admin/marketplace/user/add/").status_code == 403


def test_moderator_closes_a_job_through_the_service(client, moderator):
    job = make_job()
    client.force_login(moderator)

    response = client.post(
        "/admin/marketplace/job/", {"action": "close_jobs", "_selected_action": [job.pk]}, follow=True
    )

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED
    assert job.closed_at is not None


def test_a_worker_cannot_reach_the_admin(client, db):
    client.force_login(make_user())

    response = client.get("/admin/marketplace/job/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
