"""LNURL-withdraw (LUD-03): a worker without a Lightning Address pulls their balance into their wallet.

The worker's page shows a QR of a link; their wallet fetches the withdraw request, makes an invoice and calls our
callback with `k1` and the invoice. The link is claimed by one conditional UPDATE, so two wallets calling at once
can never both be paid; the payment itself is made by a Celery worker.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.models import MSAT_PER_SAT, User
from payments import lnurl_client
from payments.errors import InsufficientFunds, WithdrawRefused
from payments.ledger import account_of_user, balance_msat
from payments.models import AccountKind, PayoutKind, PayoutState, WithdrawLink
from payments.payouts import payout_create


def withdraw_link_create(*, worker: User, now: datetime | None = None) -> WithdrawLink:
    """Offer the worker's whole earned balance (in whole sats) through a new single-use link."""
    now = now or timezone.now()
    available = balance_msat(account=account_of_user(user=worker, kind=AccountKind.WORKER_EARNED))
    maximum = available - available % MSAT_PER_SAT
    if maximum < MSAT_PER_SAT:
        raise WithdrawRefused("There is nothing to withdraw yet: your balance is under 1 sat.")
    return WithdrawLink.objects.create(
        worker=worker,
        k1=secrets.token_hex(32),
        min_withdrawable_msat=MSAT_PER_SAT,
        max_withdrawable_msat=maximum,
        expires_at=now + timedelta(seconds=settings.WITHDRAW_LINK_EXPIRY_SECONDS),
    )


def withdraw_link_usable(*, k1: str, now: datetime | None = None) -> WithdrawLink:
    now = now or timezone.now()
    link = WithdrawLink.objects.filter(k1=k1).first()
    if link is None:
        raise WithdrawRefused("Unknown withdraw link.")
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
        claimed = WithdrawLink.objects.filter(pk=link.pk, claimed_at__isnull=True, expires_at__gt=now).update(
            claimed_at=now
        )
        if claimed != 1:
            raise WithdrawRefused("This withdraw link was already used.")
        try:
            with transaction.atomic():
                payout = payout_create(
                    worker=link.worker,
                    kind=PayoutKind.WITHDRAW,
                    amount_msat=amount,
                    destination="LNURL-withdraw",
                    state=PayoutState.INVOICE_VERIFIED,
                    bolt11=invoice,
                    payment_hash=decoded.payment_hash,
                )
        except InsufficientFunds:
            raise WithdrawRefused("The balance is lower than the invoice's amount.") from None
        except IntegrityError:  # the unique payment hash: this invoice already belongs to another payout
            raise WithdrawRefused("This invoice was already used.") from None
        WithdrawLink.objects.filter(pk=link.pk).update(payout=payout)
    return payout


def _decode_invoice(invoice: str, *, now: datetime) -> lnurl_client.VerifiedInvoice:
    """The same checks as for invoices our payouts ask for: decodable, an amount, our network, not expiring."""
    try:
        decoded = lnurl_client.decode_invoice(invoice.strip())
        lnurl_client.check_whole_msat_amount(decoded)
        lnurl_client.check_invoice_network(decoded)
        expires_at = lnurl_client.invoice_expires_at(decoded)
        lnurl_client.check_invoice_not_expiring(expires_at)
    except lnurl_client.LnurlFailure as error:
        raise WithdrawRefused(str(error)) from None
    if not decoded.amount_msat:
        raise WithdrawRefused("The invoice has no amount.")
    return lnurl_client.VerifiedInvoice(
        payment_hash=decoded.payment_hash,
        amount_msat=decoded.amount_msat,
        expires_at=expires_at,
        description_hash_matches=True,
    )
