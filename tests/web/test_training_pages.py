"""The pages of known answers and training (issue 12): the requester's known answers of a task (web/training_views.py),
and a worker's training page of a job: the next training task, the correct answer after each, the score, the retake
after 24 hours; unpaid, with no money moved."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import services as job_services
from marketplace.models import Job
from payments.ledger import ledger_check
from payments.models import LedgerTransaction
from tasks import services, training
from tasks.controls import TrainingRequired
from tasks.models import JobQuality, Task, TaskKind, TrainingAnswer, WorkerJobAccuracy
from tests.factories import make_html_job, make_job, make_user
from tests.html_parsing import visible_text

pytestmark = pytest.mark.django_db


def training_job(*, requester=None, pass_percent: int | None = 100) -> Job:
    """A published job of two regular tasks and two training tasks (known sentiments Positive, then Negative)."""
    job = make_job(requester=requester, tasks=0, publish=False)
    csv_text = (
        "review,Training,Gold.sentiment\nReal one,,\nReal two,,\nPractice A,yes,Positive\nPractice B,yes,Negative\n"
    )
    services.tasks_add_from_csv(job=job, actor=job.requester, csv_text=csv_text)
    if pass_percent is not None:
        JobQuality.objects.create(job=job, training_pass_percent=pass_percent)
    job_services.job_publish(job=job, actor=job.requester)
    job.refresh_from_db()
    return job


def answer(client, job: Job, sentiment: str):
    """Answer the training task the page shows, as a worker's browser posts it."""
    page = client.get(reverse("job_training", args=[job.public_id]))
    task = page.context["task"]
    return client.post(
        reverse("job_training", args=[job.public_id]),
        {"task": task.public_id, "answer-sentiment": sentiment, "answer-notes": ""},
    )


def test_a_worker_trains_sees_each_correct_answer_fails_retakes_a_day_later_and_passes(worker_client, worker):
    job = training_job()
    page = worker_client.get(f"/jobs/{job.public_id}/").content.decode()
    assert "Do this job's training first" in visible_text(page)
    assert f'href="/jobs/{job.public_id}/training/"' in page
    transactions = LedgerTransaction.objects.count()

    first = worker_client.get(reverse("job_training", args=[job.public_id]))
    text = visible_text(first.content.decode())
    assert "Training task 1 of 2." in text
    assert "Practice A" in text
    assert "Positive" in text  # a choice of the form, not the answer: nothing says which is right yet
    assert "The correct answer" not in text

    response = answer(worker_client, job, "Negative")  # wrong
    assert response.status_code == 302
    feedback = visible_text(worker_client.get(response["Location"]).content.decode())
    assert "Not quite Your answer sentiment Negative" in feedback
    assert "The correct answer sentiment Positive" in feedback
    assert "Training task 2 of 2." in feedback

    response = answer(worker_client, job, "Negative")  # right
    done = visible_text(worker_client.get(response["Location"]).content.decode())
    assert "Right Your answer sentiment Negative" in done
    assert "Your score: 50%" in done
    assert "The job asks for 100%. You can take the training again from" in done
    with pytest.raises(TrainingRequired):
        services.assignment_claim(job=job, worker=worker)

    refused = worker_client.post(reverse("job_training", args=[job.public_id]), {"restart": "1"}, follow=True)
    assert "You can take this training again from" in visible_text(refused.content.decode())
    assert TrainingAnswer.objects.filter(worker=worker).count() == 2

    TrainingAnswer.objects.filter(worker=worker).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = visible_text(worker_client.get(reverse("job_training", args=[job.public_id])).content.decode())
    assert "Take the training again" in again
    worker_client.post(reverse("job_training", args=[job.public_id]), {"restart": "1"})
    assert TrainingAnswer.objects.filter(worker=worker).count() == 0  # only the latest attempt is kept

    answer(worker_client, job, "Positive")
    response = answer(worker_client, job, "Negative")
    passed = visible_text(worker_client.get(response["Location"]).content.decode())
    assert "Your score: 100%" in passed
    assert "You passed this job's training: you can take its tasks." in passed
    row = WorkerJobAccuracy.objects.get(worker=worker, job=job)
    assert (row.training_score, row.training_passed_at is not None) == (100, True)
    assert services.assignment_claim(job=job, worker=worker).task.kind == TaskKind.REGULAR

    # Unpaid: no assignment for a training task and not one ledger transaction for all of it.
    assert LedgerTransaction.objects.count() == transactions
    assert ledger_check() == []


def test_a_training_answer_counts_once_and_is_checked_by_the_form(worker_client, worker):
    job = training_job()
    page = worker_client.get(reverse("job_training", args=[job.public_id]))
    task = page.context["task"]
    url = reverse("job_training", args=[job.public_id])
    invalid = worker_client.post(url, {"task": task.public_id, "answer-sentiment": "Sideways"})
    assert invalid.status_code == 400
    assert "Select a valid choice" in invalid.content.decode()
    for _ in range(2):
        worker_client.post(url, {"task": task.public_id, "answer-sentiment": "Positive"})
    assert TrainingAnswer.objects.filter(worker=worker).count() == 1
    with pytest.raises(Exception, match="already answered"):
        training.training_answer_submit(job=job, worker=worker, task_id=task.public_id, data={})
    regular = Task.objects.filter(job=job, kind=TaskKind.REGULAR).first()
    refused = worker_client.post(url, {"task": regular.public_id, "answer-sentiment": "Positive"}, follow=True)
    assert "No such training task in this job." in refused.content.decode()


def test_training_without_a_pass_mark_is_practice(worker_client, worker):
    job = training_job(pass_percent=None)
    assert services.assignment_claim(job=job, worker=worker)  # nothing is asked
    answer(worker_client, job, "Positive")
    response = answer(worker_client, job, "Positive")
    text = visible_text(worker_client.get(response["Location"]).content.decode())
    assert "Your score: 50%" in text
    assert "Take the training again" in text  # at once


def test_a_job_without_training_has_no_training_page(worker_client):
    job = make_job(tasks=1)
    assert worker_client.get(reverse("job_training", args=[job.public_id])).status_code == 404


def test_the_requester_is_sent_to_their_task_list(requester_client, requester):
    job = training_job(requester=requester)
    response = requester_client.get(reverse("job_training", args=[job.public_id]))
    assert response["Location"] == reverse("job_tasks", args=[job.public_id])


def test_an_html_template_jobs_training_runs_in_its_sandbox(worker_client, worker):
    job = make_html_job(rows=[], publish=False)
    csv_text = "review,Training,Gold.sentiment\nGreat,,\n<b>Lovely</b>,yes,Positive\n"
    services.tasks_add_from_csv(job=job, actor=job.requester, csv_text=csv_text)
    JobQuality.objects.create(job=job, training_pass_percent=100)
    job_services.job_publish(job=job, actor=job.requester)
    page = worker_client.get(reverse("job_training", args=[job.public_id]))
    task = page.context["task"]
    assert f'src="/jobs/{job.public_id}/training/frame/?task={task.public_id}"' in page.content.decode()
    frame = worker_client.get(f"/jobs/{job.public_id}/training/frame/?task={task.public_id}")
    assert "sandbox" in frame["Content-Security-Policy"]
    assert "&lt;b&gt;Lovely&lt;/b&gt;" in frame.content.decode()
    regular = Task.objects.get(job=job, kind=TaskKind.REGULAR)
    assert worker_client.get(f"/jobs/{job.public_id}/training/frame/?task={regular.public_id}").status_code == 404
    response = worker_client.post(
        reverse("job_training", args=[job.public_id]),
        {"task": task.public_id, "answer_json": '{"sentiment": "Positive", "notes": ""}'},
    )
    assert response.status_code == 302
    row = WorkerJobAccuracy.objects.get(worker=worker, job=job)
    assert (row.training_score, row.training_passed_at is not None) == (100, True)


# The requester's known answers of a task ----------------------------------------------------------------------


def test_the_requester_makes_a_task_a_control_and_a_regular_task_again(requester_client, requester):
    job = make_job(requester=requester, tasks=2)
    task = job.tasks.order_by("position").first()
    edit = requester_client.get(reverse("job_task_edit", args=[job.public_id, task.public_id])).content.decode()
    url = reverse("job_task_known_answers", args=[job.public_id, task.public_id])
    assert f'href="{url}"' in edit
    page = requester_client.get(url)
    assert page.status_code == 200
    response = requester_client.post(url, {"gold-sentiment": "Mixed", "gold-notes": "  "})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.kind, task.gold) == (TaskKind.CONTROL, {"sentiment": "Mixed"})
    edit = visible_text(requester_client.get(response["Location"]).content.decode())
    assert "A control, paid like any task" in edit
    assert "sentiment Mixed" in edit
    listing = visible_text(requester_client.get(reverse("job_tasks", args=[job.public_id])).content.decode())
    assert "1 Control" in listing

    wrong = requester_client.post(url, {"gold-notes": "only notes"})
    assert wrong.status_code == 200
    assert "needs one for every required answer field" in wrong.content.decode()
    requester_client.post(url, {"gold-sentiment": "", "gold-notes": ""})
    task.refresh_from_db()
    assert (task.kind, task.gold) == (TaskKind.REGULAR, {})


def test_a_taken_task_shows_its_known_answers_without_a_form(requester_client, requester):
    job = make_job(requester=requester, tasks=1, publish=False)
    task = job.tasks.get()
    services.task_known_answers_set(job=job, actor=requester, task_id=task.public_id, gold={"sentiment": "Negative"})
    job_services.job_publish(job=job, actor=requester)
    services.assignment_claim(job=job, worker=make_user())
    url = reverse("job_task_known_answers", args=[job.public_id, task.public_id])
    page = requester_client.get(url).content.decode()
    assert "A worker has taken this task, so its known answers can no longer change." in page
    assert 'name="gold-sentiment"' not in page
    refused = requester_client.post(url, {"gold-sentiment": "Positive"})
    assert "already taken this task" in refused.content.decode()
    task.refresh_from_db()
    assert task.gold == {"sentiment": "Negative"}


def test_another_requesters_task_is_not_found(client, requester):
    job = make_job(requester=requester, tasks=1)
    task = job.tasks.get()
    client.force_login(make_user())
    assert client.get(reverse("job_task_known_answers", args=[job.public_id, task.public_id])).status_code == 404
