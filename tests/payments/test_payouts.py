"""The payout state machine (payments/payouts.py).

Wallets are played by the LNURL test server (tests/payments/lnurl_test_server.py) or, for payouts that really
complete, by the site's own development test wallet on a live server (`/.well-known/lnurlp/<username>`): the
development backend pays only invoices it made itself, and those are the only ones it can pay.
"""

import hashlib
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import bolt11 as bolt11_lib
import pytest
from django.db import connection
from django.utils import timezone

from payments.errors import PayoutStillInFlight
from payments.lightning import PaymentOutcome, PaymentResult, get_backend
from payments.models import AccountKind, DevInvoice, LedgerTransaction, Payout, PayoutKind, PayoutState
from payments.payouts import (
    SENDING_SETTLE_TIME,
    STALE_REQUEST_AFTER,
    payout_advance,
    payout_create,
    payout_fail_by_moderator,
    payout_fee_limit_msat,
    payout_retry_by_moderator,
    payout_start_for_worker,
    payouts_due,
    retry_delay,
)
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.balances import earned, platform
from tests.concurrency import raised, run_in_threads
from tests.factories import give_earnings, make_user, set_payout_destination
from tests.payments.conftest import run_background_jobs, started_payout
from tests.payments.lnurl_test_server import FakeLnurlWallet, json_answer, make_invoice, raw_answer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("enqueued", "six_payout_attempts", "fee_limits", "no_allowlisted_hosts"),
]

AMOUNT = 21_000  # msat: what the workers below have earned


@pytest.fixture(autouse=True)
def one_sat_payout_minimum(settings):
    settings.PAYOUT_MIN_MSAT = 1_000


class RecordingDevBackend:
    """The development backend, with a record of every payment asked of it."""

    name = "dev"
    moves_real_money = False

    def __init__(self) -> None:
        self.payments: list[str] = []
        self.lock = threading.Lock()

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        with self.lock:
            self.payments.append(bolt11)
        return get_backend().pay_invoice(bolt11=bolt11, fee_limit_msat=fee_limit_msat)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        return get_backend().payment_status(payment_hash=payment_hash)


@pytest.fixture
def dev_node(monkeypatch):
    node = RecordingDevBackend()
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    return node


class ScriptedNode:
    """A Lightning node whose answers each test writes.

    A fake because the development backend pays at once or not at all: it can neither leave a payment in flight
    nor answer "unknown", and those answers are what the three-valued outcome is about. It pays any invoice.
    """

    name = "scripted"
    moves_real_money = True

    def __init__(self) -> None:
        self.pay_answers: list = []  # PaymentResult, or a function of the bolt11 that returns one
        self.status_answer = PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="still in flight")
        self.paid: list[tuple[str, int]] = []
        self.asked: list[str] = []

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        self.paid.append((bolt11, fee_limit_msat))
        answer = self.pay_answers.pop(0)
        return answer(bolt11) if callable(answer) else answer

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        self.asked.append(payment_hash)
        return self.status_answer

    def invoices_paid(self) -> list[str]:
        return [bolt11 for bolt11, _ in self.paid]


@pytest.fixture
def node(monkeypatch):
    scripted = ScriptedNode()
    monkeypatch.setattr("payments.payouts.get_backend", lambda: scripted)
    return scripted


def paid_by(wallet: FakeLnurlWallet, *, fee_msat: int = 0):
    """A pay answer: PAID, with the preimage the wallet made for that invoice."""

    def answer(bolt11: str) -> PaymentResult:
        preimage = wallet.issued_preimages[bolt11_lib.decode(bolt11).payment_hash]
        return PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage, fee_msat=fee_msat)

    return answer


UNKNOWN = PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="the node timed out")
FAILED = PaymentResult(outcome=PaymentOutcome.FAILED, reason="no route")


def earner(name: str = "alice", *, amount_msat: int = AMOUNT, address: str | None = None, **destination):
    worker = make_user(name, funds_sats=0)
    give_earnings(worker, amount_msat)
    if address is not None:
        set_payout_destination(worker, address, **destination)
    return worker


def callback_requests(wallet: FakeLnurlWallet) -> int:
    return len(wallet.requests_to(wallet.callback_path))


def assert_backoff_after_the_pay_call(payout: Payout, *, sent_at, attempts: int = 1) -> None:
    """The backoff after a payment's answer counts from when the node answered (after `sent_at`, before now)."""
    delay = retry_delay(attempts)
    assert sent_at + delay <= payout.next_attempt_at <= timezone.now() + delay


# Starting ------------------------------------------------------------------------------------------------------


def test_the_fee_limit_is_the_floor_or_the_percentage_whichever_is_more_but_never_above_the_largest_share():
    # max(10 sats, 1%), at most 5% of the amount
    assert payout_fee_limit_msat(1_000) == 50  # was 10,000: ten times the payout, for whoever routes its last hop
    assert payout_fee_limit_msat(21_000) == 1_050
    assert payout_fee_limit_msat(200_000) == 10_000
    assert payout_fee_limit_msat(1_000_000) == 10_000
    assert payout_fee_limit_msat(2_000_000) == 20_000
    assert payout_fee_limit_msat(123_456_789) == 1_234_567


@pytest.mark.parametrize("amount_msat", [1_000, 7_000, 10_000, 21_000, 99_999, 1_000_000, 10**12])
def test_the_fee_limit_is_bounded_by_the_amount(amount_msat):
    assert 0 <= payout_fee_limit_msat(amount_msat) <= amount_msat * 5 // 100


def test_a_payout_takes_the_whole_balance_in_whole_sats_into_flight(django_capture_on_commit_callbacks, enqueued):
    worker = earner(amount_msat=12_345, address="alice@wallet.example")

    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_start_for_worker(worker_id=worker.pk)

    assert payout.amount_msat == 12_000
    assert payout.kind == PayoutKind.LNURL_PAY
    assert payout.destination == "alice@wallet.example"
    assert payout.state == PayoutState.CREATED
    assert payout.fee_limit_msat == 600  # 5% of 12,000: the 10-sat floor would be most of the payout
    assert payout.payment_hash is None
    assert earned(worker) == 345  # the millisatoshis stay for next time
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 12_000
    assert LedgerTransaction.objects.filter(key=f"payout-start:{payout.pk}").count() == 1
    assert enqueued == [("advance_payout", payout.pk)]


def test_a_balance_equal_to_the_minimum_is_paid_out():
    worker = earner(address="alice@wallet.example", minimum_payout_msat=AMOUNT)

    assert payout_start_for_worker(worker_id=worker.pk).amount_msat == AMOUNT


@pytest.mark.parametrize(
    "situation",
    ["no destination", "withdraw only", "automatic payouts off", "under the minimum", "nothing earned", "one open"],
)
def test_no_payout_is_started(situation):
    worker = make_user("alice", funds_sats=0)
    if situation != "nothing earned":
        give_earnings(worker, AMOUNT)
    if situation == "withdraw only":
        set_payout_destination(worker, "")
    elif situation == "automatic payouts off":
        set_payout_destination(worker, "alice@wallet.example", auto_payout=False)
    elif situation == "under the minimum":
        set_payout_destination(worker, "alice@wallet.example", minimum_payout_msat=AMOUNT + 1_000)
    elif situation in {"nothing earned", "one open"}:
        set_payout_destination(worker, "alice@wallet.example")
    if situation == "one open":
        open_payout = payout_start_for_worker(worker_id=worker.pk)
        give_earnings(worker, 5_000)  # more earned while the first payout is on its way

    before = list(Payout.objects.values_list("pk", flat=True))
    assert payout_start_for_worker(worker_id=worker.pk) is None

    assert list(Payout.objects.values_list("pk", flat=True)) == before
    if situation == "one open":
        assert earned(worker) == 5_000
        assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == open_payout.amount_msat
    elif situation != "nothing earned":
        assert earned(worker) == AMOUNT
        assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0


def test_no_payout_for_a_user_that_does_not_exist():
    assert payout_start_for_worker(worker_id=987_654_321) is None


# The whole way, to the site's own test wallet --------------------------------------------------------------


@pytest.fixture
def test_wallet_host(live_server, settings):
    """The live server's `host:port`, where every user has a development test wallet."""
    host = urlsplit(live_server.url).netloc
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host]
    return host


@pytest.mark.django_db(transaction=True)
def test_approved_work_is_paid_to_the_workers_address_with_a_receipt(test_wallet_host, enqueued):
    worker = make_user("alice", funds_sats=0)
    set_payout_destination(worker, f"alice@{test_wallet_host}")
    give_earnings(worker, AMOUNT)  # approval enqueues the worker's payout once it commits
    assert enqueued == [("pay_out_worker", worker.pk)]

    run_background_jobs(enqueued)

    payout = Payout.objects.get(worker=worker)
    invoice = DevInvoice.objects.get()
    assert payout.state == PayoutState.SUCCEEDED
    assert payout.amount_msat == AMOUNT
    assert payout.bolt11 == invoice.bolt11
    assert payout.payment_hash == invoice.payment_hash
    assert payout.preimage == invoice.preimage
    assert hashlib.sha256(bytes.fromhex(payout.preimage)).hexdigest() == payout.payment_hash
    assert payout.fee_msat == 0
    assert payout.settled_at is not None
    assert payout.attempts == 1
    assert payout.last_error == ""
    assert payout.success_action == {"tag": "message", "message": "Received by the test wallet of alice."}
    assert invoice.amount_msat == AMOUNT
    assert invoice.paid_at is not None
    assert earned(worker) == 0
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT
    assert platform(AccountKind.ROUTING_FEES) == 0
    assert list(
        LedgerTransaction.objects.filter(key__in=[f"payout-start:{payout.pk}", f"payout-success:{payout.pk}"])
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["payout_start", "payout_success"]

    # Delivered twice (acks_late) or run beside the sweeper: nothing more happens.
    again = payout_advance(payout_id=payout.pk)
    assert again.state == PayoutState.SUCCEEDED
    assert DevInvoice.objects.count() == 1
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [2, 8])
def test_concurrent_advances_of_one_payout_pay_it_once(test_wallet_host, dev_node, threads):
    """Each thread is a Celery worker with its own database connection, all handed the same payout at once."""
    worker = earner(address=f"alice@{test_wallet_host}")
    payout = payout_start_for_worker(worker_id=worker.pk)

    errors = race(threads, lambda: payout_advance(payout_id=payout.pk))

    assert errors == []
    payout.refresh_from_db()
    assert payout.state == PayoutState.SUCCEEDED
    assert DevInvoice.objects.count() == 1  # one invoice asked for
    assert len(dev_node.payments) == 1  # and paid once
    assert DevInvoice.objects.get().paid_at is not None
    assert LedgerTransaction.objects.filter(key=f"payout-success:{payout.pk}").count() == 1
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0


def race(threads: int, target) -> list[BaseException]:
    """Run `target()` in `threads` threads released together, each on its own database connection (as separate
    Celery workers would be); return the exceptions raised."""
    return raised(run_in_threads(threads, lambda _: target(), what="a payout_advance"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_advances_of_a_verified_payout_send_it_once(dev_node):
    """The job of a payout whose invoice is already verified (a withdrawal), delivered to eight workers at once."""
    worker = earner()
    invoice = get_backend().create_invoice(amount_msat=AMOUNT)
    payout = withdraw_claim(k1=withdraw_link_create(worker=worker).k1, invoice=invoice.bolt11)
    assert payout.state == PayoutState.INVOICE_VERIFIED

    errors = race(8, lambda: payout_advance(payout_id=payout.pk))

    assert errors == []
    payout.refresh_from_db()
    assert payout.state == PayoutState.SUCCEEDED
    assert dev_node.payments == [invoice.bolt11]  # sent once
    assert LedgerTransaction.objects.filter(key=f"payout-success:{payout.pk}").count() == 1
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0


@pytest.mark.django_db(transaction=True)
def test_each_state_is_committed_before_the_outside_call_it_guards(wallet, node):
    """What another process sees while we wait on the wallet and on the node: the state that guards the call,
    already committed (no transaction is held open across the call)."""
    payout = started_payout(wallet)
    seen: dict[str, tuple] = {}

    def committed(label: str) -> None:
        def read() -> None:
            try:
                row = Payout.objects.get(pk=payout.pk)
                seen[label] = (row.state, row.payment_hash)
            finally:
                connection.close()

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(10)

    def answer_invoice(handler) -> None:
        committed("while the wallet makes the invoice")
        handler.send_json(handler.wallet.invoice_answer(parse_qs(urlsplit(handler.path).query)))

    def pay(bolt11: str) -> PaymentResult:
        committed("while the node pays")
        return paid_by(wallet)(bolt11)

    wallet.route(wallet.callback_path, answer_invoice)
    node.pay_answers = [pay]

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.SUCCEEDED
    assert seen == {
        "while the wallet makes the invoice": (PayoutState.INVOICE_REQUESTED, None),
        "while the node pays": (PayoutState.SENDING, payout.payment_hash),
    }


# The wallet refuses or misbehaves: nothing is paid ------------------------------------------------------------


def _answer(path_of, payload, status=200):
    return lambda wallet: wallet.route(path_of(wallet), json_answer(payload, status=status))


ASK_AGAIN_LATER = [
    pytest.param(
        lambda wallet: setattr(wallet.invoice, "amount_msat", AMOUNT + 1_000),
        "the wallet's invoice asks for 22 sats, but we asked it for 21 sats",
        id="wrong-amount",
    ),
    pytest.param(
        lambda wallet: setattr(wallet.invoice, "age_seconds", 700),
        "the wallet's invoice has expired or is about to",
        id="expired-invoice",
    ),
    pytest.param(
        lambda wallet: setattr(wallet.invoice, "currency", "tb"),
        "the invoice is for bitcoin testnet, but Boltwork pays on bitcoin mainnet",
        id="wrong-network",
    ),
    pytest.param(
        lambda wallet: setattr(wallet.invoice, "amountless", True),
        "the wallet sent an invoice without an amount",
        id="amountless-invoice",
    ),
    pytest.param(
        _answer(lambda wallet: wallet.callback_path, {"status": "ERROR", "reason": "Wallet is offline"}),
        "the wallet refused: Wallet is offline",
        id="error-status-from-the-callback",
    ),
    pytest.param(
        _answer(lambda wallet: f"/.well-known/lnurlp/{wallet.name}", {"status": "ERROR", "reason": "Try later"}, 503),
        "the wallet refused: Try later",
        id="error-status-from-the-pay-request",
    ),
    pytest.param(
        lambda wallet: wallet.route(wallet.callback_path, raw_answer(b"<h1>Bad gateway</h1>", status=502)),
        "502",
        id="server-error",
    ),
    pytest.param(
        _answer(lambda wallet: wallet.callback_path, {"routes": []}),
        "the wallet did not send an invoice",
        id="no-invoice",
    ),
]


@pytest.mark.parametrize(("misbehave", "reason"), ASK_AGAIN_LATER)
def test_a_refused_invoice_is_asked_for_again_after_a_backoff_and_nothing_is_paid(wallet, dev_node, misbehave, reason):
    payout = started_payout(wallet)
    misbehave(wallet)
    now = timezone.now()

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 1
    assert payout.next_attempt_at == now + timedelta(seconds=30)
    assert reason in payout.last_error
    assert payout.bolt11 == ""
    assert payout.payment_hash is None
    assert dev_node.payments == []
    # The money waits in flight for the next attempt.
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT
    assert earned(payout.worker) == 0

    requests_before = len(wallet.requests)
    too_early = payout_advance(payout_id=payout.pk, now=now + timedelta(seconds=29))
    assert too_early.attempts == 1
    assert len(wallet.requests) == requests_before  # the wallet is left alone until the backoff has passed


def test_an_unreachable_wallet_is_asked_again_later(settings, dev_node):
    gone = FakeLnurlWallet().start()
    gone.stop()  # its port now refuses connections
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [gone.host_port]
    worker = earner(address=gone.address)
    payout = payout_start_for_worker(worker_id=worker.pk)
    now = timezone.now()

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 1
    assert payout.next_attempt_at == now + timedelta(seconds=30)
    assert payout.last_error
    assert dev_node.payments == []
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT


def test_the_backoff_grows_and_after_the_last_attempt_a_moderator_is_needed(settings, wallet, dev_node):
    settings.PAYOUT_MAX_ATTEMPTS = 3
    wallet.invoice.amount_msat = AMOUNT + 1_000
    payout = started_payout(wallet)
    now = timezone.now()

    for attempt, delay in [(1, retry_delay(1)), (2, retry_delay(2))]:
        payout = payout_advance(payout_id=payout.pk, now=now)
        assert (payout.state, payout.attempts) == (PayoutState.CREATED, attempt)
        assert payout.next_attempt_at == now + delay
        now = payout.next_attempt_at
    assert retry_delay(1) == timedelta(seconds=30)
    assert retry_delay(2) == timedelta(seconds=60)

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert payout.state == PayoutState.NEEDS_MODERATOR
    assert payout.attempts == 3
    assert "asks for 22 sats" in payout.last_error
    asked = callback_requests(wallet)
    assert payout_advance(payout_id=payout.pk, now=now + timedelta(days=1)).state == PayoutState.NEEDS_MODERATOR
    assert callback_requests(wallet) == asked == 3
    assert payout.pk not in payouts_due(now=now + timedelta(days=1))
    assert dev_node.payments == []
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT  # held until a moderator decides


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(
            lambda wallet: setattr(wallet, "min_sendable_msat", AMOUNT + 1_000),
            "the wallet accepts between 22 sats and",
            id="minimum-above-the-amount",
        ),
        pytest.param(
            lambda wallet: setattr(wallet, "max_sendable_msat", AMOUNT - 1_000),
            "the wallet accepts between 1 sat and 20 sats per payment, not 21 sats",
            id="maximum-below-the-amount",
        ),
    ],
)
def test_a_wallet_that_does_not_take_the_amount_fails_the_payout_and_returns_the_money(wallet, dev_node, setup, reason):
    payout = started_payout(wallet)
    setup(wallet)

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.FAILED
    assert reason in payout.last_error
    assert payout.next_attempt_at is None
    assert callback_requests(wallet) == 0  # no invoice was even asked for
    assert dev_node.payments == []
    assert earned(payout.worker) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert LedgerTransaction.objects.filter(key=f"payout-return:{payout.pk}").count() == 1
    assert payout_advance(payout_id=payout.pk).state == PayoutState.FAILED  # final


def test_an_address_that_is_not_one_fails_the_payout_and_returns_the_money(dev_node):
    worker = earner(address="alice at wallet dot example")
    payout = payout_start_for_worker(worker_id=worker.pk)

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.FAILED
    assert "Lightning Address" in payout.last_error
    assert dev_node.payments == []
    assert earned(worker) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0


def test_a_wallet_invoice_the_development_backend_cannot_pay_is_retried_with_a_new_invoice(wallet, dev_node):
    """The pay call's own definite failure: the invoice is dead, so the next attempt asks for a new one."""
    payout = started_payout(wallet)
    now = timezone.now()

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert dev_node.payments  # it tried: a foreign invoice, which the development backend refuses
    assert payout.state == PayoutState.CREATED
    assert payout.payment_hash is None
    assert payout.bolt11 == ""
    assert "only pays its own invoices" in payout.last_error
    assert_backoff_after_the_pay_call(payout, sent_at=now)
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT

    payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)
    assert callback_requests(wallet) == 2
    assert len(set(dev_node.payments)) == 2  # a fresh invoice the second time


# Paid, failed or unknown ---------------------------------------------------------------------------------------


def test_an_unknown_outcome_stays_sending_and_no_new_invoice_is_asked_for(wallet, node):
    payout = started_payout(wallet)
    node.pay_answers = [UNKNOWN]
    now = timezone.now()

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert payout.state == PayoutState.SENDING
    assert payout.payment_hash == bolt11_lib.decode(payout.bolt11).payment_hash
    assert node.paid == [(payout.bolt11, 1_050)]  # with the fee limit: 5% of 21 sats
    assert_backoff_after_the_pay_call(payout, sent_at=now)
    assert "the node timed out" in payout.last_error
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT
    assert earned(payout.worker) == 0
    assert payout.pk not in payouts_due(now=now)
    assert payout.pk in payouts_due(now=payout.next_attempt_at)

    # Asked again while the node still does not know: still sending, never paid twice, no new invoice.
    again = payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)
    assert again.state == PayoutState.SENDING
    assert node.asked == [payout.payment_hash]
    assert len(node.paid) == 1
    assert callback_requests(wallet) == 1


def test_a_later_check_that_finds_the_payment_paid_settles_it_with_the_routing_fee(wallet, node):
    payout = started_payout(wallet)
    node.pay_answers = [UNKNOWN]
    payout = payout_advance(payout_id=payout.pk)
    preimage = wallet.issued_preimages[payout.payment_hash]
    node.status_answer = PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage, fee_msat=7)

    payout = payout_advance(payout_id=payout.pk, now=timezone.now() + timedelta(seconds=30))

    assert payout.state == PayoutState.SUCCEEDED
    assert payout.preimage == preimage
    assert payout.fee_msat == 7
    assert payout.last_error == ""
    assert payout.next_attempt_at is None
    assert len(node.paid) == 1
    # The platform pays the routing fee: the worker's payout is the whole amount.
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert platform(AccountKind.ROUTING_FEES) == -7
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT + 7


@pytest.mark.django_db(transaction=True)
def test_rewards_approved_while_a_payout_was_under_way_are_sent_once_it_has_succeeded(wallet, node, enqueued):
    payout = started_payout(wallet)
    # The approval's payout job, run by a Celery worker: the payout is started already, so it does nothing.
    run_background_jobs([job for job in enqueued if job[0] == "pay_out_worker"])
    enqueued.clear()

    def pay_while_more_work_is_approved(bolt11: str) -> PaymentResult:
        give_earnings(payout.worker, 5_000)
        run_background_jobs(enqueued)  # the approval's own payout job finds this payout open and does nothing
        assert Payout.objects.filter(worker=payout.worker).count() == 1
        return paid_by(wallet)(bolt11)

    node.pay_answers = [pay_while_more_work_is_approved]

    assert payout_advance(payout_id=payout.pk).state == PayoutState.SUCCEEDED
    assert enqueued == [("pay_out_worker", payout.worker_id)]

    run_background_jobs(enqueued[:1])
    follow_up = Payout.objects.exclude(pk=payout.pk).get(worker=payout.worker)
    assert follow_up.amount_msat == 5_000
    assert earned(payout.worker) == 0


def test_a_later_failure_is_believed_only_after_the_settle_time(wallet, node):
    payout = started_payout(wallet)
    node.pay_answers = [UNKNOWN]
    payout = payout_advance(payout_id=payout.pk)
    first_invoice = payout.bolt11
    node.status_answer = PaymentResult(outcome=PaymentOutcome.FAILED, reason="no such payment")

    # Soon after the pay call, "no such payment" may mean "not recorded yet".
    soon = payout_advance(payout_id=payout.pk, now=timezone.now() + timedelta(seconds=30))
    assert soon.state == PayoutState.SENDING
    assert soon.payment_hash == payout.payment_hash

    later = timezone.now() + SENDING_SETTLE_TIME + timedelta(minutes=1)
    payout = payout_advance(payout_id=payout.pk, now=later)

    assert payout.state == PayoutState.CREATED
    assert payout.payment_hash is None
    assert payout.bolt11 == ""
    assert "no such payment" in payout.last_error
    assert payout.next_attempt_at == later + timedelta(seconds=30)
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT  # not returned: a new invoice will be paid
    assert len(node.paid) == 1

    node.pay_answers = [paid_by(wallet)]
    payout = payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)

    assert payout.state == PayoutState.SUCCEEDED
    assert callback_requests(wallet) == 2
    assert node.invoices_paid() == [first_invoice, payout.bolt11]
    assert payout.bolt11 != first_invoice
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT


class Clock:
    """`timezone.now()` for the whole process, moved by the test: `auto_now` fields follow it too."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def test_the_settle_time_counts_from_when_the_payment_was_sent_not_from_the_last_check(monkeypatch, wallet, node):
    """A sweeper asks about a `sending` payout every 30 seconds or so. The node's "failed" must be believed once
    the payment has been sending for longer than SENDING_SETTLE_TIME, however often it was asked about meanwhile;
    otherwise a failed payment that was checked at least once every five minutes would stay `sending` forever."""
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    payout = started_payout(wallet)
    node.pay_answers = [UNKNOWN]
    payout = payout_advance(payout_id=payout.pk)
    assert payout.state == PayoutState.SENDING
    node.status_answer = PaymentResult(outcome=PaymentOutcome.FAILED, reason="no such payment")

    clock.advance(SENDING_SETTLE_TIME - timedelta(minutes=1))
    assert payout_advance(payout_id=payout.pk).state == PayoutState.SENDING  # too soon to believe

    clock.advance(timedelta(minutes=3))  # sending for SENDING_SETTLE_TIME + 2 minutes now
    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.CREATED, (
        "the node has said 'failed' for a payment sent longer ago than SENDING_SETTLE_TIME, yet the payout is "
        f"still {payout.state}: {payout.last_error}"
    )


def test_a_definite_failure_from_the_pay_call_asks_for_a_new_invoice_after_a_backoff(wallet, node):
    payout = started_payout(wallet)
    node.pay_answers = [FAILED]
    now = timezone.now()

    payout = payout_advance(payout_id=payout.pk, now=now)

    assert payout.state == PayoutState.CREATED
    assert payout.payment_hash is None
    assert payout.last_error == "Payment failed: no route"
    assert_backoff_after_the_pay_call(payout, sent_at=now)
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT
    assert earned(payout.worker) == 0


def test_a_definite_failure_on_the_last_attempt_waits_for_a_moderator(settings, wallet, node):
    settings.PAYOUT_MAX_ATTEMPTS = 1
    payout = started_payout(wallet)
    node.pay_answers = [FAILED]

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.NEEDS_MODERATOR
    assert payout.payment_hash is None
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT


def test_an_invoice_that_expired_before_it_was_sent_is_dropped_unpaid_for_a_fresh_one(wallet, node):
    payout = started_payout(wallet)
    stale, _ = make_invoice(
        amount_msat=AMOUNT, created_at=time.time() - 595, expiry_seconds=600, private_key=wallet.private_key
    )
    Payout.objects.filter(pk=payout.pk).update(
        state=PayoutState.INVOICE_VERIFIED, bolt11=stale, payment_hash=bolt11_lib.decode(stale).payment_hash
    )
    wallet.route(wallet.callback_path, json_answer({"status": "ERROR", "reason": "busy"}))

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.CREATED
    assert payout.payment_hash is None
    assert payout.bolt11 == ""
    assert node.paid == []
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT

    # When the wallet answers again, the fresh invoice is the one paid.
    del wallet.routes[wallet.callback_path]
    node.pay_answers = [paid_by(wallet)]
    payout = payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)

    assert payout.state == PayoutState.SUCCEEDED
    assert node.invoices_paid() == [payout.bolt11]
    assert stale not in node.invoices_paid()


# The sweeper ---------------------------------------------------------------------------------------------------


def test_the_sweeper_picks_up_due_payouts_and_recovers_requests_that_lost_their_process():
    worker = earner(amount_msat=100_000)
    now = timezone.now()

    def payout(state: str, *, due_in: timedelta | None = timedelta(seconds=-1), attempts: int = 1) -> Payout:
        created = payout_create(worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=1_000, destination="a@b.example")
        fields = {"state": state, "attempts": attempts, "next_attempt_at": now + due_in if due_in else None}
        if state in {PayoutState.INVOICE_VERIFIED, PayoutState.SENDING, PayoutState.SUCCEEDED}:
            fields["payment_hash"] = hashlib.sha256(created.public_id.encode()).hexdigest()
        Payout.objects.filter(pk=created.pk).update(**fields)
        return created

    due_created = payout(PayoutState.CREATED)
    due_verified = payout(PayoutState.INVOICE_VERIFIED)
    due_sending = payout(PayoutState.SENDING)
    later = payout(PayoutState.CREATED, due_in=timedelta(minutes=5))
    fresh_request = payout(PayoutState.INVOICE_REQUESTED)
    stale_request = payout(PayoutState.INVOICE_REQUESTED)
    Payout.objects.filter(pk=stale_request.pk).update(updated_at=now - STALE_REQUEST_AFTER - timedelta(seconds=1))
    payout(PayoutState.SUCCEEDED)
    payout(PayoutState.NEEDS_MODERATOR)

    due = payouts_due(now=now)

    assert set(due) == {due_created.pk, due_verified.pk, due_sending.pk}
    assert later.pk not in due
    stale_request.refresh_from_db()
    assert stale_request.state == PayoutState.CREATED  # no invoice was stored, so asking again is safe
    assert "interrupted" in stale_request.last_error
    assert Payout.objects.get(pk=fresh_request.pk).state == PayoutState.INVOICE_REQUESTED
    assert stale_request.pk in payouts_due(now=stale_request.next_attempt_at)


# Moderators ----------------------------------------------------------------------------------------------------


def waiting_for_moderator(wallet, *, with_invoice: bool) -> Payout:
    payout = started_payout(wallet)
    fields = {"state": PayoutState.NEEDS_MODERATOR, "attempts": 6, "last_error": "gave up"}
    if with_invoice:
        bolt11, _ = make_invoice(amount_msat=AMOUNT, private_key=wallet.private_key)
        fields.update(bolt11=bolt11, payment_hash=bolt11_lib.decode(bolt11).payment_hash)
    Payout.objects.filter(pk=payout.pk).update(**fields)
    return Payout.objects.get(pk=payout.pk)


def test_a_moderator_retry_without_an_invoice_starts_over_with_fresh_attempts(
    wallet, node, django_capture_on_commit_callbacks, enqueued
):
    payout = waiting_for_moderator(wallet, with_invoice=False)

    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_retry_by_moderator(payout=payout)

    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 0
    assert payout.next_attempt_at <= timezone.now()
    assert enqueued == [("advance_payout", payout.pk)]

    node.pay_answers = [paid_by(wallet)]
    assert payout_advance(payout_id=payout.pk).state == PayoutState.SUCCEEDED


def test_a_moderator_retry_with_an_invoice_only_checks_that_invoice(wallet, node):
    payout = waiting_for_moderator(wallet, with_invoice=True)
    payout = payout_retry_by_moderator(payout=payout)
    assert payout.state == PayoutState.SENDING
    node.status_answer = PaymentResult(
        outcome=PaymentOutcome.PAID, preimage=wallet.issued_preimages.get(payout.payment_hash, "00" * 32), fee_msat=0
    )

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.SUCCEEDED
    assert node.paid == []  # never paid again
    assert callback_requests(wallet) == 0  # and no new invoice
    assert node.asked == [payout.payment_hash]


def test_a_moderator_retry_of_a_payout_that_is_not_waiting_changes_nothing(wallet):
    payout = started_payout(wallet)

    assert payout_retry_by_moderator(payout=payout).state == PayoutState.CREATED
    assert Payout.objects.get(pk=payout.pk).attempts == 0


def test_a_moderator_fails_a_payout_without_an_invoice_and_the_money_returns(wallet, node):
    payout = waiting_for_moderator(wallet, with_invoice=False)

    payout = payout_fail_by_moderator(payout=payout, reason="the address is gone")

    assert payout.state == PayoutState.FAILED
    assert payout.last_error == "Failed by a moderator: the address is gone"
    assert node.asked == []
    assert earned(payout.worker) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0


@pytest.mark.parametrize(
    "outcome",
    [
        PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="in flight"),
        PaymentResult(outcome=PaymentOutcome.PAID, preimage="00" * 32, fee_msat=0),
    ],
    ids=["still-in-flight", "paid"],
)
def test_a_moderator_cannot_fail_a_payout_the_node_does_not_confirm_failed(wallet, node, outcome):
    payout = waiting_for_moderator(wallet, with_invoice=True)
    node.status_answer = outcome

    with pytest.raises(PayoutStillInFlight):
        payout_fail_by_moderator(payout=payout, reason="looks stuck")

    payout.refresh_from_db()
    assert payout.state == PayoutState.NEEDS_MODERATOR
    assert node.asked == [payout.payment_hash]
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == AMOUNT
    assert earned(payout.worker) == 0


def test_a_moderator_fails_a_payout_the_node_confirms_failed(wallet, node):
    payout = waiting_for_moderator(wallet, with_invoice=True)
    node.status_answer = PaymentResult(outcome=PaymentOutcome.FAILED, reason="no route")

    payout = payout_fail_by_moderator(payout=payout, reason="checked the node")

    assert payout.state == PayoutState.FAILED
    assert earned(payout.worker) == AMOUNT
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert LedgerTransaction.objects.filter(key=f"payout-return:{payout.pk}").count() == 1


def test_the_development_backend_confirms_a_payment_it_made_so_a_moderator_cannot_fail_it():
    worker = earner(address="alice@wallet.example")
    payout = payout_start_for_worker(worker_id=worker.pk)
    invoice = get_backend().create_invoice(amount_msat=AMOUNT)
    get_backend().pay_invoice(bolt11=invoice.bolt11, fee_limit_msat=0)
    Payout.objects.filter(pk=payout.pk).update(
        state=PayoutState.NEEDS_MODERATOR, bolt11=invoice.bolt11, payment_hash=invoice.payment_hash
    )

    with pytest.raises(PayoutStillInFlight):
        payout_fail_by_moderator(payout=Payout.objects.get(pk=payout.pk), reason="looks stuck")

    # A retry finds it paid and settles it instead.
    payout = payout_retry_by_moderator(payout=Payout.objects.get(pk=payout.pk))
    payout = payout_advance(payout_id=payout.pk)
    assert payout.state == PayoutState.SUCCEEDED
    assert payout.preimage == DevInvoice.objects.get(payment_hash=invoice.payment_hash).preimage
    assert platform(AccountKind.LIGHTNING_OUT) == AMOUNT
