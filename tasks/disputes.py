"""Disputes: a rejected worker appeals, with the slot's reward + fee held in the ledger until the dispute ends.

The life of a dispute (DISPUTE_TRANSITIONS, one gate: `_transition`):
- the worker opens it within DISPUTE_WINDOW_DAYS of the rejection, with a message; the hold is taken from the
  slot the rejection re-opened (taken off the board meanwhile), or, when that slot was taken again or refunded,
  from the requester's balance;
- the requester may answer once, or withdraw the rejection, which approves and pays at once;
- at the requester's deadline (DISPUTE_REQUESTER_DAYS) it goes to the moderators (`disputes_escalate_due`);
- a moderator upholds the rejection (the hold goes back where it came from: the slot's escrow on a live job, the
  requester's balance otherwise) or overturns it (the work is approved and paid from the hold), with a reason.
Approving disputed work goes through the same approval payment as a review (`tasks.services.approval_pay`), keyed
by the assignment, so it pays once however often it is asked.

Locks in the order of the rest of tasks: assignment, then task, then job; the dispute row right after its
assignment.
"""

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core import ratelimit
from core.errors import InvalidInput, InvalidTransition, NotFound
from core.events import Actor, record_event
from core.faults import kill_point
from core.ids import is_public_id
from marketplace import escrow
from marketplace.models import Job, JobStatus, User
from marketplace.users import is_moderator
from payments.errors import InsufficientFunds
from tasks.errors import DisputeRefused
from tasks.models import (
    DISPUTE_TRANSITIONS,
    Assignment,
    AssignmentStatus,
    Dispute,
    DisputeMessage,
    DisputeRole,
    DisputeStatus,
    HeldFrom,
    ReviewSource,
    Task,
)
from tasks.services import approval_pay, transition_assignment

MAX_MESSAGE_CHARS = 4_000
MAX_REASON_CHARS = 2_000
LIVE_JOB_STATUSES = frozenset({JobStatus.PUBLISHED, JobStatus.PAUSED})


# Opening ---------------------------------------------------------------------------------------------------------


def dispute_open(*, assignment_id: str, worker: User, message: str, now: datetime | None = None) -> Dispute:
    """A rejected worker disputes the rejection, within the window, once per assignment."""
    now = now or timezone.now()
    message = _checked_text(message, limit=MAX_MESSAGE_CHARS, what="A dispute needs a message")
    _count_message(worker)
    with transaction.atomic():
        assignment = _lock_assignment(assignment_id, worker=worker)
        if assignment.status != AssignmentStatus.REJECTED:
            raise DisputeRefused("Only rejected work can be disputed.")
        if not dispute_window_open(assignment, now=now):
            raise DisputeRefused(
                f"Rejections can be disputed for {settings.DISPUTE_WINDOW_DAYS} days; this one is older."
            )
        if Dispute.objects.filter(assignment=assignment).exists():
            raise DisputeRefused("This rejection is already disputed.")
        task = Task.objects.select_for_update(no_key=True).get(pk=assignment.task_id)
        job = Job.objects.select_for_update(no_key=True).select_related("requester").get(pk=assignment.job_id)
        dispute_key = f"{assignment.pk}"
        held_from, held_msat = _hold(job=job, task=task, dispute_key=dispute_key)
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    assignment=assignment,
                    held_msat=held_msat,
                    held_from=held_from,
                    opened_at=now,
                    requester_deadline_at=now + timedelta(days=settings.DISPUTE_REQUESTER_DAYS),
                )
        except IntegrityError:
            raise DisputeRefused("This rejection is already disputed.") from None
        _add_message(dispute, author=worker, role=DisputeRole.WORKER, body=message, now=now)
        _record(dispute, assignment, "dispute.opened", actor=Actor.of(worker), message=message)
    return dispute


def dispute_window_open(assignment: Assignment, *, now: datetime) -> bool:
    """Whether the rejection of `assignment` can still be disputed (the page offers it; dispute_open decides)."""
    if assignment.status != AssignmentStatus.REJECTED or assignment.reviewed_at is None:
        return False
    return now <= assignment.reviewed_at + timedelta(days=settings.DISPUTE_WINDOW_DAYS)


def _hold(*, job: Job, task: Task, dispute_key: str) -> tuple[str, int]:
    """Move the slot's reward + fee into the job's dispute hold. From the slot the rejection re-opened when it is
    still open on a live job (the slot leaves the board, so the escrow still pays for every slot on it); else from
    the requester's balance."""
    if job.status in LIVE_JOB_STATUSES and task.slots_open > 0:
        Task.objects.filter(pk=task.pk).update(slots_open=F("slots_open") - 1)
        Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") - 1)
        return HeldFrom.SLOT, escrow.dispute_hold_from_escrow(job=job, dispute_key=dispute_key)
    try:
        return HeldFrom.BALANCE, escrow.dispute_hold_from_balance(job=job, dispute_key=dispute_key)
    except InsufficientFunds:
        raise DisputeRefused(
            "The requester has no funds left to hold for this dispute. Report the job to the moderators instead."
        ) from None


# The requester's side -------------------------------------------------------------------------------------------


def dispute_answer(*, dispute_id: str, requester: User, message: str, now: datetime | None = None) -> Dispute:
    """The requester's one answer to the dispute (later messages go to the thread)."""
    now = now or timezone.now()
    message = _checked_text(message, limit=MAX_MESSAGE_CHARS, what="An answer needs a message")
    _count_message(requester)
    with transaction.atomic():
        dispute = _lock_dispute(dispute_id, requester=requester)
        if dispute.answered_at is not None:
            raise DisputeRefused("You have answered this dispute already; add a message to the thread instead.")
        if dispute.status == DisputeStatus.OPEN:
            _transition(dispute, DisputeStatus.ANSWERED, answered_at=now)
        else:
            _require_live(dispute)
            dispute.answered_at = now
            dispute.save(update_fields=["answered_at"])
        _add_message(dispute, author=requester, role=DisputeRole.REQUESTER, body=message, now=now)
        _record(dispute, dispute.assignment, "dispute.answered", actor=Actor.of(requester), message=message)
    return dispute


def dispute_withdraw_rejection(*, dispute_id: str, requester: User, now: datetime | None = None) -> Dispute:
    """The requester takes the rejection back: the work is approved and paid from the hold at once."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute = _lock_dispute(dispute_id, requester=requester)
        if dispute.status == DisputeStatus.WITHDRAWN:
            return dispute
        _require_live(dispute)
        actor = Actor.of(requester)
        _approve_disputed_work(dispute, actor=actor, now=now)
        _transition(dispute, DisputeStatus.WITHDRAWN, decided_at=now, decided_by=requester)
        _record(dispute, dispute.assignment, "dispute.decided", actor=actor, outcome=DisputeStatus.WITHDRAWN)
    return dispute


def rejection_override(
    *, assignment_id: str, requester: User, feedback: str = "", now: datetime | None = None
) -> Dispute:
    """The requester takes back a rejection the worker has not disputed (Mechanical Turk's ApproveAssignment with
    OverrideRejection): through the dispute rules, as if the worker had disputed it and the requester withdrew the
    rejection at once — the slot's reward + fee are held (from the slot the rejection re-opened, or the requester's
    balance) and the work is approved and paid from the hold. A live dispute is withdrawn instead; a dispute already
    decided stays decided. Idempotent: approved work stays approved."""
    now = now or timezone.now()
    feedback = (feedback or "").strip()[:MAX_MESSAGE_CHARS]
    with transaction.atomic():
        assignment = _lock_requesters_assignment(assignment_id, requester=requester)
        existing = Dispute.objects.filter(assignment=assignment).first()
        if existing is not None:
            if existing.is_live:
                return dispute_withdraw_rejection(dispute_id=existing.public_id, requester=requester, now=now)
            if assignment.status == AssignmentStatus.APPROVED:
                return existing
            raise DisputeRefused(
                f"A moderator decided the dispute of this rejection ({existing.get_status_display().lower()}): it "
                "stands."
            )
        if assignment.status != AssignmentStatus.REJECTED:
            raise InvalidTransition(
                f"This assignment is {assignment.get_status_display().lower()}: only a rejection can be overridden."
            )
        task = Task.objects.select_for_update(no_key=True).get(pk=assignment.task_id)
        job = Job.objects.select_for_update(no_key=True).select_related("requester").get(pk=assignment.job_id)
        held_from, held_msat = _hold(job=job, task=task, dispute_key=f"{assignment.pk}")
        dispute = Dispute.objects.create(
            assignment=assignment,
            held_msat=held_msat,
            held_from=held_from,
            opened_at=now,
            requester_deadline_at=now,
        )
        message = "The requester took the rejection back." + (f" {feedback}" if feedback else "")
        _add_message(dispute, author=requester, role=DisputeRole.REQUESTER, body=message, now=now)
        actor = Actor.of(requester)
        _approve_disputed_work(dispute, actor=actor, now=now)
        _transition(dispute, DisputeStatus.WITHDRAWN, decided_at=now, decided_by=requester)
        _record(dispute, assignment, "dispute.decided", actor=actor, outcome=DisputeStatus.WITHDRAWN)
    return dispute


# Moderators ------------------------------------------------------------------------------------------------------


def dispute_decide(
    *, dispute_id: str, moderator: User, overturn: bool, reason: str, now: datetime | None = None
) -> Dispute:
    """A moderator's decision, with a written reason. Deciding again the same way changes nothing."""
    now = now or timezone.now()
    if not is_moderator(moderator):
        raise NotFound("No such dispute.")
    reason = _checked_text(reason, limit=MAX_REASON_CHARS, what="A decision needs a written reason")
    outcome = DisputeStatus.OVERTURNED if overturn else DisputeStatus.UPHELD
    with transaction.atomic():
        dispute = _lock_dispute(dispute_id)
        if dispute.status == outcome:
            return dispute
        _require_live(dispute)
        actor = Actor.of(moderator)
        if overturn:
            # First of the commit's callbacks: overturned and committed, the worker's payout job not yet sent.
            transaction.on_commit(partial(kill_point, "dispute.overturned_not_enqueued"))
            _approve_disputed_work(dispute, actor=actor, now=now)
        else:
            _release_hold_for_upheld_rejection(dispute)
        _transition(dispute, outcome, decided_at=now, decided_by=moderator, decision_reason=reason)
        _add_message(dispute, author=moderator, role=DisputeRole.MODERATOR, body=reason, now=now)
        _record(dispute, dispute.assignment, "dispute.decided", actor=actor, outcome=outcome, reason=reason)
        kill_point("dispute.decision_uncommitted")  # decided (an overturn paid from the hold), not yet committed
    return dispute


def disputes_escalate_due(*, now: datetime | None = None) -> int:
    """Disputes whose requester deadline passed without the rejection withdrawn go to the moderators."""
    now = now or timezone.now()
    due = Dispute.objects.filter(
        status__in=[DisputeStatus.OPEN, DisputeStatus.ANSWERED], requester_deadline_at__lte=now
    ).values_list("public_id", flat=True)
    escalated = 0
    for public_id in list(due[:500]):
        with transaction.atomic():
            dispute = _lock_dispute(public_id)
            if dispute.status in {DisputeStatus.OPEN, DisputeStatus.ANSWERED}:
                _transition(dispute, DisputeStatus.ESCALATED, escalated_at=now)
                actor = Actor.user_or_system(None, rule="dispute deadline for the requester passed")
                _record(dispute, dispute.assignment, "dispute.escalated", actor=actor)
                escalated += 1
    return escalated


# The thread ------------------------------------------------------------------------------------------------------


def dispute_message_add(*, dispute_id: str, author: User, body: str, now: datetime | None = None) -> DisputeMessage:
    """A plain-text message in the dispute's thread, from its worker, its requester or a moderator."""
    now = now or timezone.now()
    body = _checked_text(body, limit=MAX_MESSAGE_CHARS, what="A message cannot be empty")
    _count_message(author)
    with transaction.atomic():
        dispute = _lock_dispute(dispute_id)
        role = dispute_role_of(dispute, author)
        if role is None:
            raise NotFound("No such dispute.")
        _require_live(dispute)
        message = _add_message(dispute, author=author, role=role, body=body, now=now)
        _record(dispute, dispute.assignment, "dispute.message", actor=Actor.of(author), message=body, role=role)
    return message


def dispute_role_of(dispute: Dispute, user: AbstractUser) -> str | None:
    """The part `user` plays in the dispute, or None when it is none of theirs."""
    assignment = dispute.assignment
    if user.pk == assignment.worker_id:
        return DisputeRole.WORKER
    if user.pk == assignment.job.requester_id:
        return DisputeRole.REQUESTER
    if is_moderator(user):
        return DisputeRole.MODERATOR
    return None


# Money ----------------------------------------------------------------------------------------------------------


def _approve_disputed_work(dispute: Dispute, *, actor: Actor, now: datetime) -> None:
    """Approve the rejected assignment and pay it through the approval path, from the hold."""
    assignment = dispute.assignment
    job = Job.objects.select_for_update(no_key=True).get(pk=assignment.job_id)
    escrow.dispute_release_to_escrow(job=job, dispute_key=f"{assignment.pk}", amount_msat=dispute.held_msat)
    # The approval path ends a live slot; the rejection already ended this one, so count it live again first.
    Job.objects.filter(pk=job.pk).update(live_assignment_count=F("live_assignment_count") + 1)
    transition_assignment(
        assignment, AssignmentStatus.APPROVED, actor=actor, reviewed_at=now, review_source=ReviewSource.DISPUTE
    )
    approval_pay(assignment, actor=actor)


def _release_hold_for_upheld_rejection(dispute: Dispute) -> None:
    """The rejection stands: the hold goes back where it came from. A slot taken off a live job's board goes back on
    it, with its escrow; on a job that takes no more work, or a hold from the balance, to the requester."""
    assignment = dispute.assignment
    job = Job.objects.select_for_update(no_key=True).get(pk=assignment.job_id)
    key = f"{assignment.pk}"
    if dispute.held_from == HeldFrom.SLOT and job.status in LIVE_JOB_STATUSES:
        escrow.dispute_release_to_escrow(job=job, dispute_key=key, amount_msat=dispute.held_msat)
        Task.objects.filter(pk=assignment.task_id).update(slots_open=F("slots_open") + 1)
        Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") + 1)
    else:
        escrow.dispute_release_to_requester(job=job, dispute_key=key, amount_msat=dispute.held_msat)


# The gate, locks, events -----------------------------------------------------------------------------------------


def _transition(dispute: Dispute, to_status: str, **fields) -> None:
    """The one gate of the dispute state machine, for a dispute the caller has locked."""
    if to_status not in DISPUTE_TRANSITIONS[dispute.status]:
        raise InvalidTransition(
            f"This dispute is {dispute.get_status_display().lower()}: it cannot become "
            f"{DisputeStatus(to_status).label.lower()}."
        )
    dispute.status = to_status
    for name, value in fields.items():
        setattr(dispute, name, value)
    dispute.save(update_fields=["status", *fields])


def _require_live(dispute: Dispute) -> None:
    if not dispute.is_live:
        raise InvalidTransition(f"This dispute is over: {dispute.get_status_display().lower()}.")


def _lock_assignment(assignment_id: str, *, worker: User) -> Assignment:
    assignment = None
    if is_public_id(assignment_id):
        assignment = (
            Assignment.objects.select_for_update(of=("self",), no_key=True)
            .select_related("job", "task", "worker")
            .filter(public_id=assignment_id, worker=worker)
            .first()
        )
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def _lock_requesters_assignment(assignment_id: str, *, requester: User) -> Assignment:
    assignment = None
    if is_public_id(assignment_id):
        assignment = (
            Assignment.objects.select_for_update(of=("self",), no_key=True)
            .select_related("job", "task", "worker")
            .filter(public_id=assignment_id, job__requester=requester)
            .first()
        )
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def _lock_dispute(dispute_id: str, *, requester: User | None = None) -> Dispute:
    """The dispute, its assignment locked first (the order of the rest of tasks), then the dispute row."""
    found = None
    if is_public_id(dispute_id):
        disputes = Dispute.objects.filter(public_id=dispute_id)
        if requester is not None:
            disputes = disputes.filter(assignment__job__requester=requester)
        found = disputes.values_list("pk", "assignment_id").first()
    if found is None:
        raise NotFound("No such dispute.")
    dispute_pk, assignment_pk = found
    assignment = (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("job", "task", "worker")
        .get(pk=assignment_pk)
    )
    dispute = Dispute.objects.select_for_update().get(pk=dispute_pk)
    dispute.assignment = assignment
    return dispute


def _add_message(dispute: Dispute, *, author: User, role: str, body: str, now: datetime) -> DisputeMessage:
    return DisputeMessage.objects.create(dispute=dispute, author=author, role=role, body=body, created_at=now)


def _count_message(user: User) -> None:
    """Messages in dispute threads (the opening one and the answer included) are limited per user per hour."""
    ratelimit.enforce(
        f"dispute-message:{user.pk}",
        limit=settings.DISPUTE_MESSAGES_PER_HOUR,
        period_seconds=3600,
        action="dispute messages",
    )


def _checked_text(text: str, *, limit: int, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(f"{what}.")
    if len(text) > limit:
        raise InvalidInput(f"A message is limited to {limit:,} characters.")
    return text


def _record(dispute: Dispute, assignment: Assignment, event_type: str, *, actor: Actor, **extra) -> None:
    record_event(
        type=event_type,
        actor=actor,
        subject=("dispute", dispute.public_id),
        audience=[assignment.worker_id, assignment.job.requester_id],
        data={
            "dispute_id": dispute.public_id,
            "assignment_id": assignment.public_id,
            "job_id": assignment.job.public_id,
            "task_id": assignment.task.public_id,
            "worker_id": assignment.worker.public_id,
            "status": dispute.status,
            "held_msat": dispute.held_msat,
            **extra,
        },
    )
