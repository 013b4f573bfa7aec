"""HITs: tasks that carry their own question, made through the Mechanical Turk API (issue 13).

A HIT type is a job's terms (a job of form_kind "per_task"); each HIT is one task of it with its own question, its
own MaxAssignments (`Task.max_assignments`) and its own end (`Task.expires_at`). Every slot a HIT can still fill is
paid for in the job's escrow, as for any task: adding a HIT or assignments to it funds them, and the slots it can no
longer fill (it expired, or a rejection re-opened one after it expired) go back to the requester
(`hits_expire_due`, the sweeper, and `hit_expiry_set`).

HIT statuses are computed from the task and its assignments (`hit_status`), never stored twice.

Locks in the order of the rest of tasks: the requester's row (core.locks.lock_user), then the task, then the job.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id, new_public_id
from core.locks import lock_user
from marketplace import escrow
from marketplace.models import FormKind, Job, JobStatus, User
from marketplace.services import job_publish
from tasks.models import (
    DISPUTE_LIVE_STATUSES,
    SLOT_HOLDING_STATUSES,
    Assignment,
    AssignmentStatus,
    Dispute,
    HeldFrom,
    Task,
)
from tasks.services import _next_position

# Mechanical Turk's bounds, where Boltwork's own are not narrower.
MIN_LIFETIME_SECONDS = 30
MAX_LIFETIME_SECONDS = 365 * 24 * 3600
MAX_ASSIGNMENTS_PER_HIT = 1_000
MAX_ANNOTATION_CHARS = 255
LIVE_JOB_STATUSES = frozenset({JobStatus.PUBLISHED, JobStatus.PAUSED})
SWEEP_BATCH = 500


class HitStatus:
    ASSIGNABLE = "Assignable"
    UNASSIGNABLE = "Unassignable"
    REVIEWABLE = "Reviewable"
    REVIEWING = "Reviewing"
    DISPOSED = "Disposed"


@dataclass(frozen=True)
class HitCounts:
    """A HIT's assignments as Mechanical Turk counts them."""

    in_progress: int = 0
    submitted: int = 0
    approved: int = 0
    rejected: int = 0

    @property
    def completed(self) -> int:
        return self.approved + self.rejected


def hit_counts(task_ids: list[int]) -> dict[int, HitCounts]:
    """The assignment counts of many HITs in one query."""
    rows = (
        Assignment.objects.filter(task_id__in=task_ids)
        .values("task_id")
        .annotate(
            in_progress=Count("pk", filter=Q(status=AssignmentStatus.ACCEPTED)),
            submitted=Count("pk", filter=Q(status=AssignmentStatus.SUBMITTED)),
            approved=Count("pk", filter=Q(status=AssignmentStatus.APPROVED)),
            rejected=Count("pk", filter=Q(status=AssignmentStatus.REJECTED)),
        )
    )
    return {
        row["task_id"]: HitCounts(row["in_progress"], row["submitted"], row["approved"], row["rejected"])
        for row in rows
    }


def hit_is_expired(task: Task, job: Job, *, now: datetime) -> bool:
    if task.expires_at is not None and task.expires_at <= now:
        return True
    if job.expires_at is not None and job.expires_at <= now:
        return True
    return job.status in {JobStatus.CLOSED, JobStatus.CANCELLED}


def hit_available(task: Task, job: Job, *, now: datetime) -> int:
    """NumberOfAssignmentsAvailable: slots a worker could take now."""
    if hit_is_expired(task, job, now=now) or job.status != JobStatus.PUBLISHED or job.hidden_at is not None:
        return 0
    return task.slots_open


def hit_status(task: Task, job: Job, counts: HitCounts, *, now: datetime) -> str:
    """Mechanical Turk's HITStatus: Assignable while a worker can take it; Unassignable while it cannot but work is
    in progress; Reviewable once it expired or every assignment was submitted; Reviewing when the requester said so;
    Disposed once deleted."""
    if task.disposed_at is not None:
        return HitStatus.DISPOSED
    if task.reviewing:
        return HitStatus.REVIEWING
    if hit_available(task, job, now=now) > 0:
        return HitStatus.ASSIGNABLE
    if counts.in_progress > 0 or (job.status == JobStatus.PAUSED and not hit_is_expired(task, job, now=now)):
        return HitStatus.UNASSIGNABLE
    return HitStatus.REVIEWABLE


def hit_max_assignments(task: Task, job: Job) -> int:
    return task.max_assignments if task.max_assignments is not None else job.assignments_per_task


# Making HITs ------------------------------------------------------------------------------------------------------


def hit_add(
    *,
    job: Job,
    actor: User,
    question: dict,
    question_xml: str,
    max_assignments: int,
    lifetime_seconds: int,
    annotation: str = "",
    now: datetime | None = None,
) -> Task:
    """Add one HIT to a HIT type's job, paying its MaxAssignments slots into escrow, and put the job on the board if
    it was a draft. In one transaction: without enough balance it raises InsufficientFunds and nothing is made."""
    now = now or timezone.now()
    _check_whole(max_assignments, 1, MAX_ASSIGNMENTS_PER_HIT, "MaxAssignments")
    _check_whole(lifetime_seconds, MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS, "LifetimeInSeconds")
    if not isinstance(annotation, str) or len(annotation) > MAX_ANNOTATION_CHARS:
        raise InvalidInput(f"RequesterAnnotation is text of at most {MAX_ANNOTATION_CHARS} characters.")
    with transaction.atomic():
        lock_user(actor.pk)
        job = Job.objects.select_for_update(no_key=True).filter(pk=job.pk, requester=actor).first()
        if job is None:
            raise NotFound("No such HIT type.")
        if job.form_kind != FormKind.PER_TASK:
            raise InvalidInput("This job was not made through the Mechanical Turk API: it takes no HITs.")
        if job.hidden_at is not None:
            raise InvalidTransition("A moderator has hidden this HIT type: it takes no new HITs.")
        if job.status == JobStatus.DRAFT:
            job = job_publish(job=job, actor=actor)
        elif job.status not in LIVE_JOB_STATUSES:
            raise InvalidTransition(f"The HIT type's job is {job.get_status_display().lower()}: it takes no HITs.")
        task = Task.objects.create(
            public_id=new_public_id(),
            job=job,
            position=_next_position(job),
            input={},
            slots_open=max_assignments,
            question=question,
            question_xml=question_xml,
            max_assignments=max_assignments,
            expires_at=now + _seconds(lifetime_seconds),
            requester_annotation=annotation,
        )
        # The slots are paid for before anyone can see them (raises InsufficientFunds: the whole HIT is undone).
        escrow.escrow_fund_for_new_tasks(job=job, new_slots=max_assignments, batch_key=f"hit:{task.pk}")
        Job.objects.filter(pk=job.pk).update(
            task_count=F("task_count") + 1, open_slot_count=F("open_slot_count") + max_assignments, updated_at=now
        )
        _record(task, job, "hit.created", actor=actor, max_assignments=max_assignments)
    return task


def hit_assignments_add(*, task: Task, actor: User, count: int, now: datetime | None = None) -> Task:
    """CreateAdditionalAssignmentsForHIT: raise the HIT's MaxAssignments by `count`, paying the new slots into escrow.
    Every call pays for its own slots (a repeat that must not act is stopped by its UniqueRequestToken, before)."""
    now = now or timezone.now()
    _check_whole(count, 1, MAX_ASSIGNMENTS_PER_HIT, "NumberOfAdditionalAssignments")
    with transaction.atomic():
        lock_user(actor.pk)
        task, job = _lock_hit(task_id=task.public_id, actor=actor)
        if task.disposed_at is not None or job.status not in LIVE_JOB_STATUSES:
            raise InvalidTransition("This HIT takes no more assignments: it was deleted or its job is closed.")
        if hit_is_expired(task, job, now=now):
            raise InvalidTransition(
                "This HIT has expired: extend it (UpdateExpirationForHIT) before adding assignments."
            )
        total = hit_max_assignments(task, job) + count
        if total > MAX_ASSIGNMENTS_PER_HIT:
            raise InvalidInput(f"A HIT takes at most {MAX_ASSIGNMENTS_PER_HIT:,} assignments in all.")
        escrow.escrow_fund_for_new_tasks(job=job, new_slots=count, batch_key=f"hit-more:{task.pk}:{new_public_id()}")
        Task.objects.filter(pk=task.pk).update(max_assignments=total, slots_open=F("slots_open") + count)
        Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") + count, updated_at=now)
        _record(task, job, "hit.assignments_added", actor=actor, added=count)
    task.refresh_from_db()
    return task


# Ending HITs ------------------------------------------------------------------------------------------------------


def hit_expiry_set(*, task: Task, actor: User, expires_at: datetime, now: datetime | None = None) -> Task:
    """UpdateExpirationForHIT: a time now or past ends the HIT at once (its open slots' escrow goes back); a future
    time extends it, paying again for the slots an earlier expiry gave back."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_user(actor.pk)
        task, job = _lock_hit(task_id=task.public_id, actor=actor)
        if task.disposed_at is not None:
            raise InvalidTransition("This HIT was deleted.")
        if expires_at <= now:
            task.expires_at = now
            task.save(update_fields=["expires_at"])
            if job.status in LIVE_JOB_STATUSES:  # a closed job's escrow was refunded by its close
                _refund_open_slots(task, job, now=now)
            _record(task, job, "hit.expired", actor=actor)
            return task
        if job.status not in LIVE_JOB_STATUSES:
            raise InvalidTransition(f"The HIT's job is {job.get_status_display().lower()}: it cannot be extended.")
        if job.expires_at is not None and expires_at > job.expires_at:
            raise InvalidInput("The HIT cannot outlive its job's expiry.")
        if expires_at > now + _seconds(MAX_LIFETIME_SECONDS):
            raise InvalidInput("A HIT can be extended by at most a year from now.")
        was_expired = task.expires_at is not None and task.expires_at <= now
        task.expires_at = expires_at
        task.save(update_fields=["expires_at"])
        if was_expired:
            _refund_open_slots(task, job, now=now)  # slots a late rejection re-opened, not yet swept
            _reopen_remaining_slots(task, job, now=now)
        _record(task, job, "hit.expiry_changed", actor=actor, expires_at=expires_at.isoformat())
    return task


def hits_expire_due(*, now: datetime | None = None) -> int:
    """The sweeper: HITs past their expiry with open slots give those slots' escrow back. Returns how many."""
    now = now or timezone.now()
    due = list(
        Task.objects.filter(expires_at__lte=now, slots_open__gt=0, job__status__in=LIVE_JOB_STATUSES).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    swept = 0
    for task_pk in due:
        with transaction.atomic():
            task = Task.objects.select_for_update(of=("self",), no_key=True).filter(pk=task_pk).first()
            if task is None or task.slots_open == 0 or task.expires_at is None or task.expires_at > now:
                continue
            job = Job.objects.select_for_update(no_key=True).get(pk=task.job_id)
            if job.status in LIVE_JOB_STATUSES:
                swept += bool(_refund_open_slots(task, job, now=now))
    return swept


def hit_reviewing_set(*, task: Task, actor: User, reviewing: bool) -> Task:
    """UpdateHITReviewStatus: mark a Reviewable HIT as Reviewing, or (Revert) back."""
    with transaction.atomic():
        task, job = _lock_hit(task_id=task.public_id, actor=actor)
        if task.reviewing == reviewing:
            return task
        counts = hit_counts([task.pk]).get(task.pk, HitCounts())
        status = hit_status(task, job, counts, now=timezone.now())
        if reviewing and status != HitStatus.REVIEWABLE:
            raise InvalidTransition(f"Only a Reviewable HIT can be marked Reviewing; this one is {status}.")
        task.reviewing = reviewing
        task.save(update_fields=["reviewing"])
        _record(task, job, "hit.review_status_changed", actor=actor, reviewing=reviewing)
    return task


def hit_dispose(*, task: Task, actor: User, now: datetime | None = None) -> Task:
    """DeleteHIT: a HIT that takes no more work and has no assignment in progress or waiting for review leaves the
    requester's lists (its approved and rejected work, and any dispute of it, stay). Its open slots' escrow, if any,
    goes back first."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_user(actor.pk)
        task, job = _lock_hit(task_id=task.public_id, actor=actor)
        if task.disposed_at is not None:
            return task
        counts = hit_counts([task.pk]).get(task.pk, HitCounts())
        if counts.in_progress or counts.submitted:
            raise InvalidTransition(
                "This HIT has assignments in progress or waiting for review: approve or reject them first."
            )
        if hit_available(task, job, now=now) > 0:
            raise InvalidTransition(
                "This HIT can still be taken by workers: expire it first (UpdateExpirationForHIT with a past time)."
            )
        if job.status in LIVE_JOB_STATUSES:
            _refund_open_slots(task, job, now=now)
        task.disposed_at = now
        task.reviewing = False
        # It ends now too: a slot a dispute's upheld rejection gives back later is never claimed, and the sweeper
        # refunds it.
        task.expires_at = min(task.expires_at or now, now)
        task.save(update_fields=["disposed_at", "reviewing", "expires_at"])
        _record(task, job, "hit.deleted", actor=actor)
    return task


# Helpers ----------------------------------------------------------------------------------------------------------


def _lock_hit(*, task_id: str, actor: User) -> tuple[Task, Job]:
    task = None
    if is_public_id(task_id):
        task = (
            Task.objects.select_for_update(of=("self",), no_key=True)
            .filter(public_id=task_id, job__requester=actor, job__form_kind=FormKind.PER_TASK)
            .first()
        )
    if task is None:
        raise NotFound(f"Hit {task_id} does not exist.")
    job = Job.objects.select_for_update(no_key=True).get(pk=task.job_id)
    return task, job


def _refund_open_slots(task: Task, job: Job, *, now: datetime) -> int:
    """Take a HIT's open slots off the board and give their escrow back (the task and the job are locked)."""
    slots = Task.objects.filter(pk=task.pk).values_list("slots_open", flat=True).get()
    if slots == 0:
        return 0
    Task.objects.filter(pk=task.pk).update(slots_open=0)
    Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") - slots)
    # One key per refund: the slots re-opened and swept again later are other slots, refunded by another key.
    escrow.escrow_refund_slots(
        job=job,
        slots=slots,
        key=f"hit-expired:{task.pk}:{new_public_id()}",
        memo=f"Escrow of an expired HIT of “{job.title}” refunded",
    )
    task.slots_open = 0
    return slots


def _reopen_remaining_slots(task: Task, job: Job, *, now: datetime) -> int:
    """An expired HIT extended: the slots it can still fill (MaxAssignments less the assignments that hold one) are
    paid for again and go back on the board."""
    holding = Assignment.objects.filter(task_id=task.pk, status__in=SLOT_HOLDING_STATUSES).count()
    # A live dispute held from a slot keeps that slot (tasks.disputes): it comes back on the board only if the
    # rejection is upheld.
    disputed = Dispute.objects.filter(
        assignment__task_id=task.pk, held_from=HeldFrom.SLOT, status__in=sorted(DISPUTE_LIVE_STATUSES)
    ).count()
    remaining = hit_max_assignments(task, job) - holding - disputed
    if remaining <= 0:
        return 0
    escrow.escrow_fund_for_new_tasks(
        job=job, new_slots=remaining, batch_key=f"hit-extended:{task.pk}:{new_public_id()}"
    )
    Task.objects.filter(pk=task.pk).update(slots_open=remaining)
    Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") + remaining)
    task.slots_open = remaining
    return remaining


def _check_whole(value: object, low: int, high: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low:,} to {high:,}.")


def _seconds(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def _record(task: Task, job: Job, event_type: str, *, actor: User, **data) -> None:
    record_event(
        type=event_type,
        actor=Actor.of(actor),
        subject=("task", task.public_id),
        audience=[job.requester_id],
        data={"job_id": job.public_id, "task_id": task.public_id, **data},
    )
