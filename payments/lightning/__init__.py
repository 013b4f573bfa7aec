"""Lightning backends behind one small interface; which one is used is a setting (LIGHTNING_BACKEND)."""

from payments.lightning.base import (
    CreatedInvoice,
    InvoiceState,
    InvoiceStatus,
    LightningBackend,
    LightningError,
    PaymentOutcome,
    PaymentResult,
)
from payments.lightning.registry import get_backend, test_wallet_enabled

__all__ = [
    "CreatedInvoice",
    "InvoiceState",
    "InvoiceStatus",
    "LightningBackend",
    "LightningError",
    "PaymentOutcome",
    "PaymentResult",
    "get_backend",
    "test_wallet_enabled",
]
