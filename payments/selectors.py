"""Read queries for wallet pages: balances, statements, payouts. A constant number of queries per page."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import NotFound
from core.ids import is_public_id
from payments.ledger import accounts_of_user_and_their_jobs
from payments.models import (
    OPEN_PAYOUT_STATES,
    Account,
    AccountKind,
    Book,
    Deposit,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutDestination,
    PayoutSource,
    PayoutState,
    TransactionKind,
)

if TYPE_CHECKING:  # payments sits below jobs: it names them in hints only
    from marketplace.models import Job


def _real_accounts_of(user: AbstractUser) -> QuerySet[Account]:
    """The user's own accounts and their jobs' escrow, in the real book: play money (the sandbox's) is never part of
    a real balance, a statement or a payout."""
    return accounts_of_user_and_their_jobs(user=user).filter(book=Book.REAL)


def wallet_summary(*, user: AbstractUser) -> dict[str, int]:
    """The user's balances in msat: available to spend on jobs, held in escrow, earned, paid out, being paid. Real
    money only (sandbox_summary has the play money)."""
    balances = _real_balances_by_kind(user)
    payouts = Payout.objects.filter(worker=user).aggregate(
        paid=Sum("amount_msat", filter=Q(state=PayoutState.SUCCEEDED)),
        pending=Sum("amount_msat", filter=Q(state__in=OPEN_PAYOUT_STATES)),
    )
    return {
        "available_msat": balances.get(AccountKind.REQUESTER_AVAILABLE, 0),
        "escrow_msat": balances.get(AccountKind.JOB_ESCROW, 0),
        "earned_msat": balances.get(AccountKind.WORKER_EARNED, 0),
        "paid_out_msat": payouts["paid"] or 0,
        "pending_payout_msat": payouts["pending"] or 0,
    }


_ACCOUNTS = Account._meta.db_table
_JOBS = Account._meta.get_field("job").related_model._meta.db_table
_REAL_BALANCES_SQL = f"""
    SELECT kind, balance_msat FROM {_ACCOUNTS} WHERE user_id = %s AND book = %s
    UNION ALL
    SELECT %s, CAST(COALESCE(SUM(account.balance_msat), 0) AS BIGINT)
    FROM {_ACCOUNTS} AS account JOIN {_JOBS} AS job ON job.id = account.job_id
    WHERE job.requester_id = %s AND account.kind = %s AND account.book = %s
"""  # noqa: S608 (table names from the models, values as parameters)


def _real_balances_by_kind(user: AbstractUser) -> dict[str, int]:
    """The balance of each of the user's real accounts by kind, their jobs' escrow summed into one. Written as SQL:
    every wallet page and GET /api/v1/me read it, and the ORM took over ten times longer to build the query than
    PostgreSQL to answer it (1.3 ms of CPU against 0.1; docs/PERFORMANCE.md, "Per-request overhead"). Two index
    lookups, the user's accounts and their jobs' escrow accounts: asked as one OR across the join to the jobs, as
    the ORM did, PostgreSQL read every job's escrow account (12 ms at 10,000 jobs and growing with them)."""
    escrow = AccountKind.JOB_ESCROW
    with connection.cursor() as cursor:
        cursor.execute(_REAL_BALANCES_SQL, [user.pk, Book.REAL, escrow, user.pk, escrow, Book.REAL])
        return {kind: int(balance) for kind, balance in cursor.fetchall()}


def escrow_by_job(*, user: AbstractUser) -> QuerySet[Account]:
    return (
        Account.objects.filter(kind=AccountKind.JOB_ESCROW, job__requester=user, book=Book.REAL)
        .exclude(balance_msat=0)
        .select_related("job")
        .order_by("-job__created_at")
    )


# The statement -------------------------------------------------------------------------------------------------


class Movement(StrEnum):
    """What a line of the statement is, from its reader's side."""

    DEPOSIT = "deposit"
    HELD = "held"  # from the requester's balance into their job's escrow
    RELEASED = "released"  # from a job's escrow back to the requester's balance
    TASK_REMOVED = "task_removed"  # ... for a task removed before anyone claimed it
    REWARD_PAID = "reward_paid"  # from a job's escrow to the worker who did a task
    REWARD_EARNED = "reward_earned"
    BONUS_PAID = "bonus_paid"  # from the requester's balance to a worker
    BONUS_EARNED = "bonus_earned"
    FEE = "fee"  # the platform's fee on a reward or a bonus, beside it
    PAYOUT = "payout"  # from earnings (or unspent balance) on its way to the user's wallet
    ROUTING_FEE_HELD = "routing_fee_held"  # a withdrawal of unspent balance holds its routing fee limit
    ROUTING_FEE_BACK = "routing_fee_back"  # ... and gives back what the route did not cost
    PAYOUT_BACK = "payout_back"  # a payout failed: its amount is back where it came from
    OTHER = "other"


@dataclass
class StatementLine:
    """One movement of the user's money as they see it. The amount is signed from their side (negative: it left
    them); a transfer between their own balance and their job's escrow is one line, seen from the balance."""

    created_at: datetime
    movement: Movement
    amount_msat: int
    label: str  # what the ledger calls the transaction
    memo: str
    account_kind: str  # which of the user's accounts it moved: their balance, a job's escrow or their earnings
    job: "Job | None" = None
    assignment_pk: int | None = None  # the work a reward is for; the layer that knows tasks names it
    bonus_pk: int | None = None
    payout: Payout | None = None
    assignment: Any = None  # filled in by tasks.statement: the assignment (task, job, worker) of a reward or bonus

    @property
    def account_label(self) -> str:
        return AccountKind(self.account_kind).label


# What the statement reads from a transaction's key: the ledger's writers name the assignment, bonus or payout a
# transaction belongs to in it (docs/money.md), and the key is the only place the ledger keeps that.
KEY_PREFIXES = {
    "reward": "assignment",
    "bonus": "bonus",
    "payout-start": "payout",
    "payout-success": "payout",
    "payout-return": "payout",
    "task-removed": "task",
}


def _key_reference(key: str) -> tuple[str, int] | None:
    """(what it names, its primary key) for the keys above; None for any other (a deposit's payment hash, a job's
    escrow, the test factories' own keys)."""
    prefix, _, rest = key.partition(":")
    if prefix not in KEY_PREFIXES or not (rest.isascii() and rest.isdigit()):
        return None
    return KEY_PREFIXES[prefix], int(rest)


def pks_or_none_found(pks: set[int]) -> list[int]:
    """Primary keys to look up with `pk__in`; [0], which names no row, when there are none. Django answers an empty
    `pk__in` without asking the database, so a page that looks something up only when it shows one would cost a
    different number of queries from page to page; this way each page asks the same questions (the query-count
    tests hold every wallet page to that)."""
    return sorted(pks) or [0]


def statement_transactions(*, user: AbstractUser) -> QuerySet[LedgerTransaction]:
    """Every transaction that moved the user's own real money (their balances, their jobs' escrow), newest first."""
    accounts = _real_accounts_of(user)
    touched = LedgerEntry.objects.filter(account__in=accounts).values("transaction_id")
    return LedgerTransaction.objects.filter(pk__in=touched).order_by("-id")


def statement_page(*, user: AbstractUser, page_number: Any, page_size: int) -> Page:
    """A page of the user's statement, newest first. The page counts transactions; its `object_list` holds their
    lines: one per movement as the user sees it, two where a fee goes beside a reward, a bonus, or a withdrawal's
    routing fee limit. A constant number of queries, however many lines."""
    page = Paginator(statement_transactions(user=user), page_size).get_page(page_number)
    transactions = list(page.object_list)
    entries_of = defaultdict(list)
    for entry in LedgerEntry.objects.filter(transaction__in=transactions).select_related("account__job"):
        entries_of[entry.transaction_id].append(entry)
    references = {transaction.pk: _key_reference(transaction.key) for transaction in transactions}
    payout_pks = {ref[1] for ref in references.values() if ref and ref[0] == "payout"}
    payouts = Payout.objects.filter(worker=user, pk__in=pks_or_none_found(payout_pks)).in_bulk()
    page.object_list = [
        line
        for transaction in transactions
        for line in _lines_of(
            transaction, entries_of[transaction.pk], user=user, reference=references[transaction.pk], payouts=payouts
        )
    ]
    return page


def _is_users(account: Account, user: AbstractUser) -> bool:
    return account.user_id == user.pk or (account.job is not None and account.job.requester_id == user.pk)


def _lines_of(
    transaction: LedgerTransaction,
    entries: list[LedgerEntry],
    *,
    user: AbstractUser,
    reference: tuple[str, int] | None,
    payouts: dict[int, Payout],
) -> list[StatementLine]:
    """The lines one transaction makes in the user's statement."""
    mine = [entry for entry in entries if _is_users(entry.account, user)]
    net = sum(entry.amount_msat for entry in mine)
    # Their own balance or earnings when the transaction touched one, else their job's escrow (a reward paid).
    account_kind = next((e.account.kind for e in mine if e.account.user_id == user.pk), AccountKind.JOB_ESCROW)
    referred, number = reference or ("", None)

    def line(movement: Movement, amount_msat: int) -> StatementLine:
        return StatementLine(
            created_at=transaction.created_at,
            movement=movement,
            amount_msat=amount_msat,
            label=transaction.get_kind_display(),
            memo=transaction.memo,
            account_kind=account_kind,
            job=next((entry.account.job for entry in entries if entry.account.job_id), None),
            assignment_pk=number if referred == "assignment" else None,
            bonus_pk=number if referred == "bonus" else None,
            payout=payouts.get(number) if referred == "payout" else None,
        )

    def paid_to(kind_of_account: str) -> int:
        return sum(entry.amount_msat for entry in entries if entry.account.kind == kind_of_account)

    match transaction.kind:
        case TransactionKind.DEPOSIT:
            return [line(Movement.DEPOSIT, net)]
        case TransactionKind.ESCROW_FUND | TransactionKind.ESCROW_REFUND:
            balance = sum(entry.amount_msat for entry in mine if entry.account.kind == AccountKind.REQUESTER_AVAILABLE)
            if balance < 0:
                return [line(Movement.HELD, balance)]
            return [line(Movement.TASK_REMOVED if referred == "task" else Movement.RELEASED, balance)]
        case TransactionKind.REWARD | TransactionKind.BONUS:
            is_reward = transaction.kind == TransactionKind.REWARD
            if net > 0:
                return [line(Movement.REWARD_EARNED if is_reward else Movement.BONUS_EARNED, net)]
            lines = [
                line(Movement.REWARD_PAID if is_reward else Movement.BONUS_PAID, -paid_to(AccountKind.WORKER_EARNED))
            ]
            if fee := paid_to(AccountKind.PLATFORM_FEES):
                lines.append(line(Movement.FEE, -fee))
            return lines
        case TransactionKind.PAYOUT_START:
            payout = payouts.get(number)
            reserve = payout.fee_reserve_msat if payout is not None else 0
            lines = [line(Movement.PAYOUT, net + reserve)]
            if reserve:
                lines.append(line(Movement.ROUTING_FEE_HELD, -reserve))
            return lines
        case TransactionKind.PAYOUT_SUCCESS:
            return [line(Movement.ROUTING_FEE_BACK, net)]
        case TransactionKind.PAYOUT_RETURN:
            return [line(Movement.PAYOUT_BACK, net)]
    # A kind this page does not know yet: the money it moved, or, between the user's own accounts, their balance's part.
    own_balances = sum(entry.amount_msat for entry in mine if entry.account.user_id == user.pk)
    return [line(Movement.OTHER, net or own_balances)]


def payouts_of_worker(*, worker: AbstractUser) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-created_at", "-id")


# What a payout pays ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaidWork:
    """The rewards and bonuses a payout of earnings pays: those credited to the worker's earnings after their
    previous payout (one that did not fail: a failed payout's amount came back, and the next one paid it) and
    before this one. Which one reward or bonus, when it pays exactly one."""

    rewards: int
    bonuses: int
    assignment_pk: int | None  # the rewarded assignment, when there is exactly one
    bonus_pk: int | None  # the bonus, when there is exactly one


# Before any payout: the lower bound of a worker's first window.
BEGINNING_OF_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def payouts_page(*, worker: AbstractUser, page_number: Any, page_size: int) -> Page:
    """A page of the worker's payouts, newest first, each with `paid_work` (PaidWork; None for a withdrawal of
    unspent balance). One query besides the page's own, however many payouts."""
    page = Paginator(payouts_of_worker(worker=worker), page_size).get_page(page_number)
    page.object_list = list(page.object_list)
    with_paid_work(page.object_list, worker=worker)
    return page


def payout_with_paid_work_get(*, worker: AbstractUser, public_id: str) -> Payout:
    payout = payout_of_worker_get(worker=worker, public_id=public_id)
    with_paid_work([payout], worker=worker)
    return payout


def with_paid_work(payouts: list[Payout], *, worker: AbstractUser) -> None:
    """Set `paid_work` on each of the worker's `payouts` (a contiguous run of them, as a page is), in one query.

    A payout takes the worker's whole earned balance, so it pays what was credited since the previous payout that
    took it; one that failed gave it back, and the next pays that too. Payouts round to whole sats, and a wallet may
    withdraw less than the balance: the millisatoshis or sats left behind go with a later payout, which does not
    name the work they came from."""
    for payout in payouts:
        payout.paid_work = None
    earnings = sorted((p for p in payouts if p.source == PayoutSource.EARNINGS), key=lambda p: (p.created_at, p.pk))
    if not earnings:
        return
    previous = (
        Payout.objects.filter(worker=worker, source=PayoutSource.EARNINGS, created_at__lt=earnings[0].created_at)
        .exclude(state=PayoutState.FAILED)
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    since = before_the_page = Coalesce(Subquery(previous), Value(BEGINNING_OF_TIME))
    windows = {}
    for payout in earnings:
        windows[payout.pk] = Q(created_at__gt=since, created_at__lte=payout.created_at)
        if payout.state != PayoutState.FAILED:
            since = payout.created_at
    rewards, bonuses = Q(transaction__kind=TransactionKind.REWARD), Q(transaction__kind=TransactionKind.BONUS)
    counted = {}
    for pk, window in windows.items():
        counted[f"rewards_{pk}"] = Count("pk", filter=window & rewards)
        counted[f"bonuses_{pk}"] = Count("pk", filter=window & bonuses)
        counted[f"reward_key_{pk}"] = Min("transaction__key", filter=window & rewards)
        counted[f"bonus_key_{pk}"] = Min("transaction__key", filter=window & bonuses)
    totals = LedgerEntry.objects.filter(
        account__user=worker,
        account__kind=AccountKind.WORKER_EARNED,
        amount_msat__gt=0,
        created_at__gt=before_the_page,
        created_at__lte=earnings[-1].created_at,
    ).aggregate(**counted)
    for payout in earnings:
        reward_count, bonus_count = totals[f"rewards_{payout.pk}"], totals[f"bonuses_{payout.pk}"]
        payout.paid_work = PaidWork(
            rewards=reward_count,
            bonuses=bonus_count,
            assignment_pk=_only_one(reward_count, totals[f"reward_key_{payout.pk}"], "assignment"),
            bonus_pk=_only_one(bonus_count, totals[f"bonus_key_{payout.pk}"], "bonus"),
        )


def _only_one(count: int, key: str | None, kind: str) -> int | None:
    reference = _key_reference(key) if count == 1 and key else None
    return reference[1] if reference and reference[0] == kind else None


def deposits_of_user(*, user: AbstractUser) -> QuerySet[Deposit]:
    return Deposit.objects.filter(user=user).order_by("-created_at")


def payout_fee_policy() -> dict[str, int]:
    """Who pays the Lightning routing fee and how much, for the pages that explain it to workers."""
    return {
        "floor_msat": settings.PAYOUT_FEE_LIMIT_FLOOR_MSAT,
        "percent_basis_points": settings.PAYOUT_FEE_LIMIT_BASIS_POINTS,
        "max_percent_basis_points": settings.PAYOUT_FEE_LIMIT_MAX_BASIS_POINTS,
        "payout_min_msat": settings.PAYOUT_MIN_MSAT,
        "withdraw_min_msat": settings.WITHDRAW_MIN_MSAT,
    }


def payout_destination_of(*, user: AbstractUser) -> PayoutDestination | None:
    return PayoutDestination.objects.filter(user=user).first()


def deposit_of_user_get(*, user: AbstractUser, public_id: str) -> Deposit:
    return _one_of(Deposit.objects.filter(user=user), public_id=public_id, missing="No such deposit.")


def payout_of_worker_get(*, worker: AbstractUser, public_id: str) -> Payout:
    return _one_of(Payout.objects.filter(worker=worker), public_id=public_id, missing="No such payout.")


def _one_of(rows: QuerySet, *, public_id: str, missing: str):
    """The row of `rows` (someone's own) with this public id; NotFound, in the same words, for anything else."""
    found = rows.filter(public_id=public_id).first() if is_public_id(public_id) else None
    if found is None:
        raise NotFound(missing)
    return found


def payout_counts_by_state() -> dict[str, tuple[int, int]]:
    """Every payout state with how many payouts are in it and their millisatoshis ((0, 0) for a state none is in),
    for /metrics. One GROUP BY over the whole payouts table: cheap at a scrape every 15 s up to millions of rows."""
    rows = Payout.objects.order_by().values_list("state").annotate(number=Count("id"), total=Sum("amount_msat"))
    found = {state: (number, total) for state, number, total in rows}
    return {state: found.get(state, (0, 0)) for state in PayoutState.values}


def ledger_balances_by_kind() -> dict[tuple[str, str], int]:
    """The cached balances summed per (account kind, book), for /metrics: the platform's accounts one by one (one
    account per kind), what the users and jobs hold by kind. Each book sums to zero."""
    rows = Account.objects.order_by().values_list("kind", "book").annotate(total=Sum("balance_msat"))
    return {(kind, book): total for kind, book, total in rows}
