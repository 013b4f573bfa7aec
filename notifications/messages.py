"""Which events tell whom what: one builder per event type (MESSAGES is the registry the handlers subscribe from).

A builder reads what it needs about the event's subject and returns a Draft per person to tell, in plain text, with
a link to a page of this site. It returns nothing when there is nobody to tell (a subject gone, a job not low on
funds). People are not told what they did themselves (a worker's own dispute, a payout they cancelled).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from alerts.models import AlertMatch, SavedSearch
from core.models import ActorKind, Event
from core.money import format_number, format_whole_sats, sats_rounded_down, sats_word
from marketplace.models import Job, JobStatus, User
from notifications.kinds import FUNDS_LOW_SHARE_DENOMINATOR
from notifications.models import NotificationKind
from payments.models import Bonus, Deposit, Payout, PayoutKind, PayoutSource
from tasks.models import Assignment, Dispute, DisputeStatus, RejectionReason, ReviewSource


@dataclass(frozen=True)
class Draft:
    """What one person is to be told about one event."""

    user_id: int
    kind: str
    title: str
    body: str
    link: str
    subject_id: str = ""
    # Whether this may be emailed at all: the person's notification settings decide as well (a work alert is
    # emailed only when the saved search asked for it).
    email: bool = True


def sats(msat: int) -> str:
    """An amount someone receives or has, in whole sats rounded down, with its word: "1 sat", "2,100 sats"."""
    return f"{format_whole_sats(msat)} {sats_word(sats_rounded_down(msat))}"


def quoted(title: str) -> str:
    """A job's title inside a sentence (and an email's subject line, so on one line)."""
    return "“" + " ".join(title.split()) + "”"


# Work ------------------------------------------------------------------------------------------------------------


def _assignment(event: Event) -> Assignment | None:
    return (
        Assignment.objects.select_related("job", "task").filter(public_id=event.data.get("assignment_id", "")).first()
    )


def work_approved(event: Event) -> list[Draft]:
    assignment = _assignment(event)
    if assignment is None:
        return []
    job = assignment.job
    if assignment.review_source == ReviewSource.DISPUTE:
        how = "after your dispute"
    elif assignment.review_source == ReviewSource.RULE:
        how = "by a rule of the job, as soon as it was checked"
    elif event.actor_kind == ActorKind.SYSTEM:
        how = "automatically, as the review period ended"
    else:
        how = "by the requester"
    earned = sats(job.reward_msat)
    if job.sandbox:
        earned = f"{earned} of play money (the sandbox: no real payment)"
    lines = [f"Task {assignment.task.position} of {quoted(job.title)} was approved {how}: you earned {earned}."]
    if assignment.feedback:
        lines.append(f"Feedback: {assignment.feedback}")
    return [
        Draft(
            user_id=assignment.worker_id,
            kind=NotificationKind.WORK_APPROVED,
            title=f"Work approved: {quoted(job.title)}",
            body="\n\n".join(lines),
            link=reverse("assignment_detail", args=[assignment.public_id]),
            subject_id=assignment.public_id,
        )
    ]


def work_rejected(event: Event) -> list[Draft]:
    assignment = _assignment(event)
    if assignment is None:
        return []
    job = assignment.job
    reason = event.data.get("rejection_reason") or RejectionReason.OTHER
    label = RejectionReason(reason).label if reason in RejectionReason.values else reason
    lines = [
        f"Task {assignment.task.position} of {quoted(job.title)} was rejected.",
        f"Reason: {label}.",
        (
            f"Why: {event.data.get('feedback') or assignment.feedback}"
            if assignment.review_source == ReviewSource.RULE
            else f"Message from the requester: {event.data.get('feedback') or assignment.feedback}"
        ),
        (
            f"If you think this is unfair, you can dispute it from the task's page within "
            f"{settings.DISPUTE_WINDOW_DAYS} days; the reward is then held until the dispute ends."
        ),
    ]
    return [
        Draft(
            user_id=assignment.worker_id,
            kind=NotificationKind.WORK_REJECTED,
            title=f"Work rejected: {quoted(job.title)}",
            body="\n\n".join(lines),
            link=reverse("assignment_detail", args=[assignment.public_id]),
            subject_id=assignment.public_id,
        )
    ]


def bonus_received(event: Event) -> list[Draft]:
    bonus = Bonus.objects.select_related("requester").filter(public_id=event.data.get("bonus_id", "")).first()
    if bonus is None:
        return []
    amount = sats(bonus.amount_msat)
    if event.data.get("sandbox"):
        amount = f"{amount} of play money (the sandbox: no real payment)"
    return [
        Draft(
            user_id=bonus.worker_id,
            kind=NotificationKind.BONUS_RECEIVED,
            title=f"Bonus received: {amount}",
            body=f"{bonus.requester.public_name} paid you a bonus of {amount}.\n\nTheir reason: {bonus.reason}",
            link=reverse("wallet"),
            subject_id=bonus.public_id,
        )
    ]


# Payouts ---------------------------------------------------------------------------------------------------------


def _payout(event: Event) -> Payout | None:
    return Payout.objects.filter(public_id=event.data.get("payout_id", "")).first()


def _what_is_paid(payout: Payout) -> str:
    return "unspent balance" if payout.source == PayoutSource.BALANCE else "earnings"


def payout_sent(event: Event) -> list[Draft]:
    payout = _payout(event)
    if payout is None:
        return []
    body = f"A payout of {sats(payout.amount_msat)} from your {_what_is_paid(payout)} was paid"
    if payout.kind == PayoutKind.LNURL_PAY and payout.destination:
        body += f" to {payout.destination}"
    return [
        Draft(
            user_id=payout.worker_id,
            kind=NotificationKind.PAYOUT_SENT,
            title=f"Payout sent: {sats(payout.amount_msat)}",
            body=f"{body}. Its receipt is on your payouts page.",
            link=reverse("payouts"),
            subject_id=payout.public_id,
        )
    ]


def payout_failed(event: Event) -> list[Draft]:
    payout = _payout(event)
    if payout is None or event.actor_id == payout.worker_id:
        return []
    lines = [f"A payout of {sats(payout.amount_msat)} failed: the amount is back in your balance."]
    if payout.last_error:
        lines.append(f"What went wrong: {payout.last_error}")
    lines.append("Check where you are paid in your payout settings.")
    return [
        Draft(
            user_id=payout.worker_id,
            kind=NotificationKind.PAYOUT_FAILED,
            title=f"Payout failed: {sats(payout.amount_msat)} back in your balance",
            body="\n\n".join(lines),
            link=reverse("payouts"),
            subject_id=payout.public_id,
        )
    ]


def payout_needs_moderator(event: Event) -> list[Draft]:
    payout = _payout(event)
    if payout is None:
        return []
    lines = [
        (
            f"A payout of {sats(payout.amount_msat)} failed {payout.attempts} times. A moderator will retry it, or "
            "cancel it and return the amount to your balance. Nothing is lost meanwhile."
        ),
    ]
    if payout.last_error:
        lines.append(f"Last error: {payout.last_error}")
    return [
        Draft(
            user_id=payout.worker_id,
            kind=NotificationKind.PAYOUT_NEEDS_MODERATOR,
            title=f"Payout waiting for a moderator: {sats(payout.amount_msat)}",
            body="\n\n".join(lines),
            link=reverse("payouts"),
            subject_id=payout.public_id,
        )
    ]


# Requesters ------------------------------------------------------------------------------------------------------


def deposit_received(event: Event) -> list[Draft]:
    deposit = Deposit.objects.filter(public_id=event.data.get("deposit_id", "")).first()
    if deposit is None:
        return []
    return [
        Draft(
            user_id=deposit.user_id,
            kind=NotificationKind.DEPOSIT_RECEIVED,
            title=f"Deposit received: {sats(deposit.amount_msat)}",
            body=f"{sats(deposit.amount_msat)} arrived in your balance, ready to fund jobs.",
            link=reverse("deposit_detail", args=[deposit.public_id]),
            subject_id=deposit.public_id,
        )
    ]


def _job(event: Event) -> Job | None:
    return Job.objects.filter(public_id=event.data.get("job_id", "")).first()


def job_finished(event: Event) -> list[Draft]:
    job = _job(event)
    if job is None:
        return []
    approved = event.data.get("approved_assignments", job.task_count * job.assignments_per_task)
    return [
        Draft(
            user_id=job.requester_id,
            kind=NotificationKind.JOB_FINISHED,
            title=f"Job finished: {quoted(job.title)}",
            body=f"Every task of {quoted(job.title)} has approved work ({approved:,} approved). "
            "Its results are ready to download.",
            link=reverse("job_manage", args=[job.public_id]),
            subject_id=job.public_id,
        )
    ]


def job_funds_low(event: Event) -> list[Draft]:
    """After a claim: is the job down to its last tenth of open slots (kinds.py says why this meaning)? Read when
    the handler runs, so a burst of claims may have taken them all by then: that is said too."""
    # Every claim asks, and almost every answer is no: read only the counters and what the message names.
    job = (
        Job.objects.filter(public_id=event.data.get("job_id", ""))
        .only("public_id", "title", "status", "requester_id", "task_count", "assignments_per_task", "open_slot_count")
        .first()
    )
    if job is None or job.status != JobStatus.PUBLISHED:
        return []
    slots = job.task_count * job.assignments_per_task
    if slots < FUNDS_LOW_SHARE_DENOMINATOR or job.open_slot_count * FUNDS_LOW_SHARE_DENOMINATOR > slots:
        return []
    if job.open_slot_count:
        state = f"Only {job.open_slot_count:,} of its {slots:,} task slots are still open"
    else:
        state = f"All {slots:,} of its task slots are taken"
    return [
        Draft(
            user_id=job.requester_id,
            kind=NotificationKind.JOB_FUNDS_LOW,
            title=f"Funds running out: {quoted(job.title)}",
            body=f"{state}: the escrow you paid for them is taken by workers' claims. When none is open, the job "
            "gets no new work. Add tasks (paid from your balance) to keep it going.",
            link=reverse("job_manage", args=[job.public_id]),
            subject_id=job.public_id,
        )
    ]


# Disputes: both sides are in the event's audience; each is told what the other side (or a moderator) did --------


def _dispute_drafts(event: Event, kind: str, title: str, say: Callable[[Dispute, bool], str]) -> list[Draft]:
    """One draft for each side of the dispute who did not act; `say(dispute, to_worker)` is the body."""
    dispute = (
        Dispute.objects.select_related("assignment", "assignment__job", "assignment__task")
        .filter(public_id=event.data.get("dispute_id", ""))
        .first()
    )
    if dispute is None:
        return []
    assignment = dispute.assignment
    job = assignment.job
    drafts = []
    for user_id in (assignment.worker_id, job.requester_id):
        if user_id == event.actor_id:
            continue
        drafts.append(
            Draft(
                user_id=user_id,
                kind=kind,
                title=f"{title}: {quoted(job.title)}",
                body=say(dispute, user_id == assignment.worker_id),
                link=reverse("dispute_detail", args=[dispute.public_id]),
                subject_id=dispute.public_id,
            )
        )
    return drafts


def _task_of(dispute: Dispute) -> str:
    return f"task {dispute.assignment.task.position} of {quoted(dispute.assignment.job.title)}"


def dispute_opened(event: Event) -> list[Draft]:
    def say(dispute: Dispute, to_worker: bool) -> str:
        return (
            f"A worker disputes your rejection of {_task_of(dispute)}. {sats(dispute.held_msat)} are held until it "
            f"ends.\n\nTheir message: {event.data.get('message', '')}\n\nAnswer once, or withdraw the rejection (which "
            f"approves and pays the work), by {dispute.requester_deadline_at:%d %B %Y, %H:%M} (UTC); after that "
            "the moderators decide."
        )

    return _dispute_drafts(event, NotificationKind.DISPUTE_OPENED, "Dispute opened", say)


def dispute_answered(event: Event) -> list[Draft]:
    def say(dispute: Dispute, to_worker: bool) -> str:
        answer = event.data.get("message", "")
        return f"The requester answered your dispute of {_task_of(dispute)}.\n\nTheir answer: {answer}"

    return _dispute_drafts(event, NotificationKind.DISPUTE_ANSWERED, "Dispute answered", say)


def dispute_escalated(event: Event) -> list[Draft]:
    def say(dispute: Dispute, to_worker: bool) -> str:
        return (
            f"The rejection of {_task_of(dispute)} was not withdrawn in time, so the dispute went to the moderators. "
            "They will uphold or overturn the rejection, with a written reason."
        )

    return _dispute_drafts(event, NotificationKind.DISPUTE_ESCALATED, "Dispute sent to the moderators", say)


def dispute_message(event: Event) -> list[Draft]:
    role = event.data.get("role", "")
    who = {"worker": "The worker", "requester": "The requester", "moderator": "A moderator"}.get(role, "Someone")

    def say(dispute: Dispute, to_worker: bool) -> str:
        return f"{who} wrote in the dispute of {_task_of(dispute)}:\n\n{event.data.get('message', '')}"

    return _dispute_drafts(event, NotificationKind.DISPUTE_MESSAGE, "New message in a dispute", say)


def dispute_decided(event: Event) -> list[Draft]:
    outcome = event.data.get("outcome", "")
    reason = event.data.get("reason", "")

    def say(dispute: Dispute, to_worker: bool) -> str:
        amount = sats(dispute.assignment.job.reward_msat)
        if outcome == DisputeStatus.WITHDRAWN:
            text = f"The requester withdrew the rejection of {_task_of(dispute)}: the work is approved"
            text += f" and you were paid {amount}." if to_worker else "."
        elif outcome == DisputeStatus.OVERTURNED:
            text = f"A moderator overturned the rejection of {_task_of(dispute)}: the work is approved"
            text += f" and you were paid {amount}." if to_worker else " and paid from the held sats."
        else:
            text = f"A moderator upheld the rejection of {_task_of(dispute)}"
            text += ": it stands." if to_worker else ": the held sats went back to the job's escrow or your balance."
        return f"{text}\n\nThe moderator's reason: {reason}" if reason else text

    return _dispute_drafts(event, NotificationKind.DISPUTE_DECIDED, "Dispute decided", say)


def worker_blocked(event: Event) -> list[Draft]:
    """The worker is told that a requester blocked them, not which one (the event's readers are the requester's)."""
    worker = User.objects.filter(public_id=event.data.get("worker_id", "")).first()
    if worker is None:
        return []
    return [
        Draft(
            user_id=worker.pk,
            kind=NotificationKind.BLOCKED,
            title="A requester blocked you from their jobs",
            body=(
                "A requester blocked you: their jobs no longer show on your board and you cannot take their tasks. "
                "Work you already submitted to them is still reviewed and paid."
            ),
            link=reverse("board"),
            subject_id=worker.public_id,
        )
    ]


def worker_stopped_on_job(event: Event) -> list[Draft]:
    """The worker is told that a job stopped them for their accuracy on its controls (tasks.controls)."""
    job = _job(event)
    worker = User.objects.filter(public_id=event.data.get("worker_id", "")).first()
    if job is None or worker is None:
        return []
    data = event.data
    return [
        Draft(
            user_id=worker.pk,
            kind=NotificationKind.STOPPED_ON_JOB,
            title=f"You can no longer take tasks of {quoted(job.title)}",
            body=(
                f"Your accuracy on the checked tasks of {quoted(job.title)} is {data.get('accuracy_percent')}% over "
                f"your last {data.get('window')}, below the {data.get('stop_below_percent')}% the job asks, so you "
                "cannot take more of its tasks. Work you already submitted is still reviewed and paid as the job says."
            ),
            link=reverse("job_detail", args=[job.public_id]),
            subject_id=job.public_id,
        )
    ]


def requester_message(event: Event) -> list[Draft]:
    """A requester's message to workers who worked for them (tasks.worker_messages): each is told, naming the
    requester, so a worker who is written to unwanted can report them."""
    requester = User.objects.filter(pk=event.actor_id).first()
    if requester is None:
        return []
    workers = User.objects.filter(public_id__in=event.data.get("worker_ids", [])).values_list("pk", "public_id")
    subject = " ".join(str(event.data.get("subject", "")).split())
    body = (
        f"{event.data.get('message', '')}\n\n— {requester.public_name}, a requester you worked for. If this message "
        "is unwanted, you can report the requester from any of their jobs."
    )
    return [
        Draft(
            user_id=worker_pk,
            kind=NotificationKind.REQUESTER_MESSAGE,
            title=f"{requester.public_name}: {subject}",
            body=body,
            link=reverse("notification_list"),
            subject_id=requester.public_id,
        )
        for worker_pk, _ in workers
    ]


def _alert_criteria(search: SavedSearch | None) -> str:
    """A saved search in words: “keywords” · tag · at least … (the alerts page says it the same way)."""
    if search is None:
        return "a work alert you have since deleted"
    parts = []
    if search.keywords:
        parts.append(quoted(search.keywords))
    if search.tag:
        parts.append(f"tag {search.tag}")
    if search.min_reward_msat:
        parts.append(f"at least {format_whole_sats(search.min_reward_msat, round_up=True)} sats a task")
    if search.min_sats_per_hour:
        parts.append(f"at least {format_number(search.min_sats_per_hour)} sats per hour")
    if search.qualified_only:
        parts.append("jobs you qualify for")
    return "your work alert " + " · ".join(parts)


def work_alert(event: Event) -> list[Draft]:
    """A job matched saved searches: each worker alerted by this event (its AlertMatch rows) is told once."""
    job = _job(event)
    if job is None:
        return []
    matches = AlertMatch.objects.filter(event=event, job=job).select_related("saved_search").order_by("pk")
    rate = job.shown_sats_per_hour
    pay = f"{sats(job.reward_msat)} a task" + (f" (about {format_number(rate)} sats per hour)" if rate else "")
    return [
        Draft(
            user_id=match.worker_id,
            kind=NotificationKind.WORK_ALERT,
            title=f"New work: {quoted(job.title)}",
            body=f"{quoted(job.title)} was just published, paying {pay}. It matches "
            f"{_alert_criteria(match.saved_search)}.\n\nYou can change or delete your alerts on the Work alerts page.",
            link=reverse("job_detail", args=[job.public_id]),
            subject_id=job.public_id,
            email=match.email,
        )
        for match in matches
    ]


MESSAGES: dict[str, Callable[[Event], list[Draft]]] = {
    "assignment.approved": work_approved,
    "assignment.rejected": work_rejected,
    "bonus.paid": bonus_received,
    "payout.succeeded": payout_sent,
    "payout.failed": payout_failed,
    "payout.needs_moderator": payout_needs_moderator,
    "deposit.paid": deposit_received,
    "job.completed": job_finished,
    "assignment.accepted": job_funds_low,
    "dispute.opened": dispute_opened,
    "dispute.answered": dispute_answered,
    "dispute.escalated": dispute_escalated,
    "dispute.message": dispute_message,
    "dispute.decided": dispute_decided,
    "worker.blocked": worker_blocked,
    "worker.stopped_on_job": worker_stopped_on_job,
    "alert.matched": work_alert,
    "requester.message": requester_message,
}


def drafts_for(event: Event) -> list[Draft]:
    builder = MESSAGES.get(event.type)
    return builder(event) if builder is not None else []
