"""Known answers (issue 12): control tasks and training tasks, their known answers ("gold"), how an answer is
compared with them, and what a worker's answers to controls do (their accuracy on the job, and the stop).

- **In.** A task gets known answers from `Gold.<field>` columns of a CSV (a `Training` column of "yes" or "1"
  makes the row a training task), from the API's `gold` and `kind`, or on the requester's task page. The values
  are checked by the job's answer form like a worker's answer (`gold_clean`); a number may carry a tolerance,
  "12.5±0.1" (marketplace.answer_fields.split_tolerance). Known answers are never part of the task's input: no
  page, API object or event a worker reads holds them.
- **Money.** A control is a normal paid task: its slots are funded and paid like any. A training task takes no
  slot and no escrow (slots_open 0, not counted in the job's task_count or open_slot_count), so publishing and
  adding tasks fund only the paid ones; workers answer it unpaid on the job's training page (tasks.training).
- **Serving.** With a control rate, each claim draws `secrets.randbelow(100) < rate` and takes a control the worker
  never had first, else a regular task (a regular draw takes a control when no regular task is left); without a
  rate, controls are served in their row order like any task (`claim_draw`). Either draw costs the same queries.
- **Accuracy.** At submission a control's answer is compared with its known answers (`control_result`); the
  worker's WorkerJobAccuracy row is updated under a lock (`accuracy_record`): the last `accuracy_window` results,
  accuracy = correct × 100 // results in the window. When the job stops workers below a threshold and they have
  answered at least `stop_after_controls` controls, a worker below it is stopped: `stopped_at`, the event
  `worker.stopped_on_job` (the worker is told), and claims refused (`is_stopped`, tasks.eligibility).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Case, Exists, OuterRef, Subquery, Value, When

from core.errors import DomainError, InvalidInput
from core.events import Actor, record_event
from marketplace import answer_forms
from marketplace.answer_fields import (
    CheckboxKind,
    FieldKind,
    MultipleChoiceKind,
    NumberKind,
    answer_kinds,
    split_tolerance,
    with_tolerance,
)
from marketplace.models import FormKind, Job, User
from tasks.models import JobQuality, Task, TaskKind, WorkerJobAccuracy

GOLD_PREFIX = "Gold."
TRAINING_COLUMN = "Training"
TRAINING_YES = frozenset({"yes", "1", "true"})
TRAINING_NO = frozenset({"", "no", "0", "false"})
CHECKBOX_YES = frozenset({"yes", "true", "1", "x", "on", "ticked"})
CHECKBOX_NO = frozenset({"no", "false", "0", "off", "unticked"})
# Training is a short course before the real work: bounded, since its tasks are stored unpaid.
MAX_TRAINING_TASKS = 100
# A job without quality rules (no JobQuality row) keeps the model's default window.
DEFAULT_ACCURACY_WINDOW = 20
STOP_RULE = "accuracy on the job's controls below its threshold"


class StoppedOnJob(DomainError):
    code = "stopped_on_job"
    status = 403


class TrainingRequired(DomainError):
    code = "training_required"
    status = 403


TRAINING_REQUIRED_MESSAGE = "Do this job's training first: you can take its tasks once you pass it."
TRAINING_REQUIRED_REASON = "you have not passed this job's training yet"


@dataclass(frozen=True)
class KnownAnswers:
    """A task's known answers as the requester gave them, before the job's form checks them (`known_answers_clean`).

    `gold` maps answer field names to CSV cells (`from_cells`) or to JSON answer values (the API's, the task page's);
    `where` names the row or task in messages ("Row 5", "Task 3")."""

    kind: str
    gold: dict
    where: str
    from_cells: bool = False


def is_reserved_column(name: str) -> bool:
    """Whether a CSV column carries known answers rather than a task input."""
    return name == TRAINING_COLUMN or name.startswith(GOLD_PREFIX)


def known_from_csv(cells: dict[str, str], *, row_number: int) -> KnownAnswers | None:
    """A CSV row's known answers from its reserved columns (`Gold.<field>`, `Training`), or None for a regular task.

    A row with any Gold value is a control; with Training "yes" (or "1", "true") a training task, which needs Gold
    values. Blank Gold cells are fields without a known answer."""
    where = f"Row {row_number}"
    training_cell = cells.get(TRAINING_COLUMN, "").strip().lower()
    if training_cell not in TRAINING_YES | TRAINING_NO:
        raise InvalidInput(f'{where}, column “{TRAINING_COLUMN}”: write "yes" for a training task, or leave it empty.')
    gold = {
        name.removeprefix(GOLD_PREFIX): value
        for name, value in cells.items()
        if name.startswith(GOLD_PREFIX) and value.strip()
    }
    training = training_cell in TRAINING_YES
    if training and not gold:
        raise InvalidInput(f"{where}: a training task needs its known answers in Gold.<field> columns.")
    if not gold:
        return None
    return KnownAnswers(
        kind=TaskKind.TRAINING if training else TaskKind.CONTROL, gold=gold, where=where, from_cells=True
    )


def known_from_api(*, kind: str | None, gold: dict | None, number: int) -> KnownAnswers | None:
    """An API task's `kind` and `gold`: gold without a kind makes a control; a control or training task needs gold;
    a regular task has none."""
    where = f"Task {number}"
    gold = {name: value for name, value in (gold or {}).items() if not _blank(value)}
    kind = kind or (TaskKind.CONTROL if gold else TaskKind.REGULAR)
    if kind == TaskKind.REGULAR:
        if gold:
            raise InvalidInput(f"{where}: a regular task has no known answers; send kind control or training.")
        return None
    if not gold:
        raise InvalidInput(f"{where}: a {kind} task needs its known answers in `gold`.")
    return KnownAnswers(kind=kind, gold=gold, where=where)


def known_answers_clean(*, job: Job, known: list[KnownAnswers | None]) -> list[tuple[str, dict]]:
    """Each task's (kind, gold as stored), checked against the job's answer form; regular tasks as (regular, {})."""
    return [
        (TaskKind.REGULAR, {})
        if item is None
        else (item.kind, gold_clean(job=job, raw=item.gold, where=item.where, from_cells=item.from_cells))
        for item in known
    ]


def training_count(kinds_and_gold: list[tuple[str, dict]] | None) -> int:
    return sum(1 for kind, _ in kinds_and_gold or [] if kind == TaskKind.TRAINING)


def training_room_check(*, job: Job, adding: int) -> None:
    """Refuse training tasks beyond MAX_TRAINING_TASKS per job (they are stored unpaid, outside the draft quota)."""
    held = Task.objects.filter(job_id=job.pk, kind=TaskKind.TRAINING).count()
    if held + adding > MAX_TRAINING_TASKS:
        raise InvalidInput(
            f"A job has at most {MAX_TRAINING_TASKS} training tasks; it has {held} and these would add {adding}."
        )


def gold_clean(*, job: Job, raw: dict, where: str, from_cells: bool = False) -> dict:
    """Known answers as stored: each value checked by the job's answer form like a worker's answer (a choice among
    the field's choices, a number within its bounds, …), in the stored form of that answer; a number may keep a
    tolerance ("12.5±0.1"). Every required field of a form-builder job needs one. Raises InvalidInput naming
    `where` and the column."""
    kinds = _kinds_of(job)
    _column = _naming(from_cells)
    if not kinds:
        raise InvalidInput(f"{where}: known answers need the job's answer form; add the form first.")
    unknown = [name for name in raw if name not in kinds]
    if unknown:
        raise InvalidInput(
            f"{where}: {_column(unknown[0])} names no answer field of the job; its fields are "
            + ", ".join(kinds)
            + ".",
            details={"field": unknown[0]},
        )
    given = {name: value for name, value in raw.items() if not _blank(value)}
    if not given:
        raise InvalidInput(f"{where}: give at least one known answer.")
    required = [field["name"] for field in job.form_fields if field["required"]] if _is_builder(job) else []
    missing = [name for name in required if name not in given]
    if missing:
        raise InvalidInput(
            f"{where}: a task with known answers needs one for every required answer field; "
            + ", ".join(_column(name) for name in missing)
            + (" is" if len(missing) == 1 else " are")
            + " empty.",
            details={"missing": missing},
        )
    values, tolerances = {}, {}
    for name, value in given.items():
        kind = kinds[name]
        try:
            value = _from_cell(kind, value) if from_cells else value
            if isinstance(kind, NumberKind):
                value, tolerances[name] = split_tolerance(value)
        except InvalidInput as error:
            raise InvalidInput(f"{where}, {_column(name)}: {error.message}", details={"field": name}) from None
        values[name] = value
    gold = _validated_like_an_answer(job, values, where=where, name_of=_column)
    for name, tolerance in tolerances.items():
        if tolerance is not None:
            gold[name] = with_tolerance(gold[name], tolerance)
    return gold


def _validated_like_an_answer(job: Job, values: dict, *, where: str, name_of) -> dict:
    if not _is_builder(job):
        try:
            return answer_forms.clean_html_answer(values, field_names=job.answer_fields)
        except InvalidInput as error:
            raise InvalidInput(f"{where}: {error.message}") from None
    form = answer_forms.AnswerForm(job.form_fields, data=answer_forms.answer_form_data(job.form_fields, values))
    if not form.is_valid():
        name, messages = next(iter(form.errors.items()))
        raise InvalidInput(f"{where}, {name_of(name)}: {' '.join(messages)}", details={"field": name})
    answer = form.answer()
    return {name: answer[name] for name in values}


def _from_cell(kind: FieldKind, cell: str) -> object:
    """A CSV cell as the JSON value of its kind: "a|b" for several choices, yes or no for a checkbox."""
    text = str(cell).strip()
    if isinstance(kind, MultipleChoiceKind):
        return [part.strip() for part in text.split("|") if part.strip()]
    if isinstance(kind, CheckboxKind):
        if text.lower() in CHECKBOX_YES:
            return True
        if text.lower() in CHECKBOX_NO:
            return False
        raise InvalidInput('write "yes" (ticked) or "no" (not ticked).')
    return text


def _blank(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _naming(from_cells: bool):
    """How messages name a known answer: its CSV column, or its answer field (the API's `gold`, the task page)."""

    def name_of(name: str) -> str:
        return f"column “{GOLD_PREFIX}{name}”" if from_cells else f"known answer “{name}”"

    return name_of


def _is_builder(job: Job) -> bool:
    return job.form_kind == FormKind.BUILDER


def _kinds_of(job: Job) -> dict[str, FieldKind]:
    return answer_kinds(form_fields=job.form_fields if _is_builder(job) else [], answer_fields=job.answer_fields)


# Comparing an answer with the known answers --------------------------------------------------------------------


def control_result(job: Job, answer: dict | None, gold: dict) -> bool | None:
    """Whether `answer` matches every known answer, each compared by its field's kind (text without case or extra
    spaces, multiple choices as sets, numbers within their tolerance); None when no known answer names a field the
    job still has (its form changed while a draft), so nothing can be judged."""
    kinds = _kinds_of(job)
    checked = [name for name in gold if name in kinds]
    if not checked:
        return None
    answer = answer or {}
    return all(kinds[name].matches_known(answer.get(name), gold[name]) for name in checked)


def answer_matches_gold(job: Job, answer: dict | None, gold: dict) -> bool:
    """Whether the answer matches every known answer (`control_result` is True)."""
    return control_result(job, answer, gold) is True


def gold_display_items(job: Job, gold: dict) -> list[tuple[str, str]]:
    """(field name, text) of each known answer, in the form's order, as pages show answers."""
    kinds = _kinds_of(job)
    return [(name, kind.display(gold[name])) for name, kind in kinds.items() if name in gold]


# Serving controls in the claim --------------------------------------------------------------------------------


def quality_of(job: Job) -> JobQuality | None:
    """The job's quality rules as read with it (the claim's select_related), or None when it has none."""
    try:
        return job.quality
    except JobQuality.DoesNotExist:
        return None


def claim_draw(job: Job) -> str | None:
    """The kind of task this claim looks for first: with the job's control rate, a control with probability rate %
    (`secrets.randbelow(100) < rate`), else a regular task; None without a rate (row order, whatever the kind)."""
    quality = quality_of(job)
    rate = quality.control_rate_percent if quality is not None else 0
    if not rate:
        return None
    return TaskKind.CONTROL if secrets.randbelow(100) < rate else TaskKind.REGULAR


# Accuracy and the stop ------------------------------------------------------------------------------------------


def accuracy_of(worker_id: int, job_id: int) -> WorkerJobAccuracy | None:
    """A worker's accuracy row on a job (controls and training), or None before their first control or training."""
    return WorkerJobAccuracy.objects.filter(worker_id=worker_id, job_id=job_id).first()


def is_stopped(*, stopped_at: datetime | None, accuracy_percent: int | None, quality: JobQuality | None) -> bool:
    """Whether a worker stopped on a job is still kept from claiming: the job still stops workers below a threshold
    and their accuracy is below it (a requester who lowers or removes the threshold lets them back)."""
    return (
        stopped_at is not None
        and quality is not None
        and quality.stop_below_percent is not None
        and accuracy_percent is not None
        and accuracy_percent < quality.stop_below_percent
    )


def stopped_message(*, accuracy_percent: int, quality: JobQuality) -> str:
    return (
        f"Your accuracy on this job's checked tasks is {accuracy_percent}%, below the {quality.stop_below_percent}% "
        "it asks: you cannot take more of its tasks."
    )


def stopped_reason(*, accuracy_percent: int, quality: JobQuality) -> str:
    return (
        f"your accuracy on this job's checked tasks is {accuracy_percent}%, below the "
        f"{quality.stop_below_percent}% it asks"
    )


def accuracy_record(*, worker: User, job: Job, correct: bool, now: datetime) -> WorkerJobAccuracy:
    """Add one control's result to the worker's accuracy on the job, in the caller's transaction: the row (created
    with the first control) is locked, so two submissions at once both count. Keeps the last `accuracy_window`
    results and accuracy = correct × 100 // their number. Stops the worker (once: `stopped_at`, the event
    `worker.stopped_on_job`) when the job stops workers below `stop_below_percent`, they have answered at least
    `stop_after_controls` controls, and their accuracy is below it."""
    quality = JobQuality.objects.filter(job_id=job.pk).first()
    window = quality.accuracy_window if quality is not None else DEFAULT_ACCURACY_WINDOW
    row, _ = WorkerJobAccuracy.objects.select_for_update(no_key=True).get_or_create(worker_id=worker.pk, job_id=job.pk)
    row.recent = [*row.recent, bool(correct)][-window:]
    row.controls_answered += 1
    row.controls_correct += int(bool(correct))
    row.accuracy_percent = sum(row.recent) * 100 // len(row.recent)
    if (
        row.stopped_at is None
        and quality is not None
        and quality.stop_below_percent is not None
        and row.controls_answered >= quality.stop_after_controls
        and row.accuracy_percent < quality.stop_below_percent
    ):
        row.stopped_at = now
        record_event(
            type="worker.stopped_on_job",
            actor=Actor.system(STOP_RULE),
            subject=("job", job.public_id),
            audience=[worker.pk, job.requester_id],
            data={
                "job_id": job.public_id,
                "worker_id": worker.public_id,
                "accuracy_percent": row.accuracy_percent,
                "stop_below_percent": quality.stop_below_percent,
                "controls_answered": row.controls_answered,
                "window": len(row.recent),
            },
        )
    changed = ["recent", "controls_answered", "controls_correct", "accuracy_percent", "stopped_at", "updated_at"]
    row.save(update_fields=changed)
    return row


# What the claim's locking query (and the job page's) reads about the worker on this job ------------------------


def claim_annotations(job: Job, quality: JobQuality | None) -> dict:
    """Annotations for the query that locks the worker's row in the claim, from the job's rules read with the job:
    their stop and accuracy when the job stops workers, and whether its training is due (it asks for training, has
    training tasks, and they have not passed). No query of their own; none at all for a job without those rules."""
    if quality is None:
        return {}
    return _worker_annotations(
        job, stop=quality.stop_below_percent is not None, training=quality.training_pass_percent is not None
    )


def page_annotations(job: Job) -> dict:
    """The same as `claim_annotations` for a page that did not read the job's rules: they are read in the same query
    (`quality_from_row` turns them back into rules)."""
    rules = JobQuality.objects.filter(job_id=job.pk)
    return {
        "job_stop_below_percent": Subquery(rules.values("stop_below_percent")[:1]),
        "job_training_pass_percent": Subquery(rules.values("training_pass_percent")[:1]),
        **_worker_annotations(job, stop=True, training=True),
    }


def _worker_annotations(job: Job, *, stop: bool, training: bool) -> dict:
    theirs = WorkerJobAccuracy.objects.filter(worker_id=OuterRef("pk"), job_id=job.pk)
    annotations = {}
    if stop:
        annotations["job_stopped_at"] = Subquery(theirs.values("stopped_at")[:1])
        annotations["job_accuracy_percent"] = Subquery(theirs.values("accuracy_percent")[:1])
    if training:
        # The job's training tasks are looked for (an InitPlan, run once) only for a worker who has not passed.
        passed = Exists(theirs.filter(training_passed_at__isnull=False))
        has_training = Exists(Task.objects.filter(job_id=job.pk, kind=TaskKind.TRAINING))
        annotations["job_training_due"] = Case(
            When(passed, then=Value(False)), default=has_training, output_field=BooleanField()
        )
    return annotations


def quality_from_row(row) -> JobQuality | None:
    """The rules `page_annotations` read, as an unsaved JobQuality (None for a job without rules)."""
    stop, training = row.job_stop_below_percent, row.job_training_pass_percent
    if stop is None and training is None:
        return None
    return JobQuality(stop_below_percent=stop, training_pass_percent=training)


def claim_refusal(row, quality: JobQuality | None) -> DomainError | None:
    """The error refusing the claim to a worker row annotated by `claim_annotations`, or None."""
    if quality is None:
        return None
    accuracy = getattr(row, "job_accuracy_percent", None)
    if is_stopped(stopped_at=getattr(row, "job_stopped_at", None), accuracy_percent=accuracy, quality=quality):
        return StoppedOnJob(stopped_message(accuracy_percent=accuracy, quality=quality))
    if training_due(row, quality):
        return TrainingRequired(TRAINING_REQUIRED_MESSAGE)
    return None


def training_due(row, quality: JobQuality | None) -> bool:
    """Whether the annotated worker row says the job asks for training they have not passed."""
    return (
        quality is not None
        and quality.training_pass_percent is not None
        and bool(getattr(row, "job_training_due", False))
    )


def access_reasons(row, quality: JobQuality | None) -> list[str]:
    """The job page's reasons (lowercase, as Access.reasons) for the refusals of `claim_refusal`."""
    reasons = []
    accuracy = getattr(row, "job_accuracy_percent", None)
    if is_stopped(stopped_at=getattr(row, "job_stopped_at", None), accuracy_percent=accuracy, quality=quality):
        reasons.append(stopped_reason(accuracy_percent=accuracy, quality=quality))
    if training_due(row, quality):
        reasons.append(TRAINING_REQUIRED_REASON)
    return reasons
