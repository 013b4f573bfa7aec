"""`manage.py ledger_check`: what an operator sees, and the exit status cron and monitoring act on.

The broken ledgers are made with raw SQL, as a hand edit or a bad migration would make them, and repaired before
each test ends: the suite checks the ledger after every test (tests/conftest.py) and would fail it otherwise.
"""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from payments.ledger import account_of_user
from payments.models import Account, AccountKind, LedgerTransaction
from tests.factories import fund, make_user

ROOT = Path(__file__).resolve().parents[2]


def run_command() -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("ledger_check", stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def sound_line() -> str:
    return (
        f"The ledger is sound: {Account.objects.count()} accounts, "
        f"{LedgerTransaction.objects.count()} transactions, sum 0.\n"
    )


def execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_a_sound_ledger_is_reported_with_its_size_and_exit_status_zero():
    requester = make_user(funds_sats=2_000)
    fund(requester, 3_000)

    out, err, error = run_command()

    assert error is None
    assert out == sound_line()
    assert LedgerTransaction.objects.count() == 2
    assert err == ""


@pytest.mark.django_db
def test_a_cached_balance_that_disagrees_with_its_entries_is_reported_and_exits_one():
    requester = make_user(funds_sats=2)
    account = account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    execute("UPDATE payments_account SET balance_msat = balance_msat + 500 WHERE id = %s", [account.pk])
    try:
        out, err, error = run_command()
    finally:
        execute("UPDATE payments_account SET balance_msat = balance_msat - 500 WHERE id = %s", [account.pk])

    assert error is not None
    assert error.returncode == 1
    assert str(error) == "The ledger has 1 problem."
    assert err.splitlines() == [f"{account}: cached balance 2500 msat, entries say 2000 msat."]
    assert "sound" not in out


@pytest.mark.django_db
def test_an_entry_written_around_the_ledger_is_reported_every_way_it_is_wrong():
    requester = make_user(funds_sats=2)
    account = account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    deposit = LedgerTransaction.objects.get(entries__account=account)
    # An entry added by hand to an existing transaction, taking 5 sats out of a balance of 2: nothing sums any more.
    execute(
        "INSERT INTO payments_ledgerentry (transaction_id, account_id, amount_msat, created_at) "
        "VALUES (%s, %s, -5000, now())",
        [deposit.pk, account.pk],
    )
    try:
        out, err, error = run_command()
    finally:
        execute("DELETE FROM payments_ledgerentry WHERE amount_msat = -5000 AND account_id = %s", [account.pk])

    assert error is not None
    assert error.returncode == 1
    assert str(error) == "The ledger has 4 problems."
    assert err.splitlines() == [
        "The entries sum to -5000 msat, not zero.",
        f"Transaction {deposit.pk} does not balance.",
        f"{account}: cached balance 2000 msat, entries say -3000 msat.",
        f"{account} is negative: -3000 msat.",
    ]
    assert out == ""
    assert run_command()[0] == sound_line()  # repaired


def database_url() -> str:
    """The test database, for a separate process: it sees only what has been committed."""
    db = connection.settings_dict
    credentials = quote(db["USER"], safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def manage_ledger_check() -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "manage.py", "ledger_check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_manage_py_exits_zero_on_a_sound_ledger_and_one_on_a_broken_one():
    """The real command line, as cron runs it: its exit status, and its own read-only snapshot transaction."""
    requester = make_user(funds_sats=2)
    account = account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)

    sound = manage_ledger_check()
    assert sound.returncode == 0, sound.stderr
    assert sound.stdout == sound_line()

    execute("UPDATE payments_account SET balance_msat = balance_msat + 1 WHERE id = %s", [account.pk])
    try:
        broken = manage_ledger_check()
    finally:
        execute("UPDATE payments_account SET balance_msat = balance_msat - 1 WHERE id = %s", [account.pk])
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert broken.stderr.splitlines() == [
        f"{account}: cached balance 2001 msat, entries say 2000 msat.",
        "CommandError: The ledger has 1 problem.",
    ]
