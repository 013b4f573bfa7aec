"""A job's training (issue 12): its training tasks, answered unpaid on the job's training page before its real
tasks, each followed by the correct answer.

A training task has known answers like a control (tasks.controls) but is never claimed: no assignment, no slot,
no escrow, no ledger entry. A worker answers the job's training tasks in row order, once each per attempt; after
the last one their score (correct × 100 // tasks) is stored on their WorkerJobAccuracy row, with `training_passed_at`
when it reaches the job's `training_pass_percent`. The claim refuses a worker who has not passed when the job asks
for training (tasks.eligibility). A worker who failed may start again RETAKE_DELAY after their attempt ended: only
the latest attempt is kept (TrainingAnswer holds one answer per worker and task), its answers replaced.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import InvalidTransition, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id
from marketplace.models import Job, JobStatus, User
from tasks.controls import answer_matches_gold
from tasks.errors import AlreadySubmitted, OwnJob
from tasks.models import JobQuality, Task, TaskKind, TrainingAnswer, WorkerJobAccuracy
from tasks.services import answer_validate

RETAKE_DELAY = timedelta(hours=24)
TRAINING_STATUSES = frozenset({JobStatus.PUBLISHED, JobStatus.PAUSED})


@dataclass(frozen=True)
class TrainingState:
    """Where a worker is in a job's training."""

    tasks: list[Task]
    answers: dict[int, TrainingAnswer] = field(default_factory=dict)  # by task id, this attempt's
    score: int | None = None
    passed_at: datetime | None = None
    pass_percent: int | None = None
    retake_at: datetime | None = None  # when a finished attempt that did not pass may start again

    @property
    def finished(self) -> bool:
        return self.score is not None

    @property
    def passed(self) -> bool:
        return self.passed_at is not None

    @property
    def next_task(self) -> Task | None:
        if self.finished:
            return None
        return next((task for task in self.tasks if task.pk not in self.answers), None)

    @property
    def position(self) -> int:
        """The 1-based number of the next task among the training tasks."""
        return len(self.answers) + 1

    @property
    def correct(self) -> int:
        return sum(1 for answer in self.answers.values() if answer.correct)

    def may_retake(self, now: datetime) -> bool:
        return self.finished and not self.passed and self.retake_at is not None and now >= self.retake_at


def training_tasks(*, job: Job) -> list[Task]:
    return list(
        Task.objects.filter(job_id=job.pk, kind=TaskKind.TRAINING)
        .only("id", "public_id", "job_id", "position", "input", "gold")
        .order_by("position")
    )


def training_state(*, job: Job, worker: User) -> TrainingState:
    """The job's training tasks and the worker's attempt at them (four queries)."""
    tasks = training_tasks(job=job)
    attempt = TrainingAnswer.objects.filter(worker_id=worker.pk, task__job_id=job.pk, task__kind=TaskKind.TRAINING)
    answers = {answer.task_id: answer for answer in attempt}
    row = WorkerJobAccuracy.objects.filter(worker_id=worker.pk, job_id=job.pk).first()
    quality = JobQuality.objects.filter(job_id=job.pk).only("training_pass_percent").first()
    pass_percent = quality.training_pass_percent if quality is not None else None
    score = row.training_score if row is not None else None
    retake_at = None
    if score is not None and (row.training_passed_at is None):
        ended = max((answer.created_at for answer in answers.values()), default=None)
        # Practice without a pass mark, or a score that meets a pass mark set since, may start again at once.
        meets = pass_percent is None or score >= pass_percent
        retake_at = ended if meets or ended is None else ended + RETAKE_DELAY
    return TrainingState(
        tasks=tasks,
        answers=answers,
        score=score,
        passed_at=row.training_passed_at if row is not None else None,
        pass_percent=pass_percent,
        retake_at=retake_at,
    )


def training_answer_get(*, job: Job, worker: User, task_public_id: str) -> TrainingAnswer | None:
    """The worker's answer (this attempt's) to one of the job's training tasks, with the task, or None."""
    if not is_public_id(task_public_id):
        return None
    return (
        TrainingAnswer.objects.select_related("task")
        .filter(worker_id=worker.pk, task__job_id=job.pk, task__kind=TaskKind.TRAINING, task__public_id=task_public_id)
        .first()
    )


def training_answer_submit(
    *, job: Job, worker: User, task_id: str, data, now: datetime | None = None
) -> TrainingAnswer:
    """Record a worker's unpaid answer to one of the job's training tasks, validated by the job's form like any
    answer and compared with the task's known answers.

    Locks the worker's row on the job (created with their first training answer), so a double submit records one
    answer: a second answer to the same task in the attempt is refused with AlreadySubmitted. With the attempt's
    last task answered, stores the score (correct × 100 // the job's training tasks) and, when it reaches the job's
    training_pass_percent, `training_passed_at`; records `worker.training_finished`. Moves no money."""
    now = now or timezone.now()
    if job.requester_id == worker.pk:
        raise OwnJob("This is your own job: its training is for the workers.")
    if job.status not in TRAINING_STATUSES:
        raise InvalidTransition(f"This job is {job.get_status_display().lower()}: its training is closed.")
    with transaction.atomic():
        row, _ = WorkerJobAccuracy.objects.select_for_update(no_key=True).get_or_create(
            worker_id=worker.pk, job_id=job.pk
        )
        if row.training_score is not None:
            raise AlreadySubmitted("You finished this training: your score is on its page.")
        tasks = training_tasks(job=job)
        task = next((task for task in tasks if task.public_id == task_id), None)
        if task is None:
            raise NotFound("No such training task in this job.")
        if TrainingAnswer.objects.filter(worker_id=worker.pk, task_id=task.pk).exists():
            raise AlreadySubmitted("You already answered this training task.")
        answer = answer_validate(job=job, data=data)
        given = TrainingAnswer.objects.create(
            worker=worker,
            task=task,
            answer=answer,
            correct=answer_matches_gold(job, answer, task.gold),
            created_at=now,
        )
        results = dict(
            TrainingAnswer.objects.filter(worker_id=worker.pk, task_id__in=[task.pk for task in tasks]).values_list(
                "task_id", "correct"
            )
        )
        if len(results) == len(tasks):
            _finish(row, job=job, worker=worker, correct=sum(results.values()), count=len(tasks), now=now)
    return given


def _finish(row: WorkerJobAccuracy, *, job: Job, worker: User, correct: int, count: int, now: datetime) -> None:
    quality = JobQuality.objects.filter(job_id=job.pk).only("training_pass_percent").first()
    pass_percent = quality.training_pass_percent if quality is not None else None
    row.training_score = correct * 100 // count
    if pass_percent is not None and row.training_score >= pass_percent:
        row.training_passed_at = now
    row.save(update_fields=["training_score", "training_passed_at", "updated_at"])
    record_event(
        type="worker.training_finished",
        actor=Actor.of(worker),
        subject=("job", job.public_id),
        audience=[worker.pk, job.requester_id],
        data={
            "job_id": job.public_id,
            "worker_id": worker.public_id,
            "score": row.training_score,
            "pass_percent": pass_percent,
            "passed": row.training_passed_at is not None,
        },
    )


def training_restart(*, job: Job, worker: User, now: datetime | None = None) -> None:
    """Start the job's training again after an attempt that did not pass, once RETAKE_DELAY has passed since its
    last answer (at once for practice without a pass mark): that attempt's answers are deleted and its score
    cleared, so only the latest attempt is kept. A no-op before any attempt ended; refused after passing."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = WorkerJobAccuracy.objects.select_for_update(no_key=True)
        row = rows.filter(worker_id=worker.pk, job_id=job.pk).first()
        if row is None or row.training_score is None:
            return
        if row.training_passed_at is not None:
            raise InvalidTransition("You passed this job's training: there is nothing to retake.")
        attempt = TrainingAnswer.objects.filter(worker_id=worker.pk, task__job_id=job.pk)
        ended = attempt.aggregate(ended=Max("created_at"))["ended"]
        quality = JobQuality.objects.filter(job_id=job.pk).only("training_pass_percent").first()
        pass_percent = quality.training_pass_percent if quality is not None else None
        must_wait = pass_percent is not None and row.training_score < pass_percent
        if must_wait and ended is not None and now < ended + RETAKE_DELAY:
            raise InvalidTransition(
                f"You can take this training again from {timezone.localtime(ended + RETAKE_DELAY):%-d %b %Y, %H:%M %Z}."
            )
        attempt.delete()
        row.training_score = None
        row.save(update_fields=["training_score", "updated_at"])
