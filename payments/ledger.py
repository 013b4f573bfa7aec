"""The ledger service: the only code that moves money.

`ledger_post` writes one balanced transaction: its entries sum to zero, it happens at most once per `key` (a unique
constraint), it locks the accounts it touches in primary-key order, it refuses to take an owed-money account
below zero (the database refuses too, with a check constraint), and it refuses to mix the real and the play book.

`JobBook` names a job's accounts in the job's book, so that escrow, rewards, refunds, disputes and bonuses pick
play accounts for a sandbox job without asking themselves.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, Count, F, Q, QuerySet, Sum, Value, When

from core.money import format_number, sats_rounded_up, sats_word
from payments.errors import InsufficientFunds, LedgerError
from payments.models import (
    JOB_ACCOUNT_KINDS,
    NON_NEGATIVE_KINDS,
    Account,
    AccountKind,
    Book,
    LedgerEntry,
    LedgerTransaction,
    book_of_kind,
)

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


def accounts_of_user_and_their_jobs(*, user: AbstractUser) -> QuerySet[Account]:
    """The user's own accounts and their jobs' escrow accounts, in both books. Asked as the union of two index
    lookups: asked as one OR across the join to the jobs, PostgreSQL read every job's escrow account (8.7 ms at
    10,000 jobs and growing with them, against 0.2 ms; docs/PERFORMANCE.md, "Per-request overhead")."""
    own = Account.objects.filter(user=user).values("pk")
    escrow = Account.objects.filter(kind=AccountKind.JOB_ESCROW, job__requester=user).values("pk")
    return Account.objects.filter(pk__in=own.union(escrow, all=True))


def platform_account(*, kind: str) -> Account:
    return _account(kind=kind, user=None, job=None)


def _account(*, kind: str, user: AbstractUser | None, job: "Job | None") -> Account:
    account = Account.objects.filter(kind=kind, user=user, job=job).first()
    if account is not None:
        return account
    # A job's accounts take the job's book from its row, not from the instance in hand, which may predate the flag
    # (a job made, then marked sandbox): made once per job, so the query is rare. With the accounts' books fixed so,
    # a stale instance that picked the real requester balance for a sandbox job is refused by ledger_post.
    sandbox_job = job is not None and type(job).objects.filter(pk=job.pk).values_list("sandbox", flat=True).get()
    book = book_of_kind(kind, sandbox_job=sandbox_job)
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind, user=user, job=job, book=book)
    except IntegrityError:  # created by a concurrent request
        return Account.objects.get(kind=kind, user=user, job=job)


# The kinds of a book's user and platform accounts.
BOOK_KINDS = {
    Book.REAL: {
        "requester_balance": AccountKind.REQUESTER_AVAILABLE,
        "earnings": AccountKind.WORKER_EARNED,
        "fees": AccountKind.PLATFORM_FEES,
    },
    Book.PLAY: {
        "requester_balance": AccountKind.SANDBOX_REQUESTER_AVAILABLE,
        "earnings": AccountKind.SANDBOX_WORKER_EARNED,
        "fees": AccountKind.SANDBOX_PLATFORM_FEES,
    },
}


class BookAccounts:
    """The user and platform accounts of one book: the real ones, or the sandbox's play ones."""

    def __init__(self, *, sandbox: bool) -> None:
        self.book = Book.PLAY if sandbox else Book.REAL
        self._kinds = BOOK_KINDS[self.book]

    def requester_balance_of(self, user: AbstractUser) -> Account:
        return account_of_user(user=user, kind=self._kinds["requester_balance"])

    def earnings_of(self, worker: AbstractUser) -> Account:
        return account_of_user(user=worker, kind=self._kinds["earnings"])

    def fees(self) -> Account:
        return platform_account(kind=self._kinds["fees"])


class JobBook(BookAccounts):
    """The accounts money of one job moves between, all in the job's book: a sandbox job's requester balance,
    worker earnings and fees are the play ones, and its escrow and dispute hold are play accounts too. The one place
    money code asks whether a job is a sandbox job."""

    def __init__(self, job: "Job") -> None:
        super().__init__(sandbox=job.sandbox)
        self.job = job

    def requester_balance(self) -> Account:
        return self.requester_balance_of(self.job.requester)

    def escrow(self) -> Account:
        return account_of_job(job=self.job)

    def dispute_hold(self) -> Account:
        return dispute_hold_account_of_job(job=self.job)


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
        _check_one_book(locked, key=key)
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


def _check_one_book(locked: dict[int, Account], *, key: str) -> None:
    """Play money never meets real money: read from the rows just locked, so it costs no query."""
    books = {account.book for account in locked.values()}
    if len(books) > 1:
        raise LedgerError(f"Ledger transaction {key!r} mixes the real and the play book: refused.")


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
    mixed = (
        LedgerEntry.objects.values("transaction_id")
        .annotate(books=Count("account__book", distinct=True))
        .filter(books__gt=1)
        .values_list("transaction_id", flat=True)
    )
    problems.extend(f"Transaction {pk} mixes the real and the play book." for pk in mixed)
    # A job's accounts are in its job's book; no constraint can compare two tables.
    misfiled = Account.objects.filter(kind__in=sorted(JOB_ACCOUNT_KINDS)).filter(
        Q(book=Book.PLAY, job__sandbox=False) | Q(book=Book.REAL, job__sandbox=True)
    )
    problems.extend(f"{account} is in the {account.book} book, unlike its job." for account in misfiled)
    return problems
