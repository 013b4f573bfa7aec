"""results.csv's timestamps are written by PostgreSQL (tasks.selectors.IsoTimestamp) exactly as Python's
`datetime.isoformat()` writes the same values in UTC, which is what the export wrote before and what requesters'
scripts read."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from marketplace.models import User
from tasks.selectors import IsoTimestamp
from tests.factories import make_user

MOMENTS = [
    datetime(2026, 12, 1, 5, 32, 32, tzinfo=UTC),  # no fraction: none written
    datetime(2026, 12, 1, 5, 32, 32, 1, tzinfo=UTC),
    datetime(2026, 12, 1, 5, 32, 32, 500_000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, 0, 120, tzinfo=UTC),
    # Given in another zone: written in UTC, as Django reads it back.
    datetime(2026, 6, 1, 1, 2, 3, 456_789, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
]


@pytest.mark.django_db
@pytest.mark.parametrize("moment", MOMENTS, ids=lambda moment: moment.isoformat())
def test_postgresql_writes_what_isoformat_writes(moment):
    user = make_user("timestamped")
    User.objects.filter(pk=user.pk).update(date_joined=moment)
    read_back = User.objects.values_list("date_joined", flat=True).get(pk=user.pk)
    written = User.objects.annotate(text=IsoTimestamp("date_joined")).values_list("text", flat=True).get(pk=user.pk)
    assert written == read_back.isoformat()
    assert written == moment.astimezone(UTC).isoformat()


@pytest.mark.django_db
def test_null_is_an_empty_cell():
    user = make_user("never-logged-in")
    User.objects.filter(pk=user.pk).update(last_login=None)
    assert User.objects.annotate(text=IsoTimestamp("last_login")).values_list("text", flat=True).get(pk=user.pk) == ""
