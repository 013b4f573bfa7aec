"""Work without funds has quotas (security issue: 100,000-row uploads to drafts without limit, a 200 MB upload
read in full before it was refused, a CSV header of 2.3 million columns that cost a web process 220 MB).

The per-user limits on pending deposits and the reuse of the open withdraw link are tested with the payments
(tests/payments/test_deposit_sweep.py, tests/payments/test_wallet_views.py).
"""

import io

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import InvalidInput
from marketplace import services
from marketplace.models import Job
from tasks.csv_import import MAX_HEADER_LINE_CHARS, MAX_LINE_CHARS, parse_task_csv
from tasks.errors import TaskCsvInvalid
from tasks.models import Task
from tasks.services import tasks_add
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def draft(requester, title: str = "Draft") -> Job:
    return services.job_create(requester=requester, title=title, description="A draft.", reward_msat=10_000)


# Drafts -----------------------------------------------------------------------------------------------------------


def test_a_requester_keeps_at_most_so_many_drafts(settings, requester):
    settings.MAX_DRAFT_JOBS_PER_USER = 2
    draft(requester, "One")
    draft(requester, "Two")

    with pytest.raises(InvalidInput, match="You have 2 draft jobs, the most one account may keep"):
        draft(requester, "Three")

    assert Job.objects.filter(requester=requester).count() == 2


def test_published_jobs_do_not_count_against_the_draft_quota(settings, requester):
    settings.MAX_DRAFT_JOBS_PER_USER = 1
    make_job(requester=requester)  # published
    draft(requester)
    with pytest.raises(InvalidInput):
        draft(requester)


def test_the_new_job_page_shows_the_refusal(settings, requester_client):
    settings.MAX_DRAFT_JOBS_PER_USER = 0
    form = {
        "title": "Label photos",
        "description": "Say what is in each photo.",
        "reward_sats": "10",
        "assignments_per_task": "1",
        "time_limit_minutes": "10",
        "auto_approve_hours": "72",
    }

    response = requester_client.post(reverse("job_create"), form)

    assert response.status_code == 200
    assert "the most one account may keep" in response.content.decode()
    assert not Job.objects.exists()


def test_tasks_in_drafts_are_capped_per_requester(settings, requester):
    settings.MAX_DRAFT_TASKS_PER_USER = 5
    first, second = draft(requester, "One"), draft(requester, "Two")
    rows = [{"review": f"Review {n}"} for n in range(3)]
    tasks_add(job=first, actor=requester, columns=["review"], rows=rows)

    with pytest.raises(InvalidInput, match="Your drafts already hold 3 tasks; with these 3 they would pass the limit"):
        tasks_add(job=second, actor=requester, columns=["review"], rows=rows)

    assert Task.objects.filter(job=second).count() == 0
    tasks_add(job=second, actor=requester, columns=["review"], rows=rows[:2])  # exactly the limit is fine


def test_tasks_added_to_a_published_job_are_paid_for_and_not_capped(settings, requester):
    settings.MAX_DRAFT_TASKS_PER_USER = 1
    job = make_job(requester=requester, tasks=0, publish=False)
    tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "one"}])
    services.job_publish(job=job, actor=requester)

    added = tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "two"}, {"review": "three"}])

    assert added == 2


# Request size -----------------------------------------------------------------------------------------------------


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def oversized_post(client: Client, path: str, settings) -> object:
    return client.generic(
        "POST",
        path,
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.MAX_REQUEST_BYTES + 1),
        **{"wsgi.input": UnreadableBody()},
    )


def test_an_upload_larger_than_the_limit_is_refused_before_it_is_read(settings, requester_client, requester):
    job = draft(requester)

    response = oversized_post(requester_client, reverse("job_tasks", args=[job.public_id]), settings)

    assert response.status_code == 413
    assert "larger than 21 MB" in response.content.decode()
    assert response["Connection"] == "close"


def test_an_api_request_larger_than_the_limit_is_refused_in_the_api_error_shape(settings):
    response = oversized_post(Client(), "/api/v1/jobs/1/tasks", settings)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_request_within_the_limit_is_served(settings, requester_client, requester):
    job = draft(requester)
    services.job_set_builder_form(
        job=job, actor=requester, prompt="{{review}}", fields=[{"name": "a", "kind": "short_text", "label": "A"}]
    )

    response = requester_client.post(
        reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_text": "review\ngood\n"}, follow=True
    )

    assert response.status_code == 200
    assert Task.objects.filter(job=job).count() == 1


# CSV shape, before parsing ----------------------------------------------------------------------------------------


def test_a_header_of_millions_of_columns_is_refused_before_it_is_split():
    text = "," * 2_300_000 + "\n" + "x\n"

    with pytest.raises(TaskCsvInvalid, match="Row 1: the header row is longer than"):
        parse_task_csv(text, required_columns=[], expected_columns=None)


def test_a_header_at_the_longest_allowed_still_parses():
    columns = [f"c{index:02d}" + "x" * 96 for index in range(100)]
    header = ",".join(columns)
    assert len(header) <= MAX_HEADER_LINE_CHARS

    parsed = parse_task_csv(
        header + "\n" + ",".join("v" for _ in columns) + "\n", required_columns=[], expected_columns=None
    )

    assert parsed.columns == columns


def test_a_data_line_longer_than_any_valid_row_is_refused():
    text = "review\n" + "," * (MAX_LINE_CHARS + 1) + "\n"

    with pytest.raises(TaskCsvInvalid, match="Row 2 is longer than"):
        parse_task_csv(text, required_columns=[], expected_columns=None)


def test_a_header_spread_over_many_lines_by_quoted_line_breaks_is_bounded_as_one_row():
    """Each line short, the row huge: a quote left open at each line's end carries the row on to the next."""
    text = ',"\n",'.join("," * 9_000 for _ in range(200)) + "\nx\n"

    with pytest.raises(TaskCsvInvalid, match="Row 1: the header row is longer than"):
        parse_task_csv(text, required_columns=[], expected_columns=None)


def test_a_data_row_spread_over_many_lines_is_bounded_as_one_row():
    text = "review\n" + ',"\n",'.join("," * 900_000 for _ in range(3)) + "\n"

    with pytest.raises(TaskCsvInvalid, match="Row 2 is longer than"):
        parse_task_csv(text, required_columns=[], expected_columns=None)


def test_quoted_line_breaks_and_escaped_quotes_in_cells_still_parse():
    text = 'review,notes\n"line one\nline two","she said ""hi""\nthen left"\nplain,"a, b"\n'

    parsed = parse_task_csv(text, required_columns=[], expected_columns=None)

    assert parsed.rows == [
        {"review": "line one\nline two", "notes": 'she said "hi"\nthen left'},
        {"review": "plain", "notes": "a, b"},
    ]


# Placeholders -------------------------------------------------------------------------------------------------------


def test_a_prompt_may_use_placeholders_twenty_times_and_a_template_a_hundred(requester):
    """Each use repeats a task value of up to 10,000 characters on every view: 400 uses made a 5.6 MB page."""
    job = draft(requester)
    fields = [{"name": "a", "kind": "short_text", "label": "A"}]
    services.job_set_builder_form(job=job, actor=requester, prompt="{{review}} " * 20, fields=fields)
    with pytest.raises(InvalidInput, match="uses placeholders 21 times; at most 20"):
        services.job_set_builder_form(job=job, actor=requester, prompt="{{review}} " * 21, fields=fields)

    services.job_set_html_template(job=job, actor=requester, html_template="<input name='a'>" + "${review}" * 100)
    with pytest.raises(InvalidInput, match="uses placeholders 101 times; at most 100"):
        services.job_set_html_template(job=job, actor=requester, html_template="<input name='a'>" + "${review}" * 101)
