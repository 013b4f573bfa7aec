"""The whole unit-of-work loop through the views, no browser: post a job, work it, review it, download results."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.models import Job, JobStatus
from tasks.models import Assignment, AssignmentStatus
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_whole_loop_through_the_views(requester):
    boss = logged_in(requester)

    # The requester posts a job: details, the answer form (with the no-JS "Add a field"), tasks, preview, publish.
    response = boss.post(
        reverse("job_create"),
        {"title": "Is it a noun?", "description": "Decide whether a word is a noun.", "reward_sats": "21",
         "assignments_per_task": "2", "time_limit_minutes": "10", "auto_approve_hours": "72", "tags": "words"},
    )  # fmt: skip
    job = Job.objects.get(requester=requester)
    assert response["Location"] == reverse("job_form", args=[job.public_id])
    form_post = {
        "form_kind": "builder", "prompt": "Is **{{word}}** a noun?",
        "fields-TOTAL_FORMS": "1", "fields-INITIAL_FORMS": "1", "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "50",
        "fields-0-name": "noun", "fields-0-label": "Noun?", "fields-0-kind": "single_choice",
        "fields-0-required": "on", "fields-0-choices": "Yes\nNo",
    }  # fmt: skip
    response = boss.post(reverse("job_form", args=[job.public_id]), {**form_post, "add_field": "1"})
    assert response.context["formset"].total_form_count() == 2
    form_post.update({"fields-TOTAL_FORMS": "2", "fields-1-name": "why", "fields-1-label": "Why?",
                      "fields-1-kind": "short_text", "save": "1"})  # fmt: skip
    assert boss.post(reverse("job_form", args=[job.public_id]), form_post).status_code == 302
    upload = SimpleUploadedFile("words.csv", b"word\nrun\ntable\n", "text/csv")
    assert (
        boss.post(reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_file": upload}).status_code == 302
    )
    pasted = boss.post(reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_text": "word\n=cmd()\n"})
    assert pasted.status_code == 302
    assert "<strong>run</strong>" in boss.get(reverse("job_preview", args=[job.public_id])).content.decode()
    boss.post(reverse("job_action", args=[job.public_id, "publish"]))
    job.refresh_from_db()
    assert (job.status, job.task_count, job.open_slot_count) == (JobStatus.PUBLISHED, 3, 6)
    assert job.pk in [item.pk for item in boss.get(reverse("board")).context["page"].object_list]

    # Worker one: start working, submit, submit and take the next, then return the third.
    ann = make_user("ann")
    ann_client = logged_in(ann)
    response = ann_client.post(reverse("job_start", args=[job.public_id]))
    first = Assignment.objects.get(worker=ann)
    assert response["Location"] == reverse("assignment_detail", args=[first.public_id])
    assert "<strong>run</strong>" in ann_client.get(response["Location"]).content.decode()
    answer = {"answer-noun": "No", "answer-why": "A verb"}
    response = ann_client.post(reverse("assignment_submit", args=[first.public_id]), {**answer, "next": "1"})
    second = Assignment.objects.get(worker=ann, status=AssignmentStatus.ACCEPTED)
    assert response["Location"] == reverse("assignment_detail", args=[second.public_id])
    response = ann_client.post(reverse("assignment_submit", args=[second.public_id]), {**answer, "next": "1"})
    third = Assignment.objects.get(worker=ann, status=AssignmentStatus.ACCEPTED)
    ann_client.post(reverse("assignment_return", args=[third.public_id]))
    third.refresh_from_db()
    assert third.status == AssignmentStatus.RETURNED

    # Worker two takes the returned task and one more.
    bob = make_user("bob")
    bob_client = logged_in(bob)
    for _ in range(2):
        response = bob_client.post(reverse("job_start", args=[job.public_id]))
        mine = Assignment.objects.get(worker=bob, status=AssignmentStatus.ACCEPTED)
        bob_client.post(
            reverse("assignment_submit", args=[mine.public_id]), {"answer-noun": "Yes", "answer-why": "=1+1"}
        )
    assert Assignment.objects.filter(status=AssignmentStatus.SUBMITTED).count() == 4

    # The requester reviews: one with htmx, one rejected the old way, the rest in bulk.
    queue = boss.get(reverse("review_queue", args=[job.public_id]))
    waiting = [item.public_id for item in queue.context["page"].object_list]
    assert len(waiting) == 4
    partial = boss.post(
        reverse("assignment_review", args=[waiting[0]]), {"decision": "approve"}, HTTP_HX_REQUEST="true"
    )
    assert f'id="review-{waiting[0]}"' in partial.content.decode()
    boss.post(reverse("assignment_review", args=[waiting[1]]), {"decision": "reject", "feedback": "Wrong."})
    boss.post(reverse("review_queue", args=[job.public_id]), {"selected": waiting[2:], "decision": "approve"})
    statuses = [Assignment.objects.get(public_id=public_id).status for public_id in waiting]
    assert statuses == ["approved", "rejected", "approved", "approved"]
    job.refresh_from_db()
    assert job.open_slot_count == 6 - 4 + 1  # four taken, one given back by the rejection

    # And downloads the results.
    response = boss.get(reverse("results_csv", args=[job.public_id]))
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 4
    assert {row["AssignmentStatus"] for row in rows} == {"approved", "rejected"}
    assert {row["Input.word"] for row in rows} <= {"run", "table", "'=cmd()"}
    assert {row["Answer.why"] for row in rows} == {"A verb", "'=1+1"}
    assert {row["WorkerId"] for row in rows} == {ann.public_id, bob.public_id}
