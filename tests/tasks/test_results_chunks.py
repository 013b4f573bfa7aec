"""The results CSV is streamed in pieces of many rows (tasks.results.csv_chunks): the same text as one writer makes,
with no row split or repeated across pieces."""

import csv
import io

from tasks.results import csv_chunks


def rows(count: int) -> list[list[str]]:
    return [[str(n), f"text, with a comma {n}", 'a "quoted" cell'] for n in range(count)]


def written_at_once(all_rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(all_rows)
    return buffer.getvalue()


def test_pieces_join_to_the_whole_csv():
    all_rows = rows(1_001)
    pieces = list(csv_chunks(all_rows, rows_per_chunk=500))
    assert [piece.count("\r\n") for piece in pieces] == [500, 500, 1]
    assert "".join(pieces) == written_at_once(all_rows)


def test_an_exact_multiple_has_no_empty_last_piece():
    pieces = list(csv_chunks(rows(1_000), rows_per_chunk=500))
    assert [piece.count("\r\n") for piece in pieces] == [500, 500]


def test_no_rows_no_pieces():
    assert list(csv_chunks([], rows_per_chunk=500)) == []
