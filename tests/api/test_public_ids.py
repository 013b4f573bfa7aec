"""Opaque public ids: jobs, tasks, assignments, payouts, deposits, bonuses and withdraw links are named by 30 random
characters and workers by `A` and 13 more, the same string in pages, API v1, webhooks and the results CSV; primary
keys never leave the server."""

import base64
import csv
import io
import json
import re

import pytest
from django.db import connection
from django.urls import reverse

from api.webhooks import webhook_deliver, webhook_deliveries_due, webhook_endpoint_create
from core.events import Actor, record_event
from core.ids import is_public_id, is_worker_id, new_public_id, new_worker_id
from core.migration_operations import add_public_ids
from core.models import Event
from marketplace.models import Job, User
from payments import deposits, withdraw
from payments.lightning import get_backend
from payments.models import Bonus, Deposit, WithdrawLink
from tasks import bonuses
from tasks import services as task_services
from tasks.models import Assignment, Task
from tests.api.conftest import api_client_for
from tests.factories import (
    answer_data,
    give_earnings,
    make_html_job,
    make_job,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db

PUBLIC_ID = re.compile(r"[0-9A-Z]{30}")
WORKER_ID = re.compile(r"A[0-9A-Z]{13}")


def test_new_ids_have_mechanical_turks_shape_and_never_repeat():
    ids = {new_public_id() for _ in range(20_000)}
    workers = {new_worker_id() for _ in range(20_000)}
    assert len(ids) == len(workers) == 20_000
    assert all(PUBLIC_ID.fullmatch(value) for value in ids)
    assert all(WORKER_ID.fullmatch(value) for value in workers)
    assert all(map(is_public_id, ids))
    assert all(map(is_worker_id, workers))


@pytest.mark.parametrize(
    "value", ["", "1", "12345", "a" * 30, "Z" * 29, "Z" * 31, "Z" * 29 + "\x00", "Z" * 29 + "é", None, 12345]
)
def test_anything_else_is_not_an_id(value):
    assert not is_public_id(value)
    assert not is_worker_id(value)


def test_every_exposed_row_gets_its_own_id_when_it_is_made(requester):
    job = make_job(requester=requester, tasks=3)
    worker = make_user()
    assignment = make_submitted_assignment(job=job, worker=worker)
    task_services.assignment_review(assignment=assignment, reviewer=requester, approve=True)
    bonus = bonuses.bonus_pay(requester=requester, worker_id=worker.public_id, amount_msat=2_000, reason="Thanks")
    deposit = deposits.deposit_create(user=requester, amount_msat=50_000)
    link = withdraw.withdraw_link_create(worker=worker)

    for model in (Job, Task, Assignment, Bonus, Deposit, WithdrawLink):
        values = list(model.objects.values_list("public_id", flat=True))
        assert values, model
        assert all(PUBLIC_ID.fullmatch(value) for value in values), model
        assert len(set(values)) == len(values)
    assert all(WORKER_ID.fullmatch(value) for value in User.objects.values_list("public_id", flat=True))
    assert PUBLIC_ID.fullmatch(bonus.public_id)
    assert PUBLIC_ID.fullmatch(deposit.public_id)
    assert PUBLIC_ID.fullmatch(link.public_id)


def test_tasks_added_in_bulk_each_get_an_id(requester):
    job = make_job(requester=requester, tasks=50)
    values = list(Task.objects.filter(job=job).values_list("public_id", flat=True))
    assert len(set(values)) == 50
    assert all(PUBLIC_ID.fullmatch(value) for value in values)


def test_the_backfill_gives_rows_made_before_the_migration_their_ids(requester):
    """The migration's RunPython: rows whose id is empty get one each, in batches; rows that have one keep it."""
    job = make_job(requester=requester, tasks=3)
    kept = job.public_id

    class HistoricalApps:
        def get_model(self, app_label, model_name):
            return Task

    tasks = list(Task.objects.filter(job=job).order_by("position"))
    with connection.cursor() as cursor:  # as before the migration (DDL is undone with the test's transaction)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tasks_task ALTER COLUMN public_id DROP NOT NULL")
    Task.objects.filter(pk__in=[task.pk for task in tasks[:2]]).update(public_id=None)
    _added, backfill, _required = add_public_ids("tasks", ["Task"])
    backfill.code(HistoricalApps(), None)

    refreshed = list(Task.objects.filter(job=job).order_by("position").values_list("public_id", flat=True))
    assert all(PUBLIC_ID.fullmatch(value) for value in refreshed)
    assert refreshed[2] == tasks[2].public_id
    assert len(set(refreshed)) == 3
    assert Job.objects.get(pk=job.pk).public_id == kept


def test_one_assignment_has_one_id_in_the_pages_the_api_the_webhooks_and_the_csv(requester, receiver, client):
    job = make_job(requester=requester, tasks=2)
    webhook_endpoint_create(user=requester, url=receiver.url)
    worker = make_user()
    worker_api = api_client_for(worker)

    claimed = worker_api.post(f"/jobs/{job.public_id}/claim")
    assert claimed.status_code == 201
    body = claimed.json()
    assignment_id = body["id"]
    assert (body["job_id"], PUBLIC_ID.fullmatch(body["task_id"]) is not None) == (job.public_id, True)
    assignment = Assignment.objects.get(public_id=assignment_id)

    client.force_login(worker)
    page = client.get(reverse("assignment_detail", args=[assignment_id]))
    assert page.status_code == 200
    assert assignment_id in page.content.decode()
    assert worker.public_id in page.content.decode()
    submitted = client.post(reverse("assignment_submit", args=[assignment_id]), answer_data())
    assert submitted.status_code == 302

    requester_api = api_client_for(requester)
    listed = requester_api.get(f"/jobs/{job.public_id}/assignments").json()["items"]
    assert [(item["id"], item["worker_id"]) for item in listed] == [(assignment_id, worker.public_id)]

    for delivery_id in webhook_deliveries_due():
        webhook_deliver(delivery_id=delivery_id)
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "assignment.submitted"
    assert payload["data"]["assignment_id"] == assignment_id
    assert payload["data"]["job_id"] == job.public_id
    assert payload["data"]["worker_id"] == worker.public_id
    assert payload["data"]["task_id"] == assignment.task.public_id

    client.force_login(requester)
    review = client.get(reverse("review_queue", args=[job.public_id])).content.decode()
    assert assignment_id in review
    assert worker.public_id in review
    export = client.get(reverse("results_csv", args=[job.public_id]))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(row["AssignmentId"], row["WorkerId"]) for row in rows] == [(assignment_id, worker.public_id)]
    assert job.public_id in export["Content-Disposition"]


def test_no_api_answer_carries_a_primary_key(requester):
    job = make_job(requester=requester, tasks=2)
    worker = make_user()
    give_earnings(worker, 20_000, requester=requester)
    assignment = make_submitted_assignment(job=job, worker=worker)
    requester_api, worker_api = api_client_for(requester), api_client_for(worker)
    answers = [
        requester_api.get("/me").json(),
        requester_api.get(f"/jobs/{job.public_id}").json(),
        requester_api.get("/jobs").json(),
        requester_api.get(f"/jobs/{job.public_id}/assignments").json(),
        requester_api.post(f"/assignments/{assignment.public_id}/approve").json(),
        requester_api.post(
            "/bonuses", {"worker_id": worker.public_id, "amount_msat": 1_000, "reason": "Thanks"}
        ).json(),
        requester_api.post("/deposits", {"amount_msat": 20_000}).json(),
        worker_api.get("/board").json(),
        worker_api.get("/payouts").json(),
    ]
    ids = list(_values_named_id(answers))
    assert len(ids) > 10
    for name, value in ids:
        assert isinstance(value, str), (name, value)
        assert PUBLIC_ID.fullmatch(value) or WORKER_ID.fullmatch(value), (name, value)
        if name == "worker_id":
            assert WORKER_ID.fullmatch(value), value


def _values_named_id(value, name=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _values_named_id(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _values_named_id(item, name)
    elif (name == "id" or name.endswith("_id")) and value is not None:
        yield name, value


def test_a_primary_key_in_place_of_an_id_finds_nothing(requester, client):
    job = make_job(requester=requester, tasks=1)
    assignment = make_submitted_assignment(job=job)
    requester_api = api_client_for(requester)
    assert requester_api.get(f"/jobs/{job.pk}").status_code == 404
    assert requester_api.post(f"/assignments/{assignment.pk}/approve").status_code == 404
    assert requester_api.post("/assignments/review", {"approve": [str(assignment.pk)]}).status_code == 404
    client.force_login(requester)
    assert client.get(f"/requester/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert Assignment.objects.get(pk=assignment.pk).status == "submitted"


def test_events_name_their_subjects_by_public_id(requester):
    assignment = make_submitted_assignment(job=make_job(requester=requester, tasks=1))
    task_services.assignment_review(assignment=assignment, reviewer=requester, approve=True)
    events = Event.objects.filter(subject_type__in=["assignment", "job"])
    assert {event.subject_id for event in events} == {assignment.public_id, assignment.job.public_id}


def test_the_api_cursor_holds_no_primary_key(requester):
    for _ in range(3):
        make_job(requester=requester, tasks=1, publish=False)
    page = api_client_for(requester).get("/jobs", limit=1).json()
    decoded = base64.urlsafe_b64decode(page["next"] + "=" * (-len(page["next"]) % 4)).decode()
    assert PUBLIC_ID.fullmatch(decoded)
    assert decoded == page["items"][0]["id"]


def test_the_webhook_form_names_jobs_by_public_id(requester, client):
    job = make_job(requester=requester, tasks=1)
    client.force_login(requester)
    page = client.get(reverse("api_settings")).content.decode()
    assert f'<option value="{job.public_id}">' in page
    assert f'<option value="{job.pk}">' not in page


def test_the_activity_page_never_shows_an_events_primary_key(requester, client):
    """Events recorded before public ids existed name their subject by primary key; the page leaves it out."""
    job = make_job(requester=requester, tasks=1)
    record_event(
        type="job.paused", actor=Actor.of(requester), subject=("job", 7770001), audience=[requester.pk], data={}
    )
    client.force_login(requester)
    page = client.get(reverse("activity")).content.decode()
    assert "7770001" not in page
    assert job.public_id in page


def test_the_statement_names_deposits_by_public_id(requester, client):
    deposit = deposits.deposit_create(user=requester, amount_msat=50_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
    deposits.deposit_refresh(deposit=deposit)
    client.force_login(requester)
    page = client.get(reverse("wallet")).content.decode()
    assert f"Deposit {deposit.public_id}" in page
    assert f"Deposit {deposit.pk}<" not in page


def test_one_malformed_id_in_a_bulk_review_from_the_page_reviews_nothing(requester, client):
    job = make_job(requester=requester, tasks=2)
    assignment = make_submitted_assignment(job=job)
    client.force_login(requester)
    response = client.post(
        reverse("review_queue", args=[job.public_id]),
        {"selected": [assignment.public_id, "zzz"], "decision": "approve"},
    )
    assert response.status_code == 302
    assert Assignment.objects.get(pk=assignment.pk).status == "submitted"


@pytest.mark.parametrize("position", ["²", "1" * 40, "-1", "x"])
def test_a_strange_preview_position_shows_the_first_task(requester, client, position):
    job = make_job(requester=requester, tasks=2, publish=False)
    # Only a job whose tasks are HTML has a frame (a form builder job's answers its frame with 404).
    html_job = make_html_job(requester=requester, publish=False)
    client.force_login(requester)
    assert client.get(reverse("job_preview", args=[job.public_id]), {"task": position}).status_code == 200
    frame = client.get(reverse("job_preview_frame", args=[html_job.public_id]), {"task": position})
    assert frame.status_code == 200
