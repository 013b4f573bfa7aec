"""Reading a requester's task CSV: UTF-8, a header row, quoted fields, one task per row.

Everything is checked before anything is created, and each problem names its row and column. Columns named
`Gold.<answer field>` and `Training` hold a row's known answers (tasks.controls), never task inputs.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings

from core.errors import InvalidInput
from tasks.controls import KnownAnswers, is_reserved_column, known_from_csv
from tasks.errors import TaskCsvInvalid

MAX_COLUMNS = 100
MAX_CELL_CHARS = 10_000
MAX_COLUMN_NAME_CHARS = 100
# Bounds on one physical line, checked before the csv module splits it: a header of millions of empty columns
# would otherwise become a list of millions of strings (2.3 million columns cost a web process 220 MB).
MAX_HEADER_LINE_CHARS = MAX_COLUMNS * (MAX_COLUMN_NAME_CHARS + 3)
MAX_LINE_CHARS = MAX_COLUMNS * (MAX_CELL_CHARS + 3)


@dataclass(frozen=True)
class TaskCsv:
    """The input columns and each row's inputs; `known`, per row, its known answers from the Gold.<field> and
    Training columns (None for a regular task), which the job's form checks when the tasks are added."""

    columns: list[str]
    rows: list[dict[str, str]]
    known: list[KnownAnswers | None] = field(default_factory=list)


def decode_task_csv(data: bytes) -> str:
    if len(data) > settings.TASK_CSV_MAX_BYTES:
        raise TaskCsvInvalid(_too_large_message())
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TaskCsvInvalid(
            f"The file is not UTF-8 text (line {line}, byte {error.start + 1}). "
            "Save it as “CSV UTF-8” and upload it again.",
            details={"row": line},
        ) from None


def parse_task_csv(text: str, *, required_columns: list[str], expected_columns: list[str] | None) -> TaskCsv:
    """Parse CSV text into rows keyed by the header.

    `required_columns` are the placeholders the job's form uses; `expected_columns` is the header of the tasks the
    job already has (later uploads must match it), or None for the first upload.
    """
    if len(text.encode("utf-8")) > settings.TASK_CSV_MAX_BYTES:
        raise TaskCsvInvalid(_too_large_message())
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise TaskCsvInvalid("The CSV is empty: it needs a header row and at least one row of data.")
    if "\x00" in text:
        raise TaskCsvInvalid("The CSV contains a NUL byte: it looks like a binary file, not CSV text.")

    numbered_rows = _numbered_rows(csv.reader(_bounded_lines(text), strict=True))
    _, header = next(numbered_rows)
    columns = _check_header(header, required_columns, expected_columns)
    row_numbers: list[int] = []
    rows = _read_rows(numbered_rows, columns, row_numbers)
    if not rows:
        raise TaskCsvInvalid("The CSV has a header row but no data rows.")
    inputs = [name for name in columns if not is_reserved_column(name)]
    if inputs == columns:
        return TaskCsv(columns=columns, rows=rows, known=[None] * len(rows))
    return TaskCsv(
        columns=inputs,
        rows=[{name: row[name] for name in inputs} for row in rows],
        known=[_known_answers(row, number) for row, number in zip(rows, row_numbers, strict=True)],
    )


def _known_answers(row: dict[str, str], row_number: int) -> KnownAnswers | None:
    try:
        return known_from_csv(row, row_number=row_number)
    except InvalidInput as error:
        raise TaskCsvInvalid(error.message, details={"row": row_number}) from None


def _check_header(header: list[str], required: list[str], expected: list[str] | None) -> list[str]:
    columns = [name.strip() for name in header]
    if not columns:
        raise TaskCsvInvalid("Row 1: the header row is empty; the first row must name the columns.", details={"row": 1})
    if len(columns) > MAX_COLUMNS:
        raise TaskCsvInvalid(f"Row 1: the header has {len(columns)} columns; at most {MAX_COLUMNS} are allowed.")
    for index, name in enumerate(columns, start=1):
        problem = _column_name_problem(name, columns[: index - 1])
        if problem:
            raise TaskCsvInvalid(f"Row 1, column {index}: {problem}", details={"row": 1, "column": index})
    inputs = [name for name in columns if not is_reserved_column(name)]
    missing = [name for name in required if name not in inputs]
    if missing:
        raise TaskCsvInvalid(
            "Row 1: the header has no column for the placeholder"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(f"“{name}”" for name in missing)
            + " used in the answer form. The header is: "
            + ", ".join(columns)
            + ".",
            details={"row": 1, "missing_columns": missing},
        )
    if expected and inputs != expected:
        raise TaskCsvInvalid(
            "Row 1: the header must match the job's existing tasks: " + ", ".join(expected) + " (besides any "
            "Gold.<field> and Training columns).",
            details={"row": 1, "expected_columns": expected},
        )
    return columns


def check_task_rows(columns: list[str], rows: list[dict[str, str]]) -> None:
    """The limits every batch of tasks obeys, however it arrives (CSV upload, form, API): column names, number of
    columns and rows, cell length. Raises TaskCsvInvalid naming the task and column."""
    if len(columns) > MAX_COLUMNS:
        raise TaskCsvInvalid(f"The tasks have {len(columns)} columns; at most {MAX_COLUMNS} are allowed.")
    for index, name in enumerate(columns, start=1):
        problem = _column_name_problem(name, columns[: index - 1])
        if problem:
            raise TaskCsvInvalid(f"Column {index}: {problem}", details={"column": index})
    if len(rows) > settings.TASK_CSV_MAX_ROWS:
        raise TaskCsvInvalid(f"At most {settings.TASK_CSV_MAX_ROWS:,} tasks at once.")
    for number, row in enumerate(rows, start=1):
        if columns and not any(row.get(column, "").strip() for column in columns):
            # Was: "Add one task" with empty fields made a blank task that a worker was served, guessed and lost.
            # (A job without input columns, a survey, has tasks with no input at all: that is not this.)
            raise TaskCsvInvalid(
                f"Task {number} is empty: a task needs a value in at least one column.", details={"task": number}
            )
        for index, column in enumerate(columns, start=1):
            if len(row.get(column, "")) > MAX_CELL_CHARS:
                raise TaskCsvInvalid(
                    f"Task {number}, column {index} (“{column}”): the value is longer than {MAX_CELL_CHARS:,} "
                    "characters.",
                    details={"task": number, "column": index},
                )


def _column_name_problem(name: str, earlier_names: list[str]) -> str:
    if not name:
        return "the header has an empty column name."
    if len(name) > MAX_COLUMN_NAME_CHARS:
        return f"the column name is longer than {MAX_COLUMN_NAME_CHARS} characters."
    if name in earlier_names:
        return f"the column “{name}” appears twice in the header."
    return ""


def _bounded_lines(text: str) -> Iterator[str]:
    """The text's lines, refusing a record (a row, whose quoted cells may span lines) longer than any valid header
    or row could be, before the csv module splits it."""
    record_number, record_chars, in_quotes = 1, 0, False
    for line in io.StringIO(text, newline=""):
        record_chars += len(line)
        if record_number == 1 and record_chars > MAX_HEADER_LINE_CHARS:
            raise TaskCsvInvalid(
                f"Row 1: the header row is longer than {MAX_HEADER_LINE_CHARS:,} characters; a header has at most "
                f"{MAX_COLUMNS} columns of at most {MAX_COLUMN_NAME_CHARS} characters.",
                details={"row": 1},
            )
        if record_chars > MAX_LINE_CHARS:
            raise TaskCsvInvalid(
                f"Row {record_number} is longer than {MAX_LINE_CHARS:,} characters: more than {MAX_COLUMNS} columns "
                f"of at most {MAX_CELL_CHARS:,} characters.",
                details={"row": record_number},
            )
        # An odd number of quotes opens or closes a quoted cell ("" inside one is an escaped quote: even).
        if line.count('"') % 2:
            in_quotes = not in_quotes
        if not in_quotes:
            record_number, record_chars = record_number + 1, 0
        yield line


def _numbered_rows(reader) -> Iterator[tuple[int, list[str]]]:
    """(row number, values) as a spreadsheet numbers rows (the header is row 1), not by text lines: a quoted cell
    may hold line breaks. Malformed CSV becomes a TaskCsvInvalid naming the row."""
    row_number = 0
    while True:
        row_number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise TaskCsvInvalid(
                f"Row {row_number}: the CSV is malformed ({error}). Check the quotes in that row.",
                details={"row": row_number},
            ) from None
        yield row_number, values


def _read_rows(
    numbered_rows: Iterator[tuple[int, list[str]]], columns: list[str], row_numbers: list[int]
) -> list[dict[str, str]]:
    """The data rows keyed by the header; the spreadsheet number of each is appended to `row_numbers`."""
    max_rows = settings.TASK_CSV_MAX_ROWS
    rows = []
    for row_number, values in numbered_rows:
        if not values or all(not value.strip() for value in values):
            continue  # blank lines between rows are not tasks
        if len(values) != len(columns):
            raise TaskCsvInvalid(
                f"Row {row_number}: expected {len(columns)} columns like the header, found {len(values)}.",
                details={"row": row_number},
            )
        for index, value in enumerate(values, start=1):
            if len(value) > MAX_CELL_CHARS:
                raise TaskCsvInvalid(
                    f"Row {row_number}, column {index} (“{columns[index - 1]}”): the value is longer than "
                    f"{MAX_CELL_CHARS:,} characters.",
                    details={"row": row_number, "column": index},
                )
        rows.append(dict(zip(columns, values, strict=True)))
        row_numbers.append(row_number)
        if len(rows) > max_rows:
            raise TaskCsvInvalid(
                f"Row {row_number}: the CSV has more than {max_rows:,} rows. Split it into several uploads.",
                details={"row": row_number},
            )
    return rows


def _too_large_message() -> str:
    megabytes = settings.TASK_CSV_MAX_BYTES // (1024 * 1024)
    return f"The CSV is larger than {megabytes} MB. Split it into several uploads."
