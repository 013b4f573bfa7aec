"""Issue 9: a worker previews a task before claiming it (Mechanical Turk's "preview HIT"), and the instructions are
open on their first task of a job."""

import pytest
from django.urls import reverse

from tasks.models import Assignment
from tests.factories import make_claimed_assignment, make_html_job, make_job, make_submitted_assignment
from tests.html_parsing import start_tags, visible_text

pytestmark = pytest.mark.django_db


def test_anyone_previews_the_first_open_task_without_taking_it(
    client, requester, worker, django_assert_max_num_queries
):
    job = make_job(requester=requester, tasks=3, instructions="Read **every** word.")
    make_submitted_assignment(job=job, worker=worker)  # task 1 is taken
    detail = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert reverse("job_task_preview", args=[job.public_id]) in detail
    with django_assert_max_num_queries(4):
        page = client.get(reverse("job_task_preview", args=[job.public_id])).content.decode()
    text = visible_text(page)
    assert "Review: Review number 2" in text
    assert "Read every word." in text
    assert ("details", {"class": "card instructions", "open": None}) in start_tags(page)
    # The answer form is there to look at, not to send: disabled, and no form posts anywhere.
    assert ("fieldset", {"disabled": None}) in start_tags(page)
    assert not [attrs for tag, attrs in start_tags(page) if tag == "form" and "answer" in attrs.get("action", "")]
    assert Assignment.objects.filter(job=job).count() == 1


def test_a_logged_in_worker_can_start_from_the_preview(client, worker):
    job = make_job(tasks=1)
    client.force_login(worker)
    page = client.get(reverse("job_task_preview", args=[job.public_id])).content.decode()
    assert ("form", {"method": "post", "action": reverse("job_start", args=[job.public_id])}) in start_tags(page)


def test_an_html_template_job_previews_in_the_sandboxed_frame(client):
    job = make_html_job(rows=[{"review": "Lovely soup"}])
    page = client.get(reverse("job_task_preview", args=[job.public_id])).content.decode()
    frame_url = reverse("job_task_preview_frame", args=[job.public_id])
    frame_tag = {
        "class": "task-frame",
        "id": "task-frame",
        "title": "Task",
        "src": frame_url,
        "sandbox": "allow-scripts allow-forms",
        "referrerpolicy": "no-referrer",
    }
    assert ("iframe", frame_tag) in start_tags(page)
    frame = client.get(frame_url)
    assert "Lovely soup" in frame.content.decode()
    assert "sandbox" in frame["Content-Security-Policy"]


def test_a_draft_has_no_preview_for_workers(client, requester):
    draft = make_job(requester=requester, publish=False)
    assert client.get(reverse("job_task_preview", args=[draft.public_id])).status_code == 404
    assert client.get(reverse("job_task_preview_frame", args=[draft.public_id])).status_code == 404


def test_the_instructions_are_open_on_a_workers_first_task_of_a_job_only(client, worker):
    job = make_job(tasks=3, instructions="Be careful.")
    client.force_login(worker)
    first = make_submitted_assignment(job=job, worker=worker)
    second = make_claimed_assignment(job=job, worker=worker)
    open_details = ("details", {"class": "card instructions", "open": None})
    first_page = client.get(reverse("assignment_detail", args=[first.public_id])).content.decode()
    second_page = client.get(reverse("assignment_detail", args=[second.public_id])).content.decode()
    assert open_details in start_tags(first_page)
    assert open_details not in start_tags(second_page)
    assert ("details", {"class": "card instructions"}) in start_tags(second_page)


def test_the_task_page_says_when_the_work_is_paid_at_the_latest(client, worker):
    job = make_job(tasks=2, auto_approve_seconds=2 * 24 * 3600)
    client.force_login(worker)
    open_one = make_claimed_assignment(job=job, worker=worker)
    page = visible_text(client.get(reverse("assignment_detail", args=[open_one.public_id])).content.decode())
    assert "Paid at the latest 2 days after you submit" in page


def test_the_submitted_task_page_says_when_it_is_approved_automatically(client, worker):
    job = make_job(tasks=1)
    client.force_login(worker)
    submitted = make_submitted_assignment(job=job, worker=worker)
    page = visible_text(client.get(reverse("assignment_detail", args=[submitted.public_id])).content.decode())
    assert "it is approved and paid automatically" in page
