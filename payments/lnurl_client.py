"""The LNURL-pay client: from a worker's Lightning Address or LNURL to an invoice we can safely pay.

Specs: LUD-01 (bech32 LNURLs), LUD-06 (payRequest), LUD-09 and LUD-10 (success actions), LUD-12 (comments),
LUD-16 (Lightning Addresses), LUD-17 (`lnurlp://`). Pure functions and dataclasses, no models: the payout
service records each step's result itself. Every outbound request goes through `core.safe_http`, whose
`UnsafeUrl` and `FetchFailed` pass through these functions unchanged; the errors defined here all derive from
`LnurlFailure`. Every error's `str()` is a sentence a worker can read. Invoices are read and checked by
`payments.invoices`; its `InvalidInvoice` comes out of here wrapped in the matching `InvoiceRefused` subclass.

    url = parse_pay_destination("alice@wallet.example")
    pay_request = fetch_pay_request(url)
    offer = request_invoice(pay_request, amount_msat=21_000, comment="Boltwork payout")
    # store offer.bolt11 and offer.payment_hash, then pay
"""

import hashlib
import json
import logging
import re
from base64 import b64decode
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from bech32 import bech32_decode, convertbits
from Cryptodome.Cipher import AES
from Cryptodome.Util.Padding import unpad

from core.safe_http import FetchFailed, UnsafeUrl, check_url_policy, is_insecure_host_allowed, safe_get_json
from payments import invoices
from payments.invoices import InvoiceProblem, describe_amount

logger = logging.getLogger(__name__)

LIGHTNING_ADDRESS = re.compile(r"(?P<name>[a-z0-9._+-]+)@(?P<host>[^\s@/?#\\]+)")
OTHER_LNURL_SCHEMES = {"lnurlw": "a withdraw link", "lnurlc": "a channel link", "keyauth": "a login link"}
MAX_REASON_LENGTH = 300


class LnurlFailure(Exception):
    """Base of the errors below. `str(error)` is a sentence a worker can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDestination(LnurlFailure):
    """The text is not a Lightning Address or LNURL-pay link we accept."""


class LnurlError(LnurlFailure):
    """The wallet's service answered `{"status": "ERROR", "reason": …}`; `reason` is its own words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason[:MAX_REASON_LENGTH]
        super().__init__(f"the wallet refused: {self.reason}")


class InvalidPayRequest(LnurlFailure):
    """The wallet's service answered something that is not a valid LNURL-pay answer."""


class AmountOutOfRange(LnurlFailure):
    """The amount lies outside the wallet's minSendable..maxSendable: no invoice was requested."""

    def __init__(self, *, amount_msat: int, min_sendable_msat: int, max_sendable_msat: int) -> None:
        self.amount_msat = amount_msat
        self.min_sendable_msat = min_sendable_msat
        self.max_sendable_msat = max_sendable_msat
        super().__init__(
            f"the wallet accepts between {describe_amount(min_sendable_msat)} and "
            f"{describe_amount(max_sendable_msat)} per payment, not {describe_amount(amount_msat)}"
        )


class InvoiceRefused(LnurlFailure):
    """The wallet sent an invoice we must not pay. Subclasses say why; the message is `payments.invoices`'."""


class UndecodableInvoice(InvoiceRefused):
    pass


class WrongNetwork(InvoiceRefused):
    pass


class AmountlessInvoice(InvoiceRefused):
    pass


class WrongAmount(InvoiceRefused):
    pass


class InvoiceExpired(InvoiceRefused):
    pass


REFUSAL_BY_PROBLEM: dict[InvoiceProblem, type[InvoiceRefused]] = {
    InvoiceProblem.UNDECODABLE: UndecodableInvoice,
    InvoiceProblem.FRACTIONAL_MSAT: UndecodableInvoice,
    InvoiceProblem.WRONG_NETWORK: WrongNetwork,
    InvoiceProblem.AMOUNTLESS: AmountlessInvoice,
    InvoiceProblem.WRONG_AMOUNT: WrongAmount,
    InvoiceProblem.EXPIRED: InvoiceExpired,
}


class SuccessActionUndecryptable(LnurlFailure):
    """An `aes` success action could not be decrypted with the given preimage."""


@dataclass(frozen=True)
class PayRequest:
    callback: str
    min_sendable_msat: int
    max_sendable_msat: int
    metadata: str  # the raw string: its sha256 is what the invoice's description hash should be
    comment_allowed: int  # characters; 0 means the wallet takes no comment
    description: str  # the text/plain metadata entry
    wallet_name: str  # something to show a person: the address, the description or the host


@dataclass(frozen=True)
class VerifiedInvoice:
    payment_hash: str  # 64 lowercase hex characters
    amount_msat: int
    expires_at: datetime  # timezone-aware
    description_hash_matches: bool


@dataclass(frozen=True)
class InvoiceOffer:
    bolt11: str
    success_action: dict | None  # LUD-09/10: {"tag": "message"|"url"|"aes", …}, already checked
    description_hash_matches: bool
    payment_hash: str
    amount_msat: int
    expires_at: datetime


# Destinations ---------------------------------------------------------------------------------------------------


def parse_pay_destination(text: str) -> str:
    """The URL of the LNURL-pay endpoint that `text` names. Raises `InvalidDestination`.

    Accepts a Lightning Address `name@host[:port]` (LUD-16), a bech32 `lnurl1…` (LUD-01, any case, with or
    without `lightning:`), `lnurlp://host/path` (LUD-17) and a plain https URL. The result is https unless its
    `host:port` is in `settings.LNURL_ALLOWED_INSECURE_HOSTS`. Nothing is fetched, so DNS is checked later.
    """
    cleaned = strip_lightning_prefix(text.strip())
    if not cleaned:
        raise InvalidDestination("enter a Lightning Address (name@wallet.example) or an LNURL")
    if cleaned.lower().startswith("lnurl1"):
        url = decode_bech32_lnurl(cleaned)
    elif "://" in cleaned:
        url = url_from_link(cleaned)
    elif "@" in cleaned:
        url = lightning_address_url(cleaned)
    else:
        raise InvalidDestination(
            "this is neither a Lightning Address (name@wallet.example) nor an LNURL (lnurl1… or lnurlp://…)"
        )
    check_destination_url(url)
    return url


def strip_lightning_prefix(text: str) -> str:
    return text[len("lightning:") :] if text.lower().startswith("lightning:") else text


def decode_bech32_lnurl(text: str) -> str:
    # The `bech32` package, not `lnurl.url_decode`: same algorithm, without importing pydantic and bip32.
    hrp, data = bech32_decode(text)
    if hrp != "lnurl" or data is None:
        raise InvalidDestination("this LNURL is damaged (a character is wrong or missing)")
    decoded = convertbits(data, 5, 8, False)
    if decoded is None:
        raise InvalidDestination("this LNURL is damaged (a character is wrong or missing)")
    try:
        return bytes(decoded).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidDestination("this LNURL does not contain a web address") from error


def url_from_link(text: str) -> str:
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "lnurlp":
        return f"{insecure_scheme_if_allowed(rest)}://{rest}"
    if scheme in OTHER_LNURL_SCHEMES:
        raise InvalidDestination(f"this is {OTHER_LNURL_SCHEMES[scheme]}, not a payment link")
    if scheme in {"https", "http"}:
        return embedded_lnurl(text) or text
    raise InvalidDestination(f"links starting with {scheme}:// are not payment links")


def embedded_lnurl(url: str) -> str | None:
    """LUD-01's fallback scheme: `https://service.example/…?lightning=LNURL1…`."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key.lower() == "lightning" and value.lower().startswith("lnurl1"):
            return decode_bech32_lnurl(value)
    return None


def lightning_address_url(text: str) -> str:
    # LUD-16 allows only lowercase names; wallets lowercase what people type, and so do we.
    match = LIGHTNING_ADDRESS.fullmatch(text.lower())
    if not match or not match["name"].strip("."):
        raise InvalidDestination(f"“{text[:80]}” is not a valid Lightning Address (name@wallet.example)")
    host, name = match["host"], match["name"]
    return f"{insecure_scheme_if_allowed(host)}://{host}/.well-known/lnurlp/{name}"


def insecure_scheme_if_allowed(host_and_rest: str) -> str:
    """http for an allowlisted `host:port` (development and tests), https for everyone else (and LUD-16/17)."""
    try:
        return "http" if is_insecure_host_allowed(httpx.URL(f"http://{host_and_rest}")) else "https"
    except (httpx.InvalidURL, UnicodeError) as error:  # UnicodeError: idna's, for a malformed xn-- label
        raise InvalidDestination(f"“{host_and_rest[:80]}” does not name a valid host") from error


def check_destination_url(url: str) -> None:
    try:
        parsed = check_url_policy(url)
    except UnsafeUrl as error:
        raise InvalidDestination(error.message) from error
    if parsed.host.endswith(".onion"):
        raise InvalidDestination("wallets on Tor (.onion) are not supported")
    tag = parsed.params.get("tag")
    if tag is not None and tag != "payRequest":
        raise InvalidDestination(f"this LNURL is for “{tag[:40]}”, not a payment")


# The pay request (LUD-06) ---------------------------------------------------------------------------------------


def fetch_pay_request(url: str, *, timeout_seconds: float | None = None) -> PayRequest:
    """Ask the LNURL-pay endpoint for its terms, all within `timeout_seconds` (default
    `settings.LNURL_TIMEOUT_SECONDS`; redirects included).

    Raises `LnurlError`, `InvalidPayRequest`, `UnsafeUrl`, `FetchFailed`.
    """
    payload = get_lnurl_json(url, timeout_seconds=timeout_seconds)
    return pay_request_from_json(payload, url=url)


def get_lnurl_json(url: str, *, params: dict | None = None, timeout_seconds: float | None = None) -> dict:
    """`safe_get_json`, turning an LNURL `ERROR` answer into `LnurlError` whatever its HTTP status (LUD-01: status
    codes carry no meaning in LNURL, and many services answer errors with 400 or 500)."""
    try:
        payload = safe_get_json(url, params=params, timeout_seconds=timeout_seconds)
    except FetchFailed as error:
        if error.payload is not None and is_error_answer(error.payload):
            raise LnurlError(error_reason(error.payload)) from error
        raise
    if is_error_answer(payload):
        raise LnurlError(error_reason(payload))
    return payload


def is_error_answer(payload: dict) -> bool:
    status = payload.get("status")
    return isinstance(status, str) and status.upper() == "ERROR"


def error_reason(payload: dict) -> str:
    reason = payload.get("reason")
    return reason.strip() if isinstance(reason, str) and reason.strip() else "no reason given"


def pay_request_from_json(payload: dict, *, url: str) -> PayRequest:
    tag = payload.get("tag")
    if tag != "payRequest":
        if isinstance(tag, str):
            raise InvalidPayRequest(f"this is not a payment link: the wallet answered with a “{tag[:40]}”")
        raise InvalidPayRequest("the wallet's answer is not an LNURL-pay request")
    callback = checked_callback(payload.get("callback"))
    min_sendable_msat = sendable_msat(payload, "minSendable")
    max_sendable_msat = sendable_msat(payload, "maxSendable")
    if min_sendable_msat > max_sendable_msat:
        raise InvalidPayRequest("the wallet's minimum amount is above its maximum amount")
    metadata = payload.get("metadata")
    entries = metadata_entries(metadata)
    description = metadata_text(entries, "text/plain")
    return PayRequest(
        callback=callback,
        min_sendable_msat=min_sendable_msat,
        max_sendable_msat=max_sendable_msat,
        metadata=metadata,
        comment_allowed=comment_allowed(payload),
        description=description,
        wallet_name=(
            metadata_text(entries, "text/identifier")
            or metadata_text(entries, "text/email")
            or description
            or httpx.URL(url).host
        ),
    )


def checked_callback(callback: Any) -> str:
    if not isinstance(callback, str) or not callback:
        raise InvalidPayRequest("the wallet's answer has no callback address")
    try:
        check_url_policy(callback)
    except UnsafeUrl as error:
        raise UnsafeUrl(f"the wallet's callback address is refused: {error.message}") from error
    return callback


def sendable_msat(payload: dict, field: str) -> int:
    value = payload.get(field)
    # JSON has one number type: accept 1000.0 but not 1000.5, "1000" or true.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidPayRequest(f"the wallet's {field} is not a whole number of millisatoshis")
    return value


def comment_allowed(payload: dict) -> int:
    """LUD-12: the number of characters the callback takes in `comment`; absent or nonsense means none."""
    value = payload.get("commentAllowed", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def metadata_entries(metadata: Any) -> list[list]:
    """LUD-06: a JSON array, sent as a string, of arrays whose first item is a type name."""
    if not isinstance(metadata, str):
        raise InvalidPayRequest("the wallet's payment description (metadata) is missing")
    try:
        entries = json.loads(metadata)
    except (ValueError, RecursionError) as error:
        raise InvalidPayRequest("the wallet's payment description (metadata) is not valid JSON") from error
    if not isinstance(entries, list) or not all(
        isinstance(entry, list) and entry and isinstance(entry[0], str) for entry in entries
    ):
        raise InvalidPayRequest("the wallet's payment description (metadata) is not a list of entries")
    return entries


def metadata_text(entries: list[list], kind: str) -> str:
    for entry in entries:
        if entry[0] == kind and len(entry) > 1 and isinstance(entry[1], str):
            return entry[1].strip()
    return ""


# The invoice ----------------------------------------------------------------------------------------------------


def request_invoice(pay_request: PayRequest, *, amount_msat: int, comment: str = "") -> InvoiceOffer:
    """Ask the callback for an invoice of exactly `amount_msat` and verify it.

    The amount is checked against the wallet's bounds before anything is sent. The comment is sent only when
    the wallet takes one (LUD-12), cut to the length it allows. Raises `AmountOutOfRange`, `LnurlError`,
    `InvalidPayRequest`, an `InvoiceRefused` subclass, `UnsafeUrl`, `FetchFailed`.
    """
    check_amount_in_range(pay_request, amount_msat)
    params: dict[str, str | int] = {"amount": amount_msat}
    if comment and pay_request.comment_allowed > 0:
        params["comment"] = comment[: pay_request.comment_allowed]
    payload = get_lnurl_json(pay_request.callback, params=params)
    invoice_text = payload.get("pr")
    if not isinstance(invoice_text, str) or not invoice_text.strip():
        raise InvalidPayRequest("the wallet did not send an invoice")
    invoice_text = invoice_text.strip()
    verified = verify_invoice(invoice_text, amount_msat=amount_msat, metadata=pay_request.metadata)
    return InvoiceOffer(
        bolt11=invoice_text,
        success_action=checked_success_action(payload.get("successAction"), callback=pay_request.callback),
        description_hash_matches=verified.description_hash_matches,
        payment_hash=verified.payment_hash,
        amount_msat=verified.amount_msat,
        expires_at=verified.expires_at,
    )


def check_amount_in_range(pay_request: PayRequest, amount_msat: int) -> None:
    if not pay_request.min_sendable_msat <= amount_msat <= pay_request.max_sendable_msat:
        raise AmountOutOfRange(
            amount_msat=amount_msat,
            min_sendable_msat=pay_request.min_sendable_msat,
            max_sendable_msat=pay_request.max_sendable_msat,
        )


def verify_invoice(bolt11_text: str, *, amount_msat: int, metadata: str) -> VerifiedInvoice:
    """Check that the invoice is one we may pay: right network, exactly `amount_msat`, not about to expire.

    A description hash that differs from sha256(metadata) is logged and reported, not refused: LUD-06 no longer
    requires it and many wallets break it. Raises an `InvoiceRefused` subclass.
    """
    try:
        invoice = invoices.decode(bolt11_text)
        invoices.check_network(invoice)
        invoices.check_amount(invoice, amount_msat=amount_msat)
        invoices.check_not_expiring(invoice)
    except invoices.InvalidInvoice as error:
        refusal = REFUSAL_BY_PROBLEM.get(error.problem, InvoiceRefused)
        raise refusal(error.message) from error
    matches = invoices.description_hash_matches(invoice, hashlib.sha256(metadata.encode("utf-8")).digest())
    if not matches:
        logger.warning(
            "LNURL invoice %s: description hash does not match sha256(metadata); paying anyway",
            invoice.payment_hash,
        )
    return VerifiedInvoice(
        payment_hash=invoice.payment_hash,
        amount_msat=amount_msat,
        expires_at=invoice.expires_at,
        description_hash_matches=matches,
    )


# Success actions (LUD-09, LUD-10) -------------------------------------------------------------------------------


def checked_success_action(action: Any, *, callback: str) -> dict | None:
    """The success action if we understand it and it is safe to show; otherwise None (logged).

    LUD-09 tells a paying *person* not to pay when the action is of an unknown kind. Here the platform pays and
    the action is only kept for the record, so an odd one is dropped rather than holding up a worker's payout.
    """
    if action is None:
        return None
    tag = action.get("tag") if isinstance(action, dict) else None
    kept: dict | None = None
    if tag == "message":
        kept = message_action(action)
    elif tag == "url":
        kept = url_action(action, callback=callback)
    elif tag == "aes":
        kept = aes_action(action)
    if kept is None:
        logger.warning("LNURL success action dropped (unknown kind or invalid): %.200r", action)
    return kept


def message_action(action: dict) -> dict | None:
    message = action.get("message")
    return {"tag": "message", "message": message} if isinstance(message, str) else None


def url_action(action: dict, *, callback: str) -> dict | None:
    """LUD-09: the URL must be https and on the callback's domain."""
    url, description = action.get("url"), action.get("description", "")
    if not isinstance(url, str) or not isinstance(description, str):
        return None
    try:
        parsed = httpx.URL(url)
        host = parsed.host
    except (httpx.InvalidURL, UnicodeError):  # UnicodeError: idna's, decoding a malformed xn-- label
        return None
    if parsed.scheme != "https" or not host or host != httpx.URL(callback).host:
        return None
    return {"tag": "url", "description": description, "url": url}


def aes_action(action: dict) -> dict | None:
    fields = ("description", "ciphertext", "iv")
    if not all(isinstance(action.get(field), str) for field in fields):
        return None
    return {"tag": "aes", **{field: action[field] for field in fields}}


def decrypt_aes_success_action(action: dict, preimage_hex: str) -> str:
    """LUD-10: AES-256-CBC with PKCS#7 padding, keyed by the payment preimage. Raises `SuccessActionUndecryptable`.

    Our own, not `lnurl.aes_decrypt`: that one checks the padding loosely, and its `aes_encrypt` pads by
    characters rather than bytes, which breaks any non-ASCII message.
    """
    try:
        key = bytes.fromhex(preimage_hex)
        iv = b64decode(action["iv"])
        ciphertext = b64decode(action["ciphertext"])
    except (KeyError, TypeError, ValueError) as error:
        raise SuccessActionUndecryptable("the success action's secret is not readable") from error
    if len(key) != 32 or len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise SuccessActionUndecryptable("the success action's secret is not readable")
    try:
        plaintext = unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(ciphertext), AES.block_size)
        return plaintext.decode("utf-8")
    except ValueError as error:
        # A wrong preimage shows up here, as bad padding or bytes that are not UTF-8.
        raise SuccessActionUndecryptable("the success action's secret could not be decrypted") from error
