"""Reading a requester's task CSV and adding one task per row, all or nothing."""

import pytest

from core.errors import InvalidInput
from marketplace import services as job_services
from tasks.csv_import import decode_task_csv, parse_task_csv
from tasks.errors import TaskCsvInvalid
from tasks.models import Task
from tasks.services import tasks_add_from_csv
from tests.factories import SENTIMENT_FIELDS, make_bare_draft, make_draft_job, make_job


def parse(text, required=(), expected=None):
    return parse_task_csv(text, required_columns=list(required), expected_columns=expected)


# decode_task_csv ------------------------------------------------------------------------------------------------


def test_decode_strips_the_byte_order_mark():
    assert decode_task_csv("\ufeffword\nrun\n".encode()) == "word\nrun\n"


def test_decode_refuses_text_that_is_not_utf8_and_names_the_line():
    data = "word\nrun\ncafé\n".encode("latin-1")
    with pytest.raises(TaskCsvInvalid, match=r"not UTF-8 text \(line 3") as caught:
        decode_task_csv(data)
    assert caught.value.details == {"row": 3}


def test_decode_refuses_a_file_over_the_size_limit(settings):
    settings.TASK_CSV_MAX_BYTES = 20
    assert decode_task_csv(b"a" * 20) == "a" * 20
    with pytest.raises(TaskCsvInvalid, match="larger than"):
        decode_task_csv(b"a" * 21)


# parse_task_csv -------------------------------------------------------------------------------------------------


def test_quoted_fields_with_commas_quotes_and_newlines():
    parsed = parse('word,sentence\nrun,"I run, you run."\n"say ""hi""","line one\nline two"\n')
    assert parsed.columns == ["word", "sentence"]
    assert parsed.rows == [
        {"word": "run", "sentence": "I run, you run."},
        {"word": 'say "hi"', "sentence": "line one\nline two"},
    ]


def test_crlf_line_endings_and_blank_lines_between_rows():
    parsed = parse("word\r\nrun\r\n\r\n , \r\nwalk\r\n")
    assert parsed.rows == [{"word": "run"}, {"word": "walk"}]


def test_header_names_are_trimmed_but_values_are_kept_as_typed():
    parsed = parse(" word , note \n run ,  two spaces  \n")
    assert parsed.columns == ["word", "note"]
    assert parsed.rows == [{"word": " run ", "note": "  two spaces  "}]


def test_pasted_text_with_a_byte_order_mark():
    parsed = parse("\ufeffword\nrun\n")
    assert parsed.columns == ["word"]


def test_unicode_values():
    parsed = parse("word\nnaïve 🙂\n漢字\n")
    assert [row["word"] for row in parsed.rows] == ["naïve 🙂", "漢字"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(" \n\n ", "empty", id="only-whitespace"),
        pytest.param("\ufeff", "empty", id="only-a-bom"),
        pytest.param("word,sentence\n", "no data rows", id="header-only"),
        pytest.param("word,sentence\n\n\n", "no data rows", id="header-and-blank-lines"),
        pytest.param("word,word\na,b\n", "Row 1, column 2: the column “word” appears twice", id="duplicate-header"),
        pytest.param("word, word \na,b\n", "appears twice", id="duplicate-header-after-trimming"),
        pytest.param("word,,note\na,b,c\n", "Row 1, column 2: the header has an empty column", id="empty-header"),
        pytest.param("x" * 101 + "\na\n", "longer than 100", id="long-column-name"),
        pytest.param(
            ",".join(f"c{n}" for n in range(101)) + "\n" + "," * 100 + "\n", "at most 100", id="too-many-columns"
        ),
        pytest.param("word,note\na,b\nc\n", "Row 3: expected 2 columns like the header, found 1", id="short-row"),
        pytest.param(
            "word,note\na,b\nc,d\ne,f,g\n", "Row 4: expected 2 columns like the header, found 3", id="long-row"
        ),
        pytest.param('word\n"unclosed\n', "Row", id="unclosed-quote"),
        pytest.param('word\n"a"b\n', "Row 2: the CSV is malformed", id="text-after-closing-quote"),
        pytest.param("word\na\x00b\n", "NUL", id="nul-byte"),
        pytest.param("word\n" + "x" * 10_001 + "\n", r"Row 2, column 1 \(“word”\)", id="cell-too-long"),
    ],
)
def test_parse_refuses_bad_csv_with_a_clear_message(text, message):
    with pytest.raises(TaskCsvInvalid, match=message):
        parse(text)


def test_a_ragged_row_names_its_row_in_details():
    with pytest.raises(TaskCsvInvalid) as caught:
        parse("word,note\na,b\nc,d\ne\n")
    assert caught.value.details == {"row": 4}


def test_the_row_number_is_the_spreadsheet_row_even_after_cells_with_line_breaks():
    """A cell with a line break is still one row in the requester's spreadsheet: the third data row is row 4."""
    text = 'word,note\n"multi\nline",a\n"more\nlines\nhere",b\nragged\n'
    with pytest.raises(TaskCsvInvalid, match=r"^Row 4: expected 2 columns") as caught:
        parse(text)
    assert caught.value.details == {"row": 4}


def test_the_header_must_have_every_placeholder_column():
    with pytest.raises(TaskCsvInvalid, match="“image_url”") as caught:
        parse("word\nrun\n", required=["word", "image_url"])
    assert caught.value.details["missing_columns"] == ["image_url"]


def test_later_uploads_must_match_the_existing_header():
    assert parse("word,note\na,b\n", expected=["word", "note"]).rows == [{"word": "a", "note": "b"}]
    with pytest.raises(TaskCsvInvalid, match="must match"):
        parse("note,word\nb,a\n", expected=["word", "note"])


def test_too_many_rows(settings):
    settings.TASK_CSV_MAX_ROWS = 3
    assert len(parse("word\na\nb\nc\n").rows) == 3
    with pytest.raises(TaskCsvInvalid, match="Row 5: the CSV has more than 3 rows"):
        parse("word\na\nb\nc\nd\n")


def test_too_large_pasted_text(settings):
    settings.TASK_CSV_MAX_BYTES = 30
    assert parse("word\n" + "é" * 12 + "\n").rows  # 5 + 24 + 1 bytes
    with pytest.raises(TaskCsvInvalid, match="larger than"):
        parse("word\n" + "é" * 13 + "\n")  # 32 bytes: the limit counts bytes, not characters


# tasks_add_from_csv: all or nothing -----------------------------------------------------------------------------


def test_tasks_add_from_csv_creates_one_task_per_row_in_order(requester):
    job = make_bare_draft(requester=requester, assignments_per_task=2)
    job_services.job_set_builder_form(job=job, actor=requester, prompt="{{review}}", fields=SENTIMENT_FIELDS)
    created = tasks_add_from_csv(job=job, actor=requester, csv_text='review,id\n"Good, very",1\nBad,2\n')
    assert created == 2
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count, job.input_columns) == (2, 4, ["review", "id"])
    tasks = list(job.tasks.order_by("position"))
    assert [(task.position, task.input, task.slots_open) for task in tasks] == [
        (1, {"review": "Good, very", "id": "1"}, 2),
        (2, {"review": "Bad", "id": "2"}, 2),
    ]


def test_a_second_upload_continues_the_positions(requester):
    job = make_draft_job(requester=requester, tasks=2)
    tasks_add_from_csv(job=job, actor=requester, csv_text="review\nthird\nfourth\n")
    job.refresh_from_db()
    assert job.task_count == 4
    assert list(job.tasks.order_by("position").values_list("position", "input")) == [
        (1, {"review": "Review number 1"}),
        (2, {"review": "Review number 2"}),
        (3, {"review": "third"}),
        (4, {"review": "fourth"}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("review\n" + "".join(f"row {n}\n" for n in range(50)) + "extra,cell\n", id="bad-last-row"),
        pytest.param("review\n" + "".join(f"row {n}\n" for n in range(50)) + '"unclosed\n', id="bad-quote-at-end"),
        pytest.param("word\n" + "".join(f"row {n}\n" for n in range(50)), id="missing-placeholder-column"),
    ],
)
def test_one_bad_row_creates_no_task(requester, text):
    job = make_draft_job(requester=requester, tasks=0)
    with pytest.raises(InvalidInput):
        tasks_add_from_csv(job=job, actor=requester, csv_text=text)
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count, job.input_columns) == (0, 0, [])
    assert Task.objects.count() == 0


def test_too_many_rows_creates_nothing(requester, settings):
    settings.TASK_CSV_MAX_ROWS = 5
    job = make_draft_job(requester=requester, tasks=0)
    with pytest.raises(TaskCsvInvalid):
        tasks_add_from_csv(job=job, actor=requester, csv_text="review\n" + "x\n" * 6)
    job.refresh_from_db()
    assert job.task_count == 0
    assert tasks_add_from_csv(job=job, actor=requester, csv_text="review\n" + "x\n" * 5) == 5


def test_upload_to_a_published_job_must_keep_its_columns(requester):
    job = make_job(requester=requester, tasks=2)
    with pytest.raises(TaskCsvInvalid):
        tasks_add_from_csv(job=job, actor=requester, csv_text="review,extra\na,b\n")
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count) == (2, 2)


def test_awkward_values_are_stored_exactly(requester):
    """Tabs, backslashes, quotes, newlines and non-ASCII text survive the bulk insert unchanged."""
    job = make_draft_job(requester=requester, tasks=0)
    values = ["tab\there", "back\\slash \\N \\.", 'say "hi", then\nleave\r\nnow', "naïve 🙂 漢字", "", "  padded  "]
    text = "review\n" + "".join('"' + value.replace('"', '""') + '"\n' for value in values)
    assert tasks_add_from_csv(job=job, actor=requester, csv_text=text) == len(values) - 1  # the blank row is skipped
    stored = [task.input["review"] for task in Task.objects.filter(job=job).order_by("position")]
    assert stored == [value for value in values if value]
