"""The development backend: real signed invoices in the DevInvoice table, paid only by itself."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import bolt11
import pytest
from coincurve import PrivateKey
from django.db import connection
from django.utils import timezone

from payments.lightning import InvoiceState, LightningError, PaymentOutcome
from payments.lightning.dev import DevBackend, dev_private_key
from payments.models import DevInvoice
from tests.payments.invoices import signed_invoice

SECRET_KEY = "test-secret-key"


@pytest.fixture
def backend(db):
    return DevBackend(secret_key=SECRET_KEY, network="regtest")


@pytest.mark.parametrize(
    ("network", "prefix"), [("mainnet", "lnbc"), ("testnet", "lntb"), ("signet", "lntbs"), ("regtest", "lnbcrt")]
)
def test_invoice_is_a_real_bolt11_for_the_configured_network(db, network, prefix):
    created = DevBackend(secret_key=SECRET_KEY, network=network).create_invoice(
        amount_msat=21_000, memo="Deposit for Boltwork", expiry_seconds=600
    )

    decoded = bolt11.decode(created.bolt11)
    assert created.bolt11.startswith(prefix + "210n")
    assert decoded.amount_msat == 21_000
    assert decoded.payment_hash == created.payment_hash
    assert decoded.description == "Deposit for Boltwork"
    assert decoded.expiry == 600
    assert decoded.payment_secret
    dev_node = PrivateKey.from_hex(dev_private_key(SECRET_KEY)).public_key.format(compressed=True).hex()
    assert decoded.payee == dev_node
    assert created.expires_at == datetime.fromtimestamp(decoded.date + 600, tz=UTC)


def test_invoice_is_stored_with_a_preimage_that_hashes_to_its_payment_hash(backend):
    created = backend.create_invoice(amount_msat=1_500, memo="m")

    row = DevInvoice.objects.get(payment_hash=created.payment_hash)
    assert hashlib.sha256(bytes.fromhex(row.preimage)).hexdigest() == created.payment_hash
    assert (row.bolt11, row.amount_msat, row.paid_at) == (created.bolt11, 1_500, None)


def test_invoice_can_carry_a_description_hash_instead_of_a_description(backend):
    description_hash = hashlib.sha256(b'[["text/plain","Boltwork deposit"]]').digest()

    created = backend.create_invoice(amount_msat=1_000, description_hash=description_hash)

    decoded = bolt11.decode(created.bolt11)
    assert decoded.description_hash == description_hash.hex()
    assert decoded.description is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"amount_msat": 0}, "positive"),
        ({"amount_msat": -5}, "positive"),
        ({"amount_msat": 1_000, "memo": "é" * 320}, "639 bytes"),
        ({"amount_msat": 1_000, "description_hash": b"short"}, "32 bytes"),
        ({"amount_msat": 1_000, "expiry_seconds": 0}, "expiry"),
    ],
)
def test_bad_invoice_requests_are_refused_and_nothing_is_stored(backend, arguments, message):
    with pytest.raises(ValueError, match=message):
        backend.create_invoice(**arguments)
    assert not DevInvoice.objects.exists()


def test_paying_an_own_invoice_marks_it_paid_and_proves_it_with_the_preimage(backend):
    created = backend.create_invoice(amount_msat=42_000, memo="payout")
    assert backend.invoice_status(payment_hash=created.payment_hash).state == InvoiceState.PENDING

    result = backend.pay_invoice(bolt11=created.bolt11, fee_limit_msat=0)

    assert result.outcome == PaymentOutcome.PAID
    assert hashlib.sha256(bytes.fromhex(result.preimage)).hexdigest() == created.payment_hash
    assert result.fee_msat == 0
    status = backend.invoice_status(payment_hash=created.payment_hash)
    assert (status.state, status.preimage, status.amount_received_msat) == (InvoiceState.PAID, result.preimage, 42_000)
    assert backend.payment_status(payment_hash=created.payment_hash).outcome == PaymentOutcome.PAID


def test_paying_twice_fails_the_second_time(backend):
    created = backend.create_invoice(amount_msat=1_000)
    backend.pay_invoice(bolt11=created.bolt11, fee_limit_msat=0)

    again = backend.pay_invoice(bolt11=created.bolt11, fee_limit_msat=0)

    assert again.outcome == PaymentOutcome.FAILED
    assert "already paid" in again.reason


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_one_invoice_pay_it_once():
    backend = DevBackend(secret_key=SECRET_KEY, network="regtest")
    created = backend.create_invoice(amount_msat=1_000)

    def pay(_):
        try:
            return backend.pay_invoice(bolt11=created.bolt11, fee_limit_msat=0).outcome
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(pay, range(8)))

    assert outcomes.count(PaymentOutcome.PAID) == 1
    assert outcomes.count(PaymentOutcome.FAILED) == 7


def test_an_expired_own_invoice_is_not_paid(backend):
    created = backend.create_invoice(amount_msat=1_000, expiry_seconds=60)
    DevInvoice.objects.filter(payment_hash=created.payment_hash).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    result = backend.pay_invoice(bolt11=created.bolt11, fee_limit_msat=0)

    assert result.outcome == PaymentOutcome.FAILED
    assert "expired" in result.reason
    assert backend.invoice_status(payment_hash=created.payment_hash).state == InvoiceState.EXPIRED
    assert DevInvoice.objects.get(payment_hash=created.payment_hash).paid_at is None


def test_an_invoice_it_did_not_create_is_not_paid(backend):
    foreign = signed_invoice(amount_msat=1_000, network="regtest")

    result = backend.pay_invoice(bolt11=foreign.bolt11, fee_limit_msat=1_000)

    assert result.outcome == PaymentOutcome.FAILED
    assert result.reason == "The development backend only pays its own invoices."


def test_a_foreign_invoice_reusing_an_own_payment_hash_is_not_paid(backend):
    created = backend.create_invoice(amount_msat=1_000)
    decoded = bolt11.decode(created.bolt11)
    decoded.tags.tags = [tag for tag in decoded.tags.tags if tag.char != bolt11.TagChar.payee]
    forged = bolt11.encode(decoded, hashlib.sha256(b"another key").hexdigest())

    result = backend.pay_invoice(bolt11=forged, fee_limit_msat=0)

    assert result.outcome == PaymentOutcome.FAILED
    assert DevInvoice.objects.get(payment_hash=created.payment_hash).paid_at is None


def test_text_that_is_not_an_invoice_fails_with_a_reason(backend):
    result = backend.pay_invoice(bolt11="lnbc1notaninvoice", fee_limit_msat=0)

    assert result.outcome == PaymentOutcome.FAILED
    assert "BOLT11" in result.reason


def test_a_hash_it_never_paid_is_a_failed_payment(backend):
    created = backend.create_invoice(amount_msat=1_000)

    assert backend.payment_status(payment_hash=created.payment_hash).outcome == PaymentOutcome.FAILED
    assert backend.payment_status(payment_hash="ab" * 32).outcome == PaymentOutcome.FAILED


def test_status_of_an_unknown_invoice_is_an_error(backend):
    with pytest.raises(LightningError, match="no invoice"):
        backend.invoice_status(payment_hash="cd" * 32)


def test_the_dev_backend_says_it_moves_no_real_money(backend):
    assert (backend.name, backend.moves_real_money) == ("dev", False)
