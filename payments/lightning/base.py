"""The interface every Lightning backend implements.

The answer of a payment is three-valued: PAID, FAILED or UNKNOWN. A backend returns FAILED only when it is sure the
payment did not and will not happen (the node said so); any doubt (timeouts, connection errors after the request
may have left, answers it cannot read, "in flight") is UNKNOWN, and the caller asks `payment_status` later.
"""

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class LightningError(Exception):
    """The backend could not be asked (unreachable, refused our credentials, answered nonsense).

    For `create_invoice` and `invoice_status` it means "try again later". `pay_invoice` and `payment_status` never
    raise it for the payment itself: they return UNKNOWN instead.
    """


class InvoiceState(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


class PaymentOutcome(enum.StrEnum):
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CreatedInvoice:
    bolt11: str
    payment_hash: str  # 64 lowercase hex characters
    amount_msat: int
    expires_at: datetime  # timezone-aware


@dataclass(frozen=True)
class InvoiceStatus:
    state: InvoiceState
    preimage: str = ""  # hex, when paid and the backend tells
    amount_received_msat: int | None = None


@dataclass(frozen=True)
class PaymentResult:
    outcome: PaymentOutcome
    preimage: str = ""  # hex, when paid
    fee_msat: int | None = None  # routing fee actually paid, when paid
    reason: str = ""  # why it failed, or what made it unknown, for people


class LightningBackend(Protocol):
    name: str  # "dev", "lnbits", "lnd", "cln"
    moves_real_money: bool  # False only for the development backend

    def create_invoice(
        self,
        *,
        amount_msat: int,
        memo: str = "",
        description_hash: bytes | None = None,
        expiry_seconds: int = 3600,
    ) -> CreatedInvoice: ...

    def invoice_status(self, *, payment_hash: str) -> InvoiceStatus: ...

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult: ...

    def payment_status(self, *, payment_hash: str) -> PaymentResult: ...

    def wallet_balance_msat(self) -> int:
        """What the platform's wallet holds on Lightning now, for the reconciliation against the ledger. Outgoing
        payments still in flight may or may not be counted (each backend says which). LightningError when the
        backend cannot be asked."""
        ...
