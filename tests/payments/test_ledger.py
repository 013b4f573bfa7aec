"""The ledger: balanced, exactly once per key, never below zero for money somebody is owed."""

import pytest
from django.db import IntegrityError, transaction

from payments.errors import InsufficientFunds, LedgerError
from payments.ledger import Line, account_of_user, balance_msat, ledger_check, ledger_post, platform_account
from payments.models import Account, AccountKind, LedgerEntry, LedgerTransaction, TransactionKind
from tests.concurrency import run_in_threads
from tests.factories import fund, make_user

pytestmark = pytest.mark.django_db


def test_a_posting_moves_money_and_keeps_every_balance_equal_to_its_entries():
    user = make_user(funds_sats=0)
    fund(user, 5_000)

    available = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)
    assert balance_msat(account=available) == 5_000
    assert balance_msat(account=platform_account(kind=AccountKind.LIGHTNING_IN)) == -5_000
    assert ledger_check() == []


def test_the_same_key_moves_money_once():
    user = make_user(funds_sats=0)
    source = platform_account(kind=AccountKind.LIGHTNING_IN)
    target = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)

    first = ledger_post(kind=TransactionKind.DEPOSIT, key="deposit:abc", lines=[Line(source, -700), Line(target, 700)])
    again = ledger_post(kind=TransactionKind.DEPOSIT, key="deposit:abc", lines=[Line(source, -700), Line(target, 700)])

    assert first.pk == again.pk
    assert balance_msat(account=target) == 700
    assert LedgerEntry.objects.filter(account=target).count() == 1


@pytest.mark.parametrize(
    "amounts",
    [pytest.param([100, -99], id="unbalanced"), pytest.param([100], id="one-line"), pytest.param([0, 0], id="zero")],
)
def test_unbalanced_or_empty_postings_are_refused(amounts):
    user = make_user(funds_sats=0)
    accounts = [
        platform_account(kind=AccountKind.LIGHTNING_IN),
        account_of_user(user=user, kind=AccountKind.WORKER_EARNED),
    ]
    lines = [Line(account, amount) for account, amount in zip(accounts, amounts, strict=False)]

    with pytest.raises(LedgerError):
        ledger_post(kind=TransactionKind.DEPOSIT, key="bad", lines=lines)
    assert not LedgerTransaction.objects.filter(key="bad").exists()


def test_an_owed_account_never_goes_below_zero_and_nothing_is_written():
    user = make_user(funds_sats=0)
    fund(user, 1_000)
    available = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)
    fees = platform_account(kind=AccountKind.PLATFORM_FEES)

    with pytest.raises(InsufficientFunds) as refused:
        ledger_post(kind=TransactionKind.BONUS, key="too-much", lines=[Line(available, -1_001), Line(fees, 1_001)])

    assert refused.value.details["missing_msat"] == 1
    assert balance_msat(account=available) == 1_000
    assert not LedgerTransaction.objects.filter(key="too-much").exists()


def test_the_database_refuses_a_negative_user_balance_even_without_the_service():
    user = make_user(funds_sats=0)
    available = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=available.pk).update(balance_msat=-1)


def test_ledger_check_notices_a_cache_that_disagrees_with_the_entries():
    user = make_user(funds_sats=0)
    fund(user, 2_000)
    available = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)
    Account.objects.filter(pk=available.pk).update(balance_msat=2_500)

    problems = ledger_check()

    assert any("cached balance 2500" in problem for problem in problems)
    Account.objects.filter(pk=available.pk).update(balance_msat=2_000)  # leave the ledger sound for the next check


@pytest.mark.django_db(transaction=True)
def test_concurrent_spending_never_overdraws():
    """Ten threads try to spend 300 of a 1,000 balance at once: exactly three succeed."""
    user = make_user(funds_sats=0)
    fund(user, 1_000)
    available = account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE)
    fees = platform_account(kind=AccountKind.PLATFORM_FEES)

    def spend(number: int) -> str:
        try:
            ledger_post(
                kind=TransactionKind.BONUS, key=f"spend:{number}", lines=[Line(available, -300), Line(fees, 300)]
            )
        except InsufficientFunds:
            return "refused"
        return "spent"

    outcomes = run_in_threads(10, spend, what="a spend")

    assert outcomes.count("spent") == 3
    assert balance_msat(account=available) == 100
    assert ledger_check() == []
