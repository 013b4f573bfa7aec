"""Every state change of tasks and assignments: add tasks, claim, submit, return, expire, review.

Locks are always taken in the same order: assignment, then task, then job.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from core import ratelimit
from core.errors import InvalidInput, InvalidTransition, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id, new_public_id
from core.locks import lock_user
from marketplace import answer_forms, escrow
from marketplace.errors import JobNotOpen
from marketplace.models import FormKind, Job, JobStatus, User
from marketplace.selectors import JOB_PAGE_TEXTS
from marketplace.services import job_placeholders
from marketplace.users import is_moderator
from tasks import controls, overlap
from tasks.csv_import import check_task_rows, parse_task_csv
from tasks.eligibility import check_worker_for_claim
from tasks.errors import (
    AlreadySubmitted,
    AnswerInvalid,
    AssignmentClosed,
    DeadlinePassed,
    NoTaskAvailable,
    OwnJob,
    ReviewPeriodOver,
)
from tasks.models import (
    ASSIGNMENT_TRANSITIONS,
    Assignment,
    AssignmentStatus,
    RejectionReason,
    ReviewSource,
    Task,
    TaskKind,
)

BULK_CREATE_BATCH = 5_000
MAX_FEEDBACK_CHARS = 2_000
SWEEP_BATCH = 500


# Adding tasks ---------------------------------------------------------------------------------------------------


def tasks_add_from_csv(*, job: Job, actor: User, csv_text: str) -> int:
    """Add one task per CSV row, all or nothing; rows with Gold.<field> values are controls (training tasks with
    Training "yes"). Returns the number created."""
    parsed = parse_task_csv(
        csv_text, required_columns=job_placeholders(job), expected_columns=job.input_columns or None
    )
    return tasks_add(job=job, actor=actor, columns=parsed.columns, rows=parsed.rows, known=parsed.known)


def tasks_add_from_inputs(
    *, job: Job, actor: User, inputs: list[dict[str, str]], known: list[controls.KnownAnswers | None] | None = None
) -> int:
    """Add tasks given as input mappings (the API's JSON): their columns are the job's, or for a job's first tasks
    the names they use; a name the columns lack is refused, naming the task (1-based). `known`, per task, its known
    answers (tasks.controls.known_from_api). All or nothing."""
    columns = job.input_columns or sorted({name for task_input in inputs for name in task_input})
    rows = [_row_with_columns(task_input, columns, number) for number, task_input in enumerate(inputs, start=1)]
    return tasks_add(job=job, actor=actor, columns=columns, rows=rows, known=known)


def _row_with_columns(task_input: dict[str, str], columns: list[str], number: int) -> dict[str, str]:
    unknown = sorted(set(task_input) - set(columns))
    if unknown:
        raise InvalidInput(
            f"Task {number}: unknown input {', '.join(unknown)}; the job's columns are {', '.join(columns)}.",
            details={"task": number, "unknown": unknown},
        )
    return {column: task_input.get(column, "") for column in columns}


def tasks_add(
    *,
    job: Job,
    actor: User,
    columns: list[str],
    rows: list[dict[str, str]],
    known: list[controls.KnownAnswers | None] | None = None,
) -> int:
    """Add tasks to a draft, published or paused job in one transaction, with bulk inserts.

    The first tasks fix the job's input columns; later ones must have the same columns. `known` gives, per row, its
    known answers (a control or a training task; None for a regular task), checked by the job's form under the job's
    lock. Training tasks take no slot and no escrow, and are not in the job's task count (tasks.controls).
    """
    if not rows:
        raise InvalidInput("There are no tasks to add.")
    check_task_rows(columns, rows)
    with transaction.atomic():
        # The requester first (the draft quota counts all their drafts), then the job.
        lock_user(actor.pk)
        job = Job.objects.select_for_update(no_key=True).filter(pk=job.pk, requester=actor).first()
        if job is None:
            raise NotFound("No such job.")
        if job.status not in {JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED}:
            raise InvalidTransition(f"The job is {job.get_status_display().lower()}: no tasks can be added.")
        kinds_and_gold = controls.known_answers_clean(job=job, known=known) if known and any(known) else None
        paid = len(rows) - controls.training_count(kinds_and_gold)
        if paid < len(rows):
            controls.training_room_check(job=job, adding=len(rows) - paid)
        if job.status == JobStatus.DRAFT:
            _check_draft_task_quota(requester=actor, adding=paid)
        if job.input_columns and columns != job.input_columns:
            raise InvalidInput("The tasks must have the job's columns: " + ", ".join(job.input_columns) + ".")
        missing = [name for name in job_placeholders(job) if name not in columns]
        if missing:
            raise InvalidInput("Every task needs a value for " + ", ".join(f"“{name}”" for name in missing) + ".")
        first_position = _next_position(job)
        if job.status != JobStatus.DRAFT:
            # A published job's new slots are paid into escrow first (a draft is funded when published).
            escrow.escrow_fund_for_new_tasks(
                job=job, new_slots=paid * job.assignments_per_task, batch_key=str(first_position)
            )
        _insert_tasks(job=job, first_position=first_position, rows=rows, kinds_and_gold=kinds_and_gold)
        job.input_columns = columns
        job.task_count += paid
        job.open_slot_count += paid * job.assignments_per_task
        # Dynamic overlap: the new tasks open only the answers it starts with (their escrow above covers the most).
        job.open_slot_count -= overlap.overlap_start_for_new_tasks(job=job, first_position=first_position)
        job.save(update_fields=["input_columns", "task_count", "open_slot_count", "updated_at"])
    return len(rows)


def _check_draft_task_quota(*, requester: User, adding: int) -> None:
    """Tasks in drafts are stored for free until the job is published and funded: cap them per requester."""
    held = Job.objects.filter(requester=requester, status=JobStatus.DRAFT).aggregate(n=Sum("task_count"))["n"] or 0
    limit = settings.MAX_DRAFT_TASKS_PER_USER
    if held + adding > limit:
        raise InvalidInput(
            f"Your drafts already hold {held:,} tasks; with these {adding:,} they would pass the limit of "
            f"{limit:,} tasks in unpublished jobs. Publish or cancel a draft first."
        )


def _insert_tasks(
    *, job: Job, first_position: int, rows: list[dict[str, str]], kinds_and_gold: list[tuple[str, dict]] | None = None
) -> None:
    """Bulk insert. On PostgreSQL through COPY: about five times faster than bulk_create for 10,000 rows. A training
    task gets no slot."""
    kinds_and_gold = kinds_and_gold or [(TaskKind.REGULAR, {})] * len(rows)

    def slots(kind: str) -> int:
        return 0 if kind == TaskKind.TRAINING else job.assignments_per_task

    if connection.vendor != "postgresql":
        Task.objects.bulk_create(
            (
                Task(job=job, position=first_position + offset, input=row, slots_open=slots(kind), kind=kind, gold=gold)
                for offset, (row, (kind, gold)) in enumerate(zip(rows, kinds_and_gold, strict=True))
            ),
            batch_size=BULK_CREATE_BATCH,
        )
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        copy_sql = "COPY tasks_task (public_id, job_id, position, input, slots_open, kind, gold, created_at) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for offset, (row, (kind, gold)) in enumerate(zip(rows, kinds_and_gold, strict=True)):
                position = first_position + offset
                copy.write_row(
                    (new_public_id(), job.pk, position, json.dumps(row), slots(kind), kind, json.dumps(gold), now)
                )


def _next_position(job: Job) -> int:
    """After the job's last task: a removed task leaves a gap, so the count of tasks cannot say where the end is."""
    last = Task.objects.filter(job_id=job.pk).aggregate(last=Max("position"))["last"]
    return (last or 0) + 1


# Editing and removing tasks nobody has claimed ----------------------------------------------------------------

EDITABLE_JOB_STATUSES = frozenset({JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED})


def task_update(*, job: Job, actor: User, task_id: str, row: dict[str, str]) -> Task:
    """Change the inputs of a task no worker has claimed yet, under the same rules as adding it."""
    columns = job.input_columns
    check_task_rows(columns, [row])
    with transaction.atomic():
        task, job = _lock_unclaimed_task(job=job, actor=actor, task_id=task_id)
        task.input = {column: row.get(column, "") for column in columns}
        task.save(update_fields=["input"])
        _record_task_event(task, job, "task.edited", actor=actor)
    return task


def unclaimed_task_funded_slots(task: Task, job: Job) -> int:
    """The slots whose escrow an unclaimed task holds: its open ones, or, under dynamic overlap (which opens fewer
    than the escrow funded), every slot the job funds per task."""
    return task.slots_open if task.answers_wanted is None else job.assignments_per_task


def task_remove(*, job: Job, actor: User, task_id: str) -> None:
    """Delete a task no worker has claimed yet. On a published or paused job its slots' escrow is refunded."""
    with transaction.atomic():
        task, job = _lock_unclaimed_task(job=job, actor=actor, task_id=task_id)
        slots = task.slots_open
        if job.status != JobStatus.DRAFT:
            escrow.escrow_refund_for_removed_task(
                job=job, task_id=task.pk, slots=unclaimed_task_funded_slots(task, job)
            )
        _record_task_event(task, job, "task.removed", actor=actor)
        task.delete()
        job.task_count -= 0 if task.kind == TaskKind.TRAINING else 1  # a training task was never counted
        job.open_slot_count -= slots
        job.save(update_fields=["task_count", "open_slot_count", "updated_at"])


def task_known_answers_set(*, job: Job, actor: User, task_id: str, gold: dict) -> Task:
    """Give a task no worker has taken known answers, making it a control (checked by the job's form like an answer,
    tasks.controls.gold_clean), change them, or take them away (`gold` empty: a regular task again). A training task
    stays one and needs known answers. Slots and escrow do not change: a control is paid like any task. Under the
    same rules as editing the task's inputs."""
    with transaction.atomic():
        task, job = _lock_unclaimed_task(job=job, actor=actor, task_id=task_id)
        if task.kind == TaskKind.TRAINING or gold:
            task.gold = controls.gold_clean(job=job, raw=gold, where=f"Task {task.position}")
            task.kind = TaskKind.TRAINING if task.kind == TaskKind.TRAINING else TaskKind.CONTROL
        else:
            task.kind, task.gold = TaskKind.REGULAR, {}
        task.save(update_fields=["kind", "gold"])
        record_event(
            type="task.known_answers_set",
            actor=Actor.of(actor),
            subject=("task", task.public_id),
            audience=[job.requester_id],
            data={"job_id": job.public_id, "task_id": task.public_id, "kind": task.kind, "gold": task.gold},
        )
    return task


def _lock_unclaimed_task(*, job: Job, actor: User, task_id: str) -> tuple[Task, Job]:
    """The task locked, then its job (the claim's order), both checked: the actor's, open to edits, never claimed.

    A claim holds the task row while it creates its assignment, so once the lock is ours an assignment either
    exists and is seen here, or cannot be made until this transaction ends.
    """
    task = None
    if is_public_id(task_id):
        task = (
            Task.objects.select_for_update(of=("self",))
            .filter(public_id=task_id, job_id=job.pk, job__requester=actor)
            .first()
        )
    if task is None:
        raise NotFound("No such task in this job.")
    job = Job.objects.select_for_update(no_key=True).get(pk=task.job_id)
    if job.status not in EDITABLE_JOB_STATUSES:
        raise InvalidTransition(f"The job is {job.get_status_display().lower()}: its tasks can no longer change.")
    if Assignment.objects.filter(task_id=task.pk).exists():
        raise InvalidTransition("A worker has already taken this task: it can no longer be edited or removed.")
    return task, job


def _record_task_event(task: Task, job: Job, event_type: str, *, actor: User) -> None:
    record_event(
        type=event_type,
        actor=Actor.of(actor),
        subject=("task", task.public_id),
        audience=[job.requester_id],
        data={"job_id": job.public_id, "task_id": task.public_id, "position": task.position, "input": task.input},
    )


# Claiming and working -------------------------------------------------------------------------------------------


def assignment_claim(*, job: Job, worker: User, now: datetime | None = None) -> Assignment:
    """Claim the next open task of a published job for a worker.

    Never a task the worker already had an assignment on, never more slot-holding assignments on a task than the
    job allows. On PostgreSQL the task row is taken with FOR UPDATE SKIP LOCKED through a partial index, so
    concurrent claimants pass each other instead of queueing on the same row. A worker who still has an open
    assignment in the job gets that one back instead of a second one (a double click claims once).
    """
    ratelimit.enforce(f"claim:{worker.pk}", limit=settings.CLAIMS_PER_MINUTE, period_seconds=60, action="claims")
    now = now or timezone.now()
    with transaction.atomic():
        # Serialises one worker's claims (and only theirs), so two clicks cannot take two tasks. Everything below is
        # read after the lock is held, so it sees what the worker's previous claim and the requester's last change
        # of the job's rules committed.
        lock_user(worker.pk)
        job = _job_for_claim(job.pk)
        if job.requester_id == worker.pk:
            # Approving your own work (and bonusing yourself) would turn a requester balance into "earnings".
            raise OwnJob("This is your own job: you cannot work on its tasks.")
        _check_job_takes_claims(job, now)
        # The worker's open assignment in the job, if any; else a banned or blocked worker, or one the job's
        # requirements, exclusions, cap, stop or training leave out, is refused: one query.
        open_assignment_id = check_worker_for_claim(worker=worker, job=job, now=now)
        if open_assignment_id is not None:
            return Assignment.objects.select_related("task").get(pk=open_assignment_id)
        # With a control rate, a control first for one claim in rate % (else a regular task); the other kind when
        # none of the drawn one is left. A control's claim costs the queries a regular task's does.
        draw = controls.claim_draw(job)
        task = _lock_next_open_task(job=job, worker=worker, skip_locked=True, kind=draw, now=now)
        if task is None and draw is not None:
            task = _lock_next_open_task(job=job, worker=worker, skip_locked=True, now=now)
        if task is None:
            # The fast path skips tasks other claimants hold right now, though they may keep open slots after those
            # claims commit (a task takes several workers). Only a wait on them can tell "full" from "busy".
            task = _lock_next_open_task(job=job, worker=worker, skip_locked=False, now=now)
        if task is None:
            raise NoTaskAvailable("There is no task left in this job for you. Try another job.")
        Task.objects.filter(pk=task.pk).update(slots_open=F("slots_open") - 1)
        # The status is checked again under the job row lock: a pause, close or moderator's hide that committed
        # meanwhile wins.
        still_open = Job.objects.filter(pk=job.pk, status=JobStatus.PUBLISHED, hidden_at__isnull=True).update(
            open_slot_count=F("open_slot_count") - 1, live_assignment_count=F("live_assignment_count") + 1
        )
        if not still_open:
            raise JobNotOpen("This job is not taking new work right now.")
        assignment = Assignment.objects.create(
            task=task,
            job=job,
            worker=worker,
            status=AssignmentStatus.ACCEPTED,
            accepted_at=now,
            deadline_at=now + timedelta(seconds=job.time_limit_seconds),
        )
        _record_assignment_event(assignment, "assignment.accepted", actor=Actor.of(worker))
        return assignment


def _job_for_claim(job_id: int) -> Job:
    """The job with what the claim needs, its rules and quality settings included (one query)."""
    job = (
        Job.objects.select_related("quality")
        .only(
            "id",
            "public_id",
            "requester_id",
            "status",
            "expires_at",
            "time_limit_seconds",
            "qualification_requirements",
            "max_tasks_per_worker",
            "sandbox",  # named in the assignment's events
            # Its quality rules (issue 12), in the same query: the control rate, the stop and the training.
            "quality__control_rate_percent",
            "quality__stop_below_percent",
            "quality__training_pass_percent",
        )
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise NotFound("No such job.")
    return job


def _lock_next_open_task(
    *, job: Job, worker: User, skip_locked: bool, now: datetime, kind: str | None = None
) -> Task | None:
    """The first task (in row order) with an open slot that the worker never had, locked FOR UPDATE; only of `kind`
    when given. Never a training task (it has no slot anyway), nor a HIT past its own expiry.

    Without skip_locked, PostgreSQL waits for a locked row, re-checks it once it is released, and moves on to the
    next row if its slots are gone meanwhile.
    """
    already_had = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    tasks = Task.objects.filter(kind=kind) if kind else Task.objects.exclude(kind=TaskKind.TRAINING)
    return (
        tasks.select_for_update(skip_locked=skip_locked, no_key=True)
        .filter(job_id=job.pk, slots_open__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(~Exists(already_had))
        .order_by("position")
        # Its input too: the claim's answer shows it (api.endpoints.work.job_claim), with no second read.
        .only("id", "public_id", "job_id", "slots_open", "input")
        .first()
    )


def _check_job_takes_claims(job: Job, now: datetime) -> None:
    if job.status != JobStatus.PUBLISHED:
        raise JobNotOpen(f"This job is {job.get_status_display().lower()} and not taking new work.")
    if job.expires_at is not None and job.expires_at <= now:
        raise JobNotOpen("This job has expired and is not taking new work.")


def assignment_submit(*, assignment: Assignment, worker: User, data, now: datetime | None = None) -> Assignment:
    """Store a worker's answer, validated against the job's form.

    `data` is the posted form data (form builder) or a dict (HTML template answer). A second submit is refused
    with AlreadySubmitted and changes nothing; so is a submit after the deadline.
    """
    now = now or timezone.now()
    with transaction.atomic():
        assignment = _lock_workers_assignment(assignment_id=assignment.pk, worker=worker)
        if assignment.status in {
            AssignmentStatus.SUBMITTED,
            AssignmentStatus.APPROVED,
            AssignmentStatus.REJECTED,
        }:
            raise AlreadySubmitted("This assignment was already submitted; the answer cannot change.")
        if assignment.status != AssignmentStatus.ACCEPTED:
            raise AssignmentClosed(
                f"This assignment was {assignment.get_status_display().lower()} and can no longer be submitted."
            )
        if assignment.deadline_at <= now:
            raise DeadlinePassed("The time limit for this assignment has passed; the answer was not accepted.")
        job = assignment.job
        answer = answer_validate(job=job, data=data, task=assignment.task)
        # A control's answer is compared with its known answers (tasks.controls), and the worker's accuracy on the job
        # updated under its row lock: a few queries more than a regular task's submit, which costs what it did.
        task = assignment.task
        correct = controls.control_result(job, answer, task.gold) if task.kind == TaskKind.CONTROL else None
        transition_assignment(
            assignment,
            AssignmentStatus.SUBMITTED,
            actor=Actor.of(worker),
            answer=answer,
            submitted_at=now,
            auto_approve_at=now + timedelta(seconds=job.auto_approve_seconds),
            **({"control_correct": correct} if correct is not None else {}),
        )
        if correct is not None:
            controls.accuracy_record(worker=worker, job=job, correct=correct, now=now)
    return assignment


def assignment_submit_json(
    *, assignment: Assignment, worker: User, answer: dict, now: datetime | None = None
) -> Assignment:
    """Submit an answer given as JSON (the API's): for a form builder job (or a task whose own question is a
    QuestionForm) it becomes the form data the web page would post, so both run the very same validation; an HTML
    template's answer is stored as given."""
    job = assignment.job
    question = task_question(assignment.task) if job.form_kind == FormKind.PER_TASK else {}
    if job.form_kind == FormKind.BUILDER:
        data = answer_forms.answer_form_data(job.form_fields, answer)
    elif question.get("kind") == "form":
        data = answer_forms.answer_form_data(question.get("fields") or [], answer)
    else:
        data = answer
    return assignment_submit(assignment=assignment, worker=worker, data=data, now=now)


def answer_validate(*, job: Job, data, task: Task | None = None) -> dict:
    """The answer as it will be stored, or AnswerInvalid with the messages per field.

    A job's form decides, except on a per-task job (made through the Mechanical Turk API), where each task carries
    its own question: a QuestionForm's fields are checked like a form builder's; an HTMLQuestion's or an
    ExternalQuestion's answer, like an external study's, has no fixed list of fields (answer_forms.clean_free_answer).
    """
    if job.form_kind == FormKind.PER_TASK:
        question = task_question(task)
        if question.get("kind") == "form":
            return _form_answer(question.get("fields") or [], data)
        if question.get("kind") in {"html", "external"}:
            return answer_forms.clean_free_answer(data)
        raise InvalidInput("This task has no question to answer.")
    if job.form_kind == FormKind.EXTERNAL:
        return answer_forms.clean_free_answer(data)
    if job.form_kind == FormKind.HTML:
        return answer_forms.clean_html_answer(data, field_names=job.answer_fields)
    return _form_answer(job.form_fields, data)


def task_question(task: Task | None) -> dict:
    """A per-task job's task's own question (Task.question: {"kind": "html" | "external" | "form", ...}), or {}."""
    return task.question if task is not None and isinstance(task.question, dict) else {}


def _form_answer(form_fields: list[dict], data) -> dict:
    form = answer_forms.AnswerForm(form_fields, data=data)
    if not form.is_valid():
        raise AnswerInvalid(
            "Some answers need attention.",
            details={name: list(errors) for name, errors in form.errors.items()},
        )
    return form.answer()


def assignment_return(
    *, assignment: Assignment, worker: User, now: datetime | None = None, actor: Actor | None = None
) -> Assignment:
    """Give an unsubmitted assignment back; its task goes back to the pool for other workers. `actor` is who did it
    when not the worker: the moderator whose ban released it (the audit log names them)."""
    return _assignment_release(
        assignment_id=assignment.pk,
        worker=worker,
        to_status=AssignmentStatus.RETURNED,
        now=now or timezone.now(),
        actor=actor,
    )


def assignment_expire(*, assignment_id: int, now: datetime | None = None) -> Assignment | None:
    """Expire one overdue assignment. Returns None (a no-op) when it was submitted or ended meanwhile."""
    now = now or timezone.now()
    try:
        return _assignment_release(
            assignment_id=assignment_id, worker=None, to_status=AssignmentStatus.EXPIRED, now=now
        )
    except (InvalidTransition, DeadlinePassed):
        return None


def assignments_expire_overdue(*, now: datetime | None = None) -> int:
    """Expire every accepted assignment past its deadline. Returns how many expired."""
    now = now or timezone.now()
    overdue = Assignment.objects.filter(status=AssignmentStatus.ACCEPTED, deadline_at__lte=now).order_by("deadline_at")
    return _sweep(overdue, lambda assignment_id: assignment_expire(assignment_id=assignment_id, now=now) is not None)


def _sweep(due: QuerySet[Assignment], act: Callable[[int], bool]) -> int:
    """Run `act` on each assignment of `due`, in batches of SWEEP_BATCH primary keys, each in its own transaction
    (`act` re-reads its row under a lock and returns False when it had moved meanwhile). Returns how many acted."""
    acted = 0
    while True:
        batch = list(due.values_list("pk", flat=True)[:SWEEP_BATCH])
        acted += sum(1 for assignment_id in batch if act(assignment_id))
        if len(batch) < SWEEP_BATCH:
            return acted


def _assignment_release(
    *, assignment_id: int, worker: User | None, to_status: str, now: datetime, actor: Actor | None = None
) -> Assignment:
    with transaction.atomic():
        if worker is None:
            assignment = (
                Assignment.objects.select_for_update(of=("self",), no_key=True)
                .select_related("job", "task", "worker")
                .filter(pk=assignment_id)
                .first()
            )
            if assignment is None:
                raise NotFound("No such assignment.")
        else:
            assignment = _lock_workers_assignment(assignment_id=assignment_id, worker=worker)
        if assignment.status == to_status:
            return assignment
        expiring = to_status == AssignmentStatus.EXPIRED and assignment.status == AssignmentStatus.ACCEPTED
        if expiring and assignment.deadline_at > now:
            raise DeadlinePassed("The assignment is not overdue yet.")
        actor = actor or Actor.user_or_system(worker, rule="expiry at the deadline")
        transition_assignment(assignment, to_status, actor=actor, ended_at=now)
        _reopen_slot(assignment)
    return assignment


def transition_assignment(assignment: Assignment, to_status: str, *, actor: Actor, **fields) -> None:
    """The one gate of the assignment state machine, for an assignment the caller has locked: refuses a move the
    transitions table does not allow, saves the status with `fields`, and records `assignment.<status>`."""
    if to_status not in ASSIGNMENT_TRANSITIONS[assignment.status]:
        raise InvalidTransition(
            f"This assignment is {assignment.get_status_display().lower()}: it cannot be "
            f"{AssignmentStatus(to_status).label.lower()}."
        )
    assignment.status = to_status
    for name, value in fields.items():
        setattr(assignment, name, value)
    assignment.save(update_fields=["status", *fields])
    _record_assignment_event(assignment, f"assignment.{to_status}", actor=actor)


def _reopen_slot(assignment: Assignment) -> None:
    """Give an ended, unapproved assignment's slot back; on a closed job its escrow goes back to the requester."""
    Task.objects.filter(pk=assignment.task_id).update(slots_open=F("slots_open") + 1)
    Job.objects.filter(pk=assignment.job_id).update(
        open_slot_count=F("open_slot_count") + 1, live_assignment_count=F("live_assignment_count") - 1
    )
    escrow.escrow_refund_unclaimable(job=assignment.job, event_key=f"assignment:{assignment.pk}")


def _lock_workers_assignment(*, assignment_id: int, worker: User) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("job", "task")
        .defer(*(f"job__{name}" for name in JOB_PAGE_TEXTS))
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise NotFound("No such assignment.")
    assignment.worker = worker
    return assignment


# Review ---------------------------------------------------------------------------------------------------------


def assignment_review(
    *,
    assignment: Assignment,
    reviewer: User | None,
    approve: bool,
    feedback: str = "",
    rejection_reason: str = "",
    now: datetime | None = None,
    rule: str = "",
) -> Assignment:
    """Approve or reject one submitted assignment. The one place every review goes through.

    `reviewer=None` is the auto-approve rule or, with `rule`, the job's review rule of that name (tasks.quality:
    review_source "rule", the rule in review_rule and as the event's actor). A rejection needs a reason from the list
    (RejectionReason; "other" when none is given) and a message, which the worker sees; it is possible only before
    the assignment's auto-approve time, and it gives the slot back so another worker can do the task. Only a
    person's rejections can be held as a mass rejection (docs/architecture.md, "Review by rules"). Reviewing an
    assignment again with the same decision is a no-op; changing a decision is refused (approvals are final; a
    rejection changes only through a dispute). Approval pays the reward out of escrow in the same transaction and,
    once that commits, enqueues the worker's payout.
    """
    now = now or timezone.now()
    feedback = (feedback or "").strip()
    if len(feedback) > MAX_FEEDBACK_CHARS:
        raise InvalidInput(f"Feedback is limited to {MAX_FEEDBACK_CHARS:,} characters.")
    if not approve and not feedback:
        raise InvalidInput("A rejection needs a reason: the worker will see it.")
    rejection_reason = "" if approve else (rejection_reason or RejectionReason.OTHER)
    if rejection_reason and rejection_reason not in RejectionReason.values:
        raise InvalidInput(
            "Choose a rejection reason: " + ", ".join(RejectionReason.values) + ".",
            details={"choices": RejectionReason.values},
        )
    target = AssignmentStatus.APPROVED if approve else AssignmentStatus.REJECTED
    if reviewer is not None and rule:
        raise InvalidInput("A review is a person's or a rule's, not both.")
    actor = Actor.user_or_system(
        reviewer, rule=f"review rule: {rule}" if rule else "auto-approve after the review period"
    )
    if reviewer is not None:
        source = {"review_source": ReviewSource.REQUESTER}
    elif rule:
        source = {"review_source": ReviewSource.RULE, "review_rule": rule}
    else:
        source = {"review_source": ReviewSource.AUTO}
    with transaction.atomic():
        queryset = Assignment.objects.select_for_update(of=("self",), no_key=True).select_related(
            "job", "task", "worker"
        )
        if reviewer is not None:
            queryset = queryset.filter(job__requester=reviewer)
        assignment = queryset.filter(pk=assignment.pk).first()
        if assignment is None:
            raise NotFound("No such assignment.")
        if assignment.status == target:
            return assignment
        if assignment.status != AssignmentStatus.SUBMITTED:
            raise InvalidTransition(
                f"This assignment is {assignment.get_status_display().lower()}: only submitted work can be reviewed."
            )
        if assignment.rejection_held_at is not None:
            raise InvalidTransition("A moderator is looking at this rejection: it takes effect only if they agree.")
        if not approve and assignment.auto_approve_at is not None and now >= assignment.auto_approve_at:
            raise ReviewPeriodOver(
                "The review period of this submission is over: it is approved and paid automatically, as the job's "
                "terms promised the worker."
            )
        if not approve and reviewer is not None and _is_mass_rejection(assignment, now=now):
            _hold_rejection(assignment, feedback=feedback, rejection_reason=rejection_reason, actor=actor, now=now)
            return assignment
        transition_assignment(
            assignment,
            target,
            actor=actor,
            reviewed_at=now,
            **source,
            feedback=feedback,
            rejection_reason=rejection_reason,
        )
        if approve:
            approval_pay(assignment, actor=actor)
        else:
            _reopen_slot(assignment)
    return assignment


def _is_mass_rejection(assignment: Assignment, *, now: datetime) -> bool:
    """Whether rejecting this would make more than MASS_REJECTION_SHARE of the worker's submissions to the job
    rejected (or held) within the last hour, counting at least MASS_REJECTION_MIN_COUNT of them."""
    since = now - timedelta(hours=1)
    theirs = Assignment.objects.filter(job_id=assignment.job_id, worker_id=assignment.worker_id)
    recent = theirs.filter(
        Q(status=AssignmentStatus.REJECTED, reviewed_at__gte=since) | Q(rejection_held_at__gte=since)
    ).count()
    rejecting = recent + 1
    submitted = theirs.filter(submitted_at__isnull=False).count()
    return rejecting >= settings.MASS_REJECTION_MIN_COUNT and rejecting > settings.MASS_REJECTION_SHARE * submitted


def _hold_rejection(assignment: Assignment, *, feedback: str, rejection_reason: str, actor: Actor, now: datetime):
    assignment.feedback = feedback
    assignment.rejection_reason = rejection_reason
    assignment.rejection_held_at = now
    assignment.auto_approve_at = None
    assignment.save(update_fields=["feedback", "rejection_reason", "rejection_held_at", "auto_approve_at"])
    _record_assignment_event(assignment, "assignment.rejection_held", actor=actor)


def rejection_hold_decide(
    *, assignment_id: str, moderator: User, let_stand: bool, note: str, now: datetime | None = None
) -> Assignment:
    """A moderator's decision on a held mass rejection, with a note: the rejection takes effect as the requester
    wrote it, or the work is approved and paid instead."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise InvalidInput("A decision needs a written note.")
    if not is_moderator(moderator):
        raise NotFound("No such held rejection.")
    actor = Actor.of(moderator)
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update(of=("self",), no_key=True)
            .select_related("job", "task", "worker")
            .filter(public_id=assignment_id if is_public_id(assignment_id) else None)
            .first()
        )
        if assignment is None or assignment.rejection_held_at is None:
            raise NotFound("No such held rejection.")
        if let_stand:
            transition_assignment(
                assignment,
                AssignmentStatus.REJECTED,
                actor=actor,
                reviewed_at=now,
                review_source=ReviewSource.REQUESTER,
                rejection_held_at=None,
            )
            _reopen_slot(assignment)
        else:
            transition_assignment(
                assignment,
                AssignmentStatus.APPROVED,
                actor=actor,
                reviewed_at=now,
                review_source=ReviewSource.REQUESTER,
                rejection_held_at=None,
                feedback="",
                rejection_reason="",
            )
            approval_pay(assignment, actor=actor)
        record_event(
            type="assignment.rejection_hold_decided",
            actor=actor,
            subject=("assignment", assignment.public_id),
            audience=[assignment.job.requester_id, assignment.worker_id],
            data={"assignment_id": assignment.public_id, "let_stand": let_stand, "note": note},
        )
    return assignment


def approval_pay(assignment: Assignment, *, actor: Actor) -> None:
    """Pay an assignment just moved to approved (by a review, the auto-approve rule or a dispute's decision): the
    reward from escrow to the worker, the fee to the platform, once per assignment (the ledger key names it)."""
    # The job row before the accounts (the order of the refund at close): the slot is no longer live.
    Job.objects.filter(pk=assignment.job_id).update(live_assignment_count=F("live_assignment_count") - 1)
    escrow.reward_pay_for_approval(job=assignment.job, assignment_id=assignment.pk, worker=assignment.worker)
    _record_if_job_completed(assignment.job, actor=actor)


def _record_assignment_event(assignment: Assignment, event_type: str, *, actor: Actor) -> None:
    data = {
        "assignment_id": assignment.public_id,
        "job_id": assignment.job.public_id,
        "task_id": assignment.task.public_id,
        "worker_id": assignment.worker.public_id,
        "status": assignment.status,
        "answer": assignment.answer,
        "feedback": assignment.feedback,
        "rejection_reason": assignment.rejection_reason,
        # Play money (issue 13): the payout trigger (payments.handlers) starts nothing for it.
        "sandbox": assignment.job.sandbox,
    }
    record_event(
        type=event_type,
        actor=actor,
        subject=("assignment", assignment.public_id),
        audience=[assignment.job.requester_id, assignment.worker_id],
        data=data,
    )


def _record_if_job_completed(job: Job, *, actor: Actor) -> None:
    """`job.completed`: the approval that leaves a job on the board with no slot open and nothing in progress or
    waiting for review, so every answer it wants is approved (with dynamic overlap, what each task came to want,
    not the maximum it funded). Read from the job's counters, which the caller's locks keep."""
    counters = Job.objects.filter(pk=job.pk).values("status", "open_slot_count", "live_assignment_count").get()
    done = counters["open_slot_count"] == 0 and counters["live_assignment_count"] == 0
    if done and counters["status"] in {JobStatus.PUBLISHED, JobStatus.PAUSED}:
        approved = Assignment.objects.filter(job_id=job.pk, status=AssignmentStatus.APPROVED).count()
        record_event(
            type="job.completed",
            actor=actor,
            subject=("job", job.public_id),
            audience=[job.requester_id],
            data={"job_id": job.public_id, "approved_assignments": approved},
        )


def assignments_review_bulk(
    *,
    job: Job,
    reviewer: User,
    approve_ids: list[str],
    reject: dict[str, str],
    feedback: str = "",
    rejection_reason: str = "",
    rejection_reasons: dict[str, str] | None = None,
) -> list[Assignment]:
    """Review many assignments of one job at once, all or nothing: one bad item changes nothing. Assignments are
    named by their public ids; a rejected one gets its reason from `rejection_reasons`, else `rejection_reason`
    ("other" when neither gives one)."""
    overlap = set(approve_ids) & set(reject)
    if overlap:
        raise InvalidInput("An assignment cannot be both approved and rejected.")
    wanted = set(approve_ids) | set(reject)
    if not wanted:
        raise InvalidInput("Select at least one submission to review.")
    if not all(is_public_id(public_id) for public_id in wanted):
        raise NotFound("Some of the selected submissions are not in this job.")
    found = Assignment.objects.filter(public_id__in=wanted, job=job, job__requester=reviewer)
    pk_of = dict(found.values_list("public_id", "pk"))
    if set(pk_of) != wanted:
        raise NotFound("Some of the selected submissions are not in this job.")
    reviewed = []
    with transaction.atomic():
        for public_id in sorted(wanted, key=pk_of.__getitem__):
            approve = public_id not in reject
            reviewed.append(
                assignment_review(
                    assignment=Assignment(pk=pk_of[public_id]),
                    reviewer=reviewer,
                    approve=approve,
                    feedback=feedback if approve else reject[public_id],
                    rejection_reason="" if approve else (rejection_reasons or {}).get(public_id, rejection_reason),
                )
            )
    return reviewed


def assignments_review_many(
    *, reviewer: User, approve_ids: list[str], reject: dict[str, str], rejection_reasons: dict[str, str] | None = None
) -> list[int]:
    """Review assignments (named by public ids) of any of the reviewer's jobs at once, all or nothing (each job's
    through assignments_review_bulk; each rejection with its reason from the list, `rejection_reasons`, "other"
    when none). Returns the primary keys of those reviewed."""
    wanted = {*approve_ids, *reject}
    if not wanted:
        raise InvalidInput("Give at least one assignment to approve or reject.")
    if not all(is_public_id(public_id) for public_id in wanted):
        raise NotFound("Some of the assignments are not in your jobs.")
    mine = Assignment.objects.filter(public_id__in=wanted, job__requester=reviewer)
    job_of = dict(mine.values_list("public_id", "job_id"))
    if set(job_of) != wanted:
        raise NotFound("Some of the assignments are not in your jobs.")
    reviewed = []
    with transaction.atomic():
        for job_id in sorted(set(job_of.values())):
            reviewed += assignments_review_bulk(
                job=Job(pk=job_id),
                reviewer=reviewer,
                approve_ids=[public_id for public_id in approve_ids if job_of[public_id] == job_id],
                reject={public_id: reason for public_id, reason in reject.items() if job_of[public_id] == job_id},
                rejection_reasons=rejection_reasons,
            )
    return sorted(assignment.pk for assignment in reviewed)


def assignments_auto_approve_due(*, now: datetime | None = None) -> int:
    """Approve submissions that waited longer than their job's auto-approve delay. Returns how many."""
    now = now or timezone.now()
    due = Assignment.objects.filter(status=AssignmentStatus.SUBMITTED, auto_approve_at__lte=now).order_by(
        "auto_approve_at"
    )
    return _sweep(due, lambda assignment_id: _auto_approve(assignment_id, now=now))


def _auto_approve(assignment_id: int, *, now: datetime) -> bool:
    try:
        assignment_review(
            assignment=Assignment(pk=assignment_id),
            reviewer=None,
            approve=True,
            feedback="Approved automatically: not reviewed within the job's review period.",
            now=now,
        )
    except InvalidTransition:
        return False  # reviewed by the requester meanwhile
    return True
