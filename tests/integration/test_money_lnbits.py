"""Money end to end: PostgreSQL, Redis, a real Celery worker process and a real LNbits (FakeWallet funding source).

The platform's Lightning backend is one LNbits wallet (`lnbits_platform_wallet`); requesters and workers have LNbits
wallets of their own on the same server, so every payment here is a real BOLT11 invoice paid between wallets, with
real preimages and balances. The Celery worker runs the prefork pool with two processes, as production would.

The misbehaving wallet is `tests/payments/lnurl_test_server.FakeLnurlWallet`: it plays a worker's LNURL-pay service
and, per test, refuses, lies or forwards to LNbits. It and LNbits are the only hosts the LNURL client may reach over
plain http on loopback (LNURL_ALLOWED_INSECURE_HOSTS), in the test process and in the Celery worker alike.

Waiting: background jobs end when the worker's log says so (`CeleryWorker.wait_for_job`), states and balances are
polled (`wait_for`); nothing sleeps for a fixed time.
"""

import hashlib
import itertools
import json
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Job, User
from payments import background, payouts, services
from payments.background import advance_due_payouts, sync_pending_deposits
from payments.deposits import deposit_create, deposit_refresh, deposits_sync
from payments.ledger import account_of_user
from payments.lightning import PaymentOutcome, PaymentResult, get_backend
from payments.lnurl_client import decode_bech32_lnurl
from payments.models import (
    OPEN_PAYOUT_STATES,
    Account,
    AccountKind,
    Deposit,
    DepositStatus,
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutState,
    TransactionKind,
    WithdrawLink,
)
from payments.withdraw import withdraw_link_create
from tasks.models import Assignment
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.factories import answer_data, make_job, make_user
from tests.factories.money import forget_queued_payout_starts
from tests.integration.conftest import (
    CeleryWorker,
    lnbits_environment,
    lnbits_host_port,
    point_settings_at_lnbits,
    run_celery_worker,
    wait_for,
)
from tests.lnbits_server import LnbitsServer, Wallet
from tests.payments.lnurl_test_server import (
    FakeLnurlWallet,
    InvoiceBehaviour,
    WalletRequestHandler,
    json_answer,
    make_invoice,
    raw_answer,
    redirect_to,
    streamed_answer,
)

pytestmark = pytest.mark.slow

REWARD_MSAT = 21_000
wallet_numbers = itertools.count(1)


# The set-up: one Celery worker and one misbehaving wallet for the module, settings and helpers per test ------------


@pytest.fixture(scope="module")
def misbehaving_wallet():
    with FakeLnurlWallet(name="alice") as wallet:
        yield wallet


@pytest.fixture(scope="module")
def money_environment(lnbits, lnbits_platform_wallet, misbehaving_wallet):
    return lnbits_environment(
        lnbits=lnbits, platform_wallet=lnbits_platform_wallet, insecure_hosts=(misbehaving_wallet.host_port,)
    )


@pytest.fixture(scope="module")
def money_celery(django_db_setup, money_environment):
    """A real `celery worker` (prefork, two processes) on the test database, Redis and the LNbits platform wallet.

    Module scope: starting one costs seconds. The database is emptied between tests, so it keeps no state; jobs
    left over from an earlier test find no rows and end.
    """
    with run_celery_worker(environment=money_environment, concurrency=2) as worker:
        yield worker


@dataclass
class Money:
    lnbits: LnbitsServer
    platform: Wallet
    celery: CeleryWorker
    fake: FakeLnurlWallet

    def new_wallet(self, role: str, sats: int = 0) -> Wallet:
        wallet = self.lnbits.create_wallet(f"{role}-{next(wallet_numbers)}")
        if sats:
            self.lnbits.top_up(wallet, sats)
        return wallet

    def address(self, wallet: Wallet) -> str:
        """The wallet's Lightning Address, as a worker would type it."""
        return f"{wallet.lightning_address}@{lnbits_host_port(self.lnbits)}"

    def platform_msat(self) -> int:
        return self.lnbits.balance_msat(self.platform)

    def wait_for(self, condition, message, timeout: float = 20.0):
        return wait_for(condition, timeout=timeout, message=message, worker=self.celery)


@pytest.fixture
def money(
    settings, transactional_db, money_celery, money_environment, misbehaving_wallet, lnbits, lnbits_platform_wallet
):
    """The test process's settings pointed at LNbits like the worker's, and a well-behaved fake wallet."""
    from marketplace.celery import app

    point_settings_at_lnbits(settings, money_environment)
    _reset(misbehaving_wallet)
    app.control.purge()
    forget_queued_payout_starts(settings.REDIS_URL)
    yield Money(lnbits=lnbits, platform=lnbits_platform_wallet, celery=money_celery, fake=misbehaving_wallet)
    app.control.purge()
    money_celery.wait_until_idle()
    _reset(misbehaving_wallet)


def _reset(wallet: FakeLnurlWallet) -> None:
    wallet.routes.clear()
    wallet.requests.clear()
    wallet.invoice = InvoiceBehaviour()
    wallet.min_sendable_msat = 1_000
    wallet.max_sendable_msat = 1_000_000_000
    wallet.comment_allowed = 0
    wallet.success_action = None


PLATFORM_KINDS = [
    AccountKind.LIGHTNING_IN,
    AccountKind.LIGHTNING_OUT,
    AccountKind.ROUTING_FEES,
    AccountKind.PAYOUTS_IN_FLIGHT,
    AccountKind.PLATFORM_FEES,
]


def platform_ledger() -> dict[str, int]:
    """The balances of the platform's own accounts (0 for one that does not exist yet)."""
    balances = dict(Account.objects.filter(user=None, job=None).values_list("kind", "balance_msat"))
    return {kind: balances.get(kind, 0) for kind in PLATFORM_KINDS}


def balance_of(user: User, kind: str) -> int:
    return account_of_user(user=user, kind=kind).balance_msat


def approved_assignment(*, job, worker: User) -> Assignment:
    """Claim, submit and approve one assignment of `job` (the approval enqueues the worker's payout on commit)."""
    assignment = assignment_claim(job=job, worker=worker)
    assignment_submit(assignment=assignment, worker=worker, data=answer_data())
    return assignment_review(assignment=assignment, reviewer=job.requester, approve=True)


def proves_payment(preimage: str, payment_hash: str) -> bool:
    return hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == payment_hash


def all_at_once(functions: list) -> list:
    """Run the functions in threads released together; re-raise the first error. Each thread closes the database
    connection Django opened for it."""
    start = threading.Barrier(len(functions))

    def run(function):
        start.wait()
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        futures = [pool.submit(run, function) for function in functions]
        return [future.result(timeout=60) for future in futures]


def succeeded_payouts(count: int):
    """A condition for `wait_for`: the list of succeeded payouts once there are `count` of them."""

    def condition():
        paid = list(Payout.objects.filter(state=PayoutState.SUCCEEDED))
        return paid if len(paid) == count else None

    return condition


# Deposits --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("noticed_by", ["page", "sweeper", "celery_job", "all_at_once"])
def test_a_deposit_paid_from_an_lnbits_wallet_is_credited_once(money, noticed_by):
    requester = make_user(funds_sats=0)
    payer = money.new_wallet("requester", sats=1_000)
    platform_before = money.platform_msat()
    deposit = deposit_create(user=requester, amount_msat=250_000)
    assert deposit.bolt11.startswith("lnbc")

    # Unpaid, nobody credits it.
    assert deposits_sync() == 0
    assert deposit_refresh(deposit=deposit).status == DepositStatus.PENDING

    money.lnbits.pay(payer, deposit.bolt11)

    pages = [Client() for _ in range(3)]
    for page in pages:
        page.force_login(requester)
    status_url = reverse("deposit_status", args=[deposit.public_id])

    def poll_page(page: Client = pages[0]) -> None:
        assert page.get(status_url).status_code == 200

    if noticed_by == "page":
        poll_page()
    elif noticed_by == "sweeper":
        assert deposits_sync() == 1
    elif noticed_by == "celery_job":
        money.celery.wait_for_job(sync_pending_deposits.delay().id)
    else:
        # The page's polls (three browser tabs), the sweeper in this process, and the Celery job, all at once.
        jobs = [sync_pending_deposits.delay() for _ in range(3)]
        all_at_once(
            [lambda page=page: poll_page(page) for page in pages]
            + [lambda: deposit_refresh(deposit=Deposit.objects.get(pk=deposit.pk)) for _ in range(3)]
            + [deposits_sync] * 3
        )
        for job in jobs:
            money.celery.wait_for_job(job.id)

    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.PAID
    assert deposit.paid_at is not None
    # Noticing it again changes nothing.
    assert deposits_sync() == 0
    poll_page()
    money.celery.wait_for_job(sync_pending_deposits.delay().id)

    credits = LedgerTransaction.objects.filter(kind=TransactionKind.DEPOSIT)
    assert list(credits.values_list("key", flat=True)) == [f"deposit:{deposit.payment_hash}"]
    assert balance_of(requester, AccountKind.REQUESTER_AVAILABLE) == 250_000
    assert platform_ledger()[AccountKind.LIGHTNING_IN] == -250_000
    assert money.platform_msat() - platform_before == 250_000
    assert money.lnbits.balance_msat(payer) == 1_000_000 - 250_000


# The whole loop --------------------------------------------------------------------------------------------------


def test_the_whole_loop_pays_workers_lnbits_wallets_and_the_ledger_agrees_with_lnbits(money, client):
    platform_before = money.platform_msat()
    requester = make_user(funds_sats=0)
    payer = money.new_wallet("requester", sats=1_000)

    # The requester adds funds on the deposit page and pays the invoice from their LNbits wallet.
    client.force_login(requester)
    response = client.post(reverse("deposit_new"), {"amount_sats": 100})
    assert response.status_code == 302
    deposit = Deposit.objects.get(user=requester)
    money.lnbits.pay(payer, deposit.bolt11)
    assert client.get(reverse("deposit_status", args=[deposit.public_id])).status_code == 200
    assert balance_of(requester, AccountKind.REQUESTER_AVAILABLE) == 100_000

    job = make_job(requester=requester, tasks=2, reward_msat=REWARD_MSAT)
    workers = [make_user(funds_sats=0) for _ in range(2)]
    wallets = [money.new_wallet("worker") for _ in workers]
    for worker, wallet in zip(workers, wallets, strict=True):
        destination = services.payout_destination_set(
            user=worker, address=money.address(wallet), auto_payout=True, minimum_payout_msat=1_000
        )
        assert destination.wallet_name == money.address(wallet)  # resolved now: LNbits' text/identifier

    for worker in workers:
        approved_assignment(job=job, worker=worker)

    paid = money.wait_for(
        lambda: (
            list(Payout.objects.filter(state=PayoutState.SUCCEEDED))
            if Payout.objects.filter(state=PayoutState.SUCCEEDED).count() == 2
            else None
        ),
        "both payouts succeeded",
    )
    for worker, wallet in zip(workers, wallets, strict=True):
        payout = next(payout for payout in paid if payout.worker_id == worker.pk)
        assert payout.kind == PayoutKind.LNURL_PAY
        assert payout.amount_msat == REWARD_MSAT
        assert payout.attempts == 1
        assert proves_payment(payout.preimage, payout.payment_hash)
        assert money.lnbits.payment(wallet, payout.payment_hash)["paid"] is True
        assert money.lnbits.balance_msat(wallet) == REWARD_MSAT
        assert balance_of(worker, AccountKind.WORKER_EARNED) == 0
    assert Payout.objects.count() == 2

    # Our ledger agrees with both LNbits wallets to the millisatoshi.
    ledger = platform_ledger()
    deposits = -ledger[AccountKind.LIGHTNING_IN]
    paid_out = sum(payout.amount_msat for payout in paid)
    routing_fees = sum(payout.fee_msat for payout in paid)
    assert deposits == 100_000
    assert ledger[AccountKind.LIGHTNING_OUT] == paid_out + routing_fees
    assert ledger[AccountKind.ROUTING_FEES] == -routing_fees
    assert ledger[AccountKind.PAYOUTS_IN_FLIGHT] == 0
    assert money.platform_msat() - platform_before == deposits - paid_out - routing_fees
    assert money.lnbits.balance_msat(payer) == 1_000_000 - deposits
    fee = job.fee_per_assignment_msat
    assert ledger[AccountKind.PLATFORM_FEES] == 2 * fee
    assert balance_of(requester, AccountKind.REQUESTER_AVAILABLE) == 100_000 - 2 * (REWARD_MSAT + fee)


def test_a_reward_approved_while_the_workers_payout_is_in_flight_is_paid_out_too(money):
    """Two approvals for one worker, the second while the payout of the first is still asking for its invoice.

    The worker's wallet is LNbits behind a slow LNURL-pay service (the fake wallet forwarding to LNbits, holding
    the invoice request until the test lets it go), so the first payout is certainly open when the second
    approval's payout job runs in the Celery worker's other process.
    """
    wallet = money.new_wallet("worker")
    release = threading.Event()
    real_callback = {}

    def pay_request(handler: WalletRequestHandler) -> None:
        answer = httpx.get(wallet.lightning_address_url).json()
        real_callback["url"] = answer["callback"]
        handler.send_json({**answer, "callback": money.fake.callback_url})

    def slow_callback(handler: WalletRequestHandler) -> None:
        release.wait(30)
        amount = parse_qs(urlsplit(handler.path).query)["amount"][0]
        handler.send_json(httpx.get(real_callback["url"], params={"amount": amount}).json())

    money.fake.route(f"/.well-known/lnurlp/{money.fake.name}", pay_request)
    money.fake.route(money.fake.callback_path, slow_callback)
    try:
        job = make_job(tasks=2, reward_msat=REWARD_MSAT)
        worker = make_user(funds_sats=0)
        jobs_before = _ended_jobs(money.celery, "payments.background.pay_out_worker")
        services.payout_destination_set(
            user=worker, address=money.fake.address, auto_payout=True, minimum_payout_msat=1_000
        )
        money.wait_for(
            lambda: _ended_jobs(money.celery, "payments.background.pay_out_worker") > jobs_before,
            "the payout job of saving the address",
        )

        jobs_before = _ended_jobs(money.celery, "payments.background.pay_out_worker")
        approved_assignment(job=job, worker=worker)
        first = money.wait_for(
            lambda: Payout.objects.filter(worker=worker, state=PayoutState.INVOICE_REQUESTED).first(),
            "the first payout to wait for its invoice",
        )
        money.wait_for(
            lambda: _ended_jobs(money.celery, "payments.background.pay_out_worker") == jobs_before + 1,
            "the first approval's payout job to end",
        )
        approved_assignment(job=job, worker=worker)
        money.wait_for(
            lambda: _ended_jobs(money.celery, "payments.background.pay_out_worker") == jobs_before + 2,
            "the second approval's payout job to end (while the first payout is still open)",
        )
        assert Payout.objects.get(pk=first.pk).state == PayoutState.INVOICE_REQUESTED
    finally:
        release.set()

    money.wait_for(lambda: Payout.objects.get(pk=first.pk).state == PayoutState.SUCCEEDED, "the first payout")
    assert money.lnbits.balance_msat(wallet) == REWARD_MSAT
    # What Celery beat would run next: the payout sweeper.
    money.celery.wait_for_job(advance_due_payouts.delay().id)

    money.wait_for(
        lambda: money.lnbits.balance_msat(wallet) == 2 * REWARD_MSAT,
        lambda: f"the second reward paid out too; {_payouts_of(worker)}",
        timeout=10,
    )
    assert balance_of(worker, AccountKind.WORKER_EARNED) == 0


def _ended_jobs(celery: CeleryWorker, task_name: str) -> int:
    return len(re.findall(rf"{re.escape(task_name)}\[[0-9a-f-]+\] succeeded", celery.log()))


def _payouts_of(worker: User) -> str:
    """For failure messages: the worker's unpaid balance and payouts."""
    rows = list(Payout.objects.filter(worker=worker).order_by("pk").values_list("state", "amount_msat"))
    return f"worker_earned holds {balance_of(worker, AccountKind.WORKER_EARNED)} msat; payouts (state, msat): {rows}"


@pytest.mark.parametrize("history", ["paid_a_minute_ago", "paid_a_minute_ago_and_failed_last_week"])
def test_the_sweeper_pays_a_reward_whose_payout_message_was_lost(money, monkeypatch, history):
    """The sweeper starts payouts for workers whose message was lost, except for an hour after a payout of theirs
    failed. A payout that failed last week must not hold up a worker who was paid a minute ago."""
    wallet = money.new_wallet("worker")
    worker = make_user(funds_sats=0)
    job = make_job(tasks=2, reward_msat=REWARD_MSAT)
    services.payout_destination_set(
        user=worker, address=money.address(wallet), auto_payout=True, minimum_payout_msat=1_000
    )
    if history == "paid_a_minute_ago_and_failed_last_week":
        # As a failed payout leaves it (its start and its return cancel out in the ledger).
        last_week = Payout.objects.create(
            worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=5_000, destination="gone@wallet.example"
        )
        Payout.objects.filter(pk=last_week.pk).update(
            state=PayoutState.FAILED, last_error="the wallet was gone", updated_at=timezone.now() - timedelta(days=7)
        )
    approved_assignment(job=job, worker=worker)
    money.wait_for(lambda: money.lnbits.balance_msat(wallet) == REWARD_MSAT, "the first reward paid out")
    # LNbits pays before our worker records it: wait until the payout is closed here too, or the sweeper below
    # rightly skips a worker whose payout is still under way.
    money.wait_for(
        lambda: not Payout.objects.filter(worker=worker, state__in=OPEN_PAYOUT_STATES).exists(),
        "the first payout recorded as paid",
    )

    with monkeypatch.context() as patch:
        # This approval's message is lost.
        patch.setattr(background, "enqueue_payout_start", lambda _worker_id, **_options: None)
        approved_assignment(job=job, worker=worker)
    assert balance_of(worker, AccountKind.WORKER_EARNED) == REWARD_MSAT
    money.celery.wait_for_job(advance_due_payouts.delay().id)

    money.wait_for(
        lambda: money.lnbits.balance_msat(wallet) == 2 * REWARD_MSAT,
        lambda: f"the sweeper to pay the second reward; {_payouts_of(worker)}",
        timeout=10,
    )


# A payment whose outcome is unknown ------------------------------------------------------------------------------


class UnknownOncePayingBackend:
    """The real LNbits backend, except that its first successful pay call answers UNKNOWN.

    FakeWallet settles every payment at once, so LNbits never leaves one in flight; a real node does (a timeout
    after the payment left). This wrapper pays for real and then answers as such a node would.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.moves_real_money = inner.moves_real_money
        self.pay_calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def pay_invoice(self, **kwargs) -> PaymentResult:
        self.pay_calls += 1
        result = self.inner.pay_invoice(**kwargs)
        if self.pay_calls == 1 and result.outcome == PaymentOutcome.PAID:
            return PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="no answer in time (test wrapper; it paid)")
        return result


def test_a_payout_whose_pay_call_answers_unknown_stays_sending_until_payment_status_says_paid(money, monkeypatch):
    wallet = money.new_wallet("worker")
    worker = make_user(funds_sats=0)
    job = make_job(tasks=1, reward_msat=REWARD_MSAT)
    # The first steps run here, with the wrapped backend: keep the Celery worker from taking the payout first.
    monkeypatch.setattr(background, "enqueue_payout_start", lambda _worker_id, **_options: None)
    monkeypatch.setattr(background, "enqueue_payout_advance", lambda _payout_id: None)
    services.payout_destination_set(
        user=worker, address=money.address(wallet), auto_payout=True, minimum_payout_msat=1_000
    )
    approved_assignment(job=job, worker=worker)
    platform_before = money.platform_msat()
    payout = payouts.payout_start_for_worker(worker_id=worker.pk)
    backend = UnknownOncePayingBackend(get_backend())
    monkeypatch.setattr(payouts, "get_backend", lambda: backend)

    payout = payouts.payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.SENDING
    assert "Waiting for the payment's outcome" in payout.last_error
    assert backend.pay_calls == 1
    assert money.lnbits.balance_msat(wallet) == REWARD_MSAT  # it did leave
    assert payout.pk not in payouts.payouts_due()  # not due before its backoff
    ledger = platform_ledger()
    assert (ledger[AccountKind.PAYOUTS_IN_FLIGHT], ledger[AccountKind.LIGHTNING_OUT]) == (REWARD_MSAT, 0)
    assert balance_of(worker, AccountKind.WORKER_EARNED) == 0

    # The backoff passes; the sweeper, in the Celery worker with the plain LNbits backend, asks about the hash.
    Payout.objects.filter(pk=payout.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    money.celery.wait_for_job(advance_due_payouts.delay().id)
    payout = money.wait_for(
        lambda: Payout.objects.filter(pk=payout.pk, state=PayoutState.SUCCEEDED).first(), "the payout resolved"
    )

    assert proves_payment(payout.preimage, payout.payment_hash)
    assert backend.pay_calls == 1  # no second invoice was asked for or paid
    assert money.lnbits.balance_msat(wallet) == REWARD_MSAT
    assert money.platform_msat() - platform_before == -(REWARD_MSAT + payout.fee_msat)
    ledger = platform_ledger()
    assert (ledger[AccountKind.PAYOUTS_IN_FLIGHT], ledger[AccountKind.LIGHTNING_OUT]) == (
        0,
        REWARD_MSAT + payout.fee_msat,
    )


# LNURL-withdraw --------------------------------------------------------------------------------------------------


def earned_reward(worker: User) -> None:
    """The worker has one approved reward and no Lightning Address (so it waits for a withdrawal)."""
    approved_assignment(job=make_job(tasks=1, reward_msat=REWARD_MSAT), worker=worker)
    assert balance_of(worker, AccountKind.WORKER_EARNED) == REWARD_MSAT


def withdraw_request_from_the_page(client: Client, live_server, worker: User) -> dict:
    """Open the withdraw page on the live server as the worker, and fetch the withdrawRequest its LNURL names."""
    client.force_login(worker)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    page = httpx.get(f"{live_server.url}{reverse('withdraw')}", cookies=cookies)
    assert page.status_code == 200
    lnurl = re.search(r"lnurl1[02-9ac-hj-np-z]+", page.text, flags=re.IGNORECASE)
    assert lnurl, "the withdraw page shows an LNURL"
    url = decode_bech32_lnurl(lnurl.group().lower())
    assert url.startswith(f"{live_server.url}/lnurl/withdraw/")
    return httpx.get(url).json()


def test_lnbits_claims_a_withdraw_link_and_is_paid_once(money, live_server, client, settings):
    settings.SITE_URL = live_server.url  # the public address wallets are given
    worker = make_user(funds_sats=0)
    earned_reward(worker)
    receiver = money.new_wallet("withdrawer")
    platform_before = money.platform_msat()

    withdraw_request = withdraw_request_from_the_page(client, live_server, worker)
    assert withdraw_request["tag"] == "withdrawRequest"
    assert withdraw_request["callback"] == f"{live_server.url}/lnurl/withdraw/callback/"
    assert withdraw_request["maxWithdrawable"] == REWARD_MSAT

    def claim() -> dict:
        """LNbits as the worker's wallet: make an invoice and hand it to our callback (LUD-03)."""
        response = money.lnbits.client.post(
            "/api/v1/payments",
            json={"out": False, "amount": REWARD_MSAT // 1000, "memo": "Boltwork", "lnurl_withdraw": withdraw_request},
            headers={"X-Api-Key": receiver.inkey},
        )
        assert response.is_success, response.text
        return response.json()

    invoice = claim()
    assert invoice["extra"]["lnurl_response"] is True
    payout = money.wait_for(
        lambda: Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).first(), "the withdrawal paid"
    )
    assert payout.kind == PayoutKind.WITHDRAW
    assert payout.payment_hash == invoice["payment_hash"]
    assert proves_payment(payout.preimage, payout.payment_hash)
    assert money.lnbits.payment(receiver, invoice["payment_hash"])["paid"] is True
    assert money.lnbits.balance_msat(receiver) == REWARD_MSAT

    # The same link again: refused at our callback, so LNbits records the reason and nothing moves.
    again = claim()
    assert "already used" in again["extra"]["lnurl_response"]
    assert httpx.get(f"{live_server.url}/lnurl/withdraw/{withdraw_request['k1']}/").json()["status"] == "ERROR"
    assert Payout.objects.count() == 1
    assert money.lnbits.payment(receiver, again["payment_hash"])["paid"] is False
    assert money.lnbits.balance_msat(receiver) == REWARD_MSAT
    assert money.platform_msat() - platform_before == -(REWARD_MSAT + payout.fee_msat)
    assert balance_of(worker, AccountKind.WORKER_EARNED) == 0
    assert platform_ledger()[AccountKind.LIGHTNING_OUT] == REWARD_MSAT + payout.fee_msat


def test_twenty_concurrent_callbacks_with_one_k1_pay_exactly_once(money, live_server, settings):
    settings.SITE_URL = live_server.url  # the public address wallets are given
    worker = make_user(funds_sats=0)
    earned_reward(worker)
    receiver = money.new_wallet("withdrawer")
    platform_before = money.platform_msat()
    link = withdraw_link_create(worker=worker)
    withdraw_request = httpx.get(f"{live_server.url}/lnurl/withdraw/{link.k1}/").json()
    invoices = [money.lnbits.create_invoice(receiver, REWARD_MSAT // 1000, f"claim {n}") for n in range(20)]
    answers: dict[str, dict] = {}

    def call_back(invoice: dict) -> None:
        response = httpx.get(withdraw_request["callback"], params={"k1": link.k1, "pr": invoice["bolt11"]}, timeout=30)
        answers[invoice["payment_hash"]] = response.json()

    all_at_once([lambda invoice=invoice: call_back(invoice) for invoice in invoices])

    assert Counter(answer["status"] for answer in answers.values()) == {"OK": 1, "ERROR": 19}
    winner = next(payment_hash for payment_hash, answer in answers.items() if answer["status"] == "OK")
    payout = money.wait_for(
        lambda: Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).first(), "the withdrawal paid"
    )
    assert payout.payment_hash == winner
    assert Payout.objects.count() == 1
    assert WithdrawLink.objects.get(pk=link.pk).payout_id == payout.pk
    paid = [
        invoice["payment_hash"]
        for invoice in invoices
        if money.lnbits.payment(receiver, invoice["payment_hash"])["paid"]
    ]
    assert paid == [winner]
    assert money.lnbits.balance_msat(receiver) == REWARD_MSAT
    assert money.platform_msat() - platform_before == -(REWARD_MSAT + payout.fee_msat)
    assert balance_of(worker, AccountKind.WORKER_EARNED) == 0


def test_a_withdrawal_into_one_of_our_own_deposit_invoices_moves_the_money_once(money, live_server):
    """A worker who is also a requester hands the withdraw callback the invoice of their own deposit: LNbits lets
    the platform wallet pay itself, and answers "paid" for the hash both as a payment and as an invoice. Earnings
    become requester funds once; the platform wallet does not change, and neither does the ledger's view of it."""
    worker = make_user(funds_sats=0)
    earned_reward(worker)
    platform_before, ledger_before = money.platform_msat(), platform_ledger()
    deposit = deposit_create(user=worker, amount_msat=REWARD_MSAT)
    link = withdraw_link_create(worker=worker)

    answer = httpx.get(f"{live_server.url}/lnurl/withdraw/callback/", params={"k1": link.k1, "pr": deposit.bolt11})

    assert answer.json() == {"status": "OK"}
    payout = money.wait_for(
        lambda: Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).first(), "the withdrawal paid"
    )
    assert payout.payment_hash == deposit.payment_hash
    assert deposits_sync() == 1
    assert deposits_sync() == 0
    assert balance_of(worker, AccountKind.WORKER_EARNED) == 0
    assert balance_of(worker, AccountKind.REQUESTER_AVAILABLE) == REWARD_MSAT
    ledger = platform_ledger()
    ledger_change = -(ledger[AccountKind.LIGHTNING_IN] - ledger_before[AccountKind.LIGHTNING_IN]) - (
        ledger[AccountKind.LIGHTNING_OUT] - ledger_before[AccountKind.LIGHTNING_OUT]
    )
    assert money.platform_msat() - platform_before == ledger_change == -payout.fee_msat


@pytest.mark.parametrize(
    ("invoice_for", "reason"),
    [
        ("more_than_the_balance", "this link allows"),
        ("another_network", "bitcoin testnet"),
        ("an_expired_invoice", "expired"),
    ],
)
def test_a_withdraw_callback_with_a_bad_invoice_is_refused_and_the_link_stays_usable(
    money, live_server, invoice_for, reason
):
    worker = make_user(funds_sats=0)
    earned_reward(worker)
    receiver = money.new_wallet("withdrawer")
    link = withdraw_link_create(worker=worker)
    if invoice_for == "more_than_the_balance":
        bolt11 = money.lnbits.create_invoice(receiver, REWARD_MSAT // 1000 + 1)["bolt11"]
    elif invoice_for == "another_network":
        bolt11, _ = make_invoice(amount_msat=REWARD_MSAT, currency="tb")
    else:
        bolt11, _ = make_invoice(amount_msat=REWARD_MSAT, created_at=timezone.now().timestamp() - 700)

    answer = httpx.get(f"{live_server.url}/lnurl/withdraw/callback/", params={"k1": link.k1, "pr": bolt11}).json()

    assert answer["status"] == "ERROR"
    assert reason in answer["reason"]
    assert not Payout.objects.exists()
    assert WithdrawLink.objects.get(pk=link.pk).claimed_at is None
    assert balance_of(worker, AccountKind.WORKER_EARNED) == REWARD_MSAT
    assert httpx.get(f"{live_server.url}/lnurl/withdraw/{link.k1}/").json()["tag"] == "withdrawRequest"


# Refusals: the worker's LNURL-pay service misbehaves; nothing is paid --------------------------------------------


def _refused_callback(wallet: FakeLnurlWallet) -> None:
    wallet.route(
        f"/.well-known/lnurlp/{wallet.name}",
        json_answer({**wallet.pay_request(), "callback": "https://10.0.0.1/lnurlp/callback"}),
    )


def _malformed_pay_request(wallet: FakeLnurlWallet) -> None:
    wallet.route(f"/.well-known/lnurlp/{wallet.name}", json_answer({**wallet.pay_request(), "minSendable": "lots"}))


REFUSALS = {
    # name: (how the wallet misbehaves, the payout's state afterwards, words of its last_error)
    "invoice_amount_differs": (
        lambda wallet: setattr(wallet, "invoice", InvoiceBehaviour(amount_msat=REWARD_MSAT - 1_000)),
        PayoutState.CREATED,
        "asks for 20 sats, but we asked it for 21 sats",
    ),
    "invoice_expired": (
        lambda wallet: setattr(wallet, "invoice", InvoiceBehaviour(age_seconds=700, expiry_seconds=600)),
        PayoutState.CREATED,
        "expired",
    ),
    "wrong_network": (
        lambda wallet: setattr(wallet, "invoice", InvoiceBehaviour(currency="tb")),
        PayoutState.CREATED,
        "bitcoin testnet",
    ),
    "min_sendable_above_the_amount": (
        lambda wallet: setattr(wallet, "min_sendable_msat", REWARD_MSAT + 1_000),
        PayoutState.FAILED,  # asking again cannot help: the worker gets the money back
        "accepts between 22 sats and",
    ),
    "callback_to_a_refused_address": (_refused_callback, PayoutState.CREATED, "private networks"),
    "redirect_to_a_refused_address": (
        lambda wallet: wallet.route(wallet.callback_path, redirect_to("https://169.254.169.254/latest/meta-data/")),
        PayoutState.CREATED,
        "link-local",
    ),
    "oversized_answer": (
        lambda wallet: wallet.route(
            wallet.callback_path,
            streamed_answer(total_bytes=settings.LNURL_MAX_RESPONSE_BYTES + 65_536, declare_length=False),
        ),
        PayoutState.CREATED,
        "larger than",
    ),
    "answer_not_json": (
        lambda wallet: wallet.route(wallet.callback_path, raw_answer(b"<html>Service Unavailable</html>")),
        PayoutState.CREATED,
        "did not answer with JSON",
    ),
    "malformed_pay_request": (_malformed_pay_request, PayoutState.CREATED, "minSendable"),
    "error_status": (
        lambda wallet: wallet.route(
            wallet.callback_path, json_answer({"status": "ERROR", "reason": "Closed for maintenance"})
        ),
        PayoutState.CREATED,
        "the wallet refused: Closed for maintenance",
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_misbehaving_lnurl_pay_service_is_paid_nothing(money, refusal):
    misbehave, final_state, words = REFUSALS[refusal]
    worker = make_user(funds_sats=0)
    job = make_job(tasks=1, reward_msat=REWARD_MSAT)
    services.payout_destination_set(
        user=worker, address=money.fake.address, auto_payout=True, minimum_payout_msat=1_000
    )
    misbehave(money.fake)
    platform_before = money.platform_msat()
    ledger_before = platform_ledger()

    approved_assignment(job=job, worker=worker)

    payout = money.wait_for(
        lambda: (
            Payout.objects.filter(worker=worker, attempts=1)
            .exclude(state__in=[PayoutState.INVOICE_REQUESTED, PayoutState.INVOICE_VERIFIED, PayoutState.SENDING])
            .first()
        ),
        "the payout's first attempt to end",
    )
    assert payout.state == final_state, payout.last_error
    assert words in payout.last_error
    assert (payout.bolt11, payout.payment_hash, payout.preimage) == ("", None, "")
    assert money.platform_msat() == platform_before
    ledger = platform_ledger()
    in_flight = REWARD_MSAT if final_state == PayoutState.CREATED else 0
    assert ledger == {
        **ledger_before,
        AccountKind.PLATFORM_FEES: ledger_before[AccountKind.PLATFORM_FEES] + job.fee_per_assignment_msat,
        AccountKind.PAYOUTS_IN_FLIGHT: in_flight,
    }
    assert balance_of(worker, AccountKind.WORKER_EARNED) == REWARD_MSAT - in_flight
    if final_state == PayoutState.CREATED:
        assert payout.next_attempt_at > timezone.now()  # asks again later, after a backoff


# The whole loop over the API alone ------------------------------------------------------------------------------


def test_the_whole_loop_over_the_api_alone_pays_the_workers_lnbits_wallet(money, client):
    """Deposit → job → tasks → publish → claim → submit → approve → payout, every step a call to /api/v1 with a
    bearer key, against the real LNbits and a real Celery worker."""
    from api.services import api_key_create

    requester, worker = make_user(funds_sats=0), make_user(funds_sats=0)
    payer, worker_wallet = money.new_wallet("requester", sats=1_000), money.new_wallet("worker")
    requester_auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(user=requester, name='script')[1]}"}
    worker_auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(user=worker, name='tool')[1]}"}

    def call(method: str, path: str, auth: dict, body=None, content_type: str = "application/json", **headers):
        if method == "get":
            response = client.get(f"/api/v1{path}", **auth)
        else:
            data = body if isinstance(body, str) else json.dumps(body or {})
            response = getattr(client, method)(
                f"/api/v1{path}", data=data, content_type=content_type, **auth, **headers
            )
        assert response.status_code < 300, (path, response.status_code, response.content)
        return response.json()

    deposit = call("post", "/deposits", requester_auth, {"amount_msat": 50_000}, HTTP_IDEMPOTENCY_KEY="fund-1")
    money.lnbits.pay(payer, deposit["bolt11"])
    assert client.get(f"/api/v1/deposits/{deposit['id']}", **requester_auth).json()["status"] == "paid"

    form = {"prompt": "> {{review}}", "fields": [{"name": "ok", "kind": "checkbox", "label": "Positive?"}]}
    job = call("post", "/jobs", requester_auth, {"title": "API job", "description": "d", "reward_msat": REWARD_MSAT,
                                                 "form": form})  # fmt: skip
    call("post", f"/jobs/{job['id']}/tasks", requester_auth, "review\nGreat\n", content_type="text/csv")
    assert call("post", f"/jobs/{job['id']}/publish", requester_auth)["status"] == "published"

    call("put", "/me/payout-destination", worker_auth, {"lightning_address": money.address(worker_wallet)})
    assignment = call("post", f"/jobs/{job['id']}/claim", worker_auth)
    call("post", f"/assignments/{assignment['id']}/submit", worker_auth, {"answer": {"ok": True}})
    approved = call("post", f"/assignments/{assignment['id']}/approve", requester_auth, {"feedback": "Thanks"})
    assert approved["status"] == "approved"

    payout = money.wait_for(
        lambda: next(
            (item for item in call("get", "/payouts", worker_auth)["items"] if item["status"] == "succeeded"), None
        ),
        "the API to show the payout succeeded",
    )
    assert payout["amount_msat"] == REWARD_MSAT
    assert proves_payment(payout["preimage"], payout["payment_hash"])
    assert money.lnbits.balance_msat(worker_wallet) == REWARD_MSAT
    assert money.lnbits.payment(worker_wallet, payout["payment_hash"])["paid"] is True


def test_a_mechanical_turk_hit_is_done_on_the_site_approved_over_boto3_and_paid_to_lnbits(money, client, live_server):
    """Issue 13's loop: a requester's boto3 script makes a HIT (a QuestionForm, priced in sats), a worker does it
    through the site's pages, the script approves it, the worker's LNbits wallet is paid over LNURL by the real Celery
    worker, and the script reads the answer back as QuestionFormAnswers."""
    import xml.etree.ElementTree as ElementTree

    from tests.mturk.clients import QUESTION_FORM, mturk_client

    requester, worker = make_user(funds_sats=0), make_user(funds_sats=0)
    payer, worker_wallet = money.new_wallet("requester", sats=1_000), money.new_wallet("worker")
    client.force_login(requester)
    assert client.post(reverse("deposit_new"), {"amount_sats": 100}).status_code == 302
    money.lnbits.pay(payer, Deposit.objects.get(user=requester).bolt11)
    client.get(reverse("deposit_status", args=[Deposit.objects.get(user=requester).public_id]))

    turk = mturk_client(live_server.url, requester, currency="sat")
    assert turk.get_account_balance()["AvailableBalance"] == "100"
    hit = turk.create_hit(
        Title="Name the colour",
        Description="One word.",
        Reward="21",
        MaxAssignments=1,
        LifetimeInSeconds=3600,
        AssignmentDurationInSeconds=600,
        Question=QUESTION_FORM,
        UniqueRequestToken="colour-1",
    )["HIT"]

    services.payout_destination_set(
        user=worker, address=money.address(worker_wallet), auto_payout=True, minimum_payout_msat=1_000
    )
    browser = Client()
    browser.force_login(worker)
    job_id = hit["HITGroupId"]
    started = browser.post(reverse("job_start", args=[job_id]))
    assert started.status_code == 302
    assignment = Assignment.objects.get(worker=worker)
    assert assignment.task.public_id == hit["HITId"]
    submitted = browser.post(reverse("assignment_submit", args=[assignment.public_id]), {"answer-colour": "blue"})
    assert submitted.status_code == 302, submitted.content

    listed = turk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Submitted"])["Assignments"]
    assert [each["WorkerId"] for each in listed] == [worker.public_id]
    turk.approve_assignment(AssignmentId=listed[0]["AssignmentId"], RequesterFeedback="Thanks")

    payout = money.wait_for(
        lambda: Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).first(), "the worker to be paid"
    )
    assert payout.amount_msat == 21_000
    assert money.lnbits.balance_msat(worker_wallet) == 21_000
    assert proves_payment(payout.preimage, payout.payment_hash)

    answer = turk.get_assignment(AssignmentId=listed[0]["AssignmentId"])["Assignment"]
    assert answer["AssignmentStatus"] == "Approved"
    namespace = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}"
    document = ElementTree.fromstring(answer["Answer"])  # noqa: S314 (our own answer, as a client parses it)
    assert [
        (each.findtext(f"{namespace}QuestionIdentifier"), each.findtext(f"{namespace}FreeText"))
        for each in document.findall(f"{namespace}Answer")
    ] == [("colour", "blue")]
    # 21 sats of reward and its fee left the requester's 100; nothing else moved.
    fee = Job.objects.get(public_id=job_id).fee_per_assignment_msat
    assert turk.get_account_balance()["AvailableBalance"] == str((100_000 - 21_000 - fee) // 1_000)
