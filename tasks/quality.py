"""Quality control's settings and review by rules (issue 12).

A job's quality control is its JobQuality row (no row: none). `job_quality_set` is the one writer of it. The
post-submission pipeline `submission_checked` runs once per submitted assignment: on commit of the submission
(tasks.handlers, in the request that submitted), and from the sweeper `submissions_check_missed` for any the
handler missed. It brings the task's aggregated result up to date (tasks.overlap) and then applies the job's review
rules, in this order, the first that decides ending it:

1. flag a fast answer (under `flag_faster_than_seconds`, or three standard deviations below the job's median
   working time): it goes to the requester, and no rule approves it (the job's review deadline still holds);
2. hold the work of a worker the controls stopped, when the requester asked for it (all their waiting work);
3. reject a wrong answer to a control, when the requester allows it, with the right answer in the feedback;
4. approve when the worker's recent accuracy on controls is high enough;
5. approve when the answer agrees with the task's completed result (and then every other waiting answer of the
   task that agrees);
6. else nothing: the job's auto-approve delay, as before.

Every decision goes through tasks.services (assignment_review with the rule's name, so an approval pays once
through approval_pay; a flag through the assignment's own row), and records `assignment.rule_applied` with the rule
and its inputs. The worker sees the decision on the assignment's page and can dispute a rejection as any other.

Locks: the assignment first, then (tasks.overlap) its task, then the job and the ledger's accounts (the approval).
Other assignments of the task or the worker are locked after the task only with SKIP LOCKED: whoever holds one
decides it (its own pipeline, the requester's review, the auto-approve sweeper), and no two pipelines can wait on
each other.
"""

import logging
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition, NotFound
from core.events import Actor, record_event
from marketplace.answer_fields import TEMPLATE_FIELD, answer_kinds
from marketplace.models import FormKind, Job, JobStatus, User
from tasks import controls, overlap
from tasks.errors import ReviewPeriodOver
from tasks.models import (
    AggregationMethod,
    Assignment,
    AssignmentStatus,
    JobQuality,
    RejectionReason,
    TaskKind,
    TaskResult,
    TextAggregation,
)
from tasks.services import assignment_review

logger = logging.getLogger(__name__)

# The rules, by the name an assignment's review_rule and the events carry.
RULE_FAST = "fast"
RULE_OUTLIER = "fast_outlier"
RULE_STOPPED = "stopped"
RULE_WRONG_CONTROL = "wrong_control"
RULE_ACCURACY = "accuracy"
RULE_AGREEMENT = "agreement"

# A submission the handler did not check within this long is the sweeper's.
MISSED_AFTER = timedelta(minutes=1)
SWEEP_LIMIT = 2_000
# The outlier rule: how many of the job's other submissions it needs, how many recent ones it reads, and how far
# below the median (in robust standard deviations) an answer must be.
OUTLIER_MIN_SUBMISSIONS = 20
OUTLIER_SAMPLE = 1_000
OUTLIER_DEVIATIONS = 3
# The median absolute deviation times this estimates the standard deviation of a normal distribution; unlike the
# plain standard deviation, a few very slow workers cannot stretch it until no answer is ever an outlier.
MAD_TO_STANDARD_DEVIATION = 1.4826
MAX_FLAG_SECONDS = 86_400
MAX_WINDOW = 1_000
MAX_CONTROL_RATE = 50


# Settings ---------------------------------------------------------------------------------------------------------

# Each setting explained in a plain sentence (the requester's page and the API's schema say these).
SETTING_HELP: dict[str, str] = {
    "control_rate_percent": (
        "Out of every 100 tasks a worker takes, how many are controls: tasks whose answer you know, mixed in "
        "among the others and looking exactly like them (0 to 50; 0: no controls)."
    ),
    "accuracy_window": (
        "A worker's accuracy is the share of their most recent controls in this job they got right: this many."
    ),
    "stop_below_percent": (
        "A worker whose accuracy falls below this percentage can take no more tasks of this job (empty: never)."
    ),
    "stop_after_controls": "Nobody is stopped before answering this many controls.",
    "hold_pending_when_stopped": (
        "When a worker is stopped, their work still waiting for review goes to you instead of being approved "
        "automatically."
    ),
    "training_pass_percent": (
        "Workers first answer your training tasks, which show them the right answer, and must get at least this "
        "percentage right before the real tasks (empty: no training)."
    ),
    "aggregation_method": (
        "How several workers' answers to a choice, number or checkbox become one result: the answer most gave, "
        "the same weighted by each worker's accuracy on controls, or Dawid–Skene (which learns how each worker "
        "errs)."
    ),
    "text_aggregation": (
        "For free-text answers: keep every answer, or the most common one once case, spaces and punctuation are "
        "set aside."
    ),
    "overlap_start": (
        "Ask this many workers per task first, and one more only while their answers disagree, up to the job's "
        "assignments per task; what a task did not need is refunded when it is done (empty: always ask them all; "
        "set before publishing)."
    ),
    "agreement_percent": (
        "Answers agree when the result's confidence is at least this percentage; below it, one more worker is "
        "asked (while the job allows more)."
    ),
    "approve_accuracy_percent": (
        "Approve and pay as soon as the worker submits when at least this percentage of their recent controls "
        "are right (empty: off)."
    ),
    "approve_after_controls": "Approving by accuracy waits until the worker has answered at least this many controls.",
    "approve_on_agreement": (
        "Approve and pay an answer as soon as the task's answers are all in and it agrees with their result."
    ),
    "reject_wrong_controls": (
        "Reject a wrong answer to a control at once; the worker sees the right answer and can dispute it."
    ),
    "flag_faster_than_seconds": (
        "Answers sent less than this many seconds after the task was taken go to you for review, and nothing "
        "approves them automatically (empty: off)."
    ),
    "flag_outliers_below_median": (
        "Answers sent far faster than usual for this job (three standard deviations below its median working "
        "time, once it has 20 answers) go to you for review, and nothing approves them automatically."
    ),
}
SETTING_NAMES = tuple(SETTING_HELP)


class QualitySettingsInvalid(InvalidInput):
    """`details["fields"]` maps each refused setting to its message."""


def job_quality_get(*, job: Job, actor: User) -> JobQuality:
    """The job's quality settings as its requester sees them: its row, or the defaults (unsaved) when it has none."""
    if job.requester_id != actor.pk:
        raise NotFound("No such job.")
    return controls.quality_of(job) or JobQuality(job=job)


def job_quality_set(*, job: Job, actor: User, **settings) -> JobQuality:
    """Change the job's quality control: the settings given (by name, SETTING_NAMES), the others as they were.

    Only the job's requester, while the job is a draft, published or paused; the starting overlap only on a draft
    (the escrow and the open slots follow from it at publishing; tasks.overlap.overlap_start_apply applies it to the
    draft's tasks). Every setting is checked, and all refusals are said at once (QualitySettingsInvalid, naming
    each setting); nothing changes then. Locks the job row, so two changes at once apply one after the other.
    Records `job.quality_changed` with what changed.
    """
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise InvalidInput(f"Unknown quality settings: {', '.join(unknown)}.", details={"unknown": unknown})
    with transaction.atomic():
        locked = Job.objects.select_for_update(no_key=True).filter(pk=job.pk, requester=actor).first()
        if locked is None:
            raise NotFound("No such job.")
        job = locked
        if job.status not in {JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED}:
            raise InvalidTransition(
                f"The job is {job.get_status_display().lower()}: its quality control can no longer change."
            )
        quality = JobQuality.objects.filter(job=job).first() or JobQuality(job=job)
        quality.job = job
        before = {name: getattr(quality, name) for name in SETTING_NAMES}
        wanted = {**before, **settings}
        cleaned = _settings_checked(wanted, job=job, before=before)
        changes = {name: value for name, value in cleaned.items() if value != before[name] or quality._state.adding}
        for name, value in cleaned.items():
            setattr(quality, name, value)
        quality.save()
        if "overlap_start" in changes and job.status == JobStatus.DRAFT:
            overlap.overlap_start_apply(job)
        record_event(
            type="job.quality_changed",
            actor=Actor.of(actor),
            subject=("job", job.public_id),
            audience=[job.requester_id],
            data={"job_id": job.public_id, "changes": changes},
        )
    job.quality = quality
    return quality


def _settings_checked(wanted: dict, *, job: Job, before: dict) -> dict:
    errors: dict[str, str] = {}
    cleaned: dict = {}

    def number(name: str, low: int, high: int, *, empty: bool = False) -> None:
        value = wanted[name]
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None:
                try:
                    value = int(value)
                except ValueError:
                    errors[name] = "Give a whole number."
                    return
        if value is None and empty:
            cleaned[name] = None
            return
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            errors[name] = "Give a whole number."
            return
        if not low <= value <= high:
            errors[name] = f"Give a whole number from {low:,} to {high:,}."
            return
        cleaned[name] = value

    def flag(name: str) -> None:
        value = wanted[name]
        if not isinstance(value, bool):
            errors[name] = "Give true or false."
            return
        cleaned[name] = value

    def choice(name: str, choices: type) -> None:
        if wanted[name] not in choices.values:
            errors[name] = "Choose one of: " + ", ".join(choices.values) + "."
            return
        cleaned[name] = wanted[name]

    number("control_rate_percent", 0, MAX_CONTROL_RATE)
    number("accuracy_window", 1, MAX_WINDOW)
    number("stop_below_percent", 1, 100, empty=True)
    number("stop_after_controls", 1, MAX_WINDOW)
    flag("hold_pending_when_stopped")
    number("training_pass_percent", 1, 100, empty=True)
    choice("aggregation_method", AggregationMethod)
    choice("text_aggregation", TextAggregation)
    number("overlap_start", 1, job.assignments_per_task, empty=True)
    number("agreement_percent", 1, 100)
    number("approve_accuracy_percent", 1, 100, empty=True)
    number("approve_after_controls", 1, MAX_WINDOW)
    flag("approve_on_agreement")
    flag("reject_wrong_controls")
    number("flag_faster_than_seconds", 1, MAX_FLAG_SECONDS, empty=True)
    flag("flag_outliers_below_median")
    if errors:
        _refuse(errors)

    # How the settings go together.
    window = cleaned["accuracy_window"]
    controls_served = cleaned["control_rate_percent"] > 0
    if cleaned["hold_pending_when_stopped"] and cleaned["stop_below_percent"] is None:
        errors["hold_pending_when_stopped"] = "Holding a stopped worker's work needs a percentage to stop below."
    if cleaned["stop_below_percent"] is not None and not controls_served:
        errors["stop_below_percent"] = "Stopping workers by accuracy needs controls: set a control rate above 0."
    if cleaned["approve_accuracy_percent"] is not None:
        if not controls_served:
            errors["approve_accuracy_percent"] = "Approving by accuracy needs controls: set a control rate above 0."
        if cleaned["approve_after_controls"] > window:
            errors["approve_after_controls"] = f"Accuracy counts the last {window} controls: give at most {window}."
    if cleaned["reject_wrong_controls"] and not controls_served:
        errors["reject_wrong_controls"] = "Rejecting wrong controls needs controls: set a control rate above 0."
    if cleaned["approve_on_agreement"] and job.assignments_per_task < 2:
        errors["approve_on_agreement"] = (
            "Agreement needs at least two workers per task; this job asks one. Change its assignments per task first."
        )
    fast = cleaned["flag_faster_than_seconds"]
    if fast is not None and fast >= job.time_limit_seconds:
        errors["flag_faster_than_seconds"] = (
            f"Every answer comes within the job's time limit of {job.time_limit_seconds:,} seconds: give fewer."
        )
    if cleaned["overlap_start"] is not None and job.form_kind == FormKind.PER_TASK:
        errors["overlap_start"] = (
            "HITs made through the Mechanical Turk API each pay for their own MaxAssignments: dynamic overlap does "
            "not apply to them."
        )
    if cleaned["overlap_start"] != before["overlap_start"] and job.status != JobStatus.DRAFT:
        errors["overlap_start"] = "The starting overlap is fixed when the job is published: it can no longer change."
    if errors:
        _refuse(errors)
    return cleaned


def _refuse(errors: dict[str, str]) -> None:
    names = ", ".join(errors)
    message = next(iter(errors.values())) if len(errors) == 1 else f"Some settings need attention: {names}."
    raise QualitySettingsInvalid(message, details={"fields": errors})


# What workers are told ----------------------------------------------------------------------------------------------


def rules_described(job: Job, quality: JobQuality | None = None) -> list[str]:
    """How a worker's work on the job is judged, one plain sentence per rule that is on (the job's auto-approve delay,
    said by the page, comes last). Never says which tasks are controls: only that some are checked."""
    quality = quality or controls.quality_of(job)
    if quality is None:
        return []
    sentences = []
    window = quality.accuracy_window
    if quality.control_rate_percent:
        sentences.append("Some tasks are checked against answers the requester knows; they look like all the others.")
    if quality.training_pass_percent is not None:
        sentences.append(
            f"Before the real tasks you do a short training, which shows you the right answers; you need at least "
            f"{quality.training_pass_percent}% of it right."
        )
    if quality.stop_below_percent is not None:
        held = " and your work waiting for review goes to the requester" if quality.hold_pending_when_stopped else ""
        sentences.append(
            f"If fewer than {quality.stop_below_percent}% of your last {window} checked tasks are right (after "
            f"{quality.stop_after_controls}), you can take no more tasks of this job{held}."
        )
    if quality.approve_accuracy_percent is not None:
        sentences.append(
            f"Approved as soon as you submit when at least {quality.approve_accuracy_percent}% of your last "
            f"{window} checked tasks are right (after {quality.approve_after_controls})."
        )
    if quality.approve_on_agreement:
        answers = quality.overlap_start or job.assignments_per_task
        sentences.append(
            f"Approved when your answer agrees with the other workers' (once {answers} have answered, and at least "
            f"{quality.agreement_percent}% of the answers agree)."
        )
    if quality.reject_wrong_controls:
        sentences.append("A wrong answer on a checked task may be rejected; you will see the right answer.")
    if quality.flag_faster_than_seconds is not None:
        sentences.append(f"Answers sent in under {quality.flag_faster_than_seconds} s go to the requester for review.")
    if quality.flag_outliers_below_median:
        sentences.append("Answers sent far faster than usual for this job go to the requester for review.")
    return sentences


# The pipeline -------------------------------------------------------------------------------------------------------


@dataclass
class Decision:
    """What a rule did to a submission: `outcome` approved, rejected, flagged or held, by `rule`, from `inputs`."""

    rule: str
    outcome: str
    inputs: dict = field(default_factory=dict)
    assignment_ids: list[int] = field(default_factory=list)


def submission_checked(*, assignment_id: int, now: datetime | None = None) -> list[Decision]:
    """Run the quality pipeline on one submitted assignment, once: bring its task's result up to date, then apply
    the job's review rules (the module's docstring says which, in what order). Returns the decisions made (for this
    assignment and, by agreement, others of its task), empty when no rule decided.

    Idempotent: under the assignment's row lock, an assignment already checked (quality_checked_at set) is left
    alone; the check and the decisions commit together, so a second run, at the same time or later, does nothing, and
    every approval pays exactly once (assignment_review, keyed by the assignment). One reviewed before its check (a
    late sweep) gets no rule of its own, but its task's result and agreeing answers are still brought up to date.
    """
    now = now or timezone.now()
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update(of=("self",), no_key=True)
            .select_related("job", "job__quality", "task")
            .filter(pk=assignment_id)
            .first()
        )
        if assignment is None or assignment.quality_checked_at is not None:
            return []
        assignment.quality_checked_at = now
        assignment.save(update_fields=["quality_checked_at"])
        result = overlap.task_result_update(task_id=assignment.task_id)
        quality = controls.quality_of(assignment.job)
        if quality is None:
            return []
        decisions = []
        if assignment.status == AssignmentStatus.SUBMITTED:
            decision = _first_rule_deciding(assignment, quality, now=now)
            if decision is not None:
                decisions.append(decision)
                if decision.outcome == "rejected":
                    # The result counted the answer just rejected: bring it up to date before agreeing with it.
                    result = overlap.task_result_update(task_id=assignment.task_id)
        if quality.approve_on_agreement and _agreed_enough(result, quality):
            decisions += _approve_agreeing(assignment, quality, result, now=now)
    return decisions


def _agreed_enough(result: TaskResult | None, quality: JobQuality) -> bool:
    """Whether the task's result is complete AND its answers agree at least as the job asks: a task that reached its
    maximum still disagreeing (a tie, a split) has a result but no agreement to approve anyone on."""
    return (
        result is not None
        and result.complete
        and result.agreement is not None
        and not overlap.disagrees(result.agreement, quality)
    )


def _first_rule_deciding(assignment: Assignment, quality: JobQuality, *, now: datetime) -> Decision | None:
    for rule in (_flag_fast, _hold_stopped, _reject_wrong_control, _approve_on_accuracy):
        decision = rule(assignment, quality, now=now)
        if decision is not None:
            return decision
    return None


def _working_seconds(assignment: Assignment) -> float:
    return (assignment.submitted_at - assignment.accepted_at).total_seconds()


def _flag_fast(assignment: Assignment, quality: JobQuality, *, now: datetime) -> Decision | None:
    seconds = _working_seconds(assignment)
    threshold = quality.flag_faster_than_seconds
    if threshold is not None and seconds < threshold:
        inputs = {"working_seconds": round(seconds, 1), "threshold_seconds": threshold}
        reason = (
            f"Sent {_seconds(seconds)} after the task was taken: answers in under {threshold} s are reviewed by the "
            f"requester."
        )
        return _flag(assignment, RULE_FAST, reason, inputs, now=now)
    if quality.flag_outliers_below_median:
        times = _recent_working_seconds(assignment)
        if len(times) >= OUTLIER_MIN_SUBMISSIONS:
            median = statistics.median(times)
            deviation = MAD_TO_STANDARD_DEVIATION * statistics.median(abs(value - median) for value in times)
            below = median - OUTLIER_DEVIATIONS * deviation
            if deviation > 0 and seconds < below:
                inputs = {
                    "working_seconds": round(seconds, 1),
                    "median_seconds": round(median, 1),
                    "standard_deviation_seconds": round(deviation, 1),
                    "threshold_seconds": round(below, 1),
                    "submissions": len(times),
                }
                reason = (
                    f"Sent {_seconds(seconds)} after the task was taken, far faster than usual for this job (answers "
                    f"take about {_seconds(median)}): reviewed by the requester."
                )
                return _flag(assignment, RULE_OUTLIER, reason, inputs, now=now)
    return None


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _recent_working_seconds(assignment: Assignment) -> list[float]:
    """Working times of the job's most recent other submissions (one query, at most OUTLIER_SAMPLE rows)."""
    spans = (
        Assignment.objects.filter(job_id=assignment.job_id, submitted_at__isnull=False)
        .exclude(pk=assignment.pk)
        .order_by("-submitted_at")
        .annotate(span=ExpressionWrapper(F("submitted_at") - F("accepted_at"), output_field=DurationField()))
        .values_list("span", flat=True)[:OUTLIER_SAMPLE]
    )
    return [span.total_seconds() for span in spans]


def _hold_stopped(assignment: Assignment, quality: JobQuality, *, now: datetime) -> Decision | None:
    if not quality.hold_pending_when_stopped:
        return None
    accuracy = controls.accuracy_of(assignment.worker_id, assignment.job_id)
    if accuracy is None or not controls.is_stopped(
        stopped_at=accuracy.stopped_at, accuracy_percent=accuracy.accuracy_percent, quality=quality
    ):
        return None
    inputs = {
        "accuracy_percent": accuracy.accuracy_percent,
        "controls": len(accuracy.recent),
        "stop_below_percent": quality.stop_below_percent,
        "stopped_at": accuracy.stopped_at.isoformat(),
    }
    reason = (
        f"Fewer than {quality.stop_below_percent}% of the worker's recent checked tasks in this job were right: "
        f"their waiting work is reviewed by the requester."
    )
    decision = _flag(assignment, RULE_STOPPED, reason, inputs, now=now, outcome="held")
    # The rest of their waiting work too: the requester asked for all of it. Rows someone else holds right now are
    # being decided by them.
    others = (
        Assignment.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("job", "task", "worker")
        .filter(
            job_id=assignment.job_id,
            worker_id=assignment.worker_id,
            status=AssignmentStatus.SUBMITTED,
            flag_reason="",
            rejection_held_at__isnull=True,
        )
        .exclude(pk=assignment.pk)
        .order_by("pk")
    )
    for other in others:
        decision.assignment_ids += _flag(other, RULE_STOPPED, reason, inputs, now=now, outcome="held").assignment_ids
    return decision


def _flag(
    assignment: Assignment, rule: str, reason: str, inputs: dict, *, now: datetime, outcome: str = "flagged"
) -> Decision:
    """Send a submission to the requester: it keeps its status and says why; no rule approves it. It keeps its
    auto-approve time, the job's promise to every worker: what the requester has not rejected by then is approved
    and paid, so flagged work never waits (and holds escrow) for ever."""
    assignment.flag_reason = reason[:200]
    assignment.save(update_fields=["flag_reason"])
    decision = Decision(rule=rule, outcome=outcome, inputs=inputs, assignment_ids=[assignment.pk])
    _record_decision(assignment, decision, now=now)
    return decision


def _reject_wrong_control(assignment: Assignment, quality: JobQuality, *, now: datetime) -> Decision | None:
    task = assignment.task
    if not quality.reject_wrong_controls or task.kind != TaskKind.CONTROL or assignment.control_correct is not False:
        return None
    right = "; ".join(f"{name}: {text}" for name, text in controls.gold_display_items(assignment.job, task.gold))
    feedback = (
        f"Rejected by the rule: this task was checked against an answer the requester knows, and yours differs. "
        f"The right answer: {right}."
    )
    try:
        assignment_review(
            assignment=assignment,
            reviewer=None,
            rule=RULE_WRONG_CONTROL,
            approve=False,
            feedback=feedback,
            rejection_reason=RejectionReason.WRONG_CHECKED_ANSWER,
            now=now,
        )
    except ReviewPeriodOver:
        return None  # checked after its review period (a sweeper long delayed): the worker was promised approval
    except InvalidTransition:
        return None  # decided meanwhile
    decision = Decision(
        rule=RULE_WRONG_CONTROL,
        outcome="rejected",
        inputs={"answer": assignment.answer, "known_answer": task.gold},
        assignment_ids=[assignment.pk],
    )
    _record_decision(assignment, decision, now=now)
    return decision


def _approve_on_accuracy(assignment: Assignment, quality: JobQuality, *, now: datetime) -> Decision | None:
    threshold = quality.approve_accuracy_percent
    if threshold is None:
        return None
    accuracy = controls.accuracy_of(assignment.worker_id, assignment.job_id)
    if accuracy is None or accuracy.accuracy_percent is None:
        return None
    answered = len(accuracy.recent)
    if answered < quality.approve_after_controls or accuracy.accuracy_percent < threshold:
        return None
    inputs = {
        "accuracy_percent": accuracy.accuracy_percent,
        "controls": answered,
        "threshold": threshold,
        "after_controls": quality.approve_after_controls,
        "window": quality.accuracy_window,
    }
    feedback = (
        f"Approved by the rule: at least {threshold}% of your last {quality.accuracy_window} checked tasks are "
        f"right (after {quality.approve_after_controls}). Yours: {accuracy.accuracy_percent}% of your last {answered}."
    )
    return _approve(assignment, RULE_ACCURACY, feedback, inputs, now=now)


def _approve(assignment: Assignment, rule: str, feedback: str, inputs: dict, *, now: datetime) -> Decision | None:
    try:
        assignment_review(assignment=assignment, reviewer=None, rule=rule, approve=True, feedback=feedback, now=now)
    except InvalidTransition:
        return None  # decided meanwhile (a requester's review, a held rejection)
    decision = Decision(rule=rule, outcome="approved", inputs=inputs, assignment_ids=[assignment.pk])
    _record_decision(assignment, decision, now=now)
    return decision


def _approve_agreeing(
    assignment: Assignment, quality: JobQuality, result: TaskResult, *, now: datetime
) -> list[Decision]:
    """Approve every waiting, unflagged answer of the task that agrees with its complete result: this assignment
    (unless a rule above decided it) and the others, which their own pipelines left waiting for the result."""
    waiting = (
        Assignment.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("job", "task", "worker")
        .filter(
            task_id=assignment.task_id,
            status=AssignmentStatus.SUBMITTED,
            flag_reason="",
            rejection_held_at__isnull=True,
            # Only answers whose own rules have run (this one's just did): an answer still to be checked may yet be
            # flagged, held or rejected; its own check approves it afterwards if it agrees.
            quality_checked_at__isnull=False,
        )
        .order_by("pk")
    )
    job = assignment.job
    decisions = []
    for candidate in waiting:
        if not answer_agrees(job, quality, candidate.answer or {}, result.result):
            continue
        inputs = {
            "agreement": result.agreement,
            "agreement_percent": quality.agreement_percent,
            "answers": result.answer_count,
            "result": result.result,
        }
        feedback = f"Approved by the rule: your answer agrees with the other workers' ({result.answer_count} answered)."
        decision = _approve(candidate, RULE_AGREEMENT, feedback, inputs, now=now)
        if decision is not None:
            decisions.append(decision)
    return decisions


def answer_agrees(job: Job, quality: JobQuality, answer: dict, result: dict) -> bool:
    """Whether `answer` equals the aggregated `result` in every field (each field kind's equality). A free-text field
    kept as all its answers (text_aggregation "all") has no one result to agree with and is left out; with no field
    left to compare, nothing agrees."""
    kinds = answer_kinds(form_fields=job.form_fields or [], answer_fields=list(job.answer_fields or []))
    compared = 0
    for name, value in result.items():
        kind = kinds.get(name, TEMPLATE_FIELD)
        free_text = kind.name not in overlap.CHOICE_KINDS | overlap.NUMBER_KINDS
        if free_text and quality.text_aggregation == TextAggregation.ALL:
            continue
        if not kind.equal(answer.get(name), value):
            return False
        compared += 1
    return compared > 0


def _record_decision(assignment: Assignment, decision: Decision, *, now: datetime) -> None:
    record_event(
        type="assignment.rule_applied",
        actor=Actor.system(f"review rule: {decision.rule}"),
        subject=("assignment", assignment.public_id),
        audience=[assignment.job.requester_id, assignment.worker_id],
        data={
            "assignment_id": assignment.public_id,
            "job_id": assignment.job.public_id,
            "rule": decision.rule,
            "outcome": decision.outcome,
            "inputs": decision.inputs,
            "checked_at": now.isoformat(),
        },
    )


# The sweeper ---------------------------------------------------------------------------------------------------------


def submissions_check_missed(*, now: datetime | None = None) -> int:
    """Run the pipeline on submissions it has not checked for MISSED_AFTER (a handler that failed or a lost
    process), oldest first, at most SWEEP_LIMIT a run. Returns how many it checked. Each in its own transaction; one
    that fails is logged and left for the next run."""
    now = now or timezone.now()
    # The partial index assignment_unchecked_idx holds exactly the submitted assignments not checked yet.
    missed = list(
        Assignment.objects.filter(
            status=AssignmentStatus.SUBMITTED,
            quality_checked_at__isnull=True,
            submitted_at__lte=now - MISSED_AFTER,
        )
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    checked = 0
    for assignment_id in missed:
        try:
            submission_checked(assignment_id=assignment_id)
        except Exception:
            logger.exception("The quality pipeline failed on assignment %s; the next sweep tries again", assignment_id)
        else:
            checked += 1
    return checked
