"""The Core Lightning (CLNRest) backend against recorded answers.

No Core Lightning node can run here, so these tests serve the backend through httpx.MockTransport with answers
written from lightningd's JSON schemas (doc/schemas/invoice, listinvoices, pay, listpays: fields, statuses, error
codes and their examples) and from CLNRest's handlers (201 with the result, 500 with the RPC error, 401 for a bad
rune). The invoices are real, signed BOLT11.
"""

import httpx
import pytest

from payments.lightning import InvoiceState, LightningError, PaymentOutcome
from tests.payments.invoices import signed_invoice
from tests.payments.lightning_nodes import ClnNode, cln, cln_rpc_error

# Invoices


def test_create_invoice_sends_msat_a_unique_label_description_and_expiry():
    invoice = signed_invoice(amount_msat=21_000, memo="Deposit")
    answer = httpx.Response(
        201,
        json={
            "payment_hash": invoice.payment_hash,
            "expires_at": 1738003600,
            "bolt11": invoice.bolt11,
            "payment_secret": "ab" * 32,
            "created_index": 9,
        },
    )
    node = ClnNode({"invoice": answer})

    created = cln(node).create_invoice(amount_msat=21_000, memo="Deposit", expiry_seconds=900)
    cln(node).create_invoice(amount_msat=21_000, memo="Deposit", expiry_seconds=900)

    first, second = node.body(0), node.body(1)
    assert {key: first[key] for key in ("amount_msat", "description", "expiry")} == {
        "amount_msat": 21_000,
        "description": "Deposit",
        "expiry": 900,
    }
    assert first["label"].startswith("boltwork-")
    assert first["label"] != second["label"]
    assert (created.bolt11, created.payment_hash, created.amount_msat) == (invoice.bolt11, invoice.payment_hash, 21_000)


def test_a_bare_description_hash_is_refused_before_asking_the_node():
    node = ClnNode({})

    with pytest.raises(ValueError, match="description itself"):
        cln(node).create_invoice(amount_msat=1_000, description_hash=bytes(32))
    assert node.requests == []


def test_a_refused_rune_is_a_lightning_error():
    node = ClnNode({"invoice": cln_rpc_error(1502, "Not authorized: Failed: method= listpeers", status=401)})

    with pytest.raises(LightningError, match="Not authorized"):
        cln(node).create_invoice(amount_msat=1_000)


def listed(invoice, status: str, **fields) -> httpx.Response:
    return httpx.Response(
        201,
        json={
            "invoices": [
                {
                    "label": "boltwork-1",
                    "bolt11": invoice.bolt11,
                    "payment_hash": invoice.payment_hash,
                    "amount_msat": 50_000,
                    "status": status,
                    "description": "Deposit",
                    "expires_at": 1738003600,
                    "created_index": 3,
                    **fields,
                }
            ]
        },
    )


@pytest.mark.parametrize(("status", "expected"), [("unpaid", InvoiceState.PENDING), ("expired", InvoiceState.EXPIRED)])
def test_invoice_states(status, expected):
    invoice = signed_invoice()
    node = ClnNode({"listinvoices": listed(invoice, status)})

    assert cln(node).invoice_status(payment_hash=invoice.payment_hash).state == expected
    assert node.body() == {"payment_hash": invoice.payment_hash}


def test_a_paid_invoice_is_paid_with_its_preimage_and_amount():
    invoice = signed_invoice()
    node = ClnNode(
        {
            "listinvoices": listed(
                invoice,
                "paid",
                pay_index=4,
                amount_received_msat=50_001,
                paid_at=1738000000,
                payment_preimage=invoice.preimage,
            )
        }
    )

    status = cln(node).invoice_status(payment_hash=invoice.payment_hash)

    assert (status.state, status.preimage, status.amount_received_msat) == (InvoiceState.PAID, invoice.preimage, 50_001)


def test_an_unknown_invoice_is_a_lightning_error():
    node = ClnNode({"listinvoices": httpx.Response(201, json={"invoices": []})})

    with pytest.raises(LightningError, match="no invoice"):
        cln(node).invoice_status(payment_hash="ab" * 32)


# Payments


def pay_result(invoice, status: str = "complete", **fields) -> httpx.Response:
    return httpx.Response(
        201,
        json={
            "destination": "03" + "03" * 32,
            "payment_hash": invoice.payment_hash,
            "created_at": 1738000000,
            "parts": 1,
            "amount_msat": 50_000,
            "amount_sent_msat": 50_021,
            "payment_preimage": invoice.preimage,
            "status": status,
            **fields,
        },
    )


def test_pay_sends_maxfee_and_retry_for_and_reports_the_fee():
    invoice = signed_invoice()
    node = ClnNode({"pay": pay_result(invoice)})

    result = cln(node).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=500, timeout_seconds=45)

    assert (result.outcome, result.preimage, result.fee_msat) == (PaymentOutcome.PAID, invoice.preimage, 21)
    assert node.body() == {"bolt11": invoice.bolt11, "maxfee": 500, "retry_for": 45}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (205, "Ran out of routes to try after 3 attempts: see `paystatus`"),
        (206, "Fee exceeds our fee budget: 1000msat > 500msat, discarding route"),
        (207, "Invoice expired"),
        (210, "Timed out after 60 seconds, no payment in progress"),
        (203, "Destination said it doesn't know invoice: incorrect_or_unknown_payment_details"),
    ],
)
def test_definite_pay_errors_are_failures(code, message):
    invoice = signed_invoice()
    node = ClnNode({"pay": cln_rpc_error(code, message)})

    result = cln(node).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=500)

    assert result.outcome == PaymentOutcome.FAILED
    assert f"code {code}" in result.reason


@pytest.mark.parametrize(
    ("answer", "outcome", "reason"),
    [
        pytest.param(
            lambda invoice: cln_rpc_error(-1, "Catchall nonspecific error"),
            PaymentOutcome.UNKNOWN,
            None,
            id="other-pay-errors-are-unknown-catchall",
        ),
        pytest.param(
            lambda invoice: cln_rpc_error(201, "Already paid with this hash using different amount or destination"),
            PaymentOutcome.UNKNOWN,
            None,
            id="other-pay-errors-are-unknown-already-paid-differently",
        ),
        pytest.param(
            lambda invoice: pay_result(invoice, status="pending", payment_preimage="0" * 64),
            PaymentOutcome.UNKNOWN,
            None,
            id="a-pay-answer-still-pending-is-unknown",
        ),
        pytest.param(
            lambda invoice: httpx.ReadTimeout("timed out"),
            PaymentOutcome.UNKNOWN,
            "ReadTimeout",
            id="a-timeout-while-paying-is-unknown",
        ),
        pytest.param(
            lambda invoice: cln_rpc_error(1502, "Not authorized: Failed: method= pay", status=401),
            PaymentOutcome.FAILED,
            None,
            id="a-refused-rune-when-paying-means-nothing-was-sent",
        ),
    ],
)
def test_what_a_payment_comes_to(answer, outcome, reason):
    invoice = signed_invoice()
    node = ClnNode({"pay": answer(invoice)})

    result = cln(node).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=500)

    assert result.outcome == outcome
    if reason is not None:
        assert reason in result.reason


def test_an_invoice_for_another_network_is_refused_without_asking_the_node():
    node = ClnNode({})

    result = cln(node, network="regtest").pay_invoice(
        bolt11=signed_invoice(network="testnet").bolt11, fee_limit_msat=500
    )

    assert result.outcome == PaymentOutcome.FAILED
    assert node.requests == []


def pays(invoice, *statuses: str) -> httpx.Response:
    entries = []
    for index, status in enumerate(statuses, start=1):
        entry = {
            "payment_hash": invoice.payment_hash,
            "status": status,
            "created_at": 1738000000,
            "created_index": index,
            "bolt11": invoice.bolt11,
            "amount_sent_msat": 50_000 + index,
        }
        if status == "complete":
            entry |= {"preimage": invoice.preimage, "amount_msat": 50_000, "completed_at": 1738000001}
        entries.append(entry)
    return httpx.Response(201, json={"pays": entries})


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("complete",), PaymentOutcome.PAID),
        (("failed", "complete"), PaymentOutcome.PAID),
        (("pending",), PaymentOutcome.UNKNOWN),
        (("failed", "pending"), PaymentOutcome.UNKNOWN),
        (("failed", "failed"), PaymentOutcome.FAILED),
        ((), PaymentOutcome.FAILED),
    ],
)
def test_payment_status_from_every_attempt(statuses, expected):
    invoice = signed_invoice()
    node = ClnNode({"listpays": pays(invoice, *statuses)})

    result = cln(node).payment_status(payment_hash=invoice.payment_hash)

    assert result.outcome == expected
    assert node.body() == {"payment_hash": invoice.payment_hash}
    if expected == PaymentOutcome.PAID:
        assert result.preimage == invoice.preimage
        assert result.fee_msat == len(statuses)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(cln_rpc_error(-32601, "Unknown command 'listpays'", status=404), id="when-the-node-errs"),
        pytest.param(httpx.ConnectTimeout("timed out"), id="when-the-node-does-not-answer"),
    ],
)
def test_payment_status_is_unknown(answer):
    invoice = signed_invoice()
    node = ClnNode({"listpays": answer})

    assert cln(node).payment_status(payment_hash=invoice.payment_hash).outcome == PaymentOutcome.UNKNOWN
