"""LNURL-withdraw (LUD-03): a worker without a Lightning Address pulls their earnings into their wallet, and a
requester takes unspent balance back out the same way.

The worker's page shows a QR of a link; their wallet fetches the withdraw request, makes an invoice and calls our
callback with `k1` and the invoice. The link is claimed by one conditional UPDATE, so two wallets calling at once
can never both be paid; the payment itself is made by a Celery worker.
"""

import secrets
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.faults import kill_point
from core.locks import lock_user
from core.money import MSAT_PER_SAT
from payments import invoices
from payments.errors import InsufficientFunds, WithdrawRefused
from payments.ledger import account_of_user, balance_msat
from payments.models import PayoutKind, PayoutSource, PayoutState, WithdrawLink
from payments.payouts import payout_create, payout_fee_limit_msat

# A link that expires sooner than this is not offered again: the worker needs time to scan it.
LINK_REUSE_MARGIN = timedelta(minutes=2)


def withdraw_link_create(
    *, worker: AbstractUser, source: str = PayoutSource.EARNINGS, now: datetime | None = None
) -> WithdrawLink:
    """The user's LNURL-withdraw link for the whole of one balance (in whole sats): a worker's earnings, or a
    requester's unspent balance.

    The open link is reused while it stays valid for a while longer (its upper bound follows the balance), so
    reloading the page makes no new rows. Raises WithdrawRefused under WITHDRAW_MIN_MSAT.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # One link at a time per user: two page loads at once must not make two.
        lock_user(worker.pk)
        available = balance_msat(account=account_of_user(user=worker, kind=source))
        maximum = _largest_withdrawal(available, source)
        minimum = settings.WITHDRAW_MIN_MSAT
        if maximum < minimum:
            raise WithdrawRefused(
                f"Withdrawals start at {invoices.describe_amount(minimum)}; "
                f"this balance is {invoices.describe_amount(maximum)}."
            )
        link = (
            WithdrawLink.objects.filter(
                worker=worker, source=source, claimed_at__isnull=True, expires_at__gt=now + LINK_REUSE_MARGIN
            )
            .order_by("-expires_at")
            .first()
        )
        if link is None:
            return WithdrawLink.objects.create(
                worker=worker,
                source=source,
                k1=secrets.token_hex(32),
                min_withdrawable_msat=minimum,
                max_withdrawable_msat=maximum,
                expires_at=now + timedelta(seconds=settings.WITHDRAW_LINK_EXPIRY_SECONDS),
            )
        if (link.min_withdrawable_msat, link.max_withdrawable_msat) != (minimum, maximum):
            link.min_withdrawable_msat = minimum
            link.max_withdrawable_msat = maximum
            link.save(update_fields=["min_withdrawable_msat", "max_withdrawable_msat"])
        return link


def _largest_withdrawal(available_msat: int, source: str) -> int:
    """The most whole sats a link may offer: the balance, less room for the routing fee reserve when the user pays
    it (unspent balance; see payout_create). Amount + fee limit grows with the amount, so a binary search finds it."""
    whole_sats = available_msat // MSAT_PER_SAT
    if source != PayoutSource.BALANCE:
        return whole_sats * MSAT_PER_SAT
    low, high = 0, whole_sats  # `low` sats always fit; find the most that do
    while low < high:
        middle = (low + high + 1) // 2
        amount = middle * MSAT_PER_SAT
        if amount + payout_fee_limit_msat(amount) <= available_msat:
            low = middle
        else:
            high = middle - 1
    return low * MSAT_PER_SAT


def withdraw_link_usable(*, k1: str, now: datetime | None = None) -> WithdrawLink:
    now = now or timezone.now()
    link = WithdrawLink.objects.filter(k1=k1).select_related("worker").first()
    if link is None:
        raise WithdrawRefused("Unknown withdraw link.")
    if not link.worker.is_active:
        # A banned account's balance waits for a moderator's decision, even through a link made before the ban.
        raise WithdrawRefused("This account is suspended: its withdraw links no longer work.")
    if link.claimed_at is not None:
        raise WithdrawRefused("This withdraw link was already used.")
    if link.expires_at <= now:
        raise WithdrawRefused("This withdraw link has expired. Open the withdraw page again for a new one.")
    return link


def withdraw_claim(*, k1: str, invoice: str, now: datetime | None = None):
    """The wallet's callback: check the invoice, claim the link once, and create the payout for a Celery worker.

    Returns the payout. Raises WithdrawRefused with a reason for the wallet; nothing changes then.
    """
    now = now or timezone.now()
    link = withdraw_link_usable(k1=k1, now=now)
    decoded = _decode_invoice(invoice, now=now)
    amount = decoded.amount_msat
    if not link.min_withdrawable_msat <= amount <= link.max_withdrawable_msat:
        raise WithdrawRefused(
            f"The invoice is for {amount} msat; this link allows {link.min_withdrawable_msat} to "
            f"{link.max_withdrawable_msat} msat."
        )
    with transaction.atomic():
        # Only conditions on the link's own row: PostgreSQL re-checks those when a concurrent claim releases it (a
        # join would move them into a subquery it does not re-check, and two claims could both win).
        claimed = WithdrawLink.objects.filter(pk=link.pk, claimed_at__isnull=True, expires_at__gt=now).update(
            claimed_at=now
        )
        if claimed != 1:
            raise WithdrawRefused("This withdraw link was already used.")
        # First of the commit's callbacks: committed, and the payout's job (enqueued by a later one) not yet sent.
        transaction.on_commit(partial(kill_point, "withdraw.claimed_not_enqueued"))
        try:
            with transaction.atomic():
                payout = payout_create(
                    worker=link.worker,
                    kind=PayoutKind.WITHDRAW,
                    source=link.source,
                    amount_msat=amount,
                    destination="LNURL-withdraw",
                    state=PayoutState.INVOICE_VERIFIED,
                    bolt11=decoded.bolt11,
                    payment_hash=decoded.payment_hash,
                )
        except InsufficientFunds:
            raise WithdrawRefused("The balance is lower than the invoice's amount.") from None
        except IntegrityError:  # the unique payment hash: this invoice already belongs to another payout
            raise WithdrawRefused("This invoice was already used.") from None
        WithdrawLink.objects.filter(pk=link.pk).update(payout=payout)
        kill_point("withdraw.claim_uncommitted")  # link claimed and payout written, not yet committed
    return payout


def _decode_invoice(invoice: str, *, now: datetime) -> invoices.DecodedInvoice:
    """The same checks as for invoices our payouts ask for: decodable, an amount, our network, not expiring."""
    try:
        decoded = invoices.decode(invoice)
        invoices.check_network(decoded)
        invoices.check_not_expiring(decoded, now=now)
    except invoices.InvalidInvoice as error:
        raise WithdrawRefused(str(error)) from None
    if not decoded.amount_msat:
        raise WithdrawRefused("The invoice has no amount.")
    return decoded
