"""Cells of the results CSV: what a spreadsheet would run as a formula is escaped; answers are flattened."""

import pytest

from tasks.results import safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=b", "a=b"),
        (" =1", " =1"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (["a", "b"], "a|b"),
        (["=cmd", "b"], "'=cmd|b"),
        (42, "42"),
    ],
)
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell
