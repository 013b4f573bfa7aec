"""JSON costs tens of times its size in Python objects (an adversarial review measured a 21 MB body of empty objects
taking a gunicorn worker from 104 MB to 920 MB): the API parses small bodies only, and checks the shape of a task
import, the one large body, before parsing it."""

import json

import pytest

from tasks.models import Task
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_a_json_body_larger_than_the_limit_is_refused_before_it_is_parsed(settings, requester_api):
    settings.API_MAX_JSON_BODY_BYTES = 10_000
    body = {"title": "T", "description": "x" * 20_000, "reward_msat": 10_000, "form": None}

    response = requester_api.post("/jobs", body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_task_import_of_more_objects_than_tasks_can_have_is_refused_before_it_is_parsed(
    settings, requester_api, requester
):
    settings.TASK_CSV_MAX_ROWS = 100_000
    job = make_job(requester=requester, tasks=0, publish=False)
    body = b'{"tasks":[' + b",".join([b'{"input":{}}'] * 100_001) + b"]}"

    response = requester_api.post(f"/jobs/{job.public_id}/tasks", body, content_type="application/json")

    assert response.status_code == 400
    assert "at most 100,000 tasks" in response.json()["error"]["message"]


def test_junk_arrays_in_a_task_import_are_refused_before_parsing(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    body = b'{"tasks":[{"input":{"review":"a"}}],"junk":[' + b",".join([b"[]"] * 50_000) + b"]}"

    response = requester_api.post(f"/jobs/{job.public_id}/tasks", body, content_type="application/json")

    assert response.status_code == 400
    assert not Task.objects.filter(job=job).exists()


def test_braces_and_brackets_inside_task_values_are_just_text(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    tasks = [{"input": {"review": '{"nested": [1, 2, {"x": "]"}]} \\" {{'}} for _ in range(3)]

    response = requester_api.post(
        f"/jobs/{job.public_id}/tasks", json.dumps({"tasks": tasks}).encode(), content_type="application/json"
    )

    assert response.status_code == 201, response.content
    assert Task.objects.filter(job=job).count() == 3
