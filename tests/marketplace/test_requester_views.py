"""Requester pages through the Django test client: post a job, build its form, add tasks, preview, publish."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from marketplace import services
from marketplace.models import FormKind, Job, JobStatus
from tasks import services as task_services
from tasks.models import Task
from tests.factories import (
    HTML_TEMPLATE,
    make_bare_draft,
    make_draft_job,
    make_html_job,
    make_job,
    make_submitted_assignment,
    make_user,
)
from tests.marketplace.requester_posts import NOTE_FIELD, NOUN_FIELD, builder_post, terms_post
from tests.pages import messages_of

pytestmark = pytest.mark.django_db


def test_requester_pages_need_a_login(client):
    job = make_job()
    for url in (reverse("requester_dashboard"), reverse("job_create"), reverse("job_manage", args=[job.public_id])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_create_a_job_then_build_the_form_add_tasks_preview_and_publish(requester_client, requester):
    client = requester_client
    # 1. Details.
    assert client.get(reverse("job_create")).status_code == 200
    response = client.post(reverse("job_create"), terms_post())
    job = Job.objects.get(requester=requester)
    assert response.status_code == 302
    assert response["Location"] == reverse("job_form", args=[job.public_id])
    assert job.status == JobStatus.DRAFT
    assert (job.title, job.reward_msat, job.assignments_per_task) == ("Label photos", 25_000, 2)
    assert (job.time_limit_seconds, job.auto_approve_seconds) == (15 * 60, 48 * 3600)
    assert sorted(tag.name for tag in job.tags.all()) == ["cats", "images"]

    # 2. The answer form: a default field to start with, "Add a field" without JavaScript, then save.
    response = client.get(reverse("job_form", args=[job.public_id]))
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == 1
    response = client.post(reverse("job_form", args=[job.public_id]), builder_post([NOUN_FIELD], button="add_field"))
    assert response.status_code == 200
    formset = response.context["formset"]
    assert formset.total_form_count() == 2
    assert formset.forms[0]["name"].value() == "is_noun"
    assert formset.forms[1]["kind"].value() == "short_text"
    job.refresh_from_db()
    assert not job.has_form, "adding a field row saves nothing"
    response = client.post(reverse("job_form", args=[job.public_id]), builder_post([NOUN_FIELD, NOTE_FIELD]))
    assert response.status_code == 302
    assert response["Location"] == reverse("job_tasks", args=[job.public_id])
    job.refresh_from_db()
    assert job.form_kind == FormKind.BUILDER
    assert job.prompt == "Is {{word}} a noun?"
    assert job.answer_fields == ["is_noun", "note"]
    assert job.form_fields[0]["choices"] == ["Yes", "No"]

    # 3. Tasks: a CSV file, then pasted CSV.
    upload = SimpleUploadedFile("words.csv", '\ufeffword\nrun\n"table, wooden"\n'.encode(), "text/csv")
    response = client.post(reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_file": upload})
    assert response.status_code == 302
    response = client.post(reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_text": "word\nquickly\n"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count, job.input_columns) == (3, 6, ["word"])
    assert [task.input["word"] for task in job.tasks.order_by("position")] == ["run", "table, wooden", "quickly"]
    response = client.get(reverse("job_tasks", args=[job.public_id]))
    assert "table, wooden" in response.content.decode()

    # 4. Preview: the first task as a worker sees it, then another one.
    response = client.get(reverse("job_preview", args=[job.public_id]))
    assert response.status_code == 200
    assert "Is run a noun?" in response.content.decode()
    response = client.get(reverse("job_preview", args=[job.public_id]), {"task": 3})
    assert "Is quickly a noun?" in response.content.decode()

    # 5. Publish.
    response = client.post(reverse("job_action", args=[job.public_id, "publish"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("job_manage", args=[job.public_id])
    job.refresh_from_db()
    assert job.status == JobStatus.PUBLISHED
    assert client.get(reverse("job_manage", args=[job.public_id])).status_code == 200
    assert job.pk in [item.pk for item in client.get(reverse("board")).context["page"].object_list]


def test_create_job_with_bad_terms_shows_errors_and_creates_nothing(requester_client):
    for bad in ({"reward_sats": "0"}, {"title": ""}, {"time_limit_minutes": "0"}, {"tags": ",".join("abcdefghijk")},
                {"expires_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}):  # fmt: skip
        response = requester_client.post(reverse("job_create"), terms_post(**bad))
        assert response.status_code == 200, bad
        assert response.context["form"].errors, bad
    assert not Job.objects.exists()


def test_add_a_field_keeps_the_rows_typed_so_far(requester_client, requester):
    job = make_bare_draft(requester=requester)
    response = requester_client.post(
        reverse("job_form", args=[job.public_id]),
        builder_post([NOUN_FIELD, NOTE_FIELD], initial_forms=1, button="add_field"),
    )
    formset = response.context["formset"]
    assert formset.total_form_count() == 3
    assert [form["name"].value() for form in formset.forms[:2]] == ["is_noun", "note"]
    assert formset.forms[0]["choices"].value() == "Yes\nNo"


def test_add_a_field_does_not_flag_the_new_empty_row(requester_client, requester):
    """Pressing "Add a field" gives an empty row to fill in, not a row already marked as wrong."""
    job = make_bare_draft(requester=requester)
    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), builder_post([NOUN_FIELD], initial_forms=1, button="add_field")
    )
    new_row = response.context["formset"].forms[1]
    assert not new_row.errors, new_row.errors
    assert "This field is required" not in response.content.decode()


def test_form_builder_refuses_a_bad_field_and_saves_nothing(requester_client, requester):
    job = make_bare_draft(requester=requester)
    one_choice = {**NOUN_FIELD, "choices": "Yes"}
    response = requester_client.post(reverse("job_form", args=[job.public_id]), builder_post([one_choice]))
    assert response.status_code == 200
    assert "at least two different choices" in response.content.decode()
    duplicate = builder_post([NOUN_FIELD, {**NOTE_FIELD, "name": "is_noun"}])
    response = requester_client.post(reverse("job_form", args=[job.public_id]), duplicate)
    assert "used twice" in response.content.decode()
    number = {"name": "n", "label": "N", "kind": "number", "required": True, "min": "5", "max": "1"}
    response = requester_client.post(reverse("job_form", args=[job.public_id]), builder_post([number]))
    assert "minimum is larger" in response.content.decode()
    job.refresh_from_db()
    assert not job.has_form


def test_form_builder_refuses_placeholders_the_tasks_do_not_have(requester_client, requester):
    job = make_draft_job(requester=requester)  # tasks have the column "review"
    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), builder_post([NOUN_FIELD], prompt="{{image_url}}")
    )
    assert response.status_code == 200
    assert "image_url" in response.content.decode()
    job.refresh_from_db()
    assert job.prompt == "Review: {{review}}"


def test_form_of_a_published_job_cannot_change(requester_client, requester):
    job = make_job(requester=requester)
    response = requester_client.post(reverse("job_form", args=[job.public_id]), builder_post([NOUN_FIELD], prompt="x"))
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.prompt == "Review: {{review}}"
    assert job.answer_fields == ["sentiment", "notes"]


def test_html_template_form(requester_client, requester):
    job = make_bare_draft(requester=requester)
    assert requester_client.get(reverse("job_form", args=[job.public_id]), {"kind": "html"}).status_code == 200
    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), {"form_kind": "html", "html_template": HTML_TEMPLATE}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.form_kind == FormKind.HTML
    assert job.answer_fields == ["sentiment", "notes"]
    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), {"form_kind": "html", "html_template": "<p>no fields</p>"}
    )
    assert response.status_code == 200
    assert "no form fields" in response.content.decode()


# Tasks ----------------------------------------------------------------------------------------------------------


def post_csv(client, job, *, text=None, data=None, name="tasks.csv"):
    payload = {"add_csv": "1"}
    if text is not None:
        payload["csv_text"] = text
    if data is not None:
        payload["csv_file"] = SimpleUploadedFile(name, data, "text/csv")
    return client.post(reverse("job_tasks", args=[job.public_id]), payload)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"text": "review\nfine\nnot,fine\n"}, "Row 3", id="ragged-pasted"),
        pytest.param({"data": b"review\nfine\nnot,fine\n"}, "Row 3", id="ragged-file"),
        pytest.param({"data": "review\ncaf\u00e9\n".encode("latin-1")}, "not UTF-8", id="latin-1-file"),
        pytest.param({"text": "review\n"}, "no data rows", id="header-only"),
        pytest.param({"text": "word\nrun\n"}, "“review”", id="missing-placeholder-column"),
        pytest.param({"text": "review,review\na,b\n"}, "appears twice", id="duplicate-header"),
        pytest.param({}, "Choose a CSV file or paste CSV text", id="nothing"),
        pytest.param({"text": "review\na\n", "data": b"review\nb\n"}, "not both", id="both"),
        pytest.param({"data": b""}, "empty", id="empty-file"),
    ],
)
def test_bad_csv_shows_the_problem_and_adds_nothing(requester_client, requester, kwargs, message):
    job = make_draft_job(requester=requester, tasks=0)
    response = post_csv(requester_client, job, **kwargs)
    assert response.status_code == 200
    assert message in response.content.decode()
    job.refresh_from_db()
    assert job.task_count == 0
    assert not Task.objects.exists()


def test_csv_file_over_the_size_limit(requester_client, requester, settings):
    settings.TASK_CSV_MAX_BYTES = 64
    job = make_draft_job(requester=requester, tasks=0)
    response = post_csv(requester_client, job, data=b"review\n" + b"x" * 80 + b"\n")
    assert response.status_code == 200
    assert "larger than" in response.content.decode()
    response = post_csv(requester_client, job, text="review\n" + "x" * 80 + "\n")
    assert "larger than" in response.content.decode()
    job.refresh_from_db()
    assert job.task_count == 0


def test_csv_with_too_many_rows(requester_client, requester, settings):
    settings.TASK_CSV_MAX_ROWS = 2
    job = make_draft_job(requester=requester, tasks=0)
    response = post_csv(requester_client, job, text="review\na\nb\nc\n")
    assert "more than 2 rows" in response.content.decode()
    job.refresh_from_db()
    assert job.task_count == 0


def test_add_one_task_by_hand(requester_client, requester):
    job = make_draft_job(requester=requester, tasks=1)
    response = requester_client.post(
        reverse("job_tasks", args=[job.public_id]), {"add_one": "1", "task-column_0": "Typed"}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.task_count == 2
    assert job.tasks.get(position=2).input == {"review": "Typed"}


# Publishing and the other job actions ---------------------------------------------------------------------------


def test_publish_without_tasks_is_refused_with_a_message(requester_client, requester):
    job = make_draft_job(requester=requester, tasks=0)
    response = requester_client.post(reverse("job_action", args=[job.public_id, "publish"]), follow=True)
    assert any("task" in message for message in messages_of(response))
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT


def test_pause_resume_close(requester_client, requester):
    job = make_job(requester=requester)
    for action, status in (("pause", JobStatus.PAUSED), ("resume", JobStatus.PUBLISHED), ("close", JobStatus.CLOSED)):
        response = requester_client.post(reverse("job_action", args=[job.public_id, action]))
        assert response.status_code == 302
        job.refresh_from_db()
        assert job.status == status
    response = requester_client.post(reverse("job_action", args=[job.public_id, "resume"]), follow=True)
    assert messages_of(response)
    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED


def test_cancel_a_draft_goes_back_to_the_dashboard(requester_client, requester):
    job = make_draft_job(requester=requester)
    response = requester_client.post(reverse("job_action", args=[job.public_id, "cancel"]))
    assert response["Location"] == reverse("requester_dashboard")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.pk not in [item.pk for item in requester_client.get(reverse("requester_dashboard")).context["page"]]


def test_job_actions_need_post_and_a_known_action(requester_client, requester):
    job = make_draft_job(requester=requester)
    assert requester_client.get(reverse("job_action", args=[job.public_id, "publish"])).status_code == 405
    assert requester_client.post(reverse("job_action", args=[job.public_id, "explode"])).status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT


def test_edit_a_draft_but_not_a_published_job(requester_client, requester):
    draft = make_draft_job(requester=requester)
    assert requester_client.get(reverse("job_edit", args=[draft.public_id])).status_code == 200
    response = requester_client.post(reverse("job_edit", args=[draft.public_id]), terms_post(title="Renamed"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Renamed"
    assert draft.open_slot_count == 6  # 3 tasks × 2 assignments now

    published = make_job(requester=requester)
    response = requester_client.post(reverse("job_edit", args=[published.public_id]), terms_post(title="Sneaky"))
    assert response.status_code == 302
    assert response["Location"] == reverse("job_manage", args=[published.public_id])
    published.refresh_from_db()
    assert published.title == "Rate a review"


def test_extend_expiry(requester_client, requester):
    expires_at = timezone.now() + timedelta(days=2)
    job = make_job(requester=requester, expires_at=expires_at)
    later = (expires_at + timedelta(days=3)).replace(second=0, microsecond=0)
    response = requester_client.post(
        reverse("job_expiry", args=[job.public_id]), {"expires_at": later.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.expires_at == later
    earlier = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = requester_client.post(reverse("job_expiry", args=[job.public_id]), {"expires_at": earlier}, follow=True)
    assert any("later" in message for message in messages_of(response))
    job.refresh_from_db()
    assert job.expires_at == later


def _work_on(job, requester):
    """One assignment in each state: in progress, submitted, approved twice, rejected."""
    task_services.assignment_claim(job=job, worker=make_user())
    make_submitted_assignment(job=job)
    for _ in range(2):
        approved = make_submitted_assignment(job=job)
        task_services.assignment_review(assignment=approved, reviewer=requester, approve=True)
    rejected = make_submitted_assignment(job=job)
    task_services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="No.")


def test_requester_dashboard_lists_my_jobs_with_progress(requester_client, requester, stranger):
    mine = make_job(requester=requester, title="Mine", tasks=4, assignments_per_task=2)
    _work_on(mine, requester)
    draft = make_draft_job(requester=requester, title="My draft")
    theirs = make_job(requester=stranger, title="Theirs")
    response = requester_client.get(reverse("requester_dashboard"))
    assert response.status_code == 200
    shown = {job.pk: job for job in response.context["page"].object_list}
    assert sorted(shown) == sorted([mine.pk, draft.pk])
    assert theirs.pk not in shown
    assert "Theirs" not in response.content.decode()
    row = shown[mine.pk]
    counts = (row.in_progress_count, row.submitted_count, row.approved_count, row.rejected_count)
    assert counts == (1, 1, 2, 1)
    assert row.open_slot_count == 8 - 4


def test_job_manage_shows_progress(requester_client, requester):
    job = make_job(requester=requester, tasks=4, assignments_per_task=2)
    _work_on(job, requester)
    response = requester_client.get(reverse("job_manage", args=[job.public_id]))
    assert response.status_code == 200
    assert response.context["progress"] == {
        "wanted": 8,
        "in_progress": 1,
        "submitted": 1,
        "approved": 2,
        "rejected": 1,
        "remaining": 4,
    }


def test_preview_of_a_draft_without_tasks(requester_client, requester):
    job = make_draft_job(requester=requester, tasks=0)
    response = requester_client.get(reverse("job_preview", args=[job.public_id]))
    assert response.status_code == 200
    assert response.context["task"] is None


def test_preview_frame_shows_the_chosen_task(requester_client, requester):
    job = make_html_job(requester=requester, rows=[{"review": "first row"}, {"review": "second row"}], publish=False)
    frame = requester_client.get(reverse("job_preview_frame", args=[job.public_id]), {"task": 2})
    assert "second row" in frame.content.decode()
    assert "first row" not in frame.content.decode()


def test_preview_frame_of_an_html_job_is_sandboxed(requester_client, requester):
    job = make_html_job(requester=requester, rows=[{"review": '<script>alert("x")</script>'}], publish=False)
    response = requester_client.get(reverse("job_preview_frame", args=[job.public_id]))
    assert response.status_code == 200
    assert "sandbox allow-scripts allow-forms" in response["Content-Security-Policy"]
    content = response.content.decode()
    assert '<script>alert("x")</script>' not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content
    preview = requester_client.get(reverse("job_preview", args=[job.public_id]))
    assert 'sandbox="allow-scripts allow-forms"' in preview.content.decode()
    assert services.job_placeholders(job) == ["review"]
