"""The development backend: real, signed BOLT11 invoices from a throwaway key, and no money at all.

Its invoices live in the `DevInvoice` table, so web processes and Celery workers share them. It "pays" only its own
invoices, by marking them paid; anything else fails with a reason. Never use it where money is real. It plays both
the platform's node and the outside world (the test wallet): the node's own invoices are the deposits'.
"""

import hashlib
import secrets
import time
from datetime import UTC, datetime

from django.db.models import Q, Sum
from django.utils import timezone

from payments import invoices
from payments.invoices import CURRENCY_BY_NETWORK, DecodedInvoice
from payments.lightning.base import (
    CreatedInvoice,
    InvoiceState,
    InvoiceStatus,
    LightningError,
    PaymentOutcome,
    PaymentResult,
)
from payments.lightning.common import (
    Backend,
    normalize_payment_hash,
)
from payments.models import Deposit, DevInvoice

ONLY_OWN_INVOICES = "The development backend only pays its own invoices."
MIN_FINAL_CLTV_EXPIRY = 18


def dev_private_key(secret_key: str) -> str:
    """The signing key, fixed per SECRET_KEY so invoices stay valid across restarts and processes."""
    return hashlib.sha256(("boltwork-dev-lightning" + secret_key).encode()).hexdigest()


class DevBackend(Backend):
    name = "dev"
    moves_real_money = False

    def __init__(self, *, secret_key: str, network: str = "regtest") -> None:
        if network not in CURRENCY_BY_NETWORK:
            raise ValueError(f"Unknown Bitcoin network {network!r}.")
        self.private_key = dev_private_key(secret_key)
        self.network = network
        self.currency = CURRENCY_BY_NETWORK[network]

    def _create_invoice(
        self, *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
    ) -> CreatedInvoice:
        preimage = secrets.token_bytes(32)
        payment_hash = hashlib.sha256(preimage).hexdigest()
        created = int(time.time())
        text = invoices.encode(
            network=self.network,
            amount_msat=amount_msat,
            payment_hash=payment_hash,
            payment_secret=secrets.token_hex(32),
            description=memo,
            description_hash=description_hash,
            expiry_seconds=expiry_seconds,
            min_final_cltv_expiry=MIN_FINAL_CLTV_EXPIRY,
            created_at=created,
            private_key=self.private_key,
        )
        expires_at = datetime.fromtimestamp(created + expiry_seconds, tz=UTC)
        DevInvoice.objects.create(
            payment_hash=payment_hash,
            preimage=preimage.hex(),
            bolt11=text,
            amount_msat=amount_msat,
            memo=memo,
            expires_at=expires_at,
        )
        return CreatedInvoice(bolt11=text, payment_hash=payment_hash, amount_msat=amount_msat, expires_at=expires_at)

    def invoice_status(self, *, payment_hash: str) -> InvoiceStatus:
        row = DevInvoice.objects.filter(payment_hash=normalize_payment_hash(payment_hash)).first()
        if row is None:
            raise LightningError(f"The development backend has no invoice with payment hash {payment_hash}.")
        if row.paid_at is not None:
            return InvoiceStatus(state=InvoiceState.PAID, preimage=row.preimage, amount_received_msat=row.amount_msat)
        if row.expires_at <= timezone.now():
            return InvoiceStatus(state=InvoiceState.EXPIRED)
        return InvoiceStatus(state=InvoiceState.PENDING)

    def _payable(self, bolt11: str) -> DecodedInvoice:
        # Only our own invoices are paid (checked against the stored ones), whatever their network or expiry.
        return invoices.decode(bolt11)

    def _pay_invoice(self, invoice: DecodedInvoice, *, fee_limit_msat: int, timeout_seconds: int) -> PaymentResult:
        bolt11 = invoice.bolt11
        row = DevInvoice.objects.filter(payment_hash=invoice.payment_hash).first()
        # The hash alone is not enough: the invoice itself must be the one we signed.
        if row is None or row.bolt11 != bolt11.strip().lower():
            return PaymentResult(outcome=PaymentOutcome.FAILED, reason=ONLY_OWN_INVOICES)
        now = timezone.now()
        marked = DevInvoice.objects.filter(pk=row.pk, paid_at__isnull=True, expires_at__gt=now).update(paid_at=now)
        if marked:
            return PaymentResult(outcome=PaymentOutcome.PAID, preimage=row.preimage, fee_msat=0)
        row.refresh_from_db(fields=["paid_at"])
        if row.paid_at is not None:
            return PaymentResult(outcome=PaymentOutcome.FAILED, reason="The invoice is already paid.")
        return PaymentResult(outcome=PaymentOutcome.FAILED, reason="The invoice has expired.")

    def wallet_balance_msat(self) -> int:
        """The development node received what was paid to its own invoices, the deposits', and sent every other
        invoice it paid: the test wallet's (payouts and withdrawals). Its payments cost no fee and are never in
        flight."""
        paid = DevInvoice.objects.filter(paid_at__isnull=False)
        own = Deposit.objects.values("payment_hash")
        totals = paid.aggregate(
            received=Sum("amount_msat", filter=Q(payment_hash__in=own), default=0),
            sent=Sum("amount_msat", filter=~Q(payment_hash__in=own), default=0),
        )
        return totals["received"] - totals["sent"]

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        row = DevInvoice.objects.filter(payment_hash=normalize_payment_hash(payment_hash)).first()
        if row is not None and row.paid_at is not None:
            return PaymentResult(outcome=PaymentOutcome.PAID, preimage=row.preimage, fee_msat=0)
        # Development payments happen at once or not at all: an unpaid hash was never paid and never will be by us.
        return PaymentResult(outcome=PaymentOutcome.FAILED, reason="The development backend never paid this hash.")
