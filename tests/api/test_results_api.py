"""Aggregated results over API v1 and in the results CSV: GET /jobs/{id}/results (the job's tasks with result,
confidence and agreement), the task_result of a requester's assignments, and the CSV's Result.*, Confidence.* and
Agreement columns. Each read costs the same queries however many tasks there are."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from api.api import api
from marketplace.services import job_publish
from tasks import overlap, quality
from tasks.models import Task
from tasks.services import assignment_claim, assignment_submit
from tests.factories import (
    answer_data,
    make_job,
    make_many_submitted_assignments,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db


def aggregated(job, *, sentiments=("Positive", "Positive", "Negative")) -> Task:
    """The job's first task answered with `sentiments` and aggregated."""
    for sentiment in sentiments:
        make_submitted_assignment(job=job, sentiment=sentiment)
    task = Task.objects.get(job=job, position=1)
    overlap.task_result_update(task_id=task.pk)
    return task


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_results_list_the_tasks_with_their_aggregated_answers(requester_api, requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    task = aggregated(job)

    response = requester_api.get(f"/jobs/{job.public_id}/results")

    assert response.status_code == 200, response.content
    items = {item["id"]: item for item in response.json()["items"]}
    assert items[task.public_id] == {
        "id": task.public_id,
        "position": 1,
        "input": {"review": "Review number 1"},
        "answers_wanted": 3,
        "result": {
            "result": {"sentiment": "Positive", "notes": ""},
            "confidence": {"sentiment": pytest.approx(2 / 3), "notes": 1.0},
            "agreement": pytest.approx(2 / 3),
            "answer_count": 3,
            "complete": True,
        },
    }
    other = next(item for public_id, item in items.items() if public_id != task.public_id)
    assert other["result"] is None


def test_dynamic_overlap_shows_the_answers_a_task_wants_so_far(requester_api, requester):
    job = make_job(requester=requester, tasks=1, assignments_per_task=4, publish=False)
    quality.job_quality_set(job=job, actor=requester, overlap_start=2, agreement_percent=80)
    job_publish(job=job, actor=requester)
    aggregated(job, sentiments=("Positive", "Negative"))  # they disagree: one more

    [item] = requester_api.get(f"/jobs/{job.public_id}/results").json()["items"]
    assert (item["answers_wanted"], item["result"]["complete"], item["result"]["agreement"]) == (3, False, 0.5)


def test_a_requesters_assignments_carry_their_tasks_result(requester_api, requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    aggregated(job)
    make_submitted_assignment(job=job)  # task 2: not aggregated yet

    items = requester_api.get(f"/jobs/{job.public_id}/assignments").json()["items"]

    by_task = {}
    for item in items:
        by_task.setdefault(item["task_id"], []).append(item["task_result"])
    results = sorted(by_task.values(), key=len)
    assert results[0] == [None]
    assert {result["result"]["sentiment"] for result in results[1]} == {"Positive"}
    assert all(result["agreement"] == pytest.approx(2 / 3) for result in results[1])


def test_results_of_someone_elses_job_are_not_found(stranger_api, requester):
    job = make_job(requester=requester)
    assert stranger_api.get(f"/jobs/{job.public_id}/results").status_code == 404


def test_the_openapi_document_describes_the_results():
    document = api.get_openapi_schema()
    assert "/api/v1/jobs/{job_id}/results" in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"result", "confidence", "agreement", "answer_count", "complete"} <= set(
        schemas["TaskResultOut"]["properties"]
    )
    assert "task_result" in schemas["AssignmentOut"]["properties"]


def queries_of(action) -> int:
    with CaptureQueriesContext(connection) as context:
        action()
    return len(context.captured_queries)


def test_the_results_cost_the_same_queries_however_many_tasks(requester_api, requester):
    small = make_job(requester=requester, tasks=2, assignments_per_task=2)
    big = make_job(requester=requester, tasks=40, assignments_per_task=2)
    requester_api.get("/jobs")  # the key's first use of the test is recorded once
    counts = []
    for job in (small, big):
        for assignment in make_many_submitted_assignments(job=job, count=job.task_count):
            overlap.task_result_update(task_id=assignment.task_id)
        counts.append(
            (
                queries_of(lambda job=job: requester_api.get(f"/jobs/{job.public_id}/results")),
                queries_of(lambda job=job: requester_api.get(f"/jobs/{job.public_id}/assignments")),
            )
        )
    assert (
        counts[0] == counts[1] == (4, 4)
    )  # the key, the job, its tags, the page (tasks or assignments with their results)


# The results CSV ---------------------------------------------------------------------------------------------------


def test_the_csv_has_result_confidence_and_agreement_columns(client, requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    aggregated(job)
    make_submitted_assignment(job=job, worker=make_user(), sentiment="Mixed")  # task 2, no result yet
    client.force_login(requester)

    rows = csv_rows(client.get(reverse("results_csv", args=[job.public_id])))

    assert list(rows[0])[-5:] == [
        "Result.sentiment",
        "Result.notes",
        "Confidence.sentiment",
        "Confidence.notes",
        "Agreement",
    ]
    first, second = [row for row in rows if row["TaskNumber"] == "1"], [row for row in rows if row["TaskNumber"] == "2"]
    assert len(first) == 3
    for row in first:  # the task's result repeats on each of its assignments' rows
        assert (row["Result.sentiment"], row["Confidence.sentiment"], row["Agreement"]) == (
            "Positive",
            "0.666667",
            "0.666667",
        )
        assert (row["Result.notes"], row["Confidence.notes"]) == ("", "1")
    assert [(row["Result.sentiment"], row["Confidence.sentiment"], row["Agreement"]) for row in second] == [
        ("", "", "")
    ]


def test_the_csv_writes_all_answers_as_a_list_and_escapes_formulas(client, requester):
    job = make_job(requester=requester, tasks=1, assignments_per_task=2, publish=False)
    quality.job_quality_set(job=job, actor=requester, text_aggregation="all")
    job_publish(job=job, actor=requester)
    for note in ("=1+1", "fine"):
        worker = make_user()
        claimed = assignment_claim(job=job, worker=worker)
        assignment_submit(assignment=claimed, worker=worker, data=answer_data("Positive", note))
    overlap.task_result_update(task_id=Task.objects.get(job=job).pk)
    client.force_login(requester)

    rows = csv_rows(client.get(reverse("results_csv", args=[job.public_id])))

    assert {row["Result.notes"] for row in rows} == {'["=1+1", "fine"]'}
    assert {row["Result.sentiment"] for row in rows} == {"Positive"}


def test_a_result_that_looks_like_a_formula_is_escaped(client, requester):
    job = make_job(requester=requester, tasks=1, assignments_per_task=1)
    worker = make_user()
    claimed = assignment_claim(job=job, worker=worker)
    assignment_submit(assignment=claimed, worker=worker, data=answer_data("Positive", "=HYPERLINK(1)"))
    overlap.task_result_update(task_id=claimed.task_id)
    client.force_login(requester)
    [row] = csv_rows(client.get(reverse("results_csv", args=[job.public_id])))
    assert row["Result.notes"] == "'=HYPERLINK(1)"
