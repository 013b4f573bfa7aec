"""Checks and conversions every Lightning backend shares: request validation, invoice checks, answer checks.

Invoices are read by `payments.invoices`; these functions put its answers in a backend's terms.
"""

import functools
import hashlib
import ssl

import httpx

from payments import invoices
from payments.invoices import DecodedInvoice, InvalidInvoice
from payments.lightning.base import CreatedInvoice, LightningError, PaymentOutcome, PaymentResult

# BOLT11 tagged fields hold at most 1023 five-bit words, so a description is at most 639 bytes.
MAX_MEMO_BYTES = 639


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """What httpx checks a node's certificate against when none is configured (certifi's bundle, or SSL_CERT_FILE
    and SSL_CERT_DIR when set), built once per process: building it reads the whole bundle, some 30 ms, and every
    call to the node built its own (a third of a payout's time, docs/PERFORMANCE.md, "Payouts")."""
    return httpx.create_ssl_context(trust_env=True)


def validate_invoice_request(
    *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
) -> None:
    """Refuse what no backend can turn into a sound invoice (ValueError: the caller's mistake, not the node's)."""
    if isinstance(amount_msat, bool) or not isinstance(amount_msat, int) or amount_msat <= 0:
        raise ValueError("An invoice needs a positive whole number of millisatoshis.")
    if len(memo.encode()) > MAX_MEMO_BYTES:
        raise ValueError(f"The invoice description is longer than {MAX_MEMO_BYTES} bytes.")
    if description_hash is not None and len(description_hash) != 32:
        raise ValueError("A description hash is 32 bytes (SHA-256).")
    if not isinstance(expiry_seconds, int) or expiry_seconds <= 0:
        raise ValueError("An invoice's expiry must be a positive number of seconds.")


def validate_fee_limit(fee_limit_msat: int) -> None:
    if isinstance(fee_limit_msat, bool) or not isinstance(fee_limit_msat, int) or fee_limit_msat < 0:
        raise ValueError("The fee limit must be a whole number of millisatoshis, zero or more.")


def payable_invoice(bolt11: str, *, network: str) -> DecodedInvoice:
    """The decoded invoice, checked before anything is sent: it carries an amount, has not expired, and is for the
    backend's `network`. Raises `InvalidInvoice`; `refused(error)` is the backend's answer then."""
    invoice = invoices.decode(bolt11)
    invoices.check_has_amount(invoice)
    invoices.check_not_expiring(invoice, min_seconds_left=0)
    invoices.check_network(invoice, network=network)
    return invoice


def refused(error: InvalidInvoice) -> PaymentResult:
    """FAILED, nothing sent. `payments.invoices` words its refusals to follow a colon; a payment's reason is also
    shown on its own (the test wallet's message), so it becomes a sentence."""
    return failed(f"{error.message[:1].upper()}{error.message[1:]}.")


def created_invoice_from_bolt11(
    text: str, *, amount_msat: int, description_hash: bytes | None, payment_hash: str | None = None
) -> CreatedInvoice:
    """Read the invoice a node made for us and check it is the one we asked for (amount, hash, description hash)."""
    try:
        invoice = invoices.decode(text)
        if description_hash is not None:
            invoices.check_description_hash(invoice, description_hash)
    except InvalidInvoice as error:
        raise LightningError(f"The node answered with an invoice we cannot use: {error}.") from error
    if invoice.amount_msat != amount_msat:
        raise LightningError(
            f"The node made an invoice for {invoice.amount_msat} msat instead of the {amount_msat} msat asked for."
        )
    if payment_hash is not None and invoice.payment_hash != payment_hash.lower():
        raise LightningError("The node's invoice does not carry the payment hash it reported.")
    return CreatedInvoice(
        bolt11=invoice.bolt11,
        payment_hash=invoice.payment_hash,
        amount_msat=amount_msat,
        expires_at=invoice.expires_at,
    )


def preimage_matches(preimage: str, payment_hash: str) -> bool:
    try:
        return hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == payment_hash.lower()
    except ValueError:
        return False


def normalize_payment_hash(payment_hash: str) -> str:
    """The 64 lowercase hex characters of a payment hash; ValueError for anything else."""
    value = payment_hash.strip().lower()
    if len(value) != 64 or any(character not in "0123456789abcdef" for character in value):
        raise ValueError("A payment hash is 64 hexadecimal characters.")
    return value


def as_int(value: object) -> int | None:
    """An integer from a node's JSON: LND sends 64-bit numbers as strings, older Core Lightning as "123msat"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("msat")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def failed(reason: str) -> PaymentResult:
    return PaymentResult(outcome=PaymentOutcome.FAILED, reason=reason)


def unknown(reason: str) -> PaymentResult:
    return PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason=reason)


def paid(*, preimage: str, payment_hash: str, fee_msat: object) -> PaymentResult:
    """PAID, keeping the preimage only when it proves the payment (it hashes to the payment hash)."""
    fee = as_int(fee_msat)
    fee = abs(fee) if fee is not None else None
    if not preimage_matches(preimage, payment_hash):
        return PaymentResult(
            outcome=PaymentOutcome.PAID,
            fee_msat=fee,
            reason="The node reports the payment made, but gave no preimage matching the payment hash.",
        )
    return PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage.lower(), fee_msat=fee)


class Backend:
    """What every backend does alike before it asks its node: the checks of `create_invoice` and `pay_invoice`
    (an invoice that is not payable is refused with nothing sent). A backend implements `_create_invoice` and
    `_pay_invoice`, which get requests already checked; `invoice_status` and `payment_status` are its own."""

    name: str
    moves_real_money: bool
    network: str

    def create_invoice(
        self,
        *,
        amount_msat: int,
        memo: str = "",
        description_hash: bytes | None = None,
        expiry_seconds: int = 3600,
    ) -> CreatedInvoice:
        validate_invoice_request(
            amount_msat=amount_msat, memo=memo, description_hash=description_hash, expiry_seconds=expiry_seconds
        )
        return self._create_invoice(
            amount_msat=amount_msat, memo=memo, description_hash=description_hash, expiry_seconds=expiry_seconds
        )

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        validate_fee_limit(fee_limit_msat)
        try:
            invoice = self._payable(bolt11)
        except InvalidInvoice as error:
            return refused(error)
        return self._pay_invoice(invoice, fee_limit_msat=fee_limit_msat, timeout_seconds=timeout_seconds)

    def _payable(self, bolt11: str) -> DecodedInvoice:
        return payable_invoice(bolt11, network=self.network)

    def _create_invoice(
        self, *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
    ) -> CreatedInvoice:
        raise NotImplementedError

    def _pay_invoice(self, invoice: DecodedInvoice, *, fee_limit_msat: int, timeout_seconds: int) -> PaymentResult:
        raise NotImplementedError
