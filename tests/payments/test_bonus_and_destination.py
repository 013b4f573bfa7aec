"""Bonuses (requester → worker, through the ledger, with the platform fee) and where a worker is paid (a Lightning
Address resolved once, when it is saved, against the LNURL test server)."""

import json

import pytest
from bech32 import bech32_encode, convertbits
from django.urls import reverse

from core.errors import InvalidInput, NotFound
from payments.errors import InsufficientFunds, PayoutDestinationInvalid
from payments.models import AccountKind, Bonus, LedgerTransaction, PayoutDestination, TransactionKind
from payments.services import payout_destination_set
from tasks.bonuses import MAX_BONUS_MSAT, bonus_pay
from tests.balances import available, earned, fees
from tests.factories import PASSWORD, give_earnings, make_user, set_payout_destination
from tests.payments.lnurl_test_server import FakeLnurlWallet, json_answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "no_allowlisted_hosts")]


@pytest.fixture(autouse=True)
def ten_percent_platform_fee(settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000


@pytest.fixture
def approved(requester, worker):
    """The worker's approved assignment on one of the requester's jobs (10 sats reward, 1 sat fee)."""
    return give_earnings(worker, 10_000, requester=requester)


# Bonuses -------------------------------------------------------------------------------------------------------


def test_a_bonus_moves_the_amount_and_the_fee_and_enqueues_the_workers_payout(
    requester, worker, approved, django_capture_on_commit_callbacks, enqueued
):
    before = (available(requester), earned(worker), fees())

    with django_capture_on_commit_callbacks(execute=True):
        bonus = bonus_pay(
            requester=requester,
            worker_id=worker.public_id,
            amount_msat=5_000,
            reason="  Great work  ",
            assignment_id=approved.public_id,
        )

    assert (bonus.requester, bonus.worker, bonus.assignment_id) == (requester, worker, approved.pk)
    assert (bonus.amount_msat, bonus.fee_msat, bonus.reason) == (5_000, 500, "Great work")
    assert available(requester) == before[0] - 5_500
    assert earned(worker) == before[1] + 5_000
    assert fees() == before[2] + 500
    transaction = LedgerTransaction.objects.get(key=f"bonus:{bonus.pk}")
    assert transaction.kind == TransactionKind.BONUS
    assert transaction.memo == "Bonus: Great work"
    lines = {
        (entry.account.kind, entry.account.user_id, entry.amount_msat)
        for entry in transaction.entries.select_related("account")
    }
    assert lines == {
        (AccountKind.REQUESTER_AVAILABLE, requester.pk, -5_500),
        (AccountKind.WORKER_EARNED, worker.pk, 5_000),
        (AccountKind.PLATFORM_FEES, None, 500),
    }
    assert enqueued == [("pay_out_worker", worker.pk)]


def test_a_bonus_without_a_named_assignment_goes_to_a_worker_who_did_work_for_the_requester(
    requester, worker, approved
):
    bonus = bonus_pay(requester=requester, worker_id=worker.public_id, amount_msat=1, reason="Rounding up")

    assert bonus.assignment_id is None
    assert bonus.fee_msat == 1  # the fee is rounded up to the millisatoshi
    assert earned(worker) == 10_000 + 1


def test_without_a_platform_fee_a_bonus_has_two_lines(settings, requester, worker, approved):
    settings.PLATFORM_FEE_BASIS_POINTS = 0

    bonus = bonus_pay(requester=requester, worker_id=worker.public_id, amount_msat=5_000, reason="Thanks")

    assert bonus.fee_msat == 0
    assert LedgerTransaction.objects.get(key=f"bonus:{bonus.pk}").entries.count() == 2


@pytest.mark.parametrize(
    "whom",
    ["a stranger", "a worker of another requester", "an assignment of another worker", "an unknown assignment"],
)
def test_a_bonus_goes_only_to_a_worker_who_did_work_for_this_requester(requester, worker, approved, whom):
    other_worker = make_user("other_worker", funds_sats=0)
    other_assignment = give_earnings(other_worker, 10_000, requester=requester)
    give_earnings(worker, 10_000)  # the worker also worked for someone else
    stranger = make_user("stranger", funds_sats=0)
    someone_elses = give_earnings(stranger, 10_000)  # ... and so did the stranger, for someone else
    arguments = {
        "a stranger": {"worker_id": stranger.public_id},
        "a worker of another requester": {"worker_id": stranger.public_id, "assignment_id": someone_elses.public_id},
        "an assignment of another worker": {"worker_id": worker.public_id, "assignment_id": other_assignment.public_id},
        "an unknown assignment": {"worker_id": worker.public_id, "assignment_id": "Z" * 30},
    }[whom]
    before = (available(requester), earned(worker), earned(stranger))

    with pytest.raises(NotFound):
        bonus_pay(requester=requester, amount_msat=5_000, reason="Thanks", **arguments)

    assert not Bonus.objects.exists()
    assert (available(requester), earned(worker), earned(stranger)) == before


@pytest.mark.parametrize(
    ("amount_msat", "reason", "message"),
    [
        pytest.param(5_000, "", "Say what the bonus is for: the worker will see it.", id="empty-reason"),
        pytest.param(5_000, "   \n ", "Say what the bonus is for: the worker will see it.", id="blank-reason"),
        pytest.param(5_000, "x" * 1_001, "The reason is limited to 1,000 characters.", id="long-reason"),
        pytest.param(0, "Thanks", "A bonus must be between 1 msat and 10,000,000 sats.", id="zero"),
        pytest.param(-1_000, "Thanks", "A bonus must be between 1 msat and 10,000,000 sats.", id="negative"),
        pytest.param(
            MAX_BONUS_MSAT + 1, "Thanks", "A bonus must be between 1 msat and 10,000,000 sats.", id="too-large"
        ),
    ],
)
def test_a_bonus_with_bad_input_is_refused_and_moves_nothing(requester, worker, approved, amount_msat, reason, message):
    before = (available(requester), earned(worker))

    with pytest.raises(InvalidInput) as refused:
        bonus_pay(requester=requester, worker_id=worker.public_id, amount_msat=amount_msat, reason=reason)

    assert refused.value.message == message
    assert not Bonus.objects.exists()
    assert (available(requester), earned(worker)) == before


def test_a_bonus_the_requester_cannot_afford_says_how_much_is_missing_and_moves_nothing(worker):
    poor = make_user("poor", funds_sats=20)
    assignment = give_earnings(worker, 10_000, requester=poor)  # 11 sats into escrow: 9 sats left
    assert available(poor) == 9_000

    with pytest.raises(InsufficientFunds) as refused:
        bonus_pay(
            requester=poor,
            worker_id=worker.public_id,
            amount_msat=10_000,
            reason="Thanks",
            assignment_id=assignment.public_id,
        )

    assert refused.value.details["missing_msat"] == 2_000  # 10 sats + 1 sat fee - 9 sats
    assert not Bonus.objects.exists()
    assert available(poor) == 9_000
    assert earned(worker) == 10_000


def test_the_review_page_offers_a_bonus_for_approved_work(requester_client, approved):
    response = requester_client.get(reverse("review_queue", args=[approved.job.public_id]) + "?status=approved")

    assert f'action="{reverse("bonus_create", args=[approved.public_id])}"' in response.content.decode()


def test_a_bonus_from_the_review_page_is_paid_and_confirmed(requester_client, requester, worker, approved):
    response = requester_client.post(
        reverse("bonus_create", args=[approved.public_id]),
        {"amount_sats": "5", "reason": "Careful answers"},
        follow=True,
    )

    assert response.redirect_chain[0][0] == reverse("review_queue", args=[approved.job.public_id]) + "?status=approved"
    assert "Bonus of 5 sats sent." in response.content.decode()
    bonus = Bonus.objects.get()
    assert (bonus.worker, bonus.assignment_id, bonus.amount_msat, bonus.reason) == (
        worker,
        approved.pk,
        5_000,
        "Careful answers",
    )
    assert earned(worker) == 15_000


def test_a_bonus_the_requester_cannot_afford_from_the_review_page_says_how_many_sats_are_missing(client, worker):
    poor = make_user("poor", funds_sats=20)
    assignment = give_earnings(worker, 10_000, requester=poor)
    client.force_login(poor)

    response = client.post(
        reverse("bonus_create", args=[assignment.public_id]), {"amount_sats": "10", "reason": "Thanks"}, follow=True
    )

    assert "Your balance is 2 sats short of this bonus. Add funds first." in response.content.decode()
    assert not Bonus.objects.exists()
    assert available(poor) == 9_000


@pytest.mark.parametrize(
    "form",
    [{"amount_sats": "5", "reason": ""}, {"amount_sats": "0", "reason": "Thanks"}, {"amount_sats": "x", "reason": "a"}],
)
def test_a_bonus_form_with_bad_input_explains_and_moves_nothing(requester_client, requester, approved, form):
    before = available(requester)

    response = requester_client.post(reverse("bonus_create", args=[approved.public_id]), form, follow=True)

    assert "Give the bonus in whole sats (at least 1) and say what it is for." in response.content.decode()
    assert not Bonus.objects.exists()
    assert available(requester) == before


def test_a_bonus_on_someone_elses_assignment_is_not_found(client, approved):
    client.force_login(make_user("other_requester"))

    response = client.post(reverse("bonus_create", args=[approved.public_id]), {"amount_sats": "5", "reason": "Hi"})

    assert response.status_code == 404
    assert not Bonus.objects.exists()


def test_a_bonus_is_only_given_by_post(requester_client, approved):
    assert requester_client.get(reverse("bonus_create", args=[approved.public_id])).status_code == 405


# Payout destination ---------------------------------------------------------------------------------------------


def bech32_lnurl(url: str) -> str:
    return bech32_encode("lnurl", convertbits(url.encode(), 8, 5)).upper()


def test_a_lightning_address_is_resolved_once_and_the_wallets_name_kept(
    worker, wallet, django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=True):
        destination = payout_destination_set(
            user=worker, address=f"  {wallet.address} ", auto_payout=True, minimum_payout_msat=5_000
        )

    destination.refresh_from_db()
    assert destination.address == wallet.address
    assert destination.wallet_name == "alice@fake.test"
    assert destination.auto_payout is True
    assert destination.minimum_payout_msat == 5_000
    assert destination.verified_at is not None
    assert len(wallet.requests_to("/.well-known/lnurlp/alice")) == 1
    assert wallet.requests_to(wallet.callback_path) == []  # no invoice asked for, nothing paid
    # With a place to pay to, whatever the worker has earned can go now.
    assert enqueued == [("pay_out_worker", worker.pk)]


def test_an_lnurl_pay_string_works_too_and_a_wallet_without_an_identifier_is_named_by_its_description(worker, wallet):
    wallet.metadata = json.dumps([["text/plain", "Alice's tip jar"]])

    destination = payout_destination_set(
        user=worker, address=bech32_lnurl(wallet.pay_url), auto_payout=False, minimum_payout_msat=1_000
    )

    assert destination.wallet_name == "Alice's tip jar"
    assert destination.auto_payout is False


def _unreachable(wallet: FakeLnurlWallet, settings) -> str:
    gone = FakeLnurlWallet().start()
    gone.stop()  # its port now refuses connections
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [*settings.LNURL_ALLOWED_INSECURE_HOSTS, gone.host_port]
    return gone.address


def _answering(payload: dict, status: int = 200):
    def address(wallet: FakeLnurlWallet, settings) -> str:
        wallet.route(f"/.well-known/lnurlp/{wallet.name}", json_answer(payload, status=status))
        return wallet.address

    return address


REFUSED_ADDRESSES = [
    pytest.param(_unreachable, "could not connect", id="unreachable"),
    pytest.param(lambda wallet, settings: "alice", "neither a Lightning Address", id="not-an-address"),
    pytest.param(lambda wallet, settings: "alice@", "is not a valid Lightning Address", id="no-host"),
    pytest.param(
        _answering({"status": "ERROR", "reason": "No such user"}, 404), "the wallet refused: No such user", id="error"
    ),
    pytest.param(
        _answering({"tag": "withdrawRequest", "k1": "00", "callback": "http://x"}),
        "this is not a payment link",
        id="not-a-pay-request",
    ),
    pytest.param(
        lambda wallet, settings: "lnurlw://wallet.example/withdraw", "a withdraw link, not a payment link", id="lnurlw"
    ),
    pytest.param(
        lambda wallet, settings: f"alice@127.0.0.2:{wallet.port}",
        "addresses on this server itself (loopback) are not allowed",
        id="loopback-not-allowlisted",
    ),
]


@pytest.mark.parametrize(("make_address", "reason"), REFUSED_ADDRESSES)
def test_an_address_that_does_not_work_is_refused_clearly_and_nothing_is_saved(
    settings, worker, wallet, django_capture_on_commit_callbacks, enqueued, make_address, reason
):
    address = make_address(wallet, settings)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PayoutDestinationInvalid) as refused:
        payout_destination_set(user=worker, address=address, auto_payout=True, minimum_payout_msat=1_000)

    assert refused.value.message.startswith("That address did not work: ")
    assert reason in refused.value.message
    assert not PayoutDestination.objects.exists()
    assert enqueued == []


def test_a_refused_change_keeps_the_address_that_worked(worker, wallet):
    payout_destination_set(user=worker, address=wallet.address, auto_payout=True, minimum_payout_msat=1_000)

    with pytest.raises(PayoutDestinationInvalid):
        payout_destination_set(user=worker, address="bob@", auto_payout=False, minimum_payout_msat=9_000)

    destination = PayoutDestination.objects.get(user=worker)
    assert (destination.address, destination.wallet_name) == (wallet.address, "alice@fake.test")
    assert (destination.auto_payout, destination.minimum_payout_msat) == (True, 1_000)


def test_an_empty_address_means_withdraw_by_qr_only(worker, wallet):
    set_payout_destination(worker, wallet.address)
    PayoutDestination.objects.filter(user=worker).update(wallet_name="alice@fake.test")

    destination = payout_destination_set(user=worker, address="  ", auto_payout=True, minimum_payout_msat=1_000)

    assert destination.address == ""
    assert destination.wallet_name == ""
    assert destination.verified_at is None
    assert wallet.requests == []  # nothing to resolve


def test_a_minimum_under_one_sat_is_refused(worker):
    with pytest.raises(InvalidInput, match="at least 1 sat"):
        payout_destination_set(user=worker, address="", auto_payout=True, minimum_payout_msat=999)

    assert not PayoutDestination.objects.exists()


def test_the_settings_page_saves_a_working_address_and_says_where_payouts_go(worker_client, worker, wallet):
    response = worker_client.post(
        reverse("payout_settings"),
        {"address": wallet.address, "auto_payout": "on", "minimum_payout_sats": "50", "password": PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("payouts")
    html = response.content.decode()
    assert "Saved. Payouts go to alice@fake.test." in html
    assert response.context["destination"].address == wallet.address  # the page says where payouts go
    assert wallet.address in html
    destination = PayoutDestination.objects.get(user=worker)
    assert destination.minimum_payout_msat == 50_000
    assert destination.auto_payout is True


def test_the_settings_page_shows_a_refused_address_next_to_the_field_and_saves_nothing(worker_client, wallet):
    wallet.route("/.well-known/lnurlp/alice", json_answer({"status": "ERROR", "reason": "No such user"}, status=404))

    response = worker_client.post(
        reverse("payout_settings"),
        {"address": wallet.address, "auto_payout": "on", "minimum_payout_sats": "1", "password": PASSWORD},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["address"]
    assert errors == ["That address did not work: the wallet refused: No such user"]
    assert "the wallet refused: No such user" in response.content.decode()
    assert not PayoutDestination.objects.exists()


def test_the_settings_page_saves_withdraw_only(worker_client, worker):
    response = worker_client.post(reverse("payout_settings"), {"address": "", "minimum_payout_sats": "1"}, follow=True)

    assert "Saved. Withdraw your balance with a QR code whenever you like." in response.content.decode()
    assert "You have no Lightning Address set" in response.content.decode()
    destination = PayoutDestination.objects.get(user=worker)
    assert (destination.address, destination.auto_payout) == ("", False)


def test_the_settings_page_shows_the_saved_settings(worker_client, worker):
    set_payout_destination(worker, "alice@wallet.example", auto_payout=False, minimum_payout_msat=42_000)

    form = worker_client.get(reverse("payout_settings")).context["form"]

    assert form["address"].value() == "alice@wallet.example"
    assert form["auto_payout"].value() is False
    assert form["minimum_payout_sats"].value() == 42
