"""The sandbox's play money as the Mechanical Turk API sees it: a requester who calls the sandbox endpoint starts with
a full sandbox balance, as Mechanical Turk's sandbox gives every requester one."""

from marketplace.models import User
from payments.models import Account, AccountKind
from payments.sandbox import sandbox_balance_top_up


def sandbox_balance_ensure(*, user: User) -> None:
    """Top up a requester's sandbox balance the first time they use the sandbox (later only on request)."""
    if not Account.objects.filter(user=user, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE).exists():
        sandbox_balance_top_up(user=user)
