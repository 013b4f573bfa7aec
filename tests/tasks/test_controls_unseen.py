"""A worker cannot tell a control from a regular task (issue 12): the task page, the API's objects, the ids and URLs
are the same but for the ids themselves, and nothing of the known answers or the kind reaches them. (The claim's
query count, the same for both, is in tests/tasks/test_controls.py.)"""

import re

import pytest
from django.test import Client
from django.utils import timezone

from marketplace import services as job_services
from tasks import services
from tasks.models import Assignment, Task, TaskKind
from tests.api.conftest import api_client_for
from tests.factories import answer_data, make_job, make_user

pytestmark = pytest.mark.django_db

GOLD_NOTE = "zebra-kw-917"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
FORM_TOKEN = re.compile(r'name="form_token" value="[^"]+"')
HTMX_CSRF = re.compile(r'"X-CSRFToken": "[^"]+"')


@pytest.fixture
def twin_job():
    """A published job of two tasks with the same input: the first regular, the second a control."""
    job = make_job(tasks=0, publish=False, reward_msat=21_000)
    csv_text = f"review,Gold.sentiment,Gold.notes\nThe same review,,\nThe same review,Negative,{GOLD_NOTE}\n"
    services.tasks_add_from_csv(job=job, actor=job.requester, csv_text=csv_text)
    job_services.job_publish(job=job, actor=job.requester)
    assert list(job.tasks.order_by("position").values_list("kind", flat=True)) == ["regular", "control"]
    return job


def normalised(text: str, assignment: Assignment, worker) -> str:
    """A page or JSON body with what differs between any two assignments (their ids, the worker's names, the
    one-time form tokens) replaced by placeholders."""
    for value, placeholder in [
        (assignment.public_id, "ASSIGNMENT"),
        (assignment.task.public_id, "TASK"),
        (worker.public_id, "WORKER"),
        (worker.username, "USERNAME"),
    ]:
        text = text.replace(value, placeholder)
    return HTMX_CSRF.sub("CSRF", FORM_TOKEN.sub("FORM_TOKEN", CSRF.sub("CSRF", text)))


def test_the_task_page_of_a_control_is_the_page_of_a_regular_task(twin_job):
    now = timezone.now()
    pages = []
    for name in ("aaaaaaaa", "bbbbbbbb"):  # names of one length: the header's layout is the same
        worker = make_user(name)
        assignment = services.assignment_claim(job=twin_job, worker=worker, now=now)
        client = Client()
        client.force_login(worker)
        response = client.get(f"/work/assignments/{assignment.public_id}/")
        assert response.status_code == 200
        page = response.content.decode()
        assert GOLD_NOTE not in page
        assert "Gold." not in page
        assert "control" not in page.lower()
        pages.append((assignment.task.kind, normalised(page, assignment, worker)))
    (first_kind, first), (second_kind, second) = pages
    assert (first_kind, second_kind) == (TaskKind.REGULAR, TaskKind.CONTROL)
    assert first == second


def test_the_apis_assignment_objects_are_the_same_for_a_control(twin_job):
    bodies = []
    for _ in range(2):
        worker = make_user()
        api = api_client_for(worker)
        claimed = api.post(f"/jobs/{twin_job.public_id}/claim")
        assert claimed.status_code == 201
        assignment = Assignment.objects.select_related("task").get(public_id=claimed.json()["id"])
        submitted = api.post(
            f"/assignments/{assignment.public_id}/submit", {"answer": {"sentiment": "Positive", "notes": ""}}
        )
        assert submitted.status_code == 200
        for response in (claimed, submitted):
            raw = response.content.decode()
            assert GOLD_NOTE not in raw
            assert "gold" not in raw.lower()
            assert "control" not in raw.lower()
            assert "kind" not in response.json()
        bodies.append((assignment.task.kind, claimed.json(), submitted.json()))
    (regular_kind, regular_claim, regular_submit), (control_kind, control_claim, control_submit) = bodies
    assert (regular_kind, control_kind) == (TaskKind.REGULAR, TaskKind.CONTROL)
    same_claim = {"id", "task_id", "deadline"}
    assert {k: v for k, v in regular_claim.items() if k not in same_claim} == {
        k: v for k, v in control_claim.items() if k not in same_claim
    }
    same_submit = {"id", "task_id", "deadline", "submitted_at"}
    assert {k: v for k, v in regular_submit.items() if k not in same_submit} == {
        k: v for k, v in control_submit.items() if k not in same_submit
    }
    # Ids of one kind and length, as any task's.
    assert len(regular_claim["task_id"]) == len(control_claim["task_id"]) == 30


def test_the_preview_and_the_worker_list_show_no_trace_of_a_control(twin_job):
    worker = make_user()
    client = Client()
    client.force_login(worker)
    preview = client.get(f"/jobs/{twin_job.public_id}/preview/").content.decode()
    control = Task.objects.get(job=twin_job, kind=TaskKind.CONTROL)
    assert control.public_id not in preview
    assert GOLD_NOTE not in preview
    for _ in range(2):
        assignment = services.assignment_claim(job=twin_job, worker=worker)
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data("Negative", GOLD_NOTE))
    for page in ("/work/", "/activity/"):
        text = client.get(page).content.decode()
        assert GOLD_NOTE not in text, page
        assert "control" not in text.lower(), page
