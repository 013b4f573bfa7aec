"""Tasks with known answers over API v1 (issue 12): `gold` and `kind` on POST /jobs/{id}/tasks, and Gold.<field> and
Training columns in a text/csv body; checked by the job's form like answers, all or nothing."""

import pytest

from tasks.models import Task, TaskKind
from tests.api.conftest import assert_error, short
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_tasks_with_gold_are_controls_and_training_tasks(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    body = {
        "tasks": [
            {"input": {"review": "Plain"}},
            {"input": {"review": "Checked"}, "gold": {"sentiment": "Negative", "notes": None}},
            {"input": {"review": "Practice"}, "kind": "training", "gold": {"sentiment": "Mixed", "notes": "meh"}},
            {"input": {"review": "Plain too"}, "kind": "regular"},
        ]
    }
    response = requester_api.post(f"/jobs/{job.public_id}/tasks", body)
    assert response.status_code == 201, short(response)
    assert response.json() == {"created": 4}
    tasks = list(Task.objects.filter(job=job).order_by("position"))
    assert [(task.kind, task.gold, task.slots_open) for task in tasks] == [
        (TaskKind.REGULAR, {}, 1),
        (TaskKind.CONTROL, {"sentiment": "Negative"}, 1),
        (TaskKind.TRAINING, {"sentiment": "Mixed", "notes": "meh"}, 0),
        (TaskKind.REGULAR, {}, 1),
    ]
    assert all(set(task.input) == {"review"} for task in tasks)
    job.refresh_from_db()
    assert job.task_count == 3


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"kind": "regular", "gold": {"sentiment": "Positive"}}, "Task 2: a regular task has no known answers"),
        ({"kind": "control"}, "Task 2: a control task needs its known answers in `gold`."),
        ({"kind": "training", "gold": {}}, "Task 2: a training task needs its known answers in `gold`."),
        (
            {"gold": {"sentiment": "Sideways"}},
            "Task 2, known answer “sentiment”: Select a valid choice. Sideways is not one of the available choices.",
        ),
        ({"gold": {"colour": "Red"}}, "Task 2: known answer “colour” names no answer field of the job"),
        ({"gold": {"notes": "x"}}, "needs one for every required answer field; known answer “sentiment” is empty"),
    ],
)
def test_bad_known_answers_are_400_naming_the_task_and_add_nothing(requester_api, requester, task, message):
    job = make_job(requester=requester, tasks=0, publish=False)
    body = {"tasks": [{"input": {"review": "Fine"}}, {"input": {"review": "Odd"}, **task}]}
    error = assert_error(requester_api.post(f"/jobs/{job.public_id}/tasks", body), 400, "validation_error")
    assert message in error["message"]
    assert not Task.objects.filter(job=job).exists()


def test_an_unknown_kind_is_400(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    body = {"tasks": [{"input": {"review": "Odd"}, "kind": "gold", "gold": {"sentiment": "Positive"}}]}
    assert_error(requester_api.post(f"/jobs/{job.public_id}/tasks", body), 400, "validation_error")


def test_a_csv_body_takes_gold_and_training_columns(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    body = "review,Gold.sentiment,Training\nPlain,,\nChecked,Positive,\nPractice,Mixed,yes\n"
    response = requester_api.post(f"/jobs/{job.public_id}/tasks", body, content_type="text/csv")
    assert response.status_code == 201, short(response)
    kinds = list(Task.objects.filter(job=job).order_by("position").values_list("kind", flat=True))
    assert kinds == ["regular", "control", "training"]


def test_junk_arrays_beside_known_answers_are_refused_before_parsing(requester_api, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    tasks = [{"input": {"review": f"r{n}"}, "gold": {"sentiment": "Positive"}} for n in range(3)]
    response = requester_api.post(f"/jobs/{job.public_id}/tasks", {"tasks": tasks, "junk": [[]] * 50})
    assert_error(response, 400, "validation_error")
    assert not Task.objects.filter(job=job).exists()
