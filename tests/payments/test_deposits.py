"""Deposits with the development backend: an invoice is made, paid by the backend's own test wallet, and the
requester's balance grows exactly once, whoever notices the payment first (the page, its htmx poll, the sweeper)."""

from datetime import timedelta

import bolt11
import pytest
from django.urls import reverse
from django.utils import timezone

from payments.deposits import deposit_create, deposit_refresh, deposits_sync
from payments.errors import DepositInvalid, LightningUnavailable
from payments.ledger import balance_msat, platform_account
from payments.lightning import LightningError, get_backend
from payments.models import AccountKind, Deposit, DepositStatus, DevInvoice, LedgerEntry, LedgerTransaction
from tests.balances import available
from tests.concurrency import raised, run_in_threads
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def deposit_limits(settings):
    """From 1 sat to 10 million, payable for an hour."""
    settings.DEPOSIT_MIN_MSAT = 1_000
    settings.DEPOSIT_MAX_MSAT = 10_000_000_000
    settings.DEPOSIT_EXPIRY_SECONDS = 3600


@pytest.fixture
def payer(db):
    return make_user("payer", funds_sats=0)


@pytest.fixture
def payer_client(client, payer):
    client.force_login(payer)
    return client


def pay_with_test_wallet(deposit: Deposit):
    """What a wallet does: pay the invoice. The development backend pays only its own invoices, as these are."""
    return get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)


def credits_of(deposit: Deposit) -> list[LedgerTransaction]:
    return list(LedgerTransaction.objects.filter(key=f"deposit:{deposit.payment_hash}"))


# Creating ------------------------------------------------------------------------------------------------------


def test_a_deposit_is_a_real_invoice_for_exactly_the_amount_and_credits_nothing_yet(payer):
    before = timezone.now()

    deposit = deposit_create(user=payer, amount_msat=21_000)

    decoded = bolt11.decode(deposit.bolt11)
    assert decoded.amount_msat == 21_000
    assert decoded.payment_hash == deposit.payment_hash
    assert deposit.bolt11.startswith("lnbc210n")  # the configured network (mainnet)
    assert deposit.status == DepositStatus.PENDING
    assert before + timedelta(seconds=3590) < deposit.expires_at <= timezone.now() + timedelta(seconds=3600)
    assert DevInvoice.objects.filter(payment_hash=deposit.payment_hash).exists()
    assert available(payer) == 0
    assert credits_of(deposit) == []


@pytest.mark.parametrize(
    ("amount_msat", "message"),
    [
        pytest.param(21_500, "Deposits are in whole sats.", id="not-whole-sats"),
        pytest.param(9_000, "A deposit must be between 10 and 50 sats.", id="below-minimum"),
        pytest.param(0, "A deposit must be between 10 and 50 sats.", id="zero"),
        pytest.param(51_000, "A deposit must be between 10 and 50 sats.", id="above-maximum"),
    ],
)
def test_a_refused_deposit_says_why_and_creates_nothing(settings, payer, amount_msat, message):
    settings.DEPOSIT_MIN_MSAT = 10_000
    settings.DEPOSIT_MAX_MSAT = 50_000

    with pytest.raises(DepositInvalid) as refused:
        deposit_create(user=payer, amount_msat=amount_msat)

    assert refused.value.message == message
    assert not Deposit.objects.exists()
    assert not DevInvoice.objects.exists()


def test_the_bounds_themselves_are_allowed(settings, payer):
    settings.DEPOSIT_MIN_MSAT = 10_000
    settings.DEPOSIT_MAX_MSAT = 50_000

    deposit_create(user=payer, amount_msat=10_000)
    deposit_create(user=payer, amount_msat=50_000)

    assert sorted(Deposit.objects.values_list("amount_msat", flat=True)) == [10_000, 50_000]


class UnreachableNode:
    """A node that does not answer. A fake because the development backend always answers: an unreachable
    Lightning node cannot be produced with it."""

    name = "unreachable"
    moves_real_money = True

    def create_invoice(self, **kwargs):
        raise LightningError("connection refused")

    def invoice_status(self, **kwargs):
        raise LightningError("connection refused")


def test_when_the_node_does_not_answer_no_deposit_is_made_and_the_requester_is_told(monkeypatch, payer):
    monkeypatch.setattr("payments.deposits.get_backend", UnreachableNode)

    with pytest.raises(LightningUnavailable) as refused:
        deposit_create(user=payer, amount_msat=21_000)

    assert "did not answer" in refused.value.message
    assert not Deposit.objects.exists()


def test_a_refresh_while_the_node_does_not_answer_changes_nothing(monkeypatch, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    pay_with_test_wallet(deposit)
    monkeypatch.setattr("payments.deposits.get_backend", UnreachableNode)

    refreshed = deposit_refresh(deposit=deposit, now=deposit.expires_at + timedelta(hours=1))

    assert refreshed.status == DepositStatus.PENDING  # not expired: we could not ask
    assert available(payer) == 0


def test_the_add_funds_page_creates_the_invoice_and_shows_it(payer_client, payer):
    response = payer_client.post(reverse("deposit_new"), {"amount_sats": "21"})

    deposit = Deposit.objects.get(user=payer)
    assert response.status_code == 302
    assert response["Location"] == reverse("deposit_detail", args=[deposit.public_id])
    assert deposit.amount_msat == 21_000

    page = payer_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert deposit.bolt11 in html
    assert f'href="lightning:{deposit.bolt11}"' in html
    assert "<svg" in html  # the QR code
    assert "Waiting for payment" in html


def test_the_add_funds_page_prefills_the_amount_it_is_sent_to_ask_for(payer_client):
    response = payer_client.get(reverse("deposit_new") + "?amount_sats=12")

    assert response.context["form"]["amount_sats"].value() == "12"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        pytest.param("51", "A deposit must be between 10 and 50 sats.", id="above-maximum"),
        pytest.param("9", "A deposit must be between 10 and 50 sats.", id="below-minimum"),
        pytest.param("0", "Ensure this value is greater than or equal to 1.", id="zero"),
        pytest.param("ten", "Enter a whole number.", id="not-a-number"),
    ],
)
def test_the_add_funds_page_shows_a_refusal_next_to_the_amount_and_creates_nothing(
    settings, payer_client, amount, message
):
    settings.DEPOSIT_MIN_MSAT = 10_000
    settings.DEPOSIT_MAX_MSAT = 50_000

    response = payer_client.post(reverse("deposit_new"), {"amount_sats": amount})

    assert response.status_code == 200
    assert response.context["form"].errors["amount_sats"] == [message]
    assert message in response.content.decode()
    assert "between 10 and 50 sats" in response.content.decode()  # the bounds are stated up front
    assert not Deposit.objects.exists()


# Settling ------------------------------------------------------------------------------------------------------


def test_an_unpaid_deposit_stays_pending(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)

    assert deposit_refresh(deposit=deposit).status == DepositStatus.PENDING
    assert deposits_sync() == 0
    assert available(payer) == 0


def test_a_paid_deposit_is_credited_exactly_once_however_often_it_is_refreshed(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    assert pay_with_test_wallet(deposit).outcome == "paid"

    first = deposit_refresh(deposit=deposit)
    second = deposit_refresh(deposit=deposit)
    third = deposit_refresh(deposit=Deposit.objects.get(pk=deposit.pk))

    assert first.status == second.status == third.status == DepositStatus.PAID
    assert first.paid_at is not None
    assert available(payer) == 21_000
    [credit] = credits_of(deposit)
    entries = {(entry.account.kind, entry.amount_msat) for entry in credit.entries.select_related("account")}
    assert entries == {(AccountKind.LIGHTNING_IN, -21_000), (AccountKind.REQUESTER_AVAILABLE, 21_000)}
    assert balance_msat(account=platform_account(kind=AccountKind.LIGHTNING_IN)) == -21_000


def test_the_sweeper_credits_paid_deposits_once_and_leaves_unpaid_ones(payer):
    paid = deposit_create(user=payer, amount_msat=21_000)
    unpaid = deposit_create(user=payer, amount_msat=5_000)
    pay_with_test_wallet(paid)

    assert deposits_sync() == 1
    assert deposits_sync() == 0

    assert Deposit.objects.get(pk=paid.pk).status == DepositStatus.PAID
    assert Deposit.objects.get(pk=unpaid.pk).status == DepositStatus.PENDING
    assert available(payer) == 21_000
    assert len(credits_of(paid)) == 1


def test_the_page_and_the_sweeper_noticing_the_same_payment_credit_it_once(payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    pay_with_test_wallet(deposit)

    page = payer_client.get(reverse("deposit_detail", args=[deposit.public_id]))
    poll = payer_client.get(reverse("deposit_status", args=[deposit.public_id]))
    swept = deposits_sync()

    assert "Paid" in page.content.decode()
    assert "Paid" in poll.content.decode()
    assert swept == 0
    assert available(payer) == 21_000
    assert LedgerEntry.objects.filter(account__user=payer).count() == 1


def test_the_test_wallet_button_pays_and_credits_the_deposit(payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)

    response = payer_client.post(reverse("deposit_pay_with_dev_wallet", args=[deposit.public_id]))

    assert response.status_code == 302
    assert response["Location"] == reverse("deposit_detail", args=[deposit.public_id])
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PAID
    assert available(payer) == 21_000


def test_paying_with_the_test_wallet_twice_credits_once_and_says_why(payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    payer_client.post(reverse("deposit_pay_with_dev_wallet", args=[deposit.public_id]))

    response = payer_client.post(reverse("deposit_pay_with_dev_wallet", args=[deposit.public_id]), follow=True)

    assert "The invoice is already paid." in response.content.decode()
    assert available(payer) == 21_000
    assert len(credits_of(deposit)) == 1


# Expiry --------------------------------------------------------------------------------------------------------


def test_an_unpaid_deposit_expires_after_its_expiry(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)

    just_before = deposit_refresh(deposit=deposit, now=deposit.expires_at - timedelta(seconds=1))
    after = deposit_refresh(deposit=deposit, now=deposit.expires_at + timedelta(seconds=1))

    assert just_before.status == DepositStatus.PENDING
    assert after.status == DepositStatus.EXPIRED
    assert available(payer) == 0


def test_the_sweeper_marks_unpaid_deposits_expired(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)

    credited = deposits_sync(now=deposit.expires_at + timedelta(minutes=1))

    assert credited == 0
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.EXPIRED


def test_an_expired_deposit_found_paid_within_a_day_is_still_credited(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    expired_at = deposit.expires_at + timedelta(seconds=1)
    assert deposit_refresh(deposit=deposit, now=expired_at).status == DepositStatus.EXPIRED
    # The node settles late: the invoice turns out paid after we had marked the deposit expired.
    assert pay_with_test_wallet(deposit).outcome == "paid"

    credited = deposits_sync(now=expired_at + timedelta(hours=23))

    assert credited == 1
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PAID
    assert available(payer) == 21_000
    assert deposits_sync(now=expired_at + timedelta(hours=23, minutes=1)) == 0  # and only once
    assert available(payer) == 21_000


def test_the_sweeper_stops_looking_at_deposits_expired_more_than_a_day_ago(payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    deposit_refresh(deposit=deposit, now=deposit.expires_at + timedelta(seconds=1))
    pay_with_test_wallet(deposit)

    credited = deposits_sync(now=deposit.expires_at + timedelta(days=1, minutes=2))

    assert credited == 0
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.EXPIRED


# The page's htmx poll ----------------------------------------------------------------------------------------


def test_the_status_partial_polls_while_pending_and_stops_once_paid(payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    url = reverse("deposit_status", args=[deposit.public_id])

    pending = payer_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in pending
    assert f'hx-get="{url}"' in pending

    pay_with_test_wallet(deposit)
    response = payer_client.get(url)
    paid = response.content.decode()

    assert "hx-trigger" not in paid
    assert "hx-get" not in paid
    assert "21 sats were added to your balance" in paid
    assert "no-cache" in response["Cache-Control"]


def test_the_status_partial_of_an_expired_deposit_stops_polling_and_offers_a_new_invoice(payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    deposit_refresh(deposit=deposit, now=deposit.expires_at + timedelta(seconds=1))

    html = payer_client.get(reverse("deposit_status", args=[deposit.public_id])).content.decode()

    assert "hx-trigger" not in html
    assert "Expired" in html
    assert f'{reverse("deposit_new")}?amount_sats=21"' in html


# Someone else's deposit ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [("deposit_detail", "get"), ("deposit_status", "get"), ("deposit_pay_with_dev_wallet", "post")],
)
def test_someone_elses_deposit_is_not_found_and_not_touched(client, payer, name, method):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    client.force_login(make_user("nosy"))

    response = getattr(client, method)(reverse(name, args=[deposit.public_id]))

    assert response.status_code == 404
    assert DevInvoice.objects.get(payment_hash=deposit.payment_hash).paid_at is None
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING


def test_the_test_wallet_button_does_not_exist_when_real_money_moves(settings, payer_client, payer):
    deposit = deposit_create(user=payer, amount_msat=21_000)
    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = "http://127.0.0.1:9"  # never called: the view refuses first
    settings.LNBITS_ADMIN_KEY = "unused"

    response = payer_client.post(reverse("deposit_pay_with_dev_wallet", args=[deposit.public_id]))

    assert response.status_code == 404
    assert DevInvoice.objects.get(payment_hash=deposit.payment_hash).paid_at is None


# Racing refreshes ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_a_paid_deposit_credit_it_once():
    """The page's poll, a second tab and the sweeper, each on its own database connection, all at once."""
    payer = make_user("racer", funds_sats=0)
    deposit = deposit_create(user=payer, amount_msat=21_000)
    pay_with_test_wallet(deposit)

    errors = raised(
        run_in_threads(8, lambda _: deposit_refresh(deposit=Deposit.objects.get(pk=deposit.pk)), what="a refresh")
    )

    assert errors == []
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PAID
    assert len(credits_of(deposit)) == 1
    assert available(payer) == 21_000
