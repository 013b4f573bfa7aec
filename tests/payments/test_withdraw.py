"""LNURL-withdraw (LUD-03): a worker's wallet pulls their balance through a single-use link.

The worker's wallet is played by the development backend itself: it makes the invoice the wallet would hand to
our callback, and since the development backend pays only its own invoices, those are the ones that can be paid.
Invoices from elsewhere are signed by tests/payments/invoices.py or the LNURL test server's `make_invoice`.
"""

import re
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.errors import WithdrawRefused
from payments.ledger import balance_msat, platform_account
from payments.lightning import get_backend
from payments.models import (
    AccountKind,
    DevInvoice,
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutSource,
    PayoutState,
    WithdrawLink,
)
from payments.payouts import payout_advance, payout_create
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.balances import earned, in_flight
from tests.concurrency import run_in_threads
from tests.factories import fund, give_earnings, make_user
from tests.payments.invoices import signed_invoice
from tests.payments.lnurl_test_server import make_invoice

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "small_withdrawals")]

EARNED = 21_500  # msat: the link offers the whole sats of it
MAXIMUM = 21_000


@pytest.fixture(autouse=True)
def ten_minute_links(settings):
    settings.WITHDRAW_LINK_EXPIRY_SECONDS = 600


@pytest.fixture
def earner(db):
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, EARNED)
    return worker


@pytest.fixture
def link(earner):
    return withdraw_link_create(worker=earner)


def wallet_invoice(amount_msat: int, **kwargs) -> str:
    """The invoice the worker's wallet makes (here: the development backend, so it can be paid)."""
    return get_backend().create_invoice(amount_msat=amount_msat, memo="Bob's wallet", **kwargs).bolt11


def call_back(client, **params) -> dict:
    response = client.get(reverse("lnurl_withdraw_callback"), params, secure=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def assert_nothing_changed(link: WithdrawLink, worker) -> None:
    link.refresh_from_db()
    assert link.claimed_at is None
    assert link.payout is None
    assert not Payout.objects.exists()
    assert earned(worker) == EARNED
    assert in_flight() == 0


# The link ------------------------------------------------------------------------------------------------------


def test_a_link_offers_the_whole_balance_in_whole_sats_once_for_a_while(earner):
    now = timezone.now()

    link = withdraw_link_create(worker=earner, now=now)

    assert link.min_withdrawable_msat == 1_000
    assert link.max_withdrawable_msat == MAXIMUM
    assert re.fullmatch(r"[0-9a-f]{64}", link.k1)
    assert link.expires_at == now + timedelta(seconds=600)
    assert link.claimed_at is None
    assert earned(earner) == EARNED  # offering moves no money


def test_there_is_no_link_for_a_balance_under_one_sat(client):
    nothing = make_user("nobody", funds_sats=0)
    with pytest.raises(WithdrawRefused, match="Withdrawals start at 1 sat; this balance is 0 sats"):
        withdraw_link_create(worker=nothing)

    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 1_500)
    withdraw_claim(k1=withdraw_link_create(worker=worker).k1, invoice=wallet_invoice(1_000))
    assert earned(worker) == 500

    with pytest.raises(WithdrawRefused, match="Withdrawals start at 1 sat; this balance is 0 sats"):
        withdraw_link_create(worker=worker)
    assert WithdrawLink.objects.filter(worker=worker).count() == 1


def test_the_withdraw_request_is_lud03_json_for_any_wallet(settings, client, link):
    settings.SITE_URL = "https://testserver"  # the public address, as the request sees it too
    response = client.get(reverse("lnurl_withdraw_request", args=[link.k1]), secure=True)

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert response.json() == {
        "tag": "withdrawRequest",
        "callback": "https://testserver/lnurl/withdraw/callback/",
        "k1": link.k1,
        "minWithdrawable": 1_000,
        "maxWithdrawable": MAXIMUM,
        "defaultDescription": "Boltwork earnings",
    }


@pytest.mark.parametrize("case", ["unknown", "used", "expired"])
def test_the_withdraw_request_of_a_link_that_cannot_be_used_is_an_lnurl_error(client, link, case):
    k1 = link.k1
    if case == "unknown":
        k1 = "f" * 64
    elif case == "used":
        withdraw_claim(k1=link.k1, invoice=wallet_invoice(1_000))
    else:
        WithdrawLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(reverse("lnurl_withdraw_request", args=[k1]), secure=True)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ERROR"
    assert (
        body["reason"]
        == {
            "unknown": "Unknown withdraw link.",
            "used": "This withdraw link was already used.",
            "expired": "This withdraw link has expired. Open the withdraw page again for a new one.",
        }[case]
    )


# The callback ------------------------------------------------------------------------------------------------


def test_the_wallets_invoice_is_accepted_and_paid_by_the_payout_job(
    client, earner, link, django_capture_on_commit_callbacks, enqueued
):
    invoice = get_backend().create_invoice(amount_msat=MAXIMUM, memo="Bob's wallet")

    with django_capture_on_commit_callbacks(execute=True):
        answer = call_back(client, k1=link.k1, pr=invoice.bolt11)

    assert answer == {"status": "OK"}
    payout = Payout.objects.get()
    link.refresh_from_db()
    assert link.claimed_at is not None
    assert link.payout == payout
    assert payout.worker == earner
    assert payout.kind == PayoutKind.WITHDRAW
    assert payout.state == PayoutState.INVOICE_VERIFIED
    assert payout.amount_msat == MAXIMUM
    assert payout.bolt11 == invoice.bolt11
    assert payout.payment_hash == invoice.payment_hash
    assert earned(earner) == 500
    assert in_flight() == MAXIMUM
    assert enqueued == [("advance_payout", payout.pk)]

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.SUCCEEDED
    paid = DevInvoice.objects.get(payment_hash=invoice.payment_hash)
    assert paid.paid_at is not None
    assert payout.preimage == paid.preimage
    assert in_flight() == 0
    assert balance_msat(account=platform_account(kind=AccountKind.LIGHTNING_OUT)) == MAXIMUM
    assert earned(earner) == 500


def test_a_wallet_may_withdraw_less_than_the_maximum(client, earner, link):
    assert call_back(client, k1=link.k1, pr=wallet_invoice(5_000)) == {"status": "OK"}

    assert Payout.objects.get().amount_msat == 5_000
    assert earned(earner) == EARNED - 5_000


def _expired_elsewhere() -> str:
    return signed_invoice(amount_msat=5_000, network="mainnet", created_at=int(time.time()) - 7_200).bolt11


REFUSED_INVOICES = [
    pytest.param(lambda: None, "Both k1 and pr are required.", id="missing-pr"),
    pytest.param(lambda: "", "Both k1 and pr are required.", id="empty-pr"),
    pytest.param(lambda: "lnbc1notaninvoiceatall", "not a valid Lightning invoice", id="garbage"),
    pytest.param(
        lambda: make_invoice(amount_msat=None, description="any amount")[0],
        "The invoice has no amount.",
        id="amountless",
    ),
    pytest.param(
        lambda: wallet_invoice(MAXIMUM + 1_000),
        "The invoice is for 22000 msat; this link allows 1000 to 21000 msat.",
        id="above-the-maximum",
    ),
    pytest.param(
        lambda: wallet_invoice(999),
        "The invoice is for 999 msat; this link allows 1000 to 21000 msat.",
        id="below-the-minimum",
    ),
    pytest.param(
        lambda: signed_invoice(amount_msat=5_000, network="testnet").bolt11,
        "the invoice is for bitcoin testnet, but Boltwork pays on bitcoin mainnet",
        id="wrong-network-testnet",
    ),
    pytest.param(
        lambda: signed_invoice(amount_msat=5_000, network="regtest").bolt11,
        "the invoice is for bitcoin regtest, but Boltwork pays on bitcoin mainnet",
        id="wrong-network-regtest",
    ),
    pytest.param(
        lambda: wallet_invoice(5_000, expiry_seconds=20),
        "the wallet's invoice has expired or is about to; a fresh one is needed",
        id="expiring",
    ),
    pytest.param(
        _expired_elsewhere, "the wallet's invoice has expired or is about to; a fresh one is needed", id="expired"
    ),
]


@pytest.mark.parametrize(("make", "reason"), REFUSED_INVOICES)
def test_a_refused_invoice_gets_an_lnurl_error_and_changes_nothing(client, earner, link, make, reason):
    invoice = make()
    params = {"k1": link.k1} if invoice is None else {"k1": link.k1, "pr": invoice}

    answer = call_back(client, **params)

    assert answer["status"] == "ERROR"
    assert reason in answer["reason"]
    assert_nothing_changed(link, earner)
    # The link still works for a good invoice.
    assert call_back(client, k1=link.k1, pr=wallet_invoice(5_000)) == {"status": "OK"}


def test_a_callback_without_k1_or_with_an_unknown_k1_is_refused(client, earner, link):
    invoice = wallet_invoice(5_000)

    assert call_back(client, pr=invoice) == {"status": "ERROR", "reason": "Both k1 and pr are required."}
    assert call_back(client, k1="0" * 64, pr=invoice) == {"status": "ERROR", "reason": "Unknown withdraw link."}
    assert_nothing_changed(link, earner)


def test_a_used_link_pays_once(client, earner, link):
    assert call_back(client, k1=link.k1, pr=wallet_invoice(5_000)) == {"status": "OK"}

    again = call_back(client, k1=link.k1, pr=wallet_invoice(5_000))

    assert again == {"status": "ERROR", "reason": "This withdraw link was already used."}
    assert Payout.objects.count() == 1
    assert earned(earner) == EARNED - 5_000


def test_an_expired_link_is_refused(client, earner, link):
    WithdrawLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    answer = call_back(client, k1=link.k1, pr=wallet_invoice(5_000))

    assert answer["status"] == "ERROR"
    assert "expired" in answer["reason"]
    assert_nothing_changed(link, earner)


def test_an_invoice_above_the_current_balance_is_refused_and_the_link_stays_usable(client, earner, link):
    # An automatic payout takes part of the balance after the link was offered.
    with transaction.atomic():
        payout_create(worker=earner, kind=PayoutKind.LNURL_PAY, amount_msat=10_000, destination="bob@wallet.example")

    answer = call_back(client, k1=link.k1, pr=wallet_invoice(MAXIMUM))  # within the link's bounds

    assert answer == {"status": "ERROR", "reason": "The balance is lower than the invoice's amount."}
    link.refresh_from_db()
    assert link.claimed_at is None
    assert Payout.objects.count() == 1
    assert earned(earner) == EARNED - 10_000
    assert call_back(client, k1=link.k1, pr=wallet_invoice(11_000)) == {"status": "OK"}
    assert earned(earner) == 500


def test_an_invoice_already_given_for_another_payout_is_refused_with_an_lnurl_error(earner):
    """A wallet that hands the same invoice to a second link (a retry, two tabs, a confused wallet) must get an
    LNURL error like every other refusal, not a server error."""
    client = Client(raise_request_exception=False)  # see what the wallet would get
    invoice = wallet_invoice(5_000)
    fund(earner, 8_000)  # bob has unspent requester balance too: a second link, for that one
    first = withdraw_link_create(worker=earner)
    second = withdraw_link_create(worker=earner, source=PayoutSource.BALANCE)
    assert second.k1 != first.k1
    assert call_back(client, k1=first.k1, pr=invoice) == {"status": "OK"}

    answer = call_back(client, k1=second.k1, pr=invoice)

    assert answer["status"] == "ERROR"
    assert Payout.objects.count() == 1
    second.refresh_from_db()
    assert second.claimed_at is None
    assert earned(earner) == EARNED - 5_000


# Paying a withdrawal -------------------------------------------------------------------------------------------


def test_a_withdrawal_whose_invoice_cannot_be_paid_fails_and_the_money_returns(client, earner, link):
    """There is no asking a withdrawing wallet for another invoice: a definite failure ends the payout."""
    foreign = signed_invoice(amount_msat=5_000, network="mainnet").bolt11  # not ours: the dev backend refuses it
    assert call_back(client, k1=link.k1, pr=foreign) == {"status": "OK"}

    payout = payout_advance(payout_id=Payout.objects.get().pk)

    assert payout.state == PayoutState.FAILED
    assert "only pays its own invoices" in payout.last_error
    assert earned(earner) == EARNED
    assert in_flight() == 0
    assert LedgerTransaction.objects.filter(key=f"payout-return:{payout.pk}").count() == 1


def _withdrawal_whose_invoice_expires_before_it_is_sent(client, link):
    invoice = get_backend().create_invoice(amount_msat=5_000, expiry_seconds=45)
    assert call_back(client, k1=link.k1, pr=invoice.bolt11) == {"status": "OK"}
    # The Celery worker gets to it 40 seconds later: under the 10 seconds the payout service wants left.
    payout = payout_advance(payout_id=Payout.objects.get().pk, now=timezone.now() + timedelta(seconds=40))
    return payout, invoice


def test_a_withdrawal_whose_invoice_expired_before_it_was_sent_is_not_paid_and_the_money_returns(client, earner, link):
    payout, invoice = _withdrawal_whose_invoice_expires_before_it_is_sent(client, link)

    assert payout.state == PayoutState.FAILED
    assert DevInvoice.objects.get(payment_hash=invoice.payment_hash).paid_at is None
    assert earned(earner) == EARNED
    assert in_flight() == 0


def test_a_withdrawal_whose_invoice_expired_before_it_was_sent_tells_the_worker_so(client, earner, link):
    payout, _ = _withdrawal_whose_invoice_expires_before_it_is_sent(client, link)

    assert payout.state == PayoutState.FAILED
    assert "expired" in payout.last_error, f"the worker is shown: {payout.last_error!r}"


# The development test wallet and the status partial ---------------------------------------------------------------


def test_the_test_wallet_withdraws_the_whole_offer(client, earner, link):
    client.force_login(earner)

    response = client.post(reverse("withdraw_with_dev_wallet", args=[link.public_id]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("payouts")
    assert "The test wallet asked for 21 sats; paying now." in response.content.decode()
    payout = Payout.objects.get()
    assert payout.amount_msat == MAXIMUM
    assert payout_advance(payout_id=payout.pk).state == PayoutState.SUCCEEDED


def test_the_test_wallet_cannot_use_someone_elses_link_or_a_used_one(client, earner, link):
    client.force_login(make_user("mallory", funds_sats=0))
    assert client.post(reverse("withdraw_with_dev_wallet", args=[link.public_id])).status_code == 404
    assert_nothing_changed(link, earner)

    client.force_login(earner)
    client.post(reverse("withdraw_with_dev_wallet", args=[link.public_id]))
    again = client.post(reverse("withdraw_with_dev_wallet", args=[link.public_id]), follow=True)
    assert "This withdraw link was already used." in again.content.decode()
    assert Payout.objects.count() == 1


def test_the_test_wallet_does_not_exist_when_real_money_moves(settings, client, earner, link):
    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = "http://127.0.0.1:9"  # never called: the view refuses first
    settings.LNBITS_ADMIN_KEY = "unused"
    client.force_login(earner)

    assert client.post(reverse("withdraw_with_dev_wallet", args=[link.public_id])).status_code == 404
    assert_nothing_changed(link, earner)


def test_the_status_partial_polls_until_the_withdrawal_is_paid(client, earner, link):
    client.force_login(earner)
    url = reverse("withdraw_status", args=[link.public_id])

    waiting = client.get(url).content.decode()
    assert "Waiting for your wallet" in waiting
    assert 'hx-trigger="every 2s"' in waiting

    call_back(client, k1=link.k1, pr=wallet_invoice(MAXIMUM))
    sending = client.get(url).content.decode()
    assert "Sending" in sending
    assert 'hx-trigger="every 2s"' in sending

    payout = payout_advance(payout_id=Payout.objects.get().pk)
    response = client.get(url)
    paid = response.content.decode()
    assert "21 sats sent to your wallet" in paid
    assert f"{reverse('payouts')}#payout-{payout.public_id}" in paid
    assert "hx-trigger" not in paid
    assert "no-cache" in response["Cache-Control"]


def test_the_status_partial_stops_polling_when_the_withdrawal_failed(client, earner, link):
    client.force_login(earner)
    call_back(client, k1=link.k1, pr=signed_invoice(amount_msat=5_000, network="mainnet").bolt11)
    payout_advance(payout_id=Payout.objects.get().pk)

    html = client.get(reverse("withdraw_status", args=[link.public_id])).content.decode()

    assert "Failed" in html
    assert "The amount is back in your balance." in html
    assert "hx-trigger" not in html


def test_someone_elses_withdraw_status_is_not_found(client, link):
    client.force_login(make_user("mallory", funds_sats=0))

    assert client.get(reverse("withdraw_status", args=[link.public_id])).status_code == 404


# Wallets racing for one link -----------------------------------------------------------------------------------

RACERS = 20


def race(target) -> list:
    """Run `target(index)` in RACERS threads released together, each on its own database connection."""
    return run_in_threads(RACERS, target, what="a callback")


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_link_make_exactly_one_payout():
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, EARNED)
    link = withdraw_link_create(worker=worker)
    invoices = [wallet_invoice(1_000 + index * 1_000) for index in range(RACERS)]

    results = race(lambda index: withdraw_claim(k1=link.k1, invoice=invoices[index]))

    payouts = [result for result in results if isinstance(result, Payout)]
    refusals = [result for result in results if isinstance(result, WithdrawRefused)]
    assert len(payouts) == 1, results
    assert len(refusals) == RACERS - 1, results
    assert {refusal.message for refusal in refusals} == {"This withdraw link was already used."}
    assert Payout.objects.count() == 1
    link.refresh_from_db()
    assert link.payout_id == payouts[0].pk
    assert earned(worker) == EARNED - payouts[0].amount_msat
    assert in_flight() == payouts[0].amount_msat


@pytest.mark.django_db(transaction=True)
def test_concurrent_callbacks_with_one_k1_are_answered_ok_once():
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, EARNED)
    link = withdraw_link_create(worker=worker)
    invoices = [wallet_invoice(5_000) for _ in range(RACERS)]

    def call(index: int) -> dict:
        return call_back(Client(), k1=link.k1, pr=invoices[index])

    answers = race(call)

    assert answers.count({"status": "OK"}) == 1, answers
    assert answers.count({"status": "ERROR", "reason": "This withdraw link was already used."}) == RACERS - 1
    assert Payout.objects.count() == 1
    assert earned(worker) == EARNED - 5_000
