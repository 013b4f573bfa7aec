"""Issue 11, blocks: a requester blocks a worker, who then no longer sees or claims that requester's jobs."""

import pytest
from django.urls import reverse

from core.errors import InvalidInput, NotFound
from core.models import Event
from marketplace import blocks
from marketplace.models import WorkerBlock
from marketplace.users import WorkerBlocked
from notifications.models import Notification, NotificationKind
from tasks.services import assignment_claim
from tests.api.conftest import api_client_for
from tests.factories import make_job, make_moderator, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def test_a_block_hides_the_requesters_jobs_and_refuses_the_claim(client, requester, worker):
    mine = make_job(requester=requester, title="Mine")
    other = make_job(title="Someone else's")
    blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="Copied answers.")

    client.force_login(worker)
    board = client.get(reverse("board")).content.decode()
    assert "Someone else&#x27;s" in board
    assert "Mine" not in board
    assert client.get(reverse("job_detail", args=[mine.public_id])).status_code == 404
    assert client.get(reverse("job_task_preview", args=[mine.public_id])).status_code == 404
    assert client.get(reverse("job_detail", args=[other.public_id])).status_code == 200
    with pytest.raises(WorkerBlocked):
        assignment_claim(job=mine, worker=worker)
    assignment_claim(job=other, worker=worker)

    api = api_client_for(worker)
    assert [item["id"] for item in api.get("/board").json()["items"]] == [other.public_id]
    # Refused as if the job were not there: the refusal does not name the requester who blocked them.
    response = api.post(f"/jobs/{mine.public_id}/claim")
    assert response.status_code == 404
    assert client.post(reverse("job_start", args=[mine.public_id])).status_code == 404


def test_unblocking_lets_the_worker_back_and_both_are_recorded(requester, worker):
    job = make_job(requester=requester)
    blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="Spam.")
    blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="Again.")  # changes nothing
    assert WorkerBlock.objects.get().reason == "Spam."
    blocks.worker_unblock(requester=requester, worker_id=worker.public_id)
    assignment_claim(job=job, worker=worker)
    types = list(Event.objects.filter(type__startswith="worker.").values_list("type", flat=True).order_by("id"))
    assert types == ["worker.blocked", "worker.unblocked"]


def test_a_block_needs_a_reason_and_a_real_worker_other_than_oneself(requester, worker):
    with pytest.raises(InvalidInput):
        blocks.worker_block(requester=requester, worker_id=worker.public_id, reason=" ")
    with pytest.raises(NotFound):
        blocks.worker_block(requester=requester, worker_id="ANOTWORKER", reason="x")
    with pytest.raises(InvalidInput):
        blocks.worker_block(requester=requester, worker_id=requester.public_id, reason="x")
    assert not WorkerBlock.objects.exists()


def test_a_requester_blocks_from_the_review_screen_and_unblocks_from_their_list(client, requester, worker):
    job = make_job(requester=requester)
    make_submitted_assignment(job=job, worker=worker)
    client.force_login(requester)
    review = reverse("review_queue", args=[job.public_id])
    assert reverse("worker_block", args=[worker.public_id]) in client.get(review).content.decode()
    client.post(reverse("worker_block", args=[worker.public_id]), {"reason": "Bots.", "next": review})
    assert WorkerBlock.objects.filter(requester=requester, worker=worker).exists()
    assert worker.public_id in client.get(reverse("worker_blocks")).content.decode()
    client.post(reverse("worker_unblock", args=[worker.public_id]))
    assert not WorkerBlock.objects.exists()


def test_the_worker_is_told_a_requester_blocked_them_but_not_which(django_capture_on_commit_callbacks, worker):
    requester = make_user("quentin_quizmaster", display_name="Quentin Q.")
    with django_capture_on_commit_callbacks(execute=True):
        blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="Copied from another worker.")
    [told] = Notification.objects.filter(user=worker)
    assert told.kind == NotificationKind.BLOCKED
    assert "quentin" not in (told.title + told.body).lower()
    assert "Copied" not in told.body  # the reason is for moderators
    assert not Notification.objects.filter(user=requester).exists()


def test_moderators_see_how_often_a_worker_is_blocked_and_how_many_a_requester_blocks(client, requester, worker):
    other_requester = make_user()
    blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="a")
    blocks.worker_block(requester=other_requester, worker_id=worker.public_id, reason="b")
    client.force_login(make_moderator())
    changelist = client.get(reverse("admin:marketplace_user_changelist"))
    by_username = {user.username: user for user in changelist.context["cl"].result_list}
    assert by_username[worker.username].blocks_received_count == 2
    assert by_username[requester.username].blocks_made_count == 1
