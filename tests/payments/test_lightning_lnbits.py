"""The LNbits backend against a real LNbits (the `lnbits` fixture: FakeWallet funding source, wallets that pay
each other with real invoices and preimages). The platform is one LNbits wallet; workers are others."""

import hashlib
import itertools
import time
from datetime import UTC, datetime

import bolt11
import httpx
import pytest

from payments.lightning import InvoiceState, LightningError, PaymentOutcome
from payments.lightning.lnbits import LnbitsBackend
from tests.payments.invoices import signed_invoice

pytestmark = pytest.mark.slow
FEE_LIMIT_MSAT = 10_000
names = itertools.count()


@pytest.fixture
def platform(lnbits):
    wallet = lnbits.create_wallet(f"platform-{next(names)}")
    lnbits.top_up(wallet, 100_000)
    return wallet


@pytest.fixture
def worker(lnbits):
    return lnbits.create_wallet(f"worker-{next(names)}")


@pytest.fixture
def backend(lnbits, platform):
    return LnbitsBackend(url=lnbits.url, admin_key=platform.adminkey)


def test_the_harness_wallets_pay_each_other_and_serve_lightning_addresses(lnbits):
    alice, bob = lnbits.create_wallet("alice"), lnbits.create_wallet("bob")
    lnbits.top_up(alice, 1_000)
    invoice = lnbits.create_invoice(bob, 21, "harness")

    sent = lnbits.pay(alice, invoice["bolt11"])

    assert sent["status"] == "success"
    assert (lnbits.balance_msat(alice), lnbits.balance_msat(bob)) == (979_000, 21_000)
    assert lnbits.payment(bob, invoice["payment_hash"])["paid"] is True
    pay_request = httpx.get(bob.lightning_address_url, timeout=10).json()
    assert pay_request["tag"] == "payRequest"
    assert pay_request["callback"].startswith(lnbits.url)


def test_an_invoice_is_pending_until_another_wallet_pays_it_then_paid_with_its_preimage(lnbits, backend, worker):
    lnbits.top_up(worker, 1_000)
    created = backend.create_invoice(amount_msat=21_000, memo="Boltwork deposit", expiry_seconds=600)

    decoded = bolt11.decode(created.bolt11)
    assert (decoded.amount_msat, decoded.payment_hash, decoded.description) == (
        21_000,
        created.payment_hash,
        "Boltwork deposit",
    )
    assert created.expires_at == datetime.fromtimestamp(decoded.date + 600, tz=UTC)
    assert backend.invoice_status(payment_hash=created.payment_hash).state == InvoiceState.PENDING

    lnbits.pay(worker, created.bolt11)

    status = backend.invoice_status(payment_hash=created.payment_hash)
    assert status.state == InvoiceState.PAID
    assert hashlib.sha256(bytes.fromhex(status.preimage)).hexdigest() == created.payment_hash
    assert status.amount_received_msat == 21_000


def test_an_invoice_can_carry_a_description_hash(backend):
    description_hash = hashlib.sha256(b'[["text/plain","Boltwork deposit"]]').digest()

    created = backend.create_invoice(amount_msat=5_000, description_hash=description_hash)

    assert bolt11.decode(created.bolt11).description_hash == description_hash.hex()


def test_invoices_must_be_whole_satoshis(backend):
    with pytest.raises(ValueError, match="whole satoshis"):
        backend.create_invoice(amount_msat=21_500)


def test_paying_another_wallets_invoice_moves_the_money_and_proves_it(lnbits, platform, worker, backend):
    invoice = lnbits.create_invoice(worker, 50, "payout")
    platform_before = lnbits.balance_msat(platform)

    result = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)

    assert result.outcome == PaymentOutcome.PAID
    assert hashlib.sha256(bytes.fromhex(result.preimage)).hexdigest() == invoice["payment_hash"]
    assert result.fee_msat == 0
    assert lnbits.balance_msat(worker) == 50_000
    assert lnbits.balance_msat(platform) == platform_before - 50_000
    assert lnbits.payment(worker, invoice["payment_hash"])["paid"] is True


def test_paying_twice_fails_the_second_time_and_moves_nothing(lnbits, platform, worker, backend):
    invoice = lnbits.create_invoice(worker, 30, "payout")
    assert backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT).outcome == PaymentOutcome.PAID
    balances = lnbits.balance_msat(platform), lnbits.balance_msat(worker)

    again = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)

    assert again.outcome == PaymentOutcome.FAILED
    assert "already paid" in again.reason
    assert (lnbits.balance_msat(platform), lnbits.balance_msat(worker)) == balances


def test_status_of_a_paid_payment_is_paid_with_the_preimage(lnbits, worker, backend):
    invoice = lnbits.create_invoice(worker, 10, "payout")
    sent = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)

    status = backend.payment_status(payment_hash=invoice["payment_hash"])

    assert (status.outcome, status.preimage, status.fee_msat) == (PaymentOutcome.PAID, sent.preimage, 0)


def test_status_of_a_hash_the_wallet_never_paid_is_failed(lnbits, worker, backend):
    never_paid = lnbits.create_invoice(worker, 10, "not paid by the platform")

    for payment_hash in (never_paid["payment_hash"], "ab" * 32):
        result = backend.payment_status(payment_hash=payment_hash)
        assert result.outcome == PaymentOutcome.FAILED
        assert "no payment with this hash" in result.reason


def test_status_of_an_incoming_payment_is_not_mistaken_for_an_outgoing_one(lnbits, worker, backend):
    lnbits.top_up(worker, 100)
    created = backend.create_invoice(amount_msat=2_000)
    lnbits.pay(worker, created.bolt11)

    assert backend.payment_status(payment_hash=created.payment_hash).outcome == PaymentOutcome.FAILED


def test_status_of_an_unknown_invoice_is_a_lightning_error(backend):
    with pytest.raises(LightningError, match="HTTP 404"):
        backend.invoice_status(payment_hash="cd" * 32)


def test_an_invoice_lnbits_cannot_route_fails_and_moves_nothing(lnbits, platform, backend):
    # FakeWallet pays only invoices of its own LNbits; this one is from another node.
    foreign = signed_invoice(amount_msat=5_000, network="mainnet")
    before = lnbits.balance_msat(platform)

    result = backend.pay_invoice(bolt11=foreign.bolt11, fee_limit_msat=FEE_LIMIT_MSAT)

    assert result.outcome == PaymentOutcome.FAILED
    assert "Only internal invoices" in result.reason
    assert lnbits.balance_msat(platform) == before
    assert backend.payment_status(payment_hash=foreign.payment_hash).outcome == PaymentOutcome.FAILED


def test_a_fee_limit_below_lnbits_reserve_is_refused_before_sending(lnbits, platform, worker, backend):
    invoice = lnbits.create_invoice(worker, 5_000, "big payout")

    result = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=49_999)

    assert result.outcome == PaymentOutcome.FAILED
    assert "50000 msat of fees" in result.reason
    assert lnbits.balance_msat(worker) == 0


def test_an_expired_invoice_is_refused_before_sending(lnbits, worker, backend):
    # LNbits pays an expired invoice of its own wallets: checking expiry is ours.
    invoice = lnbits.create_invoice(worker, 10, "payout", expiry_seconds=1)
    decoded = bolt11.decode(invoice["bolt11"])
    time.sleep(max(0.0, decoded.date + decoded.expiry - time.time()))

    result = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)

    assert result.outcome == PaymentOutcome.FAILED
    assert "expired" in result.reason
    assert lnbits.balance_msat(worker) == 0


def test_an_unknown_key_is_refused(lnbits, worker):
    backend = LnbitsBackend(url=lnbits.url, admin_key="0" * 32)
    invoice = lnbits.create_invoice(worker, 10, "payout")

    with pytest.raises(LightningError, match="Wallet not found"):
        backend.create_invoice(amount_msat=1_000)
    result = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)
    assert result.outcome == PaymentOutcome.FAILED
    assert "refused our key (HTTP 404)" in result.reason


def test_an_invoice_key_cannot_pay(lnbits, platform, worker):
    backend = LnbitsBackend(url=lnbits.url, admin_key=platform.inkey)
    invoice = lnbits.create_invoice(worker, 10, "payout")

    result = backend.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT)

    assert result.outcome == PaymentOutcome.FAILED
    assert "refused our key (HTTP 403)" in result.reason
    assert lnbits.balance_msat(worker) == 0


def test_an_unreachable_lnbits_sends_nothing(backend, worker, lnbits):
    unreachable = LnbitsBackend(url="http://127.0.0.1:9", admin_key="key")
    invoice = lnbits.create_invoice(worker, 10, "payout")

    assert unreachable.pay_invoice(bolt11=invoice["bolt11"], fee_limit_msat=FEE_LIMIT_MSAT).outcome == (
        PaymentOutcome.FAILED
    )
    assert unreachable.payment_status(payment_hash=invoice["payment_hash"]).outcome == PaymentOutcome.UNKNOWN
    with pytest.raises(LightningError, match="Could not reach LNbits"):
        unreachable.create_invoice(amount_msat=1_000)


# FakeWallet settles at once, so a payment is never left in flight on the real server. What LNbits answers for one
# (HTTP 201 with status "pending", 520 with status "pending", a status query saying "pending", or no answer at all)
# is served here from LNbits 1.6.2's own code paths through httpx.MockTransport.


INVOICE = signed_invoice(amount_msat=1_000, network="mainnet")
PAYMENT_HASH = INVOICE.payment_hash


def lnbits_answering(pay_answer, status_answer=None) -> LnbitsBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/payments/fee-reserve":
            return httpx.Response(200, json={"fee_reserve": 0})
        answer = pay_answer if request.method == "POST" else status_answer
        if isinstance(answer, Exception):
            raise answer
        return answer

    return LnbitsBackend(url="http://lnbits.test", admin_key="key", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "pay_answer",
    [
        httpx.Response(201, json={"payment_hash": PAYMENT_HASH, "amount": -1000, "status": "pending", "fee": -2000}),
        # The payee's own invoice record, which LNbits answers with when asked to pay an invoice it had expired.
        httpx.Response(201, json={"payment_hash": PAYMENT_HASH, "amount": 1000, "status": "success", "fee": 0}),
        httpx.Response(520, json={"detail": "Payment is still pending.", "status": "pending"}),
        httpx.Response(520, json={"detail": "Payment already paid.", "status": "success"}),
        httpx.Response(500, json={"detail": "Unexpected error! ID: 1"}),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_a_payment_that_might_still_happen_is_unknown(pay_answer):
    invoice = INVOICE

    result = lnbits_answering(pay_answer).pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=FEE_LIMIT_MSAT)

    assert result.outcome == PaymentOutcome.UNKNOWN


@pytest.mark.parametrize(
    "status_answer",
    [
        httpx.Response(200, json={"paid": False, "status": "pending", "preimage": None, "details": {"amount": -1000}}),
        httpx.Response(200, json={"paid": False, "details": {"amount": -1000, "status": "pending"}}),
        httpx.Response(502, text="Bad Gateway"),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_status_of_an_in_flight_payment_is_unknown(status_answer):
    result = lnbits_answering(None, status_answer).payment_status(payment_hash=PAYMENT_HASH)

    assert result.outcome == PaymentOutcome.UNKNOWN
