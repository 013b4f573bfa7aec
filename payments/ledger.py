"""The ledger service: the only code that moves money.

`ledger_post` writes one balanced transaction: its entries sum to zero, it happens at most once per `key` (a unique
constraint), it locks the accounts it touches in primary-key order, and it refuses to take an owed-money account
below zero (the database refuses too, with a check constraint).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, F, Sum, Value, When

from core.money import format_number, sats_rounded_up, sats_word
from payments.errors import InsufficientFunds, LedgerError
from payments.models import NON_NEGATIVE_KINDS, Account, AccountKind, LedgerEntry, LedgerTransaction

if TYPE_CHECKING:  # payments sits below jobs: it names them in hints only
    from marketplace.models import Job


@dataclass(frozen=True)
class Line:
    account: Account
    amount_msat: int


def account_of_user(*, user: AbstractUser, kind: str) -> Account:
    return _account(kind=kind, user=user, job=None)


def account_of_job(*, job: "Job") -> Account:
    return _account(kind=AccountKind.JOB_ESCROW, user=None, job=job)


def dispute_hold_account_of_job(*, job: "Job") -> Account:
    return _account(kind=AccountKind.DISPUTE_HOLD, user=None, job=job)


def platform_account(*, kind: str) -> Account:
    return _account(kind=kind, user=None, job=None)


def _account(*, kind: str, user: AbstractUser | None, job: "Job | None") -> Account:
    account = Account.objects.filter(kind=kind, user=user, job=job).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind, user=user, job=job)
    except IntegrityError:  # created by a concurrent request
        return Account.objects.get(kind=kind, user=user, job=job)


def ledger_post(*, kind: str, key: str, lines: list[Line], memo: str = "") -> LedgerTransaction:
    """Post one balanced transaction, exactly once per key. Returns the existing one on a repeat.

    Raises InsufficientFunds (nothing written) when an owed-money account would go below zero.
    """
    amounts = [line.amount_msat for line in lines]
    if len(lines) < 2 or any(amount == 0 for amount in amounts) or sum(amounts) != 0:
        raise LedgerError(f"Unbalanced or empty ledger transaction {key!r}: {amounts}")
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(key=key).first()
        if existing is not None:
            return existing
        locked = _lock_accounts(line.account.pk for line in lines)
        _check_no_owed_account_goes_negative(lines, locked)
        ledger_transaction = LedgerTransaction.objects.create(kind=kind, key=key, memo=memo[:300])
        LedgerEntry.objects.bulk_create(
            LedgerEntry(transaction=ledger_transaction, account_id=line.account.pk, amount_msat=line.amount_msat)
            for line in lines
        )
        _add_to_balances(_net_change_by_account(lines))
    return ledger_transaction


def _net_change_by_account(lines: list[Line]) -> dict[int, int]:
    change: dict[int, int] = {}
    for line in lines:
        change[line.account.pk] = change.get(line.account.pk, 0) + line.amount_msat
    return change


def _add_to_balances(change: dict[int, int]) -> None:
    """One UPDATE for all the transaction's accounts."""
    deltas = [
        When(pk=account_id, then=Value(delta, output_field=BigIntegerField())) for account_id, delta in change.items()
    ]
    Account.objects.filter(pk__in=change).update(
        balance_msat=F("balance_msat") + Case(*deltas, default=Value(0), output_field=BigIntegerField())
    )


def _lock_accounts(account_ids) -> dict[int, Account]:
    # One order for everyone, so two transactions touching the same accounts never deadlock.
    ids = sorted(set(account_ids))
    return {
        account.pk: account
        for account in Account.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    }


def _check_no_owed_account_goes_negative(lines: list[Line], locked: dict[int, Account]) -> None:
    for account_id, delta in _net_change_by_account(lines).items():
        account = locked[account_id]
        if account.kind in NON_NEGATIVE_KINDS and account.balance_msat + delta < 0:
            missing_msat = -(account.balance_msat + delta)
            missing_sats = sats_rounded_up(missing_msat)  # what must be added, so never less than it takes
            raise InsufficientFunds(
                f"Not enough funds: {format_number(missing_sats)} {sats_word(missing_sats)} missing.",
                details={"missing_msat": missing_msat, "account": account.kind},
            )


def balance_msat(*, account: Account) -> int:
    return Account.objects.values_list("balance_msat", flat=True).get(pk=account.pk)


def ledger_check() -> list[str]:
    """Every way the ledger could be wrong, as sentences; an empty list when it is sound.

    Used by the tests after each one and by `manage.py ledger_check`. The checks are several queries: on PostgreSQL,
    outside a transaction, they read one snapshot (REPEATABLE READ), so money moving meanwhile (a Celery worker
    paying) is never reported as a problem. Inside a transaction they read what it sees.
    """
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _ledger_problems()


def _ledger_problems() -> list[str]:
    problems = []
    total = LedgerEntry.objects.aggregate(total=Sum("amount_msat"))["total"] or 0
    if total != 0:
        problems.append(f"The entries sum to {total} msat, not zero.")
    unbalanced = (
        LedgerEntry.objects.values("transaction_id")
        .annotate(total=Sum("amount_msat"))
        .exclude(total=0)
        .values_list("transaction_id", flat=True)
    )
    problems.extend(f"Transaction {pk} does not balance." for pk in unbalanced)
    sums = dict(
        LedgerEntry.objects.values("account_id").annotate(total=Sum("amount_msat")).values_list("account_id", "total")
    )
    for account in Account.objects.all():
        truth = sums.get(account.pk, 0)
        if account.balance_msat != truth:
            problems.append(f"{account}: cached balance {account.balance_msat} msat, entries say {truth} msat.")
        if account.kind in NON_NEGATIVE_KINDS and truth < 0:
            problems.append(f"{account} is negative: {truth} msat.")
    return problems
