"""The moderators' money screens (payments/admin.py, payments/moderation.py): the payouts that wait for a moderator,
retried or cancelled with the money back in the worker's earnings; the ledger, read-only for everyone; and the
reconciliation of the ledger's Lightning accounts with the backend wallet, on the development backend and on the
real LNbits of the money tests."""

import httpx
import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse

from core.models import ActorKind, Event
from payments import moderation
from payments.deposits import deposit_create, deposit_refresh
from payments.ledger import ledger_check
from payments.lightning import LightningError, PaymentOutcome, get_backend
from payments.models import (
    Account,
    AccountKind,
    DepositStatus,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutState,
    TransactionKind,
)
from payments.payouts import payout_advance, payout_create
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.balances import earned, platform
from tests.factories import fund, give_earnings, make_user
from tests.pages import messages_of
from tests.payments.lightning_nodes import ClnNode, LndNode, cln, lnd

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

AMOUNT = 21_000  # msat: what the waiting payouts below are for
REASON = "The wallet's domain is gone; withdraw by QR code instead."


@pytest.fixture
def moderator(db):
    user = make_user("mod", is_staff=True, funds_sats=0)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def superuser_client(client, db):
    client.force_login(make_user("root", is_staff=True, is_superuser=True, funds_sats=0))
    return client


def waiting_payout(*, with_invoice: bool = False, name: str = "alice") -> Payout:
    """A worker's payout that ran out of attempts and waits for a moderator; with an invoice of the development
    backend (unpaid) when asked."""
    worker = make_user(name, funds_sats=0)
    give_earnings(worker, AMOUNT)
    fields = {}
    if with_invoice:
        invoice = get_backend().create_invoice(amount_msat=AMOUNT, memo="the worker's wallet")
        fields = {"bolt11": invoice.bolt11, "payment_hash": invoice.payment_hash}
    with transaction.atomic():
        payout = payout_create(
            worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=AMOUNT, destination=f"{name}@wallet.example"
        )
    Payout.objects.filter(pk=payout.pk).update(
        state=PayoutState.NEEDS_MODERATOR, attempts=6, last_error="The wallet did not answer.", **fields
    )
    return Payout.objects.get(pk=payout.pk)


def payout_url(payout: Payout, action: str = "change") -> str:
    return reverse(f"admin:payments_payout_{action}", args=[payout.pk])


def events_of(payout: Payout) -> list[Event]:
    return list(Event.objects.filter(subject_type="payout", subject_id=payout.public_id).order_by("id"))


# The attention queue ------------------------------------------------------------------------------------------


def test_the_queue_lists_the_payouts_waiting_for_a_moderator(moderator_client):
    waiting = waiting_payout()
    paid_out = make_user("bob", funds_sats=0)
    give_earnings(paid_out, AMOUNT)
    with transaction.atomic():
        moving = payout_create(
            worker=paid_out, kind=PayoutKind.LNURL_PAY, amount_msat=AMOUNT, destination="b@w.example"
        )

    page = moderator_client.get(reverse("admin:payments_payout_changelist") + "?attention=waiting")

    assert page.status_code == 200
    content = page.content.decode()
    assert waiting.public_id in content
    assert moving.public_id not in content
    assert "Waiting for a moderator: 1" in content
    assert "The wallet did not answer." in content


def test_a_payouts_page_shows_its_attempt_history_and_the_two_actions(moderator_client):
    payout = waiting_payout()
    Event.objects.create(
        type="payout.needs_moderator",
        actor_kind=ActorKind.SYSTEM,
        rule="payouts",
        subject_type="payout",
        subject_id=payout.public_id,
        data={"attempts": 6, "error": "The wallet did not answer."},
    )

    page = moderator_client.get(payout_url(payout))

    assert page.status_code == 200
    content = page.content.decode()
    assert "Attempt history" in content
    assert "payout.started" in content
    assert "payout.needs_moderator" in content
    assert "Boltwork (payouts)" in content
    assert payout_url(payout, "retry") in content
    assert payout_url(payout, "cancel") in content
    assert 'name="_save"' not in content  # nothing to save: the payout's fields are read-only


def test_a_moderator_retries_a_payout_with_fresh_attempts_recorded_as_theirs(
    moderator_client, moderator, django_capture_on_commit_callbacks, enqueued
):
    payout = waiting_payout()

    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_client.post(payout_url(payout, "retry"), follow=True)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 0
    assert enqueued == [("advance_payout", payout.pk)]  # asked again at once
    retried = events_of(payout)[-1]
    assert (retried.type, retried.actor_kind, retried.actor_id) == ("payout.created", ActorKind.MODERATOR, moderator.pk)
    assert messages_of(response) == [f"Payout {payout.public_id} will be tried again now, with fresh attempts."]


def test_a_moderator_cancels_a_payout_and_the_money_is_back_in_the_workers_earnings_once(moderator_client, moderator):
    payout = waiting_payout()
    assert earned(payout.worker) == 0

    response = moderator_client.post(payout_url(payout, "cancel"), {"reason": REASON}, follow=True)

    payout.refresh_from_db()
    assert payout.state == PayoutState.FAILED
    assert payout.last_error == f"Failed by a moderator: {REASON}"  # what the worker sees
    assert earned(payout.worker) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    cancelled = events_of(payout)[-1]
    assert (cancelled.type, cancelled.actor_kind, cancelled.actor_id) == ("payout.failed", "moderator", moderator.pk)
    assert "is back in the balance it came from" in messages_of(response)[0]
    assert ledger_check() == []

    again = moderator_client.post(payout_url(payout, "cancel"), {"reason": REASON}, follow=True)

    assert "does not wait for a moderator (it is failed" in messages_of(again)[0]
    assert LedgerTransaction.objects.filter(key=f"payout-return:{payout.pk}").count() == 1
    assert earned(payout.worker) == AMOUNT


def test_cancelling_needs_a_reason(moderator_client):
    payout = waiting_payout()

    response = moderator_client.post(payout_url(payout, "cancel"), {"reason": "  "}, follow=True)

    assert messages_of(response) == [
        f"Payout {payout.public_id}: Say why the payout is cancelled: the worker sees the reason."
    ]
    payout.refresh_from_db()
    assert payout.state == PayoutState.NEEDS_MODERATOR
    assert earned(payout.worker) == 0


def test_a_payout_whose_invoice_the_node_reports_paid_cannot_be_cancelled(moderator_client):
    payout = waiting_payout(with_invoice=True)
    assert get_backend().pay_invoice(bolt11=payout.bolt11, fee_limit_msat=0).outcome == PaymentOutcome.PAID

    response = moderator_client.post(payout_url(payout, "cancel"), {"reason": REASON}, follow=True)

    assert "The node does not confirm that this payment failed" in messages_of(response)[0]
    payout.refresh_from_db()
    assert payout.state == PayoutState.NEEDS_MODERATOR
    assert earned(payout.worker) == 0


def test_a_payout_whose_invoice_the_node_never_paid_can_be_cancelled(moderator_client):
    payout = waiting_payout(with_invoice=True)

    moderator_client.post(payout_url(payout, "cancel"), {"reason": REASON})

    payout.refresh_from_db()
    assert payout.state == PayoutState.FAILED
    assert earned(payout.worker) == AMOUNT


def test_cancelling_several_asks_for_the_reason_first(moderator_client):
    first, second = waiting_payout(name="alice"), waiting_payout(name="bob")
    changelist = reverse("admin:payments_payout_changelist")
    chosen = {"action": "cancel_payouts", "_selected_action": [first.pk, second.pk]}

    confirmation = moderator_client.post(changelist, chosen)
    assert confirmation.status_code == 200
    assert "Cancel 2 payouts and return the money" in confirmation.content.decode()
    without_reason = moderator_client.post(changelist, {**chosen, "confirmed": "yes", "reason": ""})
    assert "Say why: the workers see the reason." in without_reason.content.decode()
    assert Payout.objects.filter(state=PayoutState.NEEDS_MODERATOR).count() == 2

    moderator_client.post(changelist, {**chosen, "confirmed": "yes", "reason": REASON})

    assert set(Payout.objects.values_list("state", flat=True)) == {PayoutState.FAILED}
    assert earned(first.worker) == earned(second.worker) == AMOUNT


def test_retrying_several_at_once(moderator_client):
    first, second = waiting_payout(name="alice"), waiting_payout(name="bob")

    moderator_client.post(
        reverse("admin:payments_payout_changelist"),
        {"action": "retry_payouts", "_selected_action": [first.pk, second.pk]},
    )

    assert set(Payout.objects.values_list("state", flat=True)) == {PayoutState.CREATED}


def test_staff_without_the_payout_permission_can_neither_retry_nor_cancel(client):
    payout = waiting_payout()
    client.force_login(make_user("viewer", is_staff=True, funds_sats=0))

    assert client.post(payout_url(payout, "retry")).status_code == 403
    assert client.post(payout_url(payout, "cancel"), {"reason": REASON}).status_code == 403
    payout.refresh_from_db()
    assert payout.state == PayoutState.NEEDS_MODERATOR


def test_the_payout_actions_take_only_posts(moderator_client):
    payout = waiting_payout()

    assert moderator_client.get(payout_url(payout, "retry")).status_code == 405
    assert moderator_client.get(payout_url(payout, "cancel")).status_code == 405


# The ledger, read-only --------------------------------------------------------------------------------------------


def test_a_moderator_reads_accounts_transactions_and_entries_in_sats(moderator_client):
    requester = make_user("ria", funds_sats=0)
    fund(requester, 1_234_567)
    account = Account.objects.get(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    deposit = LedgerTransaction.objects.get(kind=TransactionKind.DEPOSIT)

    accounts = moderator_client.get(reverse("admin:payments_account_changelist")).content.decode()
    one_account = moderator_client.get(reverse("admin:payments_account_change", args=[account.pk])).content.decode()
    transaction_page = moderator_client.get(
        reverse("admin:payments_ledgertransaction_change", args=[deposit.pk])
    ).content.decode()
    entries = moderator_client.get(
        reverse("admin:payments_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
    ).content.decode()

    assert "1,234.567" in accounts
    assert "-1,234.567" in accounts  # lightning_in: what came in, as a negative number
    assert "1,234.567" in one_account
    assert f"?account__id__exact={account.pk}" in one_account
    assert "1,234.567" in transaction_page
    assert "-1,234.567" in transaction_page
    assert "1,234.567" in entries
    assert reverse("admin:payments_reconciliation") in accounts


@pytest.mark.parametrize("who", ["moderator_client", "superuser_client"])
def test_nobody_changes_adds_or_deletes_ledger_rows_in_the_admin(request, who):
    client = request.getfixturevalue(who)
    requester = make_user("ria", funds_sats=0)
    fund(requester, 5_000)
    account = Account.objects.get(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    deposit = LedgerTransaction.objects.get(kind=TransactionKind.DEPOSIT)
    entry = LedgerEntry.objects.get(account=account)

    refused = [
        client.post(reverse("admin:payments_account_change", args=[account.pk]), {"balance_msat": 9_999_999}),
        client.post(reverse("admin:payments_account_delete", args=[account.pk]), {"post": "yes"}),
        client.post(reverse("admin:payments_account_add"), {"kind": "platform_fees"}),
        client.post(reverse("admin:payments_ledgertransaction_change", args=[deposit.pk]), {"memo": "edited"}),
        client.post(reverse("admin:payments_ledgertransaction_delete", args=[deposit.pk]), {"post": "yes"}),
        client.post(reverse("admin:payments_ledgerentry_change", args=[entry.pk]), {"amount_msat": 1}),
        client.post(reverse("admin:payments_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}),
    ]

    assert [response.status_code for response in refused] == [403] * len(refused)
    account.refresh_from_db()
    assert account.balance_msat == 5_000
    assert LedgerTransaction.objects.get(pk=deposit.pk).memo == deposit.memo
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()
    page = client.get(reverse("admin:payments_account_change", args=[account.pk])).content.decode()
    assert 'name="_save"' not in page


def test_the_bulk_delete_action_is_not_offered(superuser_client):
    page = superuser_client.get(reverse("admin:payments_account_changelist")).content.decode()

    assert "delete_selected" not in page


# Who sees the money screens ---------------------------------------------------------------------------------------

MONEY_SCREENS = [
    "admin:payments_payout_changelist",
    "admin:payments_account_changelist",
    "admin:payments_ledgertransaction_changelist",
    "admin:payments_ledgerentry_changelist",
    "admin:payments_reconciliation",
]


def test_a_moderator_sees_every_money_screen(moderator_client):
    assert [moderator_client.get(reverse(name)).status_code for name in MONEY_SCREENS] == [200] * len(MONEY_SCREENS)


def test_a_plain_user_is_sent_to_the_admin_log_in(client, worker):
    client.force_login(worker)

    for name in MONEY_SCREENS:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_ledger_permission_cannot_reconcile(client):
    client.force_login(make_user("viewer", is_staff=True, funds_sats=0))

    assert client.get(reverse("admin:payments_reconciliation")).status_code == 403


# Reconciliation: the development backend -------------------------------------------------------------------------


def paid_by_the_test_wallet(bolt11: str) -> None:
    """What the wallet page's development test wallet does with an invoice: the development backend pays it."""
    assert get_backend().pay_invoice(bolt11=bolt11, fee_limit_msat=0).outcome == PaymentOutcome.PAID


def dev_invoice(amount_msat: int) -> str:
    """An invoice of the worker's wallet: on the development backend, one it made."""
    return get_backend().create_invoice(amount_msat=amount_msat, memo="the worker's test wallet").bolt11


def deposit_paid(user, amount_msat: int, *, pay=paid_by_the_test_wallet) -> None:
    deposit = deposit_create(user=user, amount_msat=amount_msat)
    pay(deposit.bolt11)
    assert deposit_refresh(deposit=deposit).status == DepositStatus.PAID


def withdrawal(worker, invoice_for) -> Payout:
    """The worker withdraws their whole earnings to an invoice `invoice_for(amount_msat)` of their wallet."""
    link = withdraw_link_create(worker=worker)
    return withdraw_claim(k1=link.k1, invoice=invoice_for(link.max_withdrawable_msat))


def a_normal_run(*, pay=paid_by_the_test_wallet, invoice_for=dev_invoice) -> tuple:
    """A requester deposits 50 sats, a worker earns 10 sats on their job and withdraws them."""
    requester, worker = make_user("ria", funds_sats=0), make_user("wes", funds_sats=0)
    deposit_paid(requester, 50_000, pay=pay)
    give_earnings(worker, 10_000, requester=requester)
    payout = payout_advance(payout_id=withdrawal(worker, invoice_for).pk)
    assert payout.state == PayoutState.SUCCEEDED
    return requester, worker


def test_after_a_normal_run_the_development_wallet_holds_what_the_ledger_says(moderator_client):
    a_normal_run()

    report = moderation.ledger_reconciliation()

    assert report.backend == "dev"
    assert (report.lightning_in_msat, report.lightning_out_msat) == (-50_000, 10_000)
    assert report.wallet_msat == report.expected_msat == 40_000
    assert report.difference_msat == 0
    assert report.verdict == "balanced"
    page = moderator_client.get(reverse("admin:payments_reconciliation")).content.decode()
    assert "Balanced: the wallet holds exactly what the ledger says it should." in page
    assert "errornote" not in page


def test_money_the_ledger_credits_without_a_payment_is_flagged_in_red(moderator_client):
    requester, _ = a_normal_run()
    fund(requester, 5_000)  # a deposit in the ledger that never reached the wallet

    report = moderation.ledger_reconciliation()

    assert report.difference_msat == -5_000
    assert report.unexplained_msat == -5_000
    assert report.verdict == "unexplained"
    page = moderator_client.get(reverse("admin:payments_reconciliation")).content.decode()
    assert '<p class="errornote">Unexplained: -5 sats (-5000 msat).' in page
    assert "The wallet holds 5 sats less than the ledger says" in page


def test_a_payout_paid_before_the_ledger_knows_is_explained_as_in_flight(moderator_client):
    requester = make_user("ria", funds_sats=0)
    deposit_paid(requester, 50_000)
    worker = make_user("wes", funds_sats=0)
    give_earnings(worker, 10_000, requester=requester)
    payout = withdrawal(worker, dev_invoice)
    # The node paid it; the process that asked died before it could record the answer.
    assert get_backend().pay_invoice(bolt11=payout.bolt11, fee_limit_msat=0).outcome == PaymentOutcome.PAID

    report = moderation.ledger_reconciliation()

    assert report.difference_msat == -10_000
    assert report.maybe_sent_count == 1
    assert report.maybe_sent_up_to_msat == 10_000 + payout.fee_limit_msat
    assert (report.explained_msat, report.unexplained_msat) == (-10_000, 0)
    assert report.verdict == "explained"
    page = moderator_client.get(reverse("admin:payments_reconciliation")).content.decode()
    assert "Explained by payments under way: the wallet holds 10 sats less than the ledger says" in page
    assert "in flight: up to 10.5 sats" in page


def test_a_deposit_paid_before_the_sweeper_credits_it_is_explained():
    requester = make_user("ria", funds_sats=0)
    deposit = deposit_create(user=requester, amount_msat=7_000)
    paid_by_the_test_wallet(deposit.bolt11)

    report = moderation.ledger_reconciliation()

    assert (report.difference_msat, report.unpaid_deposit_count, report.unpaid_deposits_up_to_msat) == (7_000, 1, 7_000)
    assert report.verdict == "explained"


def test_a_backend_that_cannot_be_asked_is_said_so(moderator_client, settings, lnbits):
    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = lnbits.url
    settings.LNBITS_ADMIN_KEY = "not-a-key-lnbits-knows"

    page = moderator_client.get(reverse("admin:payments_reconciliation")).content.decode()

    assert """<p class="errornote">The Lightning backend could not be asked for the wallet's balance: LNbits""" in page
    assert "(HTTP 404)" in page  # LNbits knows no wallet with that key


def test_reconciliation_reads_a_constant_number_of_queries(moderator_client, django_assert_max_num_queries):
    a_normal_run()

    with django_assert_max_num_queries(12):
        moderator_client.get(reverse("admin:payments_reconciliation"))


# Reconciliation: a real LNbits wallet ---------------------------------------------------------------------------


@pytest.fixture
def lnbits_platform(settings, lnbits):
    """A new, empty LNbits wallet as the platform's (the session's shared one holds the money of other tests)."""
    wallet = lnbits.create_wallet("reconciled-platform")
    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = lnbits.url
    settings.LNBITS_ADMIN_KEY = wallet.adminkey
    return wallet


def test_on_lnbits_a_normal_run_balances_and_a_payment_from_outside_is_flagged(lnbits, lnbits_platform):
    payer, worker_wallet = lnbits.create_wallet("requester"), lnbits.create_wallet("worker")
    lnbits.top_up(payer, 1_000)

    a_normal_run(
        pay=lambda bolt11: lnbits.pay(payer, bolt11),
        invoice_for=lambda amount_msat: lnbits.create_invoice(worker_wallet, amount_msat // 1000)["bolt11"],
    )
    report = moderation.ledger_reconciliation()

    assert report.backend == "lnbits"
    assert report.wallet_msat == lnbits.balance_msat(lnbits_platform) == 40_000
    assert report.verdict == "balanced"

    lnbits.pay(payer, lnbits.create_invoice(lnbits_platform, 3)["bolt11"])  # money that came in outside Boltwork
    report = moderation.ledger_reconciliation()

    assert (report.difference_msat, report.unexplained_msat) == (3_000, 3_000)
    assert report.verdict == "unexplained"


# The other backends' balance calls ------------------------------------------------------------------------------
# LND and Core Lightning cannot run here: their REST answers are recorded (tests/payments/lightning_nodes.py).


def test_lnd_reports_its_channels_settled_local_balance():
    node = LndNode(
        {
            ("GET", "/v1/balance/channels"): httpx.Response(
                200,
                json={
                    "balance": "1234",
                    "local_balance": {"sat": "1234", "msat": "1234567"},
                    "unsettled_local_balance": {"sat": "10", "msat": "10000"},
                },
            )
        }
    )

    assert lnd(node).wallet_balance_msat() == 1_234_567


def test_core_lightning_adds_up_our_side_of_its_normal_channels():
    channels = [
        {"state": "CHANNELD_NORMAL", "our_amount_msat": 700_000, "amount_msat": 1_000_000},
        {"state": "CHANNELD_NORMAL", "our_amount_msat": 50_500, "amount_msat": 100_000},
        {"state": "ONCHAIN", "our_amount_msat": 999_000, "amount_msat": 1_000_000},
    ]
    node = ClnNode({"listfunds": httpx.Response(201, json={"outputs": [{"amount_msat": 5}], "channels": channels})})

    assert cln(node).wallet_balance_msat() == 750_500
    assert node.body() == {}


def test_a_balance_answer_that_cannot_be_read_is_a_lightning_error():
    node = LndNode({("GET", "/v1/balance/channels"): httpx.Response(200, json={"balance": "1"})})

    with pytest.raises(LightningError):
        lnd(node).wallet_balance_msat()
