"""Core Lightning over CLNRest (v24.08+), authenticated by a rune in the `Rune` header.

CLNRest maps `POST /v1/<method>` to the JSON-RPC method with the body as its parameters: HTTP 201 with the result,
HTTP 500 with the RPC error `{"code", "message", "data"?}` (older, Python CLNRest wrapped it in `{"error": …}`),
401/403 when the rune is refused. From the lightningd schemas (doc/schemas/*.json):
- `invoice {amount_msat, label (unique), description, expiry}` → `bolt11`, `payment_hash`, `expires_at`. It cannot
  put an arbitrary description hash in an invoice: `deschashonly` hashes a description it is given, so an invoice
  from a bare hash is refused here.
- `listinvoices {payment_hash}` → `invoices[]` with `status` unpaid | paid | expired, `payment_preimage`,
  `amount_received_msat`.
- `pay {bolt11, maxfee, retry_for}`: `maxfee` (msat) is an absolute fee limit; `retry_for` (s) bounds the retries.
  Result `status` complete | pending | failed, `payment_preimage`, `amount_msat`, `amount_sent_msat` (fee = the
  difference). Paying a paid invoice again answers the earlier success. Definite failures: 203 (permanent failure
  at the destination), 205 (no route), 206 (route too expensive), 207 (invoice expired), 210 (timed out with
  nothing in flight), -32602 (invalid parameters). 201 (already paid with another amount or destination) and -1
  (catch-all) are not definite.
- `listpays {payment_hash}` → `pays[]` with `status` pending | failed | complete, `preimage`, `amount_msat`,
  `amount_sent_msat`; empty when this node never tried to pay the hash.
- `listfunds {}` → `outputs[]` (on chain) and `channels[]` with `state` (CHANNELD_NORMAL, …), `our_amount_msat`,
  `amount_msat` (the channel's capacity).
"""

import secrets
import ssl

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
PAYMENT_WAIT_MARGIN_SECONDS = 30.0
PAY_DEFINITE_FAILURES = {203, 205, 206, 207, 210, -32602}


class ClnBackend(Backend):
    name = "cln"
    moves_real_money = True

    def __init__(
        self,
        *,
        url: str,
        rune: str,
        network: str = "mainnet",
        tls_ca_path: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.rune = rune
        self.network = network
        self.verify = _tls_context(tls_ca_path) if tls_ca_path else system_tls_context()
        self.transport = transport

    # The interface

    def _create_invoice(
        self, *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
    ) -> CreatedInvoice:
        if description_hash is not None:
            raise ValueError(
                "Core Lightning makes a description-hash invoice only from the description itself, not from its hash."
            )
        body = {
            "amount_msat": amount_msat,
            "label": f"boltwork-{secrets.token_hex(16)}",
            "description": memo,
            "expiry": expiry_seconds,
        }
        data = self._rpc_or_raise("invoice", body)
        try:
            bolt11, payment_hash = data["bolt11"], data["payment_hash"]
        except KeyError as error:
            raise LightningError(f"Core Lightning answered an invoice without {error}.") from error
        return created_invoice_from_bolt11(
            bolt11, amount_msat=amount_msat, description_hash=None, payment_hash=payment_hash
        )

    def invoice_status(self, *, payment_hash: str) -> InvoiceStatus:
        payment_hash = normalize_payment_hash(payment_hash)
        invoices = self._rpc_or_raise("listinvoices", {"payment_hash": payment_hash}).get("invoices") or []
        if not invoices:
            raise LightningError(f"Core Lightning has no invoice with payment hash {payment_hash}.")
        invoice = invoices[0]
        status = invoice.get("status")
        if status == "paid":
            return InvoiceStatus(
                state=InvoiceState.PAID,
                preimage=invoice.get("payment_preimage") or "",
                amount_received_msat=as_int(invoice.get("amount_received_msat")),
            )
        if status == "expired":
            return InvoiceStatus(state=InvoiceState.EXPIRED)
        if status == "unpaid":
            return InvoiceStatus(state=InvoiceState.PENDING)
        raise LightningError(f"Core Lightning answered an invoice in status {status!r}.")

    def _pay_invoice(self, invoice: DecodedInvoice, *, fee_limit_msat: int, timeout_seconds: int) -> PaymentResult:
        bolt11 = invoice.bolt11
        body = {"bolt11": bolt11.strip(), "maxfee": fee_limit_msat, "retry_for": max(int(timeout_seconds), 1)}
        try:
            with self._client(read_timeout=timeout_seconds + PAYMENT_WAIT_MARGIN_SECONDS) as client:
                response = client.post("/v1/pay", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            return failed(f"Could not connect to Core Lightning, nothing was sent: {error}")
        except httpx.HTTPError as error:
            return unknown(f"No answer from Core Lightning after sending: {error!r}")
        return _payment_from_pay_answer(response, invoice.payment_hash)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        payment_hash = normalize_payment_hash(payment_hash)
        try:
            with self._client() as client:
                response = client.post("/v1/listpays", json={"payment_hash": payment_hash})
        except httpx.HTTPError as error:
            return unknown(f"Could not ask Core Lightning: {error!r}")
        data = _json_object(response)
        if response.is_error or data is None:
            return unknown(f"Core Lightning answered HTTP {response.status_code}: {_rpc_error(data)[1]}")
        return _payment_from_pays(data.get("pays") or [], payment_hash)

    def wallet_balance_msat(self) -> int:
        """Our side of the node's channels in normal operation (`listfunds`, `channels[].our_amount_msat` where
        `state` is CHANNELD_NORMAL). Outputs on chain are not Lightning balance and are left out."""
        channels = self._rpc_or_raise("listfunds", {}).get("channels")
        if not isinstance(channels, list):
            raise LightningError("Core Lightning did not list its channels.")
        total = 0
        for channel in channels:
            if not isinstance(channel, dict) or channel.get("state") != "CHANNELD_NORMAL":
                continue
            amount = as_int(channel.get("our_amount_msat"))
            if amount is None:
                raise LightningError("Core Lightning listed a channel without our_amount_msat.")
            total += amount
        return total

    # HTTP

    def _client(self, *, read_timeout: float = REQUEST_TIMEOUT_SECONDS) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Rune": self.rune, "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
            verify=self.verify,
            transport=self.transport,
        )

    def _rpc_or_raise(self, method: str, params: dict) -> dict:
        try:
            with self._client() as client:
                response = client.post(f"/v1/{method}", json=params)
        except httpx.HTTPError as error:
            raise LightningError(f"Could not reach Core Lightning at {self.url}: {error!r}") from error
        data = _json_object(response)
        if response.is_error or data is None:
            code, message = _rpc_error(data)
            raise LightningError(
                f"Core Lightning answered HTTP {response.status_code} to {method}: {message or response.text[:300]}"
                + (f" (code {code})" if code is not None else "")
            )
        return data


def _payment_from_pay_answer(response: httpx.Response, payment_hash: str) -> PaymentResult:
    data = _json_object(response)
    if response.status_code in (401, 403):
        return failed(f"Core Lightning refused our rune (HTTP {response.status_code}): {_rpc_error(data)[1]}")
    if data is None:
        return unknown(f"Core Lightning answered HTTP {response.status_code} with something that is not JSON.")
    if response.is_error:
        code, message = _rpc_error(data)
        if code in PAY_DEFINITE_FAILURES:
            return failed(f"Core Lightning: {message} (code {code})")
        return unknown(f"Core Lightning: {message or 'error'} (code {code})")
    status = data.get("status")
    if status == "complete":
        return paid(
            preimage=data.get("payment_preimage") or "",
            payment_hash=payment_hash,
            fee_msat=_fee_msat(data.get("amount_sent_msat"), data.get("amount_msat")),
        )
    if status == "failed":
        return failed("Core Lightning reports the payment failed.")
    return unknown(f"Core Lightning reports the payment {status or 'in an unknown state'}.")


def _payment_from_pays(pays: list, payment_hash: str) -> PaymentResult:
    """One answer from every attempt at this hash: any success wins, then anything still pending."""
    if not pays:
        return failed("Core Lightning never tried to pay this hash.")
    for pay in pays:
        if pay.get("status") == "complete":
            return paid(
                preimage=pay.get("preimage") or "",
                payment_hash=payment_hash,
                fee_msat=_fee_msat(pay.get("amount_sent_msat"), pay.get("amount_msat")),
            )
    if any(pay.get("status") == "pending" for pay in pays):
        return unknown("Core Lightning reports the payment pending.")
    if all(pay.get("status") == "failed" for pay in pays):
        return failed("Core Lightning reports every attempt failed.")
    return unknown("Core Lightning reports the payment in an unknown state.")


def _fee_msat(sent: object, received: object) -> int | None:
    sent_msat, received_msat = as_int(sent), as_int(received)
    if sent_msat is None or received_msat is None:
        return None
    return sent_msat - received_msat


def _json_object(response: httpx.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _rpc_error(data: dict | None) -> tuple[int | None, str]:
    """(code, message) from CLNRest's error shapes: `{"code", "message"}` or `{"error": {"code", "message"}}`."""
    if not data:
        return None, ""
    error = data.get("error", data)
    if not isinstance(error, dict):
        return None, str(error)
    return as_int(error.get("code")), str(error.get("message") or "")


def _tls_context(ca_path: str) -> ssl.SSLContext:
    """Trust exactly the CA CLNRest made for itself (ca.pem in the node's folder)."""
    context = ssl.create_default_context(cafile=ca_path)
    # Its certificate names the node ("cln", localhost), rarely the address we reach it at; the pinned CA is the check.
    context.check_hostname = False
    return context
