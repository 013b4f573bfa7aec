"""Read queries for wallet pages: balances, statements, payouts. A constant number of queries per page."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db.models import Q, QuerySet, Sum

from core.errors import NotFound
from core.ids import is_public_id
from payments.models import (
    OPEN_PAYOUT_STATES,
    Account,
    AccountKind,
    Deposit,
    LedgerEntry,
    Payout,
    PayoutDestination,
    PayoutState,
)


def wallet_summary(*, user: AbstractUser) -> dict[str, int]:
    """The user's balances in msat: available to spend on jobs, held in escrow, earned, paid out, being paid."""
    balances = dict(Account.objects.filter(user=user).values_list("kind", "balance_msat"))
    escrow = Account.objects.filter(kind=AccountKind.JOB_ESCROW, job__requester=user).aggregate(
        total=Sum("balance_msat")
    )["total"]
    payouts = Payout.objects.filter(worker=user).aggregate(
        paid=Sum("amount_msat", filter=Q(state=PayoutState.SUCCEEDED)),
        pending=Sum("amount_msat", filter=Q(state__in=OPEN_PAYOUT_STATES)),
    )
    return {
        "available_msat": balances.get(AccountKind.REQUESTER_AVAILABLE, 0),
        "escrow_msat": escrow or 0,
        "earned_msat": balances.get(AccountKind.WORKER_EARNED, 0),
        "paid_out_msat": payouts["paid"] or 0,
        "pending_payout_msat": payouts["pending"] or 0,
    }


def escrow_by_job(*, user: AbstractUser) -> QuerySet[Account]:
    return (
        Account.objects.filter(kind=AccountKind.JOB_ESCROW, job__requester=user)
        .exclude(balance_msat=0)
        .select_related("job")
        .order_by("-job__created_at")
    )


def statement(*, user: AbstractUser) -> QuerySet[LedgerEntry]:
    """Every movement on the user's own accounts and their jobs' escrow, newest first."""
    return (
        LedgerEntry.objects.filter(Q(account__user=user) | Q(account__job__requester=user))
        .select_related("transaction", "account", "account__job")
        .order_by("-id")
    )


def payouts_of_worker(*, worker: AbstractUser) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-created_at", "-id")


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
