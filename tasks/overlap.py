"""Overlap and aggregation (issue 12): a task's answers become one result per answer field, and dynamic overlap asks
for one more answer only while they disagree.

`task_result_update` is the one writer of `TaskResult`, and of a task's `answers_wanted` once the job is published.
It runs after every submission (the quality pipeline, `tasks.quality.submission_checked`) and after a rejection or a
dispute's decision changes a task's answers (`tasks.handlers`). Run again on the same answers it changes nothing,
records nothing and moves no money.

Which answers count: those of submitted and approved assignments. A rejected answer does not (the requester said it
is wrong; a held mass rejection is still submitted and counts until a moderator lets it stand); returned and
expired assignments have none. Per answer field, by its kind (`marketplace.answer_fields`), over the labels the kind
normalises answers to (so two answers that mean the same are one label):

- choice fields (single choice, multiple choice as the set of choices ticked, a checkbox): the job's
  `aggregation_method`: majority vote, majority vote weighted by each worker's control accuracy on the job
  (`WorkerJobAccuracy.accuracy_percent / 100`; a worker without one weighs `aggregation.DEFAULT_SKILL`), or
  Dawid–Skene;
- numbers: majority vote of the normalised values ("1.50" and "1.5" are one vote);
- text (short, long, an HTML template's fields): the job's `text_aggregation`: the most common after normalising
  case and spaces, or all answers (the distinct texts, most common first).

A field's result is stored as a worker gave it (the first answer with the winning label), so the export and the API
show "Paris", not the normalised "paris". Its confidence is in [0, 1] (`tasks.aggregation` says what it means per
method); the task's agreement is the lowest confidence of its fields, leaving out fields aggregated as "all answers"
(the requester asked for every text: there is nothing to agree on). Without a `JobQuality` row: majority vote and
the most common text.

Dawid–Skene estimates each worker's confusion from many items, so it runs over the job's answers to the field, not
the task's: the job's most recent DAWID_SKENE_MAX_ANSWERS answers (and the task's own). That bounds its cost per
update: one query reading one JSON key per choice field of at most 5,000 rows, and EM at O(iterations × answers ×
labels²) in pure Python. Measured here on 5,000 answers (three per task): 0.2 s with 2 labels and 50 workers (8 EM
rounds), 0.8 s with 3 labels and 200 workers (45), 3.2 s with 5 labels and 500 workers (62). It runs in the quality
pipeline, on commit of each submission, so a Dawid–Skene job's submit answers that much later. Majority votes read
only the task's answers.

Dynamic overlap. With `JobQuality.overlap_start` = N below the job's `assignments_per_task` (the maximum), a task
starts wanting N answers (`Task.answers_wanted`, and N open slots); escrow is funded for the maximum. Once a task
has its wanted answers in: if the agreement is below `agreement_percent` and it wants fewer than the maximum, it
wants one more and opens one slot (the task's and the job's count, in this transaction); otherwise it is complete,
and on a published or paused job the escrow of the slots it never used, (maximum - wanted) × (reward + fee), goes back
to the requester once per task (`marketplace.escrow.escrow_refund_unused_overlap`; a closed job's refund at close
already returned everything unclaimable). After that refund the task never grows again: a rejection re-opens its
slot as on any task (the rejected slot's escrow pays for it), but the answers it wants stay where they were.

Slots keep their invariant: open slots + slot-holding assignments = the answers the task wants (one more only when a
rejection is overturned after its slot was taken again: the dispute's hold, not the escrow, pays that one). Locks:
the task, then the job, then the ledger's accounts (the claim's order: user → assignment → task → job → accounts).
"""

import json
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.fields.json import KeyTransform

from core.errors import InvalidTransition, NotFound
from core.events import Actor, record_event
from marketplace import escrow
from marketplace.answer_fields import FieldKind, answer_kinds, normalise_text
from marketplace.models import FormKind, Job, JobStatus
from tasks import aggregation
from tasks.models import (
    AggregationMethod,
    Assignment,
    AssignmentStatus,
    JobQuality,
    Task,
    TaskKind,
    TaskResult,
    TextAggregation,
    WorkerJobAccuracy,
)

COUNTED_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED)
LIVE_JOB_STATUSES = frozenset({JobStatus.PUBLISHED, JobStatus.PAUSED})
DAWID_SKENE_MAX_ANSWERS = 5_000
CHOICE_KINDS = frozenset({"single_choice", "multiple_choice", "checkbox"})
NUMBER_KINDS = frozenset({"number"})
# Confidences are floats (2/3, 0.7): compared with a whole percent, a rounding error must not decide.
_AGREEMENT_SLACK = 1e-9
RULE = "dynamic overlap"


# Where dynamic overlap starts --------------------------------------------------------------------------------------


def overlap_start_of(job: Job) -> int | None:
    """The answers a task of `job` starts wanting under dynamic overlap: its `JobQuality.overlap_start` when that is
    below the job's assignments_per_task; None when there is no dynamic overlap (a task wants the maximum from the
    start). One query. Never for HITs (Mechanical Turk API): each pays for its own MaxAssignments, which the job's
    assignments_per_task does not describe."""
    if job.form_kind == FormKind.PER_TASK:
        return None
    start = JobQuality.objects.filter(job_id=job.pk).values_list("overlap_start", flat=True).first()
    return start if start is not None and start < job.assignments_per_task else None


def overlap_start_apply(job: Job) -> int:
    """Make every task of a draft want what the job's dynamic overlap starts with (`overlap_start` answers and as
    many open slots, or the job's assignments_per_task without it), and its open slot count follow. Returns the job's
    open slots. For the quality settings service, when `overlap_start` changes on a draft; publishing applies it
    again (tasks.handlers), so a later change of the draft's terms cannot leave tasks wanting the wrong number.

    Idempotent. Refuses with InvalidTransition once the job is published: its tasks were claimed on those terms.
    Locks the job, then writes its tasks, as job_update_draft does: nothing claims a draft's tasks.
    """
    with transaction.atomic():
        locked = Job.objects.select_for_update(no_key=True).filter(pk=job.pk).first()
        if locked is None:
            raise NotFound("No such job.")
        if locked.status != JobStatus.DRAFT:
            raise InvalidTransition("How many answers a task starts with can change only before the job is published.")
        return _overlap_start_set(locked, overlap_start_of(locked))


def overlap_start_for_new_tasks(*, job: Job, first_position: int) -> int:
    """Tasks just added (from `first_position` on) start wanting the job's overlap_start answers. Returns how many
    fewer slots they open than the job's maximum, for tasks_add to take off the job's count. In tasks_add's
    transaction, which holds the job's lock; nobody can claim the new rows before it commits."""
    wanted = overlap_start_of(job)
    if wanted is None:
        return 0
    started = (
        Task.objects.filter(job_id=job.pk, position__gte=first_position, slots_open=job.assignments_per_task)
        .exclude(kind=TaskKind.TRAINING)
        .update(answers_wanted=wanted, slots_open=wanted)
    )
    return started * (job.assignments_per_task - wanted)


def overlap_start_at_publish(*, job_id: int) -> None:
    """Apply the job's dynamic overlap to its tasks inside the transaction that publishes it (an event recorder of
    `job.published`, which holds the job's lock), so no worker ever claims a task wanting the maximum. A job without
    dynamic overlap whose tasks never had any costs two queries; a resumed job (it has assignments) is left alone."""
    job = Job.objects.get(pk=job_id)
    wanted = overlap_start_of(job)
    if wanted is None and not Task.objects.filter(job_id=job.pk, answers_wanted__isnull=False).exists():
        return
    if Assignment.objects.filter(job_id=job.pk).exists():
        return
    _overlap_start_set(job, wanted)


def _overlap_start_set(job: Job, wanted: int | None) -> int:
    """Every claimable task (training tasks are never claimed) wants `wanted` (None: the maximum) and has as many open
    slots; the job's open slot count is their sum. Only for a job nobody has claimed from (a draft, or one being
    published). Writes only the rows that differ."""
    slots = wanted or job.assignments_per_task
    claimable = Task.objects.filter(job_id=job.pk).exclude(kind=TaskKind.TRAINING)
    same_wanted = Q(answers_wanted=wanted) if wanted is not None else Q(answers_wanted__isnull=True)
    claimable.exclude(same_wanted & Q(slots_open=slots)).update(answers_wanted=wanted, slots_open=slots)
    open_slots = claimable.aggregate(n=Sum("slots_open"))["n"] or 0
    Job.objects.filter(pk=job.pk).exclude(open_slot_count=open_slots).update(open_slot_count=open_slots)
    return open_slots


# The result of a task -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldResult:
    value: object
    confidence: float
    counts_for_agreement: bool


def task_result_update(*, task_id: int) -> TaskResult:
    """Aggregate a task's counted answers into its TaskResult and take the dynamic overlap's next step: one more
    slot while the answers disagree (up to the job's maximum), else complete, with the unused slots' escrow refunded
    once per task.

    Idempotent: with the same answers a second run writes nothing, records no event and moves no money. Locks the
    task first, so runs for one task happen one at a time; then, only to open a slot or refund, the job and the
    ledger's accounts.
    """
    with transaction.atomic():
        task = Task.objects.select_for_update(no_key=True).filter(pk=task_id).first()
        if task is None:
            raise NotFound("No such task.")
        job = Job.objects.select_related("quality").get(pk=task.job_id)
        quality = _quality_of(job)
        answers = list(
            Assignment.objects.filter(task_id=task.pk, status__in=COUNTED_STATUSES)
            .order_by("submitted_at", "pk")
            .values_list("worker_id", "answer")
        )
        fields = _aggregate(job=job, quality=quality, task=task, answers=answers)
        confidences = [field.confidence for field in fields.values() if field.counts_for_agreement]
        agreement = min(confidences) if confidences else None
        wanted = task.answers_wanted or job.assignments_per_task
        complete = False
        refunded_msat = 0
        if answers and len(answers) >= wanted:
            grown = (
                disagrees(agreement, quality)
                and wanted < job.assignments_per_task
                and _may_grow(task)
                and _grow(task=task, job=job, agreement=agreement, quality=quality)
            )
            if not grown:
                complete = True
                refunded_msat = _refund_unused(task=task, job=job, wanted=wanted)
        values = {
            "result": {name: field.value for name, field in fields.items()},
            "confidence": {name: field.confidence for name, field in fields.items()},
            "agreement": agreement,
            "answer_count": len(answers),
            "complete": complete,
        }
        result, completed_now = _save(task, values)
        if completed_now:
            _record(
                task,
                job,
                "task.result_completed",
                agreement=agreement,
                answers_wanted=wanted,
                answer_count=len(answers),
                result=values["result"],
                refunded_msat=refunded_msat,
            )
    return result


def _quality_of(job: Job) -> JobQuality | None:
    try:
        return job.quality  # read with the job (select_related); a job without a row has no quality control
    except JobQuality.DoesNotExist:
        return None


def disagrees(agreement: float | None, quality: JobQuality | None) -> bool:
    """Whether answers that agree this much fall short of what the job asks (the rules approve only above it)."""
    if agreement is None or quality is None:
        return False
    return agreement < quality.agreement_percent / 100 - _AGREEMENT_SLACK


def _may_grow(task: Task) -> bool:
    """Only a task under dynamic overlap grows, and never after its unused escrow went back."""
    return task.answers_wanted is not None and not escrow.escrow_overlap_refunded(task_id=task.pk)


def _grow(*, task: Task, job: Job, agreement: float, quality: JobQuality) -> bool:
    """One more answer wanted and one more slot open, on the task and the job. Under the job's lock (after the
    task's): on a job closed meanwhile nothing opens (False), and the task is complete as it is."""
    locked = Job.objects.select_for_update(no_key=True).only("id", "status").get(pk=job.pk)
    if locked.status not in LIVE_JOB_STATUSES:
        return False
    task.answers_wanted += 1
    Task.objects.filter(pk=task.pk).update(answers_wanted=task.answers_wanted, slots_open=F("slots_open") + 1)
    Job.objects.filter(pk=job.pk).update(open_slot_count=F("open_slot_count") + 1)
    _record(
        task,
        job,
        "task.overlap_extended",
        agreement=agreement,
        agreement_percent=quality.agreement_percent,
        answers_wanted=task.answers_wanted,
    )
    return True


def _refund_unused(*, task: Task, job: Job, wanted: int) -> int:
    """Give back the escrow of the slots a complete task did not use, once. Nothing on a closed job: its close (and
    each assignment ending after it) already refunded all it could not pay."""
    unused = job.assignments_per_task - wanted
    if task.answers_wanted is None or unused <= 0:
        return 0
    locked = Job.objects.select_for_update(no_key=True).get(pk=job.pk)
    if locked.status not in LIVE_JOB_STATUSES:
        return 0
    return escrow.escrow_refund_unused_overlap(job=locked, task_id=task.pk, position=task.position, slots=unused)


def _save(task: Task, values: dict) -> tuple[TaskResult, bool]:
    """Write the result only where it changed (a repeat run leaves even `updated_at` alone). Returns it and whether
    it has just become complete."""
    result = TaskResult.objects.filter(task_id=task.pk).first()
    if result is None:
        return TaskResult.objects.create(task_id=task.pk, **values), values["complete"]
    changed = [name for name, value in values.items() if getattr(result, name) != value]
    was_complete = result.complete
    if changed:
        for name in changed:
            setattr(result, name, values[name])
        result.save(update_fields=[*changed, "updated_at"])
    return result, values["complete"] and not was_complete


def _record(task: Task, job: Job, event_type: str, **data) -> None:
    record_event(
        type=event_type,
        actor=Actor.system(RULE),
        subject=("task", task.public_id),
        audience=[job.requester_id],
        data={"job_id": job.public_id, "task_id": task.public_id, "position": task.position, **data},
    )


# Aggregation per field ---------------------------------------------------------------------------------------------


def _aggregate(
    *, job: Job, quality: JobQuality | None, task: Task, answers: list[tuple[int, dict | None]]
) -> dict[str, _FieldResult]:
    if not answers:
        return {}
    kinds = answer_kinds(form_fields=job.form_fields, answer_fields=list(job.answer_fields))
    method = quality.aggregation_method if quality else AggregationMethod.MAJORITY
    text_method = quality.text_aggregation if quality else TextAggregation.MOST_COMMON
    skills = _skills(job, [worker for worker, _answer in answers]) if method == AggregationMethod.WEIGHTED else {}
    dawid_skene_fields = [name for name, kind in kinds.items() if kind.name in CHOICE_KINDS]
    job_answers = (
        _job_answers(job=job, task=task, names=dawid_skene_fields)
        if method == AggregationMethod.DAWID_SKENE and dawid_skene_fields
        else {}
    )
    results = {}
    for name, kind in kinds.items():
        values = [(worker, (answer or {}).get(name)) for worker, answer in answers]
        if kind.name in CHOICE_KINDS:
            results[name] = _choice_result(kind, values, task.pk, method, skills, job_answers.get(name, []))
        elif kind.name in NUMBER_KINDS:
            results[name] = _labelled_result(kind, values, task.pk, aggregation.majority_vote)
        elif text_method == TextAggregation.ALL:
            results[name] = _all_answers_result(values, task.pk)
        else:
            results[name] = _most_common_text_result(kind, values, task.pk)
    return results


def _choice_result(
    kind: FieldKind,
    values: list[tuple[int, object]],
    item: int,
    method: str,
    skills: dict[int, float],
    job_values: list[tuple[int, int, object]],
) -> _FieldResult:
    if method == AggregationMethod.WEIGHTED:
        return _labelled_result(kind, values, item, lambda answers: aggregation.weighted_majority_vote(answers, skills))
    if method == AggregationMethod.DAWID_SKENE:
        # The other tasks' answers teach the model each worker's confusions; this task's come from the locked read.
        others = [(worker, other, value) for worker, other, value in job_values if other != item]
        return _labelled_result(kind, values, item, aggregation.dawid_skene, others=others)
    return _labelled_result(kind, values, item, aggregation.majority_vote)


def _labelled_result(
    kind: FieldKind,
    values: list[tuple[int, object]],
    item: int,
    method,
    *,
    others: Iterable[tuple[int, int, object]] = (),
) -> _FieldResult:
    """Run `method` over the kind's normalised labels; the result is the first answer given with the winning label."""
    first_given: dict[Hashable, object] = {}
    labelled = []
    for worker, value in values:
        label = kind.normalise(value)
        first_given.setdefault(label, value)
        labelled.append((worker, item, label))
    for worker, other, value in others:
        label = kind.normalise(value)
        first_given.setdefault(label, value)
        labelled.append((worker, other, label))
    outcome = method(labelled).items[item]
    return _FieldResult(_json_value(first_given[outcome.label]), outcome.confidence, counts_for_agreement=True)


def _most_common_text_result(kind: FieldKind, values: list[tuple[int, object]], item: int) -> _FieldResult:
    """aggregation.most_common_normalised over the kind's labels as text (a template's multi-select, a set, as its
    sorted members), so a text and its respelling are one vote; the result is the first answer so spelled."""
    first_given: dict[str, object] = {}
    labelled = []
    for worker, value in values:
        text = _label_text(kind.normalise(value))
        first_given.setdefault(normalise_text(text), value)
        labelled.append((worker, item, text))
    outcome = aggregation.most_common_normalised(labelled).items[item]
    return _FieldResult(_json_value(first_given[outcome.label]), outcome.confidence, counts_for_agreement=True)


def _all_answers_result(values: list[tuple[int, object]], item: int) -> _FieldResult:
    """Every distinct answer as given, the most common first; its confidence is stored but agreement leaves it out."""
    labelled = [(worker, item, _hashable(value)) for worker, value in values]
    outcome = aggregation.all_answers(labelled).items[item]
    return _FieldResult([_json_value(label) for label in outcome.label], outcome.confidence, counts_for_agreement=False)


def _label_text(label: Hashable) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, frozenset):
        return json.dumps(sorted(str(member) for member in label), ensure_ascii=False)
    return "" if label is None else str(label)


def _hashable(value: object) -> Hashable:
    return tuple(value) if isinstance(value, list) else value


def _json_value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _skills(job: Job, workers: list[int]) -> dict[int, float]:
    """Each worker's control accuracy on the job, as a weight in [0, 1]; those without one are left out (they weigh
    aggregation.DEFAULT_SKILL). One query for all of the task's workers (tasks.controls.accuracy_of reads one row per
    call, and a task may take up to 100 answers)."""
    rows = WorkerJobAccuracy.objects.filter(job_id=job.pk, worker_id__in=workers, accuracy_percent__isnull=False)
    return {worker: percent / 100 for worker, percent in rows.values_list("worker_id", "accuracy_percent")}


def _job_answers(*, job: Job, task: Task, names: list[str]) -> dict[str, list[tuple[int, int, object]]]:
    """(worker, task, value) of each named field over the job's most recent DAWID_SKENE_MAX_ANSWERS counted
    answers: one query, reading only those JSON keys."""
    keys = {f"field_{position}": KeyTransform(name, "answer") for position, name in enumerate(names)}
    rows = (
        Assignment.objects.filter(job_id=job.pk, status__in=COUNTED_STATUSES)
        .order_by("-submitted_at", "-pk")
        .annotate(**keys)
        .values_list("worker_id", "task_id", *keys)[:DAWID_SKENE_MAX_ANSWERS]
    )
    by_field: dict[str, list[tuple[int, int, object]]] = {name: [] for name in names}
    for worker, task_id, *values in rows:
        for name, value in zip(names, values, strict=True):
            by_field[name].append((worker, task_id, value))
    return by_field
