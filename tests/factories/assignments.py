"""Assignments: claimed, submitted (one by one or many at once in bulk) and approved, which is how workers earn."""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from marketplace.models import Job, User
from tasks.models import Assignment, AssignmentStatus, Task
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.factories.jobs import make_job
from tests.factories.users import make_user, unique_number


def answer_data(sentiment: str = "Positive", notes: str = "") -> dict[str, str]:
    """POST data for the SENTIMENT_FIELDS answer form, as a worker's browser sends it."""
    return {"answer-sentiment": sentiment, "answer-notes": notes}


def make_claimed_assignment(*, job: Job, worker: User | None = None) -> Assignment:
    return assignment_claim(job=job, worker=worker or make_user())


def make_submitted_assignment(*, job: Job, worker: User | None = None, sentiment: str = "Positive") -> Assignment:
    worker = worker or make_user()
    assignment = assignment_claim(job=job, worker=worker)
    return assignment_submit(assignment=assignment, worker=worker, data=answer_data(sentiment))


def make_many_submitted_assignments(*, job: Job, count: int, answer: dict | None = None) -> list[Assignment]:
    """`count` submitted assignments, one per task from the first, by new workers, inserted in bulk.

    For pages and exports measured at scale: rows as the services would leave them (slots taken, answers valid),
    without paying for `count` claims and submits. Needs `count` tasks with an open slot each.
    """
    now = timezone.now()
    tasks = list(Task.objects.filter(job=job, slots_open__gt=0).order_by("position")[:count])
    assert len(tasks) == count, "not enough open tasks"
    number = unique_number()
    workers = User.objects.bulk_create(
        User(username=f"bulk{number}_{n}", email=f"bulk{number}_{n}@example.com") for n in range(count)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            task=task,
            job=job,
            worker=worker,
            status=AssignmentStatus.SUBMITTED,
            accepted_at=now,
            deadline_at=now,
            submitted_at=now,
            auto_approve_at=now + timedelta(seconds=job.auto_approve_seconds),
            answer=answer or {"sentiment": "Positive", "notes": ""},
        )
        for task, worker in zip(tasks, workers, strict=True)
    )
    Task.objects.filter(pk__in=[task.pk for task in tasks]).update(slots_open=F("slots_open") - 1)
    Job.objects.filter(pk=job.pk).update(
        open_slot_count=F("open_slot_count") - count, live_assignment_count=F("live_assignment_count") + count
    )
    return assignments


def give_earnings(worker: User, amount_msat: int, *, requester: User | None = None) -> Assignment:
    """Earn `amount_msat` (at least 1 sat) the way workers do: a one-task job with that reward, done and approved.

    Returns the approved assignment (its job's requester can pay the worker a bonus). Enqueues the worker's payout
    on commit, as approval does.
    """
    requester = requester or make_user()
    job = make_job(requester=requester, tasks=1, reward_msat=amount_msat, title=f"Paid task {unique_number()}")
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(assignment=assignment, reviewer=requester, approve=True)
