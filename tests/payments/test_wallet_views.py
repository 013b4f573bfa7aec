"""Wallet pages: balances, escrow, the statement, payouts with receipts, withdrawing by QR, the development test
wallet's LNURL endpoints, and the "add funds" path when a job cannot be paid for."""

import hashlib
import json

import bolt11
import pytest
from bech32 import bech32_decode, convertbits
from django.test import Client
from django.urls import reverse

from marketplace.models import JobStatus
from payments.deposits import deposit_create, deposit_refresh
from payments.lightning import get_backend
from payments.models import DevInvoice, Payout, PayoutState, WithdrawLink
from payments.payouts import payout_advance
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.factories import fund, give_earnings, make_draft_job, make_job, make_user, set_payout_destination
from web.wallet_views import STATEMENT_PAGE_SIZE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "small_withdrawals")]

GROUPING = ","  # the `sats` filter groups thousands as every message does


def non_lnbits_backend(settings) -> None:
    """A backend that moves real money (never called by these tests: the views refuse before)."""
    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = "http://127.0.0.1:9"
    settings.LNBITS_ADMIN_KEY = "unused"


def withdraw(worker, amount_msat: int, *, pay: bool = True) -> Payout:
    """The worker withdraws `amount_msat` to a wallet the development backend can pay; paid unless told not."""
    invoice = get_backend().create_invoice(amount_msat=amount_msat)
    payout = withdraw_claim(k1=withdraw_link_create(worker=worker).k1, invoice=invoice.bolt11)
    return payout_advance(payout_id=payout.pk) if pay else payout


def decode_lnurl(text: str) -> str:
    hrp, data = bech32_decode(text)
    assert hrp == "lnurl"
    return bytes(convertbits(data, 5, 8, False)).decode()


# Login ---------------------------------------------------------------------------------------------------------

SOME_ID = "Z" * 30  # any well-formed public id: the login check comes first
PRIVATE_PAGES = [
    ("get", "wallet", []),
    ("get", "deposit_new", []),
    ("post", "deposit_new", []),
    ("get", "deposit_detail", [SOME_ID]),
    ("get", "deposit_status", [SOME_ID]),
    ("post", "deposit_pay_with_dev_wallet", [SOME_ID]),
    ("get", "payouts", []),
    ("get", "payout_settings", []),
    ("post", "payout_settings", []),
    ("get", "withdraw", []),
    ("get", "withdraw_status", [SOME_ID]),
    ("post", "withdraw_with_dev_wallet", [SOME_ID]),
    ("post", "bonus_create", [SOME_ID]),
]


@pytest.mark.parametrize(("method", "name", "args"), PRIVATE_PAGES, ids=[f"{m}-{n}" for m, n, _ in PRIVATE_PAGES])
def test_wallet_pages_need_a_login(client, method, name, args):
    url = reverse(name, args=args)

    if method == "post":
        response = client.post(url, {"amount_sats": "5", "reason": "x", "address": "", "minimum_payout_sats": "1"})
    else:
        response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"
    assert not WithdrawLink.objects.exists()


@pytest.mark.parametrize(
    ("name", "args", "query"),
    [
        ("lnurl_withdraw_request", ["f" * 64], {}),
        ("lnurl_withdraw_callback", [], {"k1": "f" * 64, "pr": "lnbc1"}),
        ("dev_wallet_pay_request", ["alice"], {}),
        ("dev_wallet_invoice", ["alice"], {"amount": "1000"}),
    ],
)
def test_lnurl_endpoints_are_for_wallets_and_need_no_login(client, name, args, query):
    response = client.get(reverse(name, args=args), query, secure=True)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


# The wallet page ---------------------------------------------------------------------------------------------


def test_the_wallet_page_shows_every_balance_and_the_escrow_of_each_job(client):
    user = make_user("carol")  # 1,000,000 sats deposited
    job = make_job(requester=user, tasks=3, reward_msat=10_000, title="Label cats")  # 33 sats into escrow
    give_earnings(user, 21_000)  # carol works too
    withdraw(user, 5_000)  # paid out
    withdraw(user, 3_000, pay=False)  # on its way
    client.force_login(user)

    response = client.get(reverse("wallet"))

    assert response.context["summary"] == {
        "available_msat": 999_967_000,
        "escrow_msat": 33_000,
        "earned_msat": 13_000,
        "paid_out_msat": 5_000,
        "pending_payout_msat": 3_000,
    }
    html = response.content.decode()
    assert f'id="available-balance">999{GROUPING}967<' in html
    assert 'id="earned-balance">13<' in html
    assert [(account.job, account.balance_msat) for account in response.context["escrow_accounts"]] == [(job, 33_000)]
    assert f'<a href="{reverse("job_manage", args=[job.public_id])}">Label cats</a>' in html
    assert "Add funds" in html


def test_the_statement_shows_only_my_own_money(client, requester, job, stranger):
    other_deposit = deposit_create(user=stranger, amount_msat=7_000)
    get_backend().pay_invoice(bolt11=other_deposit.bolt11, fee_limit_msat=0)
    deposit_refresh(deposit=other_deposit)
    make_job(requester=stranger, tasks=1, title="Stranger's job")
    client.force_login(requester)

    response = client.get(reverse("wallet"))

    lines = list(response.context["page"].object_list)
    # The deposit, and the escrow funding once, from the requester's balance (not again as escrow coming in).
    assert [(line.movement, line.amount_msat) for line in lines] == [
        ("held", -job.task_count * (job.reward_msat + job.fee_per_assignment_msat)),
        ("deposit", 1_000_000_000),
    ]
    html = response.content.decode()
    assert "Stranger&#x27;s job" not in html
    assert f"Deposit {other_deposit.public_id}" not in html
    assert "Held in escrow for" in html


def test_the_statement_is_paginated_newest_first(client):
    user = make_user("dave", funds_sats=0)
    for sats in range(1, STATEMENT_PAGE_SIZE + 6):
        fund(user, sats * 1_000)
    client.force_login(user)

    first = client.get(reverse("wallet")).context["page"]
    second = client.get(reverse("wallet") + "?page=2").context["page"]

    assert first.paginator.count == STATEMENT_PAGE_SIZE + 5
    assert len(first.object_list) == STATEMENT_PAGE_SIZE
    assert len(second.object_list) == 5
    amounts = [entry.amount_msat for entry in [*first.object_list, *second.object_list]]
    assert amounts == [sats * 1_000 for sats in range(STATEMENT_PAGE_SIZE + 5, 0, -1)]


def test_an_empty_wallet_points_to_adding_funds_and_finding_work(client):
    client.force_login(make_user("eve", funds_sats=0))

    html = client.get(reverse("wallet")).content.decode()

    assert "No money has moved yet." in html
    assert f'href="{reverse("deposit_new")}"' in html


# The payouts page --------------------------------------------------------------------------------------------


def test_the_payouts_page_shows_a_receipt_with_the_payment_hash_and_preimage(client, worker, stranger):
    give_earnings(worker, 21_000)
    paid = withdraw(worker, 5_000)
    Payout.objects.filter(pk=paid.pk).update(success_action={"tag": "message", "message": "Thanks, <b>Bob</b>!"})
    failed = withdraw(worker, 2_000, pay=False)
    Payout.objects.filter(pk=failed.pk).update(state=PayoutState.FAILED, last_error="The invoice has expired.")
    give_earnings(stranger, 3_000)
    strangers = withdraw(stranger, 3_000)
    client.force_login(worker)

    response = client.get(reverse("payouts"))

    html = response.content.decode()
    assert paid.state == PayoutState.SUCCEEDED
    assert f'id="payout-{paid.public_id}"' in html
    assert paid.payment_hash in html
    assert paid.preimage in html
    assert paid.preimage == DevInvoice.objects.get(payment_hash=paid.payment_hash).preimage
    assert "Preimage (proof of payment)" in html
    assert "Your wallet says: Thanks, &lt;b&gt;Bob&lt;/b&gt;!" in html  # the wallet's words, escaped
    assert "The invoice has expired." in html
    assert strangers.payment_hash not in html
    assert [payout.pk for payout in response.context["page"].object_list] == [failed.pk, paid.pk]
    assert f'href="{reverse("withdraw")}"' in html
    assert "Withdraw 14 sats" in html
    assert "You have no Lightning Address set" in html


def test_the_payouts_page_says_where_automatic_payouts_go(client, worker):
    set_payout_destination(worker, "bob@wallet.example", auto_payout=False)
    client.force_login(worker)

    html = client.get(reverse("payouts")).content.decode()

    assert "bob@wallet.example" in html
    assert "automatic payouts are off" in html


def test_the_payout_settings_page_is_a_form_for_the_address(client, worker):
    client.force_login(worker)

    response = client.get(reverse("payout_settings"))

    assert response.status_code == 200
    assert 'name="address"' in response.content.decode()
    assert response.context["form"]["minimum_payout_sats"].value() == 1


# The withdraw page -------------------------------------------------------------------------------------------


def test_the_withdraw_page_shows_a_qr_code_of_an_lnurl_for_a_new_link(settings, client, worker):
    settings.SITE_URL = "https://testserver"  # the public address, as the request sees it too
    give_earnings(worker, 21_500)
    client.force_login(worker)

    response = client.get(reverse("withdraw"), secure=True)

    assert response.status_code == 200
    link = WithdrawLink.objects.get(worker=worker)
    encoded = response.context["lnurl"]
    assert decode_lnurl(encoded) == f"https://testserver/lnurl/withdraw/{link.k1}/"
    html = response.content.decode()
    assert "Withdraw your earnings: up to 21 sats" in html
    assert "<svg" in html
    assert f'href="lightning:{encoded}"' in html
    assert reverse("withdraw_with_dev_wallet", args=[link.public_id]) in html  # the development test wallet
    assert reverse("withdraw_status", args=[link.public_id]) in html


def test_each_visit_to_the_withdraw_page_shows_the_open_link_until_it_is_used(client, worker):
    """Was: a new link row per page view, a free way to fill the database."""
    give_earnings(worker, 21_000)
    client.force_login(worker)

    first = client.get(reverse("withdraw"), secure=True).context["link"]
    again = client.get(reverse("withdraw"), secure=True).context["link"]
    assert again.k1 == first.k1
    assert WithdrawLink.objects.filter(worker=worker).count() == 1

    withdraw_claim(k1=first.k1, invoice=get_backend().create_invoice(amount_msat=5_000).bolt11)
    after_use = client.get(reverse("withdraw"), secure=True).context["link"]
    assert after_use.k1 != first.k1
    assert after_use.max_withdrawable_msat == 16_000


def test_the_withdraw_page_without_a_balance_goes_back_to_payouts_and_says_why(client, worker):
    client.force_login(worker)

    response = client.get(reverse("withdraw"), follow=True, secure=True)

    assert response.redirect_chain[-1][0] == reverse("payouts")
    assert "Withdrawals start at 1 sat; this balance is 0 sats." in response.content.decode()
    assert not WithdrawLink.objects.exists()


@pytest.fixture
def behind_a_tls_proxy(settings):
    """Production as docs/operations.md describes it: gunicorn on 127.0.0.1 behind a proxy that ends TLS, so
    requests arrive as plain http (with the X-Forwarded-Proto header such a proxy sets); SITE_URL says the public
    address (`.env.example`: "used in emails and LNURL callbacks")."""
    settings.SITE_URL = "https://boltwork.example"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "boltwork.example"]
    return Client(HTTP_HOST="boltwork.example", HTTP_X_FORWARDED_PROTO="https", raise_request_exception=False)


def test_behind_a_tls_proxy_the_withdraw_qr_holds_the_public_https_address(behind_a_tls_proxy, worker):
    give_earnings(worker, 21_000)
    behind_a_tls_proxy.force_login(worker)

    response = behind_a_tls_proxy.get(reverse("withdraw"))

    assert response.status_code == 200
    link = WithdrawLink.objects.get(worker=worker)
    assert decode_lnurl(response.context["lnurl"]) == f"https://boltwork.example/lnurl/withdraw/{link.k1}/"


def test_behind_a_tls_proxy_the_withdraw_request_names_the_public_https_callback(behind_a_tls_proxy, worker):
    give_earnings(worker, 21_000)
    link = withdraw_link_create(worker=worker)

    response = behind_a_tls_proxy.get(reverse("lnurl_withdraw_request", args=[link.k1]))

    assert response.status_code == 200
    assert response.json()["callback"] == "https://boltwork.example/lnurl/withdraw/callback/"


# The development test wallet ---------------------------------------------------------------------------------


def test_every_user_has_a_test_wallet_lightning_address_in_development(client):
    response = client.get(reverse("dev_wallet_pay_request", args=["alice"]))

    body = response.json()
    assert body["tag"] == "payRequest"
    assert body["callback"] == "http://testserver/.well-known/lnurlp/alice/invoice"
    assert (body["minSendable"], body["maxSendable"]) == (1_000, 100_000_000_000)
    assert json.loads(body["metadata"]) == [["text/plain", "Test wallet of alice (development, no real money)"]]
    assert body["commentAllowed"] == 140
    assert "no-cache" in response["Cache-Control"]


def test_the_test_wallet_answers_an_invoice_the_development_backend_can_pay(client):
    metadata = client.get(reverse("dev_wallet_pay_request", args=["alice"])).json()["metadata"]

    body = client.get(reverse("dev_wallet_invoice", args=["alice"]), {"amount": "21000"}).json()

    invoice = bolt11.decode(body["pr"])
    assert invoice.amount_msat == 21_000
    assert invoice.currency == "bc"
    assert invoice.description_hash == hashlib.sha256(metadata.encode()).hexdigest()
    assert body["successAction"] == {"tag": "message", "message": "Received by the test wallet of alice."}
    row = DevInvoice.objects.get(payment_hash=invoice.payment_hash)
    assert row.paid_at is None
    assert get_backend().pay_invoice(bolt11=body["pr"], fee_limit_msat=0).outcome == "paid"


@pytest.mark.parametrize("amount", [None, "", "abc", "999", "-1000", "1000.5"])
def test_the_test_wallet_refuses_an_amount_that_is_not_whole_millisatoshis_of_at_least_a_sat(client, amount):
    query = {} if amount is None else {"amount": amount}

    body = client.get(reverse("dev_wallet_invoice", args=["alice"]), query).json()

    assert body == {"status": "ERROR", "reason": "amount must be a number of millisatoshis, at least 1000"}
    assert not DevInvoice.objects.exists()


@pytest.mark.parametrize(
    ("name", "query"), [("dev_wallet_pay_request", {}), ("dev_wallet_invoice", {"amount": "21000"})]
)
def test_the_test_wallet_does_not_exist_when_real_money_moves(settings, client, name, query):
    non_lnbits_backend(settings)

    response = client.get(reverse(name, args=["alice"]), query)

    assert response.status_code == 404
    assert not DevInvoice.objects.exists()


def test_pages_do_not_offer_the_test_wallet_when_real_money_moves(settings, client, worker):
    give_earnings(worker, 21_000)
    client.force_login(worker)
    non_lnbits_backend(settings)

    html = client.get(reverse("withdraw"), secure=True).content.decode()

    assert "test wallet" not in html
    assert "withdraw_with_dev_wallet" not in html


# Not enough funds to publish ---------------------------------------------------------------------------------


def test_publishing_without_enough_funds_says_how_many_sats_are_missing_and_links_to_add_them(client):
    poor = make_user("frank", funds_sats=20)
    job = make_draft_job(requester=poor, tasks=2, reward_msat=10_000)  # 2 × (10 + 1) = 22 sats
    client.force_login(poor)

    response = client.post(reverse("job_action", args=[job.public_id, "publish"]), follow=True)

    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert response.redirect_chain[-1][0] == reverse("job_manage", args=[job.public_id])
    html = response.content.decode()
    assert "Your balance is 2 sats short of this job&#x27;s escrow. Add funds first." in html
    assert f'href="{reverse("deposit_new")}?amount_sats=2"' in html
    assert "Add 2 sats" in html

    form = client.get(f"{reverse('deposit_new')}?amount_sats=2").context["form"]
    assert form["amount_sats"].value() == "2"
