"""Bad input on the requester's pages is a bad form shown again, never a 500, and changes nothing.

Django's CharField already refuses NUL, and a form post cannot carry a lone surrogate (undecodable bytes become
U+FFFD), so the form builder, job and CSV tests below guard what already held; the management-form one was a 500.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.models import Job
from tasks.models import Task
from tests.factories import make_bare_draft, make_draft_job
from tests.marketplace.requester_posts import NOUN_FIELD, builder_post, terms_post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "total",
    [
        pytest.param("abc", id="letters"),
        pytest.param("1e3", id="float-notation"),
        pytest.param("9" * 5000, id="too-many-digits-for-int"),
        pytest.param("\x00", id="nul"),
    ],
)
def test_add_a_field_with_a_bad_form_count_re_shows_the_builder(requester_client, requester, total):
    job = make_bare_draft(requester=requester)
    data = {**builder_post([NOUN_FIELD], button="add_field"), "fields-TOTAL_FORMS": total}

    response = requester_client.post(reverse("job_form", args=[job.public_id]), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Answer form" in page
    assert "ManagementForm data is missing or has been tampered with" in page
    job.refresh_from_db()
    assert job.form_fields == []


def test_saving_with_a_bad_form_count_re_shows_the_builder(requester_client, requester):
    job = make_bare_draft(requester=requester)
    data = {**builder_post([NOUN_FIELD]), "fields-TOTAL_FORMS": "abc"}

    response = requester_client.post(reverse("job_form", args=[job.public_id]), data)

    assert response.status_code == 200
    assert "ManagementForm data is missing or has been tampered with" in response.content.decode()
    job.refresh_from_db()
    assert job.form_fields == []


@pytest.mark.parametrize("key", ["name", "label", "choices", "prompt"])
def test_a_nul_in_a_form_builder_field_is_refused_and_nothing_saved(requester_client, requester, key):
    job = make_bare_draft(requester=requester)
    field = dict(NOUN_FIELD)
    prompt = "Is {{word}} a noun?"
    if key == "prompt":
        prompt += "\x00"
    else:
        field[key] += "\x00"

    response = requester_client.post(reverse("job_form", args=[job.public_id]), builder_post([field], prompt=prompt))

    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()
    job.refresh_from_db()
    assert (job.form_fields, job.prompt) == ([], "")


def test_bytes_of_a_lone_surrogate_in_a_form_post_never_reach_the_database_as_one(requester_client, requester):
    """UTF-8 has no encoding of a surrogate; a browser or script that sends the bytes anyway gets U+FFFD."""
    job = make_bare_draft(requester=requester)
    field = {**NOUN_FIELD, "label": "Noun \udcff?"}
    body = "&".join(f"{key}={value}" for key, value in builder_post([field]).items()).replace("\n", "%0A")
    raw = body.replace("\udcff", "%ED%B3%BF").encode()

    response = requester_client.post(
        reverse("job_form", args=[job.public_id]), raw, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.form_fields[0]["label"] == "Noun \ufffd\ufffd\ufffd?"


@pytest.mark.parametrize("field", ["title", "description", "instructions", "tags"])
def test_a_nul_in_the_job_terms_is_refused_and_no_job_made(requester_client, requester, field):
    data = terms_post()
    data[field] += "\x00"

    response = requester_client.post(reverse("job_create"), data)

    assert response.status_code == 200
    assert not Job.objects.filter(requester=requester).exists()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"csv_text": "review\nA\x00b\n"}, id="pasted-nul"),
        pytest.param({"csv_file": b"review\nA\x00b\n"}, id="file-nul"),
        pytest.param({"csv_file": b"review\nA\xed\xa0\x80b\n"}, id="file-surrogate-bytes"),
        pytest.param({"add_one": "1", "task-column_0": "Ty\x00ped"}, id="one-task-by-hand"),
    ],
)
def test_unstorable_task_text_is_refused_and_no_task_added(requester_client, requester, payload):
    job = make_draft_job(requester=requester, tasks=0)
    if "csv_file" in payload:
        payload = {"add_csv": "1", "csv_file": SimpleUploadedFile("tasks.csv", payload["csv_file"], "text/csv")}
    elif "csv_text" in payload:
        payload = {"add_csv": "1", **payload}

    response = requester_client.post(reverse("job_tasks", args=[job.public_id]), payload)

    assert response.status_code == 200
    assert not Task.objects.filter(job=job).exists()
