"""The sandbox's play money (issue 13): a requester's sandbox balance, topped up on request as Mechanical Turk's
sandbox is, and what the sandbox shows each user.

Play money lives in its own book (payments.models.Book): the sandbox mint issues it into a requester's sandbox
balance, sandbox jobs hold it in escrow and pay it to workers' sandbox earnings, and it never leaves, since no
payout, withdrawal or sweeper reads a play account.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import Q, Sum

from core.events import Actor, record_event
from core.money import MSAT_PER_SAT
from payments.ledger import (
    BookAccounts,
    Line,
    _lock_accounts,
    accounts_of_user_and_their_jobs,
    ledger_post,
    platform_account,
)
from payments.models import Account, AccountKind, Book, LedgerEntry, TransactionKind

PLAY = BookAccounts(sandbox=True)


def sandbox_balance_target_msat() -> int:
    """What a top-up brings the sandbox balance to: SANDBOX_BALANCE_USD at MTURK_SATS_PER_USD."""
    return settings.SANDBOX_BALANCE_USD * settings.MTURK_SATS_PER_USD * MSAT_PER_SAT


def sandbox_balance_top_up(*, user: AbstractUser) -> int:
    """Bring the user's sandbox balance up to sandbox_balance_target_msat() with play money from the sandbox mint.
    Returns the msat added: 0 when it is already there (play money in escrow does not count, as on MTurk, whose
    sandbox balance is always 10,000 USD to spend).

    Idempotent: under the balance's row lock, the ledger key names the balance's last entry, so a repeat of the same
    request (or two at once) adds nothing more. Records `sandbox.topped_up`.
    """
    balance = PLAY.requester_balance_of(user)
    mint = platform_account(kind=AccountKind.SANDBOX_MINT)
    with transaction.atomic():
        current = _lock_accounts([balance.pk, mint.pk])[balance.pk].balance_msat
        missing = sandbox_balance_target_msat() - current
        if missing <= 0:
            return 0
        last_entry = LedgerEntry.objects.filter(account=balance).order_by("-id").values_list("id", flat=True).first()
        ledger_post(
            kind=TransactionKind.SANDBOX_TOP_UP,
            key=f"sandbox-top-up:{balance.pk}:{last_entry or 0}",
            memo="Play money for the sandbox",
            lines=[Line(mint, -missing), Line(balance, missing)],
        )
        record_event(
            type="sandbox.topped_up",
            actor=Actor.of(user),
            subject=("user", user.public_id),
            audience=[user.pk],
            data={"user_id": user.public_id, "amount_msat": missing, "balance_msat": current + missing},
        )
    return missing


def sandbox_balance_msat(*, user: AbstractUser) -> int:
    """The requester's sandbox balance (play money they can spend on sandbox jobs)."""
    return (
        Account.objects.filter(user=user, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE)
        .values_list("balance_msat", flat=True)
        .first()
        or 0
    )


def sandbox_summary(*, user: AbstractUser) -> dict[str, int]:
    """The user's play money in msat, in one query: their sandbox balance, held in their sandbox jobs' escrow, and
    their sandbox earnings."""
    totals = accounts_of_user_and_their_jobs(user=user).aggregate(
        available=Sum("balance_msat", filter=Q(kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE), default=0),
        escrow=Sum("balance_msat", filter=Q(kind=AccountKind.JOB_ESCROW, book=Book.PLAY), default=0),
        earned=Sum("balance_msat", filter=Q(kind=AccountKind.SANDBOX_WORKER_EARNED), default=0),
    )
    return {
        "available_msat": totals["available"],
        "escrow_msat": totals["escrow"],
        "earned_msat": totals["earned"],
        "target_msat": sandbox_balance_target_msat(),
    }
