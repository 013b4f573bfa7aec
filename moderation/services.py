"""Moderators' decisions: bans, a banned user's balance, hidden and force-closed jobs, and reports.

Each service takes the moderator who acts, wants a written reason, and records its event with the moderator as actor
(`Actor.moderator`) in the same transaction as the change: the events are the audit log. They are the only writers
of `User.banned_at`/`ban_reason` and `Job.hidden_at`/`hidden_reason`. Locks follow the project's order: a user's row
first, then the job, then the ledger's accounts.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import ratelimit
from core.errors import DomainError, InvalidInput, InvalidTransition
from core.events import Actor, record_event
from core.locks import lock_user
from marketplace.models import MAX_MODERATION_REASON_CHARS, Job, JobStatus, User
from marketplace.services import job_close
from moderation.models import MAX_REPORT_TEXT_CHARS, Report, ReportReason, ReportStatus
from payments.ledger import account_of_job, account_of_user, balance_msat
from payments.models import OPEN_PAYOUT_STATES, AccountKind, Payout, PayoutDestination, PayoutKind
from payments.payouts import payout_create
from tasks.models import Assignment, AssignmentStatus
from tasks.services import assignment_return


class NotAModerator(DomainError):
    code = "forbidden"
    status = 403


class BalanceDecision:
    """What happens to a banned user's earned balance. It stays theirs either way."""

    HOLD = "hold"
    PAY_OUT = "pay_out"
    CHOICES = [
        (HOLD, "Hold it: nothing is paid out while the ban lasts"),
        (PAY_OUT, "Pay it out now to their Lightning Address"),
    ]


# Bans ------------------------------------------------------------------------------------------------------------


def user_ban(*, user: User, moderator: User, reason: str, now: datetime | None = None) -> User:
    """Ban a user. Their account goes inactive, so they cannot log in and their sessions and API keys stop working at
    their next request; they cannot post, publish or claim; automatic payouts stop for them. Their accepted
    assignments are returned to the pool in this transaction (submitted work is still reviewed and paid). Their
    earned balance stays theirs: `user_balance_decision` records what happens to it.

    Idempotent: banning a banned user changes nothing. Takes the user's row lock first, as a claim does, so a claim
    either committed before (and its assignment is returned here) or sees the ban.
    """
    reason = _clean_reason(reason, "Say why the user is banned: they and other moderators will read it.")
    _check_moderator(moderator)
    if user.pk == moderator.pk:
        raise InvalidInput("You cannot ban yourself.")
    with transaction.atomic():
        lock_user(user.pk)
        user = User.objects.get(pk=user.pk)
        if user.banned_at is not None:
            return user
        if user.is_staff or user.is_superuser:
            raise InvalidTransition("Staff accounts are not banned here: a superuser first takes their staff status.")
        user.banned_at = now or timezone.now()
        user.ban_reason = reason
        user.is_active = False
        user.save(update_fields=["banned_at", "ban_reason", "is_active"])
        released = _return_live_assignments(user, moderator=moderator)
        record_event(
            type="user.banned",
            actor=Actor.moderator(moderator),
            subject=("user", user.public_id),
            audience=[user.pk],
            data={"user_id": user.public_id, "reason": reason, "returned_assignment_ids": released},
        )
    return user


def _return_live_assignments(user: User, *, moderator: User) -> list[str]:
    """Give back every task the user holds and has not submitted, through the tasks' own service."""
    live = Assignment.objects.filter(worker=user, status=AssignmentStatus.ACCEPTED).order_by("pk")
    returned = []
    for assignment in live.select_related("job", "task"):
        released = assignment_return(assignment=assignment, worker=user, actor=Actor.moderator(moderator))
        returned.append(released.public_id)
    return returned


def user_unban(*, user: User, moderator: User, reason: str) -> User:
    """Lift a ban: the account is active again (log-in, API keys, automatic payouts). Idempotent."""
    reason = _clean_reason(reason, "Say why the ban is lifted.")
    _check_moderator(moderator)
    with transaction.atomic():
        lock_user(user.pk)
        user = User.objects.get(pk=user.pk)
        if user.banned_at is None:
            return user
        user.banned_at = None
        user.ban_reason = ""
        user.is_active = True
        user.save(update_fields=["banned_at", "ban_reason", "is_active"])
        record_event(
            type="user.unbanned",
            actor=Actor.moderator(moderator),
            subject=("user", user.public_id),
            audience=[user.pk],
            data={"user_id": user.public_id, "reason": reason},
        )
    return user


def user_balance_decision(*, user: User, moderator: User, decision: str, note: str) -> Payout | None:
    """Record what happens to a banned user's earned balance, which stays theirs: held while the ban lasts, or paid
    out now to their Lightning Address through the payouts' own path (the whole sats of it, as automatic payouts
    send). Returns that payout, or None when the balance is held. Records `user.balance_decided`.

    Locks the user's row as the automatic payout start does, so this and an automatic payout cannot both send.
    """
    note = _clean_reason(note, "Write a note on the decision.")
    _check_moderator(moderator)
    if decision not in {BalanceDecision.HOLD, BalanceDecision.PAY_OUT}:
        raise InvalidInput("Choose what happens to the balance.")
    with transaction.atomic():
        lock_user(user.pk)
        user = User.objects.get(pk=user.pk)
        if user.banned_at is None:
            raise InvalidTransition("This user is not banned: their balance is paid out as usual.")
        earned_msat = balance_msat(account=account_of_user(user=user, kind=AccountKind.WORKER_EARNED))
        payout = _pay_out_earnings(user, earned_msat) if decision == BalanceDecision.PAY_OUT else None
        record_event(
            type="user.balance_decided",
            actor=Actor.moderator(moderator),
            subject=("user", user.public_id),
            audience=[user.pk],
            data={
                "user_id": user.public_id,
                "decision": decision,
                "note": note,
                "earned_msat": earned_msat,
                "payout_id": payout.public_id if payout else None,
            },
        )
    return payout


def _pay_out_earnings(user: User, earned_msat: int) -> Payout:
    destination = PayoutDestination.objects.filter(user=user).first()
    if destination is None or not destination.address:
        raise InvalidInput("They have no Lightning Address to pay to: hold the balance instead.")
    if Payout.objects.filter(worker=user, kind=PayoutKind.LNURL_PAY, state__in=OPEN_PAYOUT_STATES).exists():
        raise InvalidTransition("A payout of theirs is under way: decide once it has ended.")
    # Whole sats, as every automatic payout (wallets invoice whole sats); the rest stays in the balance.
    amount_msat = earned_msat - earned_msat % 1000
    if amount_msat <= 0:
        raise InvalidInput("Their earned balance is less than 1 sat: there is nothing to pay out.")
    return payout_create(
        worker=user, kind=PayoutKind.LNURL_PAY, amount_msat=amount_msat, destination=destination.address
    )


# Jobs ------------------------------------------------------------------------------------------------------------


def job_hide(*, job: Job, moderator: User, reason: str, now: datetime | None = None) -> Job:
    """Take a job off the board and its public page: nobody can claim its tasks, whatever its status (a paused job
    stays hidden when resumed). Work already taken can still be submitted, reviewed and paid. Idempotent."""
    reason = _clean_reason(reason, "Say why the job is hidden: its requester will read it.")
    _check_moderator(moderator)
    with transaction.atomic():
        job = _lock_job(job)
        if job.hidden_at is not None:
            return job
        job.hidden_at = now or timezone.now()
        job.hidden_reason = reason
        job.save(update_fields=["hidden_at", "hidden_reason", "updated_at"])
        _record_job_event(job, "job.hidden", moderator=moderator, reason=reason)
    return job


def job_show(*, job: Job, moderator: User, reason: str) -> Job:
    """Put a hidden job back: on the board again if it is published with work left. Idempotent."""
    reason = _clean_reason(reason, "Say why the job is shown again.")
    _check_moderator(moderator)
    with transaction.atomic():
        job = _lock_job(job)
        if job.hidden_at is None:
            return job
        job.hidden_at = None
        job.hidden_reason = ""
        job.save(update_fields=["hidden_at", "hidden_reason", "updated_at"])
        _record_job_event(job, "job.shown", moderator=moderator, reason=reason)
    return job


def job_force_close(*, job: Job, moderator: User, reason: str) -> Job:
    """Close a published or paused job for its requester, through the job's own close: no new claims, work already
    taken can finish, and the escrow of slots nobody holds goes back to the requester at once. Records `job.closed`
    and `job.force_closed` (with the reason and the amount refunded), both with the moderator as actor.
    Idempotent on a closed job; a draft or cancelled job was never on the board and is refused."""
    reason = _clean_reason(reason, "Say why the job is closed: its requester will read it.")
    _check_moderator(moderator)
    with transaction.atomic():
        job = _lock_job(job)
        if job.status == JobStatus.CLOSED:
            return job
        if job.status not in {JobStatus.PUBLISHED, JobStatus.PAUSED}:
            status = job.get_status_display().lower()
            raise InvalidTransition(f"A {status} job was never on the board: there is nothing to close.")
        # Every escrow movement of a job takes its row lock first, which is held here: the difference is the refund.
        escrow = account_of_job(job=job)
        before_msat = balance_msat(account=escrow)
        job = job_close(job=job, actor=None, moderator=moderator)
        refunded_msat = before_msat - balance_msat(account=escrow)
        _record_job_event(job, "job.force_closed", moderator=moderator, reason=reason, refunded_msat=refunded_msat)
    return job


def _lock_job(job: Job) -> Job:
    return Job.objects.select_for_update(no_key=True).get(pk=job.pk)


def _record_job_event(job: Job, event_type: str, *, moderator: User, reason: str, **data) -> None:
    record_event(
        type=event_type,
        actor=Actor.moderator(moderator),
        subject=("job", job.public_id),
        audience=[job.requester_id],
        data={"job_id": job.public_id, "reason": reason, **data},
    )


# Reports ---------------------------------------------------------------------------------------------------------


def report_file(
    *, reporter: User, reason: str, text: str = "", job: Job | None = None, user: User | None = None
) -> Report:
    """File a report of a job or of a user for the moderators. The same person reporting the same thing again while
    their report is open gets that report back (a double click files one). At most REPORTS_PER_HOUR new reports per
    person per hour (RateLimited past that). The reported person never learns who reported them."""
    text = (text or "").strip()
    if (job is None) == (user is None):
        raise InvalidInput("Report either a job or a user.")
    if reason not in ReportReason.values:
        raise InvalidInput("Choose a reason from the list.")
    if len(text) > MAX_REPORT_TEXT_CHARS:
        raise InvalidInput(f"Say it in at most {MAX_REPORT_TEXT_CHARS:,} characters.")
    if reason == ReportReason.OTHER and not text:
        raise InvalidInput("Say what is wrong: “Other” needs a few words.")
    if (job is not None and job.requester_id == reporter.pk) or (user is not None and user.pk == reporter.pk):
        raise InvalidInput("You cannot report yourself or your own job.")
    target = {"job": job} if job is not None else {"user": user}
    with transaction.atomic():
        lock_user(reporter.pk)  # one report at a time per reporter: the check for an open one below holds
        existing = Report.objects.filter(reporter=reporter, status=ReportStatus.OPEN, **target).first()
        if existing is not None:
            return existing
        ratelimit.enforce(
            f"report:{reporter.pk}", limit=settings.REPORTS_PER_HOUR, period_seconds=3600, action="reports"
        )
        report = Report.objects.create(reporter=reporter, reason=reason, text=text, **target)
        record_event(
            type="report.filed",
            actor=Actor.of(reporter),
            subject=("report", report.public_id),
            audience=[reporter.pk],
            data={"report_id": report.public_id, "reason": reason, **_report_target(report)},
        )
    return report


def report_resolve(
    *, report: Report, moderator: User, note: str, ban_user: bool = False, hide_job: bool = False
) -> Report:
    """Resolve a report with a note, and act on it in the same transaction if asked: ban the reported user (or the
    reported job's requester) and/or hide the reported job, each through its own service with the note as reason.
    Resolving a resolved report changes nothing."""
    note = _clean_reason(note, "Write a note on what you found and did.")
    _check_moderator(moderator)
    with transaction.atomic():
        report = Report.objects.select_for_update(of=("self",)).select_related("job", "user").get(pk=report.pk)
        if report.status == ReportStatus.RESOLVED:
            return report
        actions = []
        if hide_job and report.job is None:
            raise InvalidInput("This report is about a user, not a job: there is no job to hide.")
        if ban_user:
            target = report.user if report.user is not None else report.job.requester
            user_ban(user=target, moderator=moderator, reason=note)
            actions.append("user_banned")
        if hide_job:
            job_hide(job=report.job, moderator=moderator, reason=note)
            actions.append("job_hidden")
        report.status = ReportStatus.RESOLVED
        report.resolution_note = note
        report.resolved_by = moderator
        report.resolved_at = timezone.now()
        report.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
        record_event(
            type="report.resolved",
            actor=Actor.moderator(moderator),
            subject=("report", report.public_id),
            audience=[report.reporter_id],
            data={"report_id": report.public_id, "note": note, "actions": actions, **_report_target(report)},
        )
    return report


def _report_target(report: Report) -> dict[str, str]:
    if report.job_id is not None:
        return {"job_id": report.job.public_id}
    return {"user_id": report.user.public_id}


# Checks ----------------------------------------------------------------------------------------------------------


def _check_moderator(moderator: User) -> None:
    """The admin checks each action's permission; this keeps any other caller from acting for someone who is not
    staff at all."""
    if not (moderator.is_active and moderator.is_staff):
        raise NotAModerator("Only a moderator can do this.")


def _clean_reason(reason: str, missing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(missing)
    if len(reason) > MAX_MODERATION_REASON_CHARS:
        raise InvalidInput(f"Write at most {MAX_MODERATION_REASON_CHARS:,} characters.")
    return reason
