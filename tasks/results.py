"""The results CSV in Mechanical Turk's shape: assignment, worker, status, times, Input.* and Answer.* columns."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from marketplace.answer_fields import answer_kinds
from marketplace.models import Job
from tasks.selectors import result_rows

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
    return value.isoformat() if value else ""


def results_csv_lines(*, job: Job, rows: Iterable[dict]) -> Iterator[list[str]]:
    input_columns = list(job.input_columns)
    answer_fields = list(job.answer_fields)
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
    ]
    for row in rows:
        task_input = row["task__input"] or {}
        answer = row["answer"] or {}
        yield [
            row["public_id"],
            row["worker__public_id"],
            row["status"],
            _timestamp(row["accepted_at"]),
            _timestamp(row["submitted_at"]),
            _timestamp(row["reviewed_at"]),
            safe_cell(row["feedback"]),
            row["rejection_reason"],
            str(row["task__position"]),
            *(safe_cell(task_input.get(name)) for name in input_columns),
            *(safe_cell(kinds[name].csv_cell(answer.get(name))) for name in answer_fields),
        ]


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def results_csv_response(*, job: Job) -> StreamingHttpResponse:
    """The job's results as a streamed CSV download: one query, whatever the number of rows."""
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in results_csv_lines(job=job, rows=result_rows(job=job)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="boltwork-job-{job.public_id}-results.csv"'
    return response
