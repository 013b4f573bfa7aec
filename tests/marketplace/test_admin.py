"""Moderators act through the admin panel with a group's permissions, not as superusers (force-closing a job, with
its reason, is tested in tests/moderation/test_admin.py)."""

import pytest

from tests.factories import make_job, make_moderator, make_user


@pytest.fixture
def moderator(db):
    return make_moderator("mod")


def test_moderator_sees_jobs_and_assignments_in_the_admin(client, moderator):
    job = make_job(title="A job to watch")
    client.force_login(moderator)

    assert "A job to watch" in client.get("/admin/marketplace/job/").content.decode()
    assert client.get(f"/admin/marketplace/job/{job.pk}/change/").status_code == 200
    assert client.get("/admin/tasks/assignment/").status_code == 200
    assert client.get("/admin/marketplace/user/add/").status_code == 403


def test_a_worker_cannot_reach_the_admin(client, db):
    client.force_login(make_user())

    response = client.get("/admin/marketplace/job/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
