"""Balances as the ledger holds them, in msat: what the money tests assert after each step."""

from marketplace.models import User
from payments.ledger import account_of_user, balance_msat, platform_account
from payments.models import AccountKind


def available(user: User) -> int:
    """What the requester can spend: deposits in, escrow, bonuses and withdrawals out."""
    return balance_msat(account=account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE))


def earned(user: User) -> int:
    """What the worker has earned and not yet been paid out."""
    return balance_msat(account=account_of_user(user=user, kind=AccountKind.WORKER_EARNED))


def platform(kind: str) -> int:
    return balance_msat(account=platform_account(kind=kind))


def fees() -> int:
    return platform(AccountKind.PLATFORM_FEES)


def in_flight() -> int:
    return platform(AccountKind.PAYOUTS_IN_FLIGHT)
