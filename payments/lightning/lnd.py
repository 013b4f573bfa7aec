"""LND over its REST gateway (lnd ≥ 0.18), authenticated by a macaroon in `Grpc-Metadata-macaroon`.

From LND's REST reference and routerrpc/router_server.go:
- `POST /v1/invoices {"value_msat", "memo", "expiry", "description_hash": base64}` → `r_hash` (base64),
  `payment_request`. `GET /v1/invoice/{r_hash as hex}` → `state` OPEN | SETTLED | CANCELED | ACCEPTED,
  `r_preimage` (base64), `amt_paid_msat`. 64-bit numbers come as JSON strings.
- `POST /v2/router/send` (SendPaymentV2) streams one JSON object per line, `{"result": Payment}` or
  `{"error": {"code", "message"}}`. Payment: `status` IN_FLIGHT | SUCCEEDED | FAILED (INITIATED on newer nodes),
  `payment_preimage` (hex), `fee_msat`, `failure_reason`. `fee_limit_msat` is a hard limit; `timeout_seconds` stops
  new attempts, but HTLCs already out may settle later, so a FAILED status is only sent once none is in flight.
  Errors before the payment is recorded: InvalidArgument (3), PermissionDenied (7), Unauthenticated (16), or messages
  such as "invoice expired"; AlreadyExists (6) means this node already paid or is paying that hash.
- `GET /v2/router/track/{payment_hash as base64url}` (TrackPaymentV2) sends the current state at once, then updates;
  NotFound (5, "payment isn't initiated") when this node never started a payment for the hash.
- `GET /v1/balance/channels` (ChannelBalance) → `local_balance {sat, msat}` (settled, in open channels),
  `unsettled_local_balance` (HTLCs in flight), `pending_open_local_balance`, …
"""

import base64
import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx

from payments.invoices import DecodedInvoice
from payments.lightning.base import (
    CreatedInvoice,
    InvoiceState,
    InvoiceStatus,
    LightningError,
    PaymentResult,
)
from payments.lightning.common import (
    Backend,
    as_int,
    created_invoice_from_bolt11,
    failed,
    normalize_payment_hash,
    paid,
    system_tls_context,
    unknown,
)

CONNECT_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 15.0
# In-flight HTLCs can outlive the payment's own timeout; past this margin we stop waiting and answer UNKNOWN.
PAYMENT_WAIT_MARGIN_SECONDS = 30.0
GRPC_NOT_FOUND = 5
GRPC_ALREADY_EXISTS = 6
GRPC_REFUSED_BEFORE_SENDING = {3, 7, 16}  # InvalidArgument, PermissionDenied, Unauthenticated
REFUSED_BEFORE_SENDING_MESSAGES = (
    "invoice expired",
    "invoice not for current active network",
    "verification failed",  # the macaroon
    "permission denied",
)


class LndBackend(Backend):
    name = "lnd"
    moves_real_money = True

    def __init__(
        self,
        *,
        url: str,
        macaroon_hex: str,
        tls_cert_path: str | None = None,
        network: str = "mainnet",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.macaroon_hex = macaroon_hex
        self.network = network
        self.transport = transport
        # LND's certificate is usually self-signed: trust exactly that certificate when we are given it.
        self.verify: ssl.SSLContext = _tls_context(tls_cert_path) if tls_cert_path else system_tls_context()

    # The interface

    def _create_invoice(
        self, *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
    ) -> CreatedInvoice:
        body: dict = {"value_msat": str(amount_msat), "expiry": str(expiry_seconds)}
        if description_hash is not None:
            body["description_hash"] = base64.b64encode(description_hash).decode()
        else:
            body["memo"] = memo
        data = self._json_or_raise("POST", "/v1/invoices", json=body)
        try:
            payment_hash = base64.b64decode(data["r_hash"]).hex()
            bolt11 = data["payment_request"]
        except (KeyError, TypeError, ValueError) as error:
            raise LightningError(f"LND answered an invoice we cannot read ({error!r}).") from error
        return created_invoice_from_bolt11(
            bolt11, amount_msat=amount_msat, description_hash=description_hash, payment_hash=payment_hash
        )

    def invoice_status(self, *, payment_hash: str) -> InvoiceStatus:
        payment_hash = normalize_payment_hash(payment_hash)
        data = self._json_or_raise("GET", f"/v1/invoice/{payment_hash}")
        state = data.get("state")
        if state == "SETTLED":
            preimage = base64.b64decode(data.get("r_preimage") or "").hex()
            return InvoiceStatus(
                state=InvoiceState.PAID, preimage=preimage, amount_received_msat=as_int(data.get("amt_paid_msat"))
            )
        if state == "CANCELED":
            return InvoiceStatus(state=InvoiceState.EXPIRED)
        if state == "OPEN" and _open_invoice_has_expired(data):
            # LND refuses payments to an expired invoice and cancels it a little later.
            return InvoiceStatus(state=InvoiceState.EXPIRED)
        if state in ("OPEN", "ACCEPTED"):
            return InvoiceStatus(state=InvoiceState.PENDING)
        raise LightningError(f"LND answered an invoice in state {state!r}.")

    def _pay_invoice(self, invoice: DecodedInvoice, *, fee_limit_msat: int, timeout_seconds: int) -> PaymentResult:
        bolt11 = invoice.bolt11
        body = {
            "payment_request": bolt11.strip(),
            "fee_limit_msat": str(fee_limit_msat),
            "timeout_seconds": max(int(timeout_seconds), 1),
            "no_inflight_updates": True,
        }
        try:
            with (
                self._client(read_timeout=timeout_seconds + PAYMENT_WAIT_MARGIN_SECONDS) as client,
                client.stream("POST", "/v2/router/send", json=body) as response,
            ):
                return _payment_from_send_stream(response, invoice.payment_hash)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            return failed(f"Could not connect to LND, nothing was sent: {error}")
        except httpx.HTTPError as error:
            return unknown(f"No final answer from LND after sending: {error!r}")

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        payment_hash = normalize_payment_hash(payment_hash)
        encoded = base64.urlsafe_b64encode(bytes.fromhex(payment_hash)).decode()
        try:
            with (
                self._client() as client,
                client.stream("GET", f"/v2/router/track/{encoded}") as response,
            ):
                return _payment_from_track_stream(response, payment_hash)
        except httpx.HTTPError as error:
            return unknown(f"Could not ask LND: {error!r}")

    def wallet_balance_msat(self) -> int:
        """The node's settled balance in its channels (`GET /v1/balance/channels`, `local_balance.msat`); an
        outgoing payment in flight is in `unsettled_local_balance` until it settles, so it is not counted. Money the
        node holds on chain is not Lightning balance and is left out."""
        local = self._json_or_raise("GET", "/v1/balance/channels").get("local_balance")
        balance = as_int(local.get("msat")) if isinstance(local, dict) else None
        if balance is None:
            raise LightningError("LND did not say its channels' local balance.")
        return balance

    # HTTP

    def _client(self, *, read_timeout: float = REQUEST_TIMEOUT_SECONDS) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Grpc-Metadata-macaroon": self.macaroon_hex, "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
            verify=self.verify,
            transport=self.transport,
        )

    def _json_or_raise(self, method: str, path: str, **kwargs) -> dict:
        try:
            with self._client() as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise LightningError(f"Could not reach LND at {self.url}: {error!r}") from error
        data = _json_object(response.content)
        if response.is_error or data is None:
            _, message = _grpc_error(data)
            raise LightningError(f"LND answered HTTP {response.status_code}: {message or response.text[:300]}")
        return data


def _payment_from_send_stream(response: httpx.Response, payment_hash: str) -> PaymentResult:
    for message in _stream_messages(response):
        if message is None:
            return unknown("LND answered something that is not JSON while sending.")
        if "error" in message or response.is_error:
            return _send_error(message)
        result = message.get("result") or {}
        outcome = _final_payment(result, payment_hash)
        if outcome is not None:
            return outcome
    return unknown("LND's payment stream ended while the payment was still in flight.")


def _payment_from_track_stream(response: httpx.Response, payment_hash: str) -> PaymentResult:
    for message in _stream_messages(response):
        if message is None:
            return unknown("LND answered something that is not JSON about the payment.")
        if "error" in message or response.is_error:
            code, text = _grpc_error(message)
            if code == GRPC_NOT_FOUND:
                return failed(f"LND never started a payment with this hash ({text}).")
            return unknown(f"LND could not say ({text or response.status_code}).")
        result = message.get("result") or {}
        # The first message is the current state; an in-flight payment is not waited for.
        return _final_payment(result, payment_hash) or unknown("LND reports the payment in flight.")
    return unknown("LND answered nothing about the payment.")


def _final_payment(result: dict, payment_hash: str) -> PaymentResult | None:
    status = result.get("status")
    if status == "SUCCEEDED":
        return paid(
            preimage=result.get("payment_preimage") or "", payment_hash=payment_hash, fee_msat=result.get("fee_msat")
        )
    if status == "FAILED":
        return failed(f"LND: {result.get('failure_reason') or 'payment failed'}")
    return None


def _send_error(message: dict) -> PaymentResult:
    code, text = _grpc_error(message)
    if code == GRPC_ALREADY_EXISTS:
        return unknown(f"LND already has a payment for this hash ({text}); its status tells how it went.")
    if code in GRPC_REFUSED_BEFORE_SENDING or any(part in text.lower() for part in REFUSED_BEFORE_SENDING_MESSAGES):
        return failed(f"LND refused the payment: {text}")
    return unknown(f"LND answered an error while sending: {text or code}")


def _stream_messages(response: httpx.Response) -> Iterator[dict | None]:
    """Each JSON object of LND's newline-delimited stream (None for a line that is not JSON)."""
    for line in response.iter_lines():
        if line.strip():
            yield _json_object(line.encode())


def _json_object(content: bytes) -> dict | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _grpc_error(data: dict | None) -> tuple[int | None, str]:
    """(code, message) from LND's error shapes: `{"code", "message"}` or `{"error": {"code", "message"}}`."""
    if not data:
        return None, ""
    error = data.get("error", data)
    if not isinstance(error, dict):
        return None, str(error)
    return as_int(error.get("code")), str(error.get("message") or "")


def _open_invoice_has_expired(data: dict) -> bool:
    created = as_int(data.get("creation_date"))
    expiry = as_int(data.get("expiry"))
    if created is None or expiry is None:
        return False
    return datetime.now(tz=UTC).timestamp() >= created + expiry


def _tls_context(cert_path: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cert_path)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"Cannot use {cert_path} as LND's TLS certificate: {error}") from error
