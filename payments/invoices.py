"""BOLT11 invoices: the one module that reads (and, for the development backend, writes) them.

Everything else gets a `DecodedInvoice` and never touches the `bolt11` library. Every refusal is `InvalidInvoice`,
whose `str()` is a sentence a worker can read and whose `problem` says which check refused, so a caller that has
its own error types (the LNURL-pay client, the Lightning backends) can wrap it without parsing the message.

    invoice = invoices.decode(text)  # signature, payment hash and secret, a whole msat amount
    invoices.check_network(invoice)  # settings.BITCOIN_NETWORK unless told otherwise
    invoices.check_amount(invoice, amount_msat=21_000)
    invoices.check_not_expiring(invoice)
"""

import enum
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bitstring
import bolt11
from django.conf import settings

CURRENCY_BY_NETWORK = {"mainnet": "bc", "testnet": "tb", "signet": "tbs", "regtest": "bcrt"}
NETWORK_BY_CURRENCY = {currency: network for network, currency in CURRENCY_BY_NETWORK.items()}
# An invoice that expires sooner than this could lapse while the payment is routed: ask for a fresh one.
MIN_SECONDS_LEFT = 30
# 9999-12-31T23:59:59Z: an invoice may claim an expiry no datetime can hold.
LATEST_TIMESTAMP = 253_402_300_799
# What the decoder lets out on malformed text: its own errors, bitstring's read errors and plain Python ones.
DECODER_ERRORS = (bolt11.Bolt11Exception, bitstring.Error, ValueError, IndexError, KeyError, TypeError)


class InvoiceProblem(enum.StrEnum):
    UNDECODABLE = "undecodable"
    FRACTIONAL_MSAT = "fractional_msat"
    WRONG_NETWORK = "wrong_network"
    AMOUNTLESS = "amountless"
    WRONG_AMOUNT = "wrong_amount"
    EXPIRED = "expired"
    WRONG_DESCRIPTION_HASH = "wrong_description_hash"


class InvalidInvoice(Exception):
    """An invoice we must not pay or accept. `str(error)` is a sentence a worker can read; `problem` is which check."""

    def __init__(self, message: str, *, problem: InvoiceProblem) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


@dataclass(frozen=True)
class DecodedInvoice:
    bolt11: str  # the text as given, without surrounding whitespace
    network: str  # "mainnet", "testnet", "signet" or "regtest"
    amount_msat: int | None  # None for an invoice that lets the payer choose
    payment_hash: str  # 64 lowercase hex characters
    description_hash: str | None  # 64 lowercase hex characters, when the invoice commits to one
    expires_at: datetime  # timezone-aware; 9999-12-31 at the latest


# Reading --------------------------------------------------------------------------------------------------------


def decode(text: str) -> DecodedInvoice:
    """Decode a BOLT11 invoice and check its signature, that it has a payment hash, a payment secret and a
    description (or its hash), and that its amount is a whole number of millisatoshis. Raises `InvalidInvoice`.

    Pure, so the answer for one text is kept for a while: a payout decodes its invoice once per step even though
    the backend it hands the text to reads it again.
    """
    return _decode(text.strip())


@functools.lru_cache(maxsize=64)
def _decode(text: str) -> DecodedInvoice:
    try:
        invoice = bolt11.decode(text)
    except DECODER_ERRORS as error:
        detail = str(error).rstrip(".") or type(error).__name__
        raise InvalidInvoice(
            f"this is not a valid Lightning invoice (BOLT11: {detail})", problem=InvoiceProblem.UNDECODABLE
        ) from error
    _check_whole_msat_amount(invoice)
    return DecodedInvoice(
        bolt11=text,
        network=NETWORK_BY_CURRENCY[invoice.currency],
        amount_msat=None if invoice.amount_msat is None else int(invoice.amount_msat),
        payment_hash=invoice.payment_hash.lower(),
        description_hash=invoice.description_hash.lower() if invoice.description_hash else None,
        expires_at=datetime.fromtimestamp(min(invoice.date + invoice.expiry, LATEST_TIMESTAMP), tz=UTC),
    )


def _check_whole_msat_amount(invoice: bolt11.Bolt11) -> None:
    """BOLT 11: a pico-bitcoin amount must end in 0; the decoder would silently round 1.5 msat down to 1."""
    hrp = invoice.signature.hrp if invoice.signature else ""
    amount_text = hrp[len("ln") + len(invoice.currency) :]
    if amount_text.endswith("p") and not amount_text[:-1].endswith("0"):
        raise InvalidInvoice(
            "the invoice's amount is not a whole number of millisatoshis", problem=InvoiceProblem.FRACTIONAL_MSAT
        )


# Checking -------------------------------------------------------------------------------------------------------


def check_network(invoice: DecodedInvoice, *, network: str | None = None) -> None:
    """The invoice is for `network`, by default the one Boltwork runs on (`settings.BITCOIN_NETWORK`)."""
    expected = network or settings.BITCOIN_NETWORK
    if invoice.network != expected:
        raise InvalidInvoice(
            f"the invoice is for bitcoin {invoice.network}, but Boltwork pays on bitcoin {expected}: "
            "an invoice of another network cannot be paid",
            problem=InvoiceProblem.WRONG_NETWORK,
        )


def check_has_amount(invoice: DecodedInvoice) -> None:
    if invoice.amount_msat is None or invoice.amount_msat <= 0:
        raise InvalidInvoice(
            "the wallet sent an invoice without an amount; it must ask for the exact amount",
            problem=InvoiceProblem.AMOUNTLESS,
        )


def check_amount(invoice: DecodedInvoice, *, amount_msat: int) -> None:
    """The invoice asks for exactly `amount_msat` (an invoice without an amount is refused too)."""
    check_has_amount(invoice)
    if invoice.amount_msat != amount_msat:
        raise InvalidInvoice(
            f"the wallet's invoice asks for {describe_amount(invoice.amount_msat)}, "
            f"but we asked it for {describe_amount(amount_msat)}",
            problem=InvoiceProblem.WRONG_AMOUNT,
        )


def check_not_expiring(
    invoice: DecodedInvoice, *, min_seconds_left: int = MIN_SECONDS_LEFT, now: datetime | None = None
) -> None:
    """The invoice stays payable for at least `min_seconds_left` more seconds (0: it has not expired)."""
    left = invoice.expires_at - (now or datetime.now(tz=UTC))
    if left <= timedelta(0) or left < timedelta(seconds=min_seconds_left):
        raise InvalidInvoice(
            "the wallet's invoice has expired or is about to; a fresh one is needed", problem=InvoiceProblem.EXPIRED
        )


def description_hash_matches(invoice: DecodedInvoice, description_hash: bytes) -> bool:
    return invoice.description_hash == description_hash.hex()


def check_description_hash(invoice: DecodedInvoice, description_hash: bytes) -> None:
    """The invoice commits to exactly this description hash (sha256 of the description, 32 bytes)."""
    if not description_hash_matches(invoice, description_hash):
        raise InvalidInvoice(
            "the invoice's description hash is not the one asked for", problem=InvoiceProblem.WRONG_DESCRIPTION_HASH
        )


# Writing --------------------------------------------------------------------------------------------------------


def encode(
    *,
    network: str,
    amount_msat: int,
    payment_hash: str,
    payment_secret: str,
    description: str = "",
    description_hash: bytes | None = None,
    expiry_seconds: int,
    min_final_cltv_expiry: int,
    created_at: int,
    private_key: str,
) -> str:
    """A BOLT11 invoice signed with `private_key` (hex), for the development backend: `description_hash`, when
    given, stands in for `description`."""
    tags = bolt11.Tags()
    tags.add(bolt11.TagChar.payment_hash, payment_hash)
    tags.add(bolt11.TagChar.payment_secret, payment_secret)
    if description_hash is not None:
        tags.add(bolt11.TagChar.description_hash, description_hash.hex())
    else:
        tags.add(bolt11.TagChar.description, description)
    tags.add(bolt11.TagChar.expire_time, expiry_seconds)
    tags.add(bolt11.TagChar.min_final_cltv_expiry, min_final_cltv_expiry)
    invoice = bolt11.Bolt11(
        currency=CURRENCY_BY_NETWORK[network],
        date=created_at,
        tags=tags,
        amount_msat=bolt11.MilliSatoshi(amount_msat),
    )
    return bolt11.encode(invoice, private_key)


# Wording --------------------------------------------------------------------------------------------------------


def describe_amount(amount_msat: int) -> str:
    """For messages only: whole sats when the amount is, millisatoshis otherwise."""
    if amount_msat % 1000 == 0:
        sats = amount_msat // 1000
        return f"{sats:,} sat" if sats == 1 else f"{sats:,} sats"
    return f"{amount_msat:,} msat"
