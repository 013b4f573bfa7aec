"""BOLT11 invoices (payments/invoices.py): decoding, the checks, and the one error every refusal comes as.

Invoices are real and signed (tests/payments/invoices.py, tests/payments/lnurl_test_server.py), never mocked.
"""

import hashlib
import sys
import time
from datetime import UTC, datetime, timedelta

import bolt11
import httpx
import pytest

from payments import invoices
from payments.invoices import DecodedInvoice, InvalidInvoice, InvoiceProblem
from payments.lightning import PaymentOutcome, get_backend
from payments.lightning.lnbits import LnbitsBackend
from payments.lnurl_client import UndecodableInvoice, WrongNetwork, verify_invoice
from payments.models import PayoutState
from payments.payouts import payout_advance
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.factories import give_earnings, make_user
from tests.payments.invoices import signed_invoice
from tests.payments.lnurl_test_server import make_invoice

DESCRIPTION_HASH = hashlib.sha256(b'[["text/plain", "Pay alice"]]').digest()


def refusal(call, *args, **kwargs) -> InvalidInvoice:
    with pytest.raises(InvalidInvoice) as refused:
        call(*args, **kwargs)
    return refused.value


# Decoding -------------------------------------------------------------------------------------------------------


def test_a_valid_invoice_decodes_to_what_callers_need():
    created_at = int(time.time())
    invoice = signed_invoice(
        amount_msat=21_000,
        network="mainnet",
        description_hash=DESCRIPTION_HASH,
        expiry_seconds=600,
        created_at=created_at,
    )

    decoded = invoices.decode(f"  {invoice.bolt11}\n")

    assert decoded == DecodedInvoice(
        bolt11=invoice.bolt11,
        network="mainnet",
        amount_msat=21_000,
        payment_hash=invoice.payment_hash,
        description_hash=DESCRIPTION_HASH.hex(),
        expires_at=datetime.fromtimestamp(created_at + 600, tz=UTC),
    )
    invoices.check_network(decoded)
    invoices.check_amount(decoded, amount_msat=21_000)
    invoices.check_not_expiring(decoded)
    invoices.check_description_hash(decoded, DESCRIPTION_HASH)


@pytest.mark.parametrize(("network", "prefix"), [("testnet", "lntb"), ("signet", "lntbs"), ("regtest", "lnbcrt")])
def test_each_network_is_told_apart(network, prefix):
    invoice = signed_invoice(network=network)

    decoded = invoices.decode(invoice.bolt11)

    assert invoice.bolt11.startswith(prefix)
    assert decoded.network == network
    invoices.check_network(decoded, network=network)


def test_an_invoice_with_a_plain_description_has_no_description_hash():
    decoded = invoices.decode(signed_invoice(memo="Boltwork deposit").bolt11)

    assert decoded.description_hash is None
    assert invoices.description_hash_matches(decoded, DESCRIPTION_HASH) is False


def test_an_absurd_expiry_is_held_at_the_latest_datetime():
    decoded = invoices.decode(signed_invoice(expiry_seconds=2**40).bolt11)

    assert decoded.expires_at.year == 9999


# Refusals: one error, one clear message -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "lnbc1notaninvoice",
        "lnbc10u1" + "q" * 120,  # valid characters, nonsense inside
    ],
)
def test_text_that_is_not_an_invoice_is_refused(text):
    error = refusal(invoices.decode, text)

    assert error.problem == InvoiceProblem.UNDECODABLE
    assert str(error).startswith("this is not a valid Lightning invoice (BOLT11: ")


def test_an_invoice_whose_signature_does_not_verify_is_refused():
    invoice = bolt11.decode(signed_invoice().bolt11)
    invoice.tags.tags = [tag for tag in invoice.tags.tags if tag.char != bolt11.TagChar.payment_hash]
    invoice.tags.add(bolt11.TagChar.payment_hash, "00" * 32)
    # Signed by another key, while its payee field still names the node that signed the original.
    forged = bolt11.encode(invoice, hashlib.sha256(b"another key").hexdigest(), keep_payee=True)

    assert refusal(invoices.decode, forged).problem == InvoiceProblem.UNDECODABLE


def test_an_invoice_for_another_network_is_refused():
    decoded = invoices.decode(signed_invoice(network="testnet").bolt11)

    error = refusal(invoices.check_network, decoded)

    assert error.problem == InvoiceProblem.WRONG_NETWORK
    assert str(error) == (
        "the invoice is for bitcoin testnet, but Boltwork pays on bitcoin mainnet: "
        "an invoice of another network cannot be paid"
    )


def test_signet_is_not_testnet():
    # Both start with "lntb"; the decoder must not read a signet invoice as a testnet one or the other way round.
    decoded = invoices.decode(signed_invoice(network="signet").bolt11)

    assert refusal(invoices.check_network, decoded, network="testnet").problem == InvoiceProblem.WRONG_NETWORK


def test_an_amount_that_is_not_a_whole_number_of_millisatoshis_is_refused(monkeypatch):
    # bolt11 can only write whole msat amounts: make it write "15p" (1.5 msat), which its decoder rounds to 1.
    monkeypatch.setattr(sys.modules["bolt11.encode"], "msat_to_amount", lambda _msat: "15p")
    text = signed_invoice(amount_msat=1, network="mainnet").bolt11
    monkeypatch.undo()
    assert text.startswith("lnbc15p1")

    error = refusal(invoices.decode, text)

    assert error.problem == InvoiceProblem.FRACTIONAL_MSAT
    assert str(error) == "the invoice's amount is not a whole number of millisatoshis"


def test_an_invoice_for_another_amount_is_refused():
    decoded = invoices.decode(signed_invoice(amount_msat=22_000).bolt11)

    error = refusal(invoices.check_amount, decoded, amount_msat=21_000)

    assert error.problem == InvoiceProblem.WRONG_AMOUNT
    assert str(error) == "the wallet's invoice asks for 22 sats, but we asked it for 21 sats"


def test_an_invoice_without_an_amount_is_refused():
    text, _ = make_invoice(amount_msat=None, description="any amount")
    decoded = invoices.decode(text)
    assert decoded.amount_msat is None

    error = refusal(invoices.check_amount, decoded, amount_msat=21_000)

    assert error.problem == InvoiceProblem.AMOUNTLESS
    assert str(error) == "the wallet sent an invoice without an amount; it must ask for the exact amount"


def test_an_expired_invoice_is_refused():
    decoded = invoices.decode(signed_invoice(created_at=int(time.time()) - 7_200, expiry_seconds=3_600).bolt11)

    error = refusal(invoices.check_not_expiring, decoded, min_seconds_left=0)

    assert error.problem == InvoiceProblem.EXPIRED
    assert str(error) == "the wallet's invoice has expired or is about to; a fresh one is needed"


def test_an_invoice_about_to_expire_is_refused_unless_no_margin_is_asked_for():
    decoded = invoices.decode(signed_invoice(expiry_seconds=20).bolt11)

    assert refusal(invoices.check_not_expiring, decoded).problem == InvoiceProblem.EXPIRED
    invoices.check_not_expiring(decoded, min_seconds_left=0)
    invoices.check_not_expiring(decoded, now=datetime.now(tz=UTC) - timedelta(minutes=1))


def test_an_invoice_with_another_description_hash_is_refused():
    decoded = invoices.decode(signed_invoice(description_hash=hashlib.sha256(b"something else").digest()).bolt11)

    error = refusal(invoices.check_description_hash, decoded, DESCRIPTION_HASH)

    assert error.problem == InvoiceProblem.WRONG_DESCRIPTION_HASH
    assert str(error) == "the invoice's description hash is not the one asked for"
    assert invoices.description_hash_matches(decoded, DESCRIPTION_HASH) is False


# The callers wrap the one error ---------------------------------------------------------------------------------


def test_the_lnurl_client_wraps_the_refusal_in_its_own_error_with_the_same_message():
    text = signed_invoice(amount_msat=21_000, network="testnet").bolt11

    with pytest.raises(WrongNetwork) as refused:
        verify_invoice(text, amount_msat=21_000, metadata="[]")

    assert isinstance(refused.value.__cause__, InvalidInvoice)
    assert refused.value.message == refused.value.__cause__.message
    with pytest.raises(UndecodableInvoice, match="not a valid Lightning invoice"):
        verify_invoice("hello", amount_msat=21_000, metadata="[]")


def test_a_backend_refuses_an_invoice_for_another_network_before_asking_lnbits():
    """LNbits' backend used to pay invoices of any network: it now checks its network like the others."""
    requests: list[httpx.Request] = []

    def lnbits(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    backend = LnbitsBackend(
        url="http://lnbits.test", admin_key="key", network="regtest", transport=httpx.MockTransport(lnbits)
    )

    result = backend.pay_invoice(bolt11=signed_invoice(network="mainnet").bolt11, fee_limit_msat=1_000)

    assert result.outcome == PaymentOutcome.FAILED
    assert result.reason == (
        "The invoice is for bitcoin mainnet, but Boltwork pays on bitcoin regtest: "
        "an invoice of another network cannot be paid."
    )
    assert requests == []


# Decoding once per step -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_payouts_send_step_decodes_its_invoice_once(settings, monkeypatch, enqueued):
    """The payout reads the invoice's expiry and the backend reads the same text to pay it: one decode."""
    settings.LIGHTNING_BACKEND = "dev"
    settings.WITHDRAW_MIN_MSAT = 1_000
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 21_000)
    invoice = get_backend().create_invoice(amount_msat=5_000, memo="Bob's wallet")
    payout = withdraw_claim(k1=withdraw_link_create(worker=worker).k1, invoice=invoice.bolt11)
    assert payout.state == PayoutState.INVOICE_VERIFIED
    invoices._decode.cache_clear()  # what the claim decoded, in this process
    decoded: list[str] = []
    real_decode = bolt11.decode

    def counting_decode(text: str, *args, **kwargs):
        decoded.append(text)
        return real_decode(text, *args, **kwargs)

    monkeypatch.setattr(bolt11, "decode", counting_decode)

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.SUCCEEDED
    assert decoded == [invoice.bolt11]
