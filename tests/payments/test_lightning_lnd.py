"""The LND REST backend against recorded answers.

No LND node can run here, so these tests serve the backend through httpx.MockTransport with answers written from
LND's REST API reference and its routerrpc sources (the shapes of AddInvoice, LookupInvoice, SendPaymentV2 and
TrackPaymentV2, their newline-delimited streams and their gRPC error objects). The invoices are real, signed BOLT11.
"""

import base64
from datetime import UTC, datetime

import httpx
import pytest

from payments.lightning import InvoiceState, LightningError, PaymentOutcome
from tests.payments.invoices import signed_invoice
from tests.payments.lightning_nodes import LndNode, lnd, lnd_payment, stream


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Invoices


def test_create_invoice_sends_msat_memo_and_expiry_and_checks_the_answer():
    invoice = signed_invoice(amount_msat=21_000, memo="Deposit")
    node = LndNode(
        {
            ("POST", "/v1/invoices"): httpx.Response(
                200,
                json={
                    "r_hash": b64(bytes.fromhex(invoice.payment_hash)),
                    "payment_request": invoice.bolt11,
                    "add_index": "7",
                    "payment_addr": b64(bytes(32)),
                },
            )
        }
    )

    created = lnd(node).create_invoice(amount_msat=21_000, memo="Deposit", expiry_seconds=900)

    assert node.body() == {"value_msat": "21000", "expiry": "900", "memo": "Deposit"}
    assert (created.bolt11, created.payment_hash, created.amount_msat) == (invoice.bolt11, invoice.payment_hash, 21_000)
    assert created.expires_at.tzinfo is not None


def test_create_invoice_with_a_description_hash_sends_it_in_base64():
    description_hash = bytes(range(32))
    invoice = signed_invoice(amount_msat=1_000, description_hash=description_hash)
    node = LndNode(
        {
            ("POST", "/v1/invoices"): httpx.Response(
                200, json={"r_hash": b64(bytes.fromhex(invoice.payment_hash)), "payment_request": invoice.bolt11}
            )
        }
    )

    lnd(node).create_invoice(amount_msat=1_000, description_hash=description_hash)

    assert node.body()["description_hash"] == b64(description_hash)
    assert "memo" not in node.body()


def test_an_invoice_for_another_amount_than_asked_is_refused():
    invoice = signed_invoice(amount_msat=2_000)
    node = LndNode(
        {
            ("POST", "/v1/invoices"): httpx.Response(
                200, json={"r_hash": b64(bytes.fromhex(invoice.payment_hash)), "payment_request": invoice.bolt11}
            )
        }
    )

    with pytest.raises(LightningError, match="2000 msat"):
        lnd(node).create_invoice(amount_msat=1_000)


def test_create_invoice_when_lnd_cannot_be_reached_is_a_lightning_error():
    node = LndNode({("POST", "/v1/invoices"): httpx.ConnectError("connection refused")})

    with pytest.raises(LightningError, match="Could not reach LND"):
        lnd(node).create_invoice(amount_msat=1_000)


def lookup(invoice, state: str, **fields) -> httpx.Response:
    now = int(datetime.now(tz=UTC).timestamp())
    return httpx.Response(
        200,
        json={
            "memo": "Deposit",
            "r_preimage": b64(bytes.fromhex(invoice.preimage)),
            "r_hash": b64(bytes.fromhex(invoice.payment_hash)),
            "value": "50",
            "value_msat": "50000",
            "creation_date": str(now - 60),
            "payment_request": invoice.bolt11,
            "expiry": "3600",
            "amt_paid_msat": "0",
            "state": state,
            **fields,
        },
    )


@pytest.mark.parametrize(
    ("state", "fields", "expected"),
    [
        ("OPEN", {}, InvoiceState.PENDING),
        ("ACCEPTED", {}, InvoiceState.PENDING),
        ("CANCELED", {}, InvoiceState.EXPIRED),
        ("OPEN", {"creation_date": "1700000000"}, InvoiceState.EXPIRED),
    ],
)
def test_invoice_states(state, fields, expected):
    invoice = signed_invoice()
    node = LndNode({("GET", f"/v1/invoice/{invoice.payment_hash}"): lookup(invoice, state, **fields)})

    assert lnd(node).invoice_status(payment_hash=invoice.payment_hash).state == expected


def test_a_settled_invoice_is_paid_with_its_preimage_and_amount():
    invoice = signed_invoice()
    node = LndNode(
        {
            ("GET", f"/v1/invoice/{invoice.payment_hash}"): lookup(
                invoice, "SETTLED", settled=True, amt_paid_msat="50000"
            )
        }
    )

    status = lnd(node).invoice_status(payment_hash=invoice.payment_hash)

    assert (status.state, status.preimage, status.amount_received_msat) == (InvoiceState.PAID, invoice.preimage, 50_000)


def test_an_unknown_invoice_is_a_lightning_error():
    node = LndNode(
        {
            ("GET", f"/v1/invoice/{'ab' * 32}"): httpx.Response(
                404, json={"code": 5, "message": "unable to locate invoice", "details": []}
            )
        }
    )

    with pytest.raises(LightningError, match="unable to locate invoice"):
        lnd(node).invoice_status(payment_hash="ab" * 32)


# Payments


def test_pay_sends_the_fee_limit_and_timeout_and_reads_past_in_flight_updates():
    invoice = signed_invoice()
    node = LndNode(
        {
            ("POST", "/v2/router/send"): httpx.Response(
                200,
                content=stream(
                    {"result": lnd_payment(invoice, "IN_FLIGHT")},
                    {"result": lnd_payment(invoice, "SUCCEEDED", payment_preimage=invoice.preimage, fee_msat="1021")},
                ),
            )
        }
    )

    result = lnd(node).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=5_000, timeout_seconds=30)

    assert (result.outcome, result.preimage, result.fee_msat) == (PaymentOutcome.PAID, invoice.preimage, 1021)
    assert node.body() == {
        "payment_request": invoice.bolt11,
        "fee_limit_msat": "5000",
        "timeout_seconds": 30,
        "no_inflight_updates": True,
    }


@pytest.mark.parametrize(
    ("answer", "outcome", "reason"),
    [
        pytest.param(
            lambda invoice: httpx.Response(
                200,
                content=stream({"result": lnd_payment(invoice, "FAILED", failure_reason="FAILURE_REASON_NO_ROUTE")}),
            ),
            PaymentOutcome.FAILED,
            "FAILURE_REASON_NO_ROUTE",
            id="a-failed-payment-is-failed-with-lnds-reason",
        ),
        pytest.param(
            lambda invoice: httpx.Response(
                400, content=stream({"error": {"code": 3, "message": "amount must be specified", "details": []}})
            ),
            PaymentOutcome.FAILED,
            None,
            id="an-error-before-sending-is-a-definite-failure",
        ),
        pytest.param(
            lambda invoice: httpx.Response(
                409, content=stream({"error": {"code": 6, "message": "invoice is already paid", "details": []}})
            ),
            PaymentOutcome.UNKNOWN,
            "already paid",
            id="a-payment-lnd-already-has-is-unknown-not-failed",
        ),
        pytest.param(
            lambda invoice: httpx.Response(
                500, json={"code": 2, "message": "htlc switch shutting down", "details": []}
            ),
            PaymentOutcome.UNKNOWN,
            None,
            id="an-unclassified-lnd-error-is-unknown",
        ),
        pytest.param(
            lambda invoice: httpx.ReadTimeout("timed out"),
            PaymentOutcome.UNKNOWN,
            "ReadTimeout",
            id="a-timeout-while-paying-is-unknown",
        ),
        pytest.param(
            lambda invoice: httpx.Response(200, content=stream({"result": lnd_payment(invoice, "IN_FLIGHT")})),
            PaymentOutcome.UNKNOWN,
            None,
            id="a-stream-that-ends-in-flight-is-unknown",
        ),
        pytest.param(
            lambda invoice: httpx.ConnectError("connection refused"),
            PaymentOutcome.FAILED,
            "nothing was sent",
            id="no-connection-means-nothing-was-sent",
        ),
    ],
)
def test_what_a_payment_comes_to(answer, outcome, reason):
    invoice = signed_invoice()
    node = LndNode({("POST", "/v2/router/send"): answer(invoice)})

    result = lnd(node).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=5_000)

    assert result.outcome == outcome
    if reason is not None:
        assert reason in result.reason


@pytest.mark.parametrize(
    ("invoice", "reason"),
    [
        (signed_invoice(network="mainnet"), "another network"),
        (signed_invoice(created_at=1_700_000_000, expiry_seconds=60), "expired"),
    ],
)
def test_invoices_that_cannot_be_paid_are_refused_without_asking_lnd(invoice, reason):
    node = LndNode({})

    result = lnd(node, network="regtest").pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=0)

    assert result.outcome == PaymentOutcome.FAILED
    assert reason in result.reason
    assert node.requests == []


def track_path(invoice) -> str:
    return "/v2/router/track/" + base64.urlsafe_b64encode(bytes.fromhex(invoice.payment_hash)).decode()


def test_status_of_a_succeeded_payment_is_paid():
    invoice = signed_invoice()
    node = LndNode(
        {
            ("GET", track_path(invoice)): httpx.Response(
                200,
                content=stream({"result": lnd_payment(invoice, "SUCCEEDED", payment_preimage=invoice.preimage)}),
            )
        }
    )

    result = lnd(node).payment_status(payment_hash=invoice.payment_hash)

    assert (result.outcome, result.preimage, result.fee_msat) == (PaymentOutcome.PAID, invoice.preimage, 0)


@pytest.mark.parametrize(
    ("answer", "outcome", "reason"),
    [
        pytest.param(
            # A final update after the first would mean we waited for it.
            lambda invoice: httpx.Response(
                200,
                content=stream(
                    {"result": lnd_payment(invoice, "IN_FLIGHT")},
                    {"result": lnd_payment(invoice, "SUCCEEDED", payment_preimage=invoice.preimage)},
                ),
            ),
            PaymentOutcome.UNKNOWN,
            None,
            id="an-in-flight-payment-is-unknown-and-does-not-wait-for-the-end",
        ),
        pytest.param(
            lambda invoice: httpx.Response(
                200,
                content=stream({"result": lnd_payment(invoice, "FAILED", failure_reason="FAILURE_REASON_TIMEOUT")}),
            ),
            PaymentOutcome.FAILED,
            None,
            id="a-failed-payment-is-failed",
        ),
        pytest.param(
            lambda invoice: httpx.Response(
                404, content=stream({"error": {"code": 5, "message": "payment isn't initiated", "details": []}})
            ),
            PaymentOutcome.FAILED,
            "never started",
            id="a-payment-lnd-never-started-is-failed",
        ),
        pytest.param(
            lambda invoice: httpx.ReadTimeout("timed out"),
            PaymentOutcome.UNKNOWN,
            None,
            id="when-lnd-does-not-answer-it-is-unknown",
        ),
    ],
)
def test_what_the_status_of_a_payment_comes_to(answer, outcome, reason):
    invoice = signed_invoice()
    node = LndNode({("GET", track_path(invoice)): answer(invoice)})

    result = lnd(node).payment_status(payment_hash=invoice.payment_hash)

    assert result.outcome == outcome
    if reason is not None:
        assert reason in result.reason
