"""What moderators do with money (the admin's payouts queue and ledger screens): retry or cancel a payout that waits
for them, read its attempts, and reconcile the ledger's Lightning accounts with the backend wallet's balance.

The payout actions go through the payout state machine's moderator gates in payments/payouts.py, which lock the
payout, record `payout.<state>` with the moderator as actor (the audit log) and move the money through the ledger.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition
from core.models import Event
from payments import payouts
from payments.lightning import LightningError, get_backend
from payments.models import Account, AccountKind, Deposit, DepositStatus, Payout, PayoutState

MAX_REASON_CHARS = 500

# Payouts whose payment may have left the wallet without the ledger knowing yet: about to be sent, sending, or
# waiting for a moderator with an invoice that may have been paid.
MAYBE_SENT = Q(state__in=[PayoutState.INVOICE_VERIFIED, PayoutState.SENDING]) | Q(
    state=PayoutState.NEEDS_MODERATOR, payment_hash__isnull=False
)
LIGHTNING_ACCOUNT_KINDS = (
    AccountKind.LIGHTNING_IN,
    AccountKind.LIGHTNING_OUT,
    AccountKind.PAYOUTS_IN_FLIGHT,
    AccountKind.ROUTING_FEES,
)


# Payouts ----------------------------------------------------------------------------------------------------------


def payout_retry(*, payout: Payout, moderator: AbstractUser) -> Payout:
    """Give a payout that waits for a moderator a fresh set of attempts (with a stored invoice, it only asks the
    node about that invoice again; it never pays a second one). Recorded with the moderator as actor.

    Refused (InvalidTransition) for a payout that is not waiting for a moderator: nothing changes then.
    """
    _check_waits_for_moderator(payout)
    return payouts.payout_retry_by_moderator(payout=payout, moderator=moderator)


def payout_cancel(*, payout: Payout, moderator: AbstractUser, reason: str) -> Payout:
    """Cancel a payout that waits for a moderator: its amount (and any fee reserve) goes back to the balance it was
    taken from, a worker's earnings, in one ledger transaction, exactly once. The payout ends `failed` with
    "Failed by a moderator: <reason>", which the worker sees, and `payout.failed` records the moderator as actor.

    Refused, moving nothing: without a reason (InvalidInput); for a payout that is not waiting for a moderator
    (InvalidTransition), so a second click changes nothing; and while the node does not confirm that the payout's
    stored invoice failed (PayoutStillInFlight), since it may have been paid.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Say why the payout is cancelled: the worker sees the reason.")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"The reason is limited to {MAX_REASON_CHARS} characters.")
    _check_waits_for_moderator(payout)
    cancelled = payouts.payout_fail_by_moderator(payout=payout, reason=reason, moderator=moderator)
    if cancelled.state != PayoutState.FAILED:
        raise InvalidTransition(f"Payout {payout.public_id} no longer waits for a moderator; nothing was changed.")
    return cancelled


def _check_waits_for_moderator(payout: Payout) -> None:
    state = Payout.objects.filter(pk=payout.pk).values_list("state", flat=True).first()
    if state != PayoutState.NEEDS_MODERATOR:
        shown = PayoutState(state).label.lower() if state else "gone"
        raise InvalidTransition(
            f"Payout {payout.public_id} does not wait for a moderator (it is {shown}); nothing was changed."
        )


def payout_history(*, payout: Payout) -> list[Event]:
    """Every step of a payout, oldest first, as its events recorded them: state, attempts, error, who acted."""
    return list(
        Event.objects.filter(subject_type="payout", subject_id=payout.public_id).select_related("actor").order_by("id")
    )


# Reconciliation ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    """The ledger's Lightning accounts against the backend wallet's balance, in msat.

    Money enters through `lightning_in` (negative: what came in) and leaves through `lightning_out` (what went out,
    routing fees included), so the wallet should hold `-lightning_in - lightning_out`. Payments under way make the
    two differ for a while: a payout may have left the wallet before the ledger records it (at most its amount and
    fee limit), and a deposit may be paid before the sweeper credits it (at most its amount). A difference within
    those bounds is explained; the rest is not.
    """

    checked_at: datetime
    backend: str
    lightning_in_msat: int
    lightning_out_msat: int
    payouts_in_flight_msat: int
    routing_fees_msat: int
    maybe_sent_count: int
    maybe_sent_up_to_msat: int
    unpaid_deposit_count: int
    unpaid_deposits_up_to_msat: int
    wallet_msat: int | None  # None when the backend could not be asked
    backend_error: str = ""

    @property
    def expected_msat(self) -> int:
        return -self.lightning_in_msat - self.lightning_out_msat

    @property
    def difference_msat(self) -> int | None:
        """The wallet's balance minus what the ledger expects: negative when the wallet holds less."""
        return None if self.wallet_msat is None else self.wallet_msat - self.expected_msat

    @property
    def explained_msat(self) -> int:
        """The part of the difference that payments under way can account for."""
        difference = self.difference_msat or 0
        return max(-self.maybe_sent_up_to_msat, min(difference, self.unpaid_deposits_up_to_msat))

    @property
    def unexplained_msat(self) -> int:
        return (self.difference_msat or 0) - self.explained_msat

    @property
    def verdict(self) -> str:
        """`unknown` (the backend could not be asked), `balanced`, `explained` or `unexplained`."""
        if self.difference_msat is None:
            return "unknown"
        if self.difference_msat == 0:
            return "balanced"
        return "explained" if self.unexplained_msat == 0 else "unexplained"


def ledger_reconciliation() -> Reconciliation:
    """Read the ledger's Lightning accounts and the payments under way in one snapshot, then ask the backend for the
    wallet's balance (outside any transaction). A constant number of queries, plus the backend's call."""
    ledger = _ledger_snapshot()
    backend = get_backend()
    try:
        wallet_msat, error = backend.wallet_balance_msat(), ""
    except LightningError as failure:
        wallet_msat, error = None, str(failure)
    return Reconciliation(
        checked_at=timezone.now(), backend=backend.name, wallet_msat=wallet_msat, backend_error=error, **ledger
    )


def _ledger_snapshot() -> dict[str, int]:
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        balances = dict(
            Account.objects.filter(kind__in=LIGHTNING_ACCOUNT_KINDS, user=None, job=None).values_list(
                "kind", "balance_msat"
            )
        )
        maybe_sent = Payout.objects.filter(MAYBE_SENT).aggregate(
            count=Count("pk"), up_to=Sum(F("amount_msat") + F("fee_limit_msat"), default=0)
        )
        unpaid = Deposit.objects.filter(status=DepositStatus.PENDING).aggregate(
            count=Count("pk"), up_to=Sum("amount_msat", default=0)
        )
    return {
        "lightning_in_msat": balances.get(AccountKind.LIGHTNING_IN, 0),
        "lightning_out_msat": balances.get(AccountKind.LIGHTNING_OUT, 0),
        "payouts_in_flight_msat": balances.get(AccountKind.PAYOUTS_IN_FLIGHT, 0),
        "routing_fees_msat": balances.get(AccountKind.ROUTING_FEES, 0),
        "maybe_sent_count": maybe_sent["count"],
        "maybe_sent_up_to_msat": maybe_sent["up_to"],
        "unpaid_deposit_count": unpaid["count"],
        "unpaid_deposits_up_to_msat": unpaid["up_to"],
    }
