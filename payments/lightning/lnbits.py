"""LNbits over its REST API, as one wallet (the platform's) with its admin key in `X-Api-Key`.

Facts from LNbits' own code (1.6.2, lnbits/core/views/payment_api.py and core/services/payments.py):
- `POST /api/v1/payments` creates an invoice with `{"out": false, "amount": <sats>, "memo", "expiry",
  "description_hash": <hex>}`; amounts are whole sats (a float is truncated), so we refuse anything else.
- The same route pays with `{"out": true, "bolt11"}` and the admin key. It takes no fee limit and no timeout: LNbits
  allows `fee_reserve = max(LNBITS_RESERVE_FEE_MIN msat, amount × LNBITS_RESERVE_FEE_PERCENT %)` plus its service fee,
  which `GET /api/v1/payments/fee-reserve?invoice=` reports. We ask first and refuse to pay when that is more than our
  limit. It waits for its funding source up to LNBITS_FUNDING_SOURCE_PAY_INVOICE_WAIT_SECONDS (5 s), then answers
  "pending". A refused payment is HTTP 520 `{"detail", "status": "failed" | "pending" | "success"}`.
- `GET /api/v1/payments/<hash>` with the wallet's key looks only at that wallet's rows, outgoing first:
  `{"paid": bool, "status"?: "pending" | "failed", "preimage", "details": Payment}`; 404 when the wallet has none.
  `details.fee` is negative msat for payments it made; `details.amount` is msat, negative when outgoing.
- `GET /api/v1/wallet` → `{"name", "balance": msat, "id"}` (core/views/wallet_api.py): settled payments, less
  outgoing ones still pending.
"""

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
PAYMENT_ERROR_STATUS = 520  # LNbits' answer to a PaymentError or InvoiceError


class LnbitsBackend(Backend):
    name = "lnbits"
    moves_real_money = True

    def __init__(
        self, *, url: str, admin_key: str, network: str = "mainnet", transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.admin_key = admin_key
        self.network = network
        self.transport = transport

    # The interface

    def _create_invoice(
        self, *, amount_msat: int, memo: str, description_hash: bytes | None, expiry_seconds: int
    ) -> CreatedInvoice:
        if amount_msat % 1000:
            raise ValueError(f"LNbits makes invoices in whole satoshis; {amount_msat} msat is not one.")
        body: dict = {
            "out": False,
            "unit": "sat",
            "amount": amount_msat // 1000,
            "memo": memo,
            "expiry": expiry_seconds,
        }
        if description_hash is not None:
            body["description_hash"] = description_hash.hex()
        data = self._json_or_raise("POST", "/api/v1/payments", json=body)
        try:
            bolt11, payment_hash = data["bolt11"], data["payment_hash"]
        except (KeyError, TypeError) as error:
            raise LightningError(f"LNbits answered an invoice without {error}.") from error
        return created_invoice_from_bolt11(
            bolt11, amount_msat=amount_msat, description_hash=description_hash, payment_hash=payment_hash
        )

    def invoice_status(self, *, payment_hash: str) -> InvoiceStatus:
        payment_hash = normalize_payment_hash(payment_hash)
        data = self._json_or_raise("GET", f"/api/v1/payments/{payment_hash}")
        details = data.get("details") or {}
        if data.get("paid"):
            return InvoiceStatus(
                state=InvoiceState.PAID,
                preimage=data.get("preimage") or "",
                amount_received_msat=as_int(details.get("amount")),
            )
        # LNbits marks an incoming invoice "failed" once it has expired (and when it was cancelled).
        if data.get("status") == "failed" or details.get("status") == "failed":
            return InvoiceStatus(state=InvoiceState.EXPIRED)
        return InvoiceStatus(state=InvoiceState.PENDING)

    def _pay_invoice(self, invoice: DecodedInvoice, *, fee_limit_msat: int, timeout_seconds: int) -> PaymentResult:
        bolt11 = invoice.bolt11
        try:
            reserve_msat = self._fee_reserve_msat(bolt11.strip())
        except LightningError as error:
            return failed(f"Nothing was sent: {error}")
        if reserve_msat > fee_limit_msat:
            return failed(
                f"LNbits would allow up to {reserve_msat} msat of fees, more than the limit of {fee_limit_msat} msat "
                "(lower LNBITS_RESERVE_FEE_MIN / LNBITS_RESERVE_FEE_PERCENT on the LNbits server)."
            )
        try:
            with self._client(read_timeout=max(timeout_seconds, 5) + 5.0) as client:
                response = client.post("/api/v1/payments", json={"out": True, "bolt11": bolt11.strip()})
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            return failed(f"Could not connect to LNbits, nothing was sent: {error}")
        except httpx.HTTPError as error:
            return unknown(f"No answer from LNbits after sending: {error!r}")
        return _payment_from_pay_answer(response, invoice.payment_hash)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        payment_hash = normalize_payment_hash(payment_hash)
        try:
            with self._client() as client:
                response = client.get(f"/api/v1/payments/{payment_hash}")
        except httpx.HTTPError as error:
            return unknown(f"Could not ask LNbits: {error!r}")
        if response.status_code == 404:
            # LNbits records an outgoing payment before it hands it to its funding source.
            return failed("LNbits has no payment with this hash from this wallet.")
        if response.is_error:
            return unknown(f"LNbits answered HTTP {response.status_code}: {_detail(response)}")
        try:
            data = response.json()
        except ValueError:
            return unknown("LNbits answered something that is not JSON.")
        details = data.get("details") or {}
        if as_int(details.get("amount")) is not None and int(details["amount"]) > 0:
            return failed("This wallet received a payment with this hash but never sent one.")
        if data.get("paid"):
            return paid(preimage=data.get("preimage") or "", payment_hash=payment_hash, fee_msat=details.get("fee"))
        if data.get("status") == "failed" or details.get("status") == "failed":
            return failed("LNbits reports the payment failed.")
        return unknown("LNbits reports the payment pending.")

    def wallet_balance_msat(self) -> int:
        """The wallet's balance (`GET /api/v1/wallet`). LNbits takes an outgoing payment and its fee reserve off
        the balance while the payment is pending."""
        balance = as_int(self._json_or_raise("GET", "/api/v1/wallet").get("balance"))
        if balance is None:
            raise LightningError("LNbits did not say the wallet's balance.")
        return balance

    # HTTP

    def _client(self, *, read_timeout: float = REQUEST_TIMEOUT_SECONDS) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"X-Api-Key": self.admin_key, "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
            verify=system_tls_context(),
            transport=self.transport,
        )

    def _json_or_raise(self, method: str, path: str, **kwargs) -> dict:
        try:
            with self._client() as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise LightningError(f"Could not reach LNbits at {self.url}: {error!r}") from error
        if response.status_code == 404 and method == "GET":
            raise LightningError(f"LNbits has nothing at {path} for this wallet (HTTP 404).")
        if response.is_error:
            raise LightningError(f"LNbits answered HTTP {response.status_code}: {_detail(response)}")
        try:
            data = response.json()
        except ValueError as error:
            raise LightningError("LNbits answered something that is not JSON.") from error
        if not isinstance(data, dict):
            raise LightningError("LNbits answered JSON that is not an object.")
        return data

    def _fee_reserve_msat(self, bolt11: str) -> int:
        data = self._json_or_raise("GET", "/api/v1/payments/fee-reserve", params={"invoice": bolt11})
        reserve = as_int(data.get("fee_reserve"))
        if reserve is None:
            raise LightningError("LNbits did not say how much it reserves for fees.")
        return reserve


def _payment_from_pay_answer(response: httpx.Response, payment_hash: str) -> PaymentResult:
    if response.status_code in (401, 403, 404):
        # Refused at the door, before LNbits looked at the invoice: no key, an unknown key ("Wallet not found.",
        # the route itself exists) or an invoice key where the admin key is needed.
        return failed(f"LNbits refused our key (HTTP {response.status_code}): {_detail(response)}")
    try:
        data = response.json()
    except ValueError:
        return unknown(f"LNbits answered HTTP {response.status_code} with something that is not JSON.")
    if not isinstance(data, dict):
        return unknown(f"LNbits answered HTTP {response.status_code} with JSON that is not an object.")
    if response.status_code == PAYMENT_ERROR_STATUS:
        detail = str(data.get("detail") or "no detail")
        if data.get("status") == "failed":
            return failed(f"LNbits: {detail}")
        # "pending" (still in flight) or "success" (this wallet already paid it): payment_status knows which.
        return unknown(f"LNbits: {detail}")
    if response.is_error:
        return unknown(f"LNbits answered HTTP {response.status_code}: {_detail(response)}")
    amount = as_int(data.get("amount"))
    if data.get("payment_hash") != payment_hash or amount is None or amount >= 0:
        # LNbits can answer with an older record of the hash, such as the payee's own invoice: not our payment.
        return unknown("LNbits answered with a payment record that is not this wallet's payment of the invoice.")
    status = data.get("status")
    if status == "success":
        return paid(preimage=data.get("preimage") or "", payment_hash=payment_hash, fee_msat=data.get("fee"))
    if status == "failed":
        return failed("LNbits reports the payment failed.")
    return unknown(f"LNbits reports the payment {status or 'in an unknown state'}.")


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return str(data)[:300]
