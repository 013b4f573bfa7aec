"""The results CSV in Mechanical Turk's shape: assignment, worker, status, times, Input.* and Answer.* columns, and
the task's aggregated result (tasks.overlap): Result.*, Confidence.* and Agreement, blank while it has none."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from marketplace.answer_fields import answer_kinds
from marketplace.models import FormKind, Job
from tasks.models import Assignment, Task, TaskKind, TextAggregation
from tasks.selectors import RESULT_STATUSES, result_rows

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_KINDS = frozenset({"short_text", "long_text", "html_template_field"})


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will show as text: values starting like a formula get a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "|".join(str(item) for item in value)
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _timestamp(value) -> str:
    """As PostgreSQL wrote it (tasks.selectors.IsoTimestamp), or a datetime read from another database."""
    if isinstance(value, str):
        return value
    return value.isoformat() if value else ""


def _fraction(value: float | None) -> str:
    """A confidence or agreement in [0, 1], to six decimals at most ("0.666667", "1"); "" for none."""
    return "" if value is None else format(round(value, 6), "g")


def _result_cell(kind, value: object, *, all_answers: bool) -> str:
    """A field's result as its Answer.* cell would show it; a text field kept as all its answers is the JSON list
    of their cells (an answer may hold any character, "|" included)."""
    if all_answers and kind.name in TEXT_KINDS and isinstance(value, list):
        return json.dumps([kind.csv_cell(item) for item in value], ensure_ascii=False)
    return kind.csv_cell(value)


def answer_columns(job: Job) -> list[str]:
    """The Answer.* columns: the job's form fields; for a job whose answers have no fixed fields (HITs with their own
    questions, external studies) also every field any of its answers has, in name order (one query)."""
    fixed = list(job.answer_fields)
    if job.form_kind not in {FormKind.PER_TASK, FormKind.EXTERNAL}:
        return fixed
    answered = Assignment.objects.filter(job=job, status__in=RESULT_STATUSES, answer__isnull=False)
    if connection.vendor == "postgresql":
        sql, params = answered.values("answer").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT jsonb_object_keys(answer) FROM ({sql}) AS answers", params)  # noqa: S608
            names = {row[0] for row in cursor.fetchall()}
    else:
        names = {name for answer in answered.values_list("answer", flat=True).iterator() for name in answer}
    return fixed + sorted(names - set(fixed))


def results_csv_lines(*, job: Job, rows: Iterable[dict]) -> Iterator[list[str]]:
    input_columns = list(job.input_columns)
    answer_fields = answer_columns(job)
    kinds = answer_kinds(form_fields=job.form_fields, answer_fields=answer_fields)
    yield [
        "AssignmentId",
        "WorkerId",
        "AssignmentStatus",
        "AcceptTime",
        "SubmitTime",
        "ReviewTime",
        "RequesterFeedback",
        "RejectionReason",
        "TaskNumber",
        *(f"Input.{name}" for name in input_columns),
        *(f"Answer.{name}" for name in answer_fields),
        *(f"Result.{name}" for name in answer_fields),
        *(f"Confidence.{name}" for name in answer_fields),
        "Agreement",
    ]
    for row in rows:
        task_input = row["task__input"] or {}
        answer = row["answer"] or {}
        result = row["task__result__result"] or {}
        confidence = row["task__result__confidence"] or {}
        all_answers = row["job__quality__text_aggregation"] == TextAggregation.ALL
        yield [
            row["public_id"],
            row["worker__public_id"],
            row["status"],
            _timestamp(row["accept_time"]),
            _timestamp(row["submit_time"]),
            _timestamp(row["review_time"]),
            safe_cell(row["feedback"]),
            row["rejection_reason"],
            str(row["task__position"]),
            *(safe_cell(task_input.get(name)) for name in input_columns),
            *(safe_cell(kinds[name].csv_cell(answer.get(name))) for name in answer_fields),
            *(
                safe_cell(_result_cell(kinds[name], result.get(name), all_answers=all_answers))
                for name in answer_fields
            ),
            *(_fraction(confidence.get(name)) for name in answer_fields),
            _fraction(row["task__result__agreement"]),
        ]


# Rows per piece of the streamed CSV: one piece per row made a socket write and a chunk header per row, which
# was a third of an export's time (benchmarks/export.py); 500 rows are some 100 KB, so memory stays flat.
ROWS_PER_CHUNK = 500


def csv_chunks(rows: Iterable[list[str]], *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """The CSV text of `rows`, `rows_per_chunk` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, row in enumerate(rows, start=1):
        writer.writerow(row)
        if number % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def results_csv_response(*, job: Job) -> StreamingHttpResponse:
    """The job's results as a streamed CSV download: one query, whatever the number of rows."""
    lines = results_csv_lines(job=job, rows=result_rows(job=job))
    response = StreamingHttpResponse(csv_chunks(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="boltwork-job-{job.public_id}-results.csv"'
    return response


def tasks_with_results(*, job: Job) -> QuerySet[Task]:
    """The job's paid tasks (training tasks have no results) with their aggregated result, null until they have
    one, and `wanted`: the answers each wants so far. One query for a page of them."""
    return (
        Task.objects.filter(job_id=job.pk)
        .exclude(kind=TaskKind.TRAINING)
        .select_related("result")
        .annotate(wanted=Coalesce("answers_wanted", Value(job.assignments_per_task)))
    )
