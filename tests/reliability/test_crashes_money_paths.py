"""Issue 15, crashes on the other money paths: deposits credited, LNURL-withdraw links claimed (and their payouts
paid), dispute overturns and webhook deliveries. The real process that runs the code is SIGKILLed at a kill point
(core.faults.kill_point, placed by reading the code: where a crash leaves the most awkward state); then the work
goes on as it would in production (a new process, the wallet or the moderator sending again, the sweepers with
their clock moved past the waits a lost step leaves, as in test_payout_crashes), and:

- a deposit is credited exactly once (the requester's balance, one ledger posting, one `deposit.paid` event), and
  the platform's LNbits wallet grew by exactly what was credited;
- a withdraw link pays once: its LNbits wallet holds exactly the amount, one payout succeeded;
- an overturn is decided once, pays the worker once and empties the hold;
- a webhook is delivered at least once, every sending with the same `Boltwork-Delivery` id and body, and its
  delivery row is recorded delivered once;
- `ledger_check()` is clean, and where money moved over Lightning the ledger agrees with LNbits to the msat.

Celery-side points (the deposit sweeper, webhook deliveries, a withdraw payout) kill a real Celery worker (solo
pool); web-side points (a deposit noticed through API v1, the wallet's LNURL-withdraw callback, a moderator's
overturn form) kill a real gunicorn worker process in the middle of the HTTP request that runs the code, and the
gunicorn master starts a new one. The deposit sweeper then runs in a new Celery worker; the payout and webhook
sweepers run in the test process with their clock ahead. Each point is killed RELIABILITY_SCALE times (default
once) per test. Run with `-s` to see the figures.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.background import deliver_due_webhooks
from api.models import DeliveryStatus, WebhookDelivery
from api.services import api_key_create
from api.webhooks import webhook_deliver, webhook_deliveries_due, webhook_endpoint_create
from core.faults import KILL_DIR_VARIABLE, kill_point_arm
from core.models import Event
from core.money import MSAT_PER_SAT
from payments import payouts, services
from payments.background import enqueue_payout_advance, sync_pending_deposits
from payments.deposits import deposit_create, deposits_sync
from payments.ledger import balance_msat, dispute_hold_account_of_job, ledger_check
from payments.models import (
    AccountKind,
    Deposit,
    DepositStatus,
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutState,
)
from payments.withdraw import withdraw_link_create
from tasks import disputes
from tasks.models import AssignmentStatus, DisputeStatus
from tasks.services import assignment_review
from tests.api.conftest import Receiver
from tests.balances import available, earned, platform
from tests.factories import give_earnings, make_job, make_moderator, make_submitted_assignment, make_user
from tests.integration.conftest import (
    ROOT,
    lnbits_environment,
    lnbits_host_port,
    lnbits_platform_wallet,  # noqa: F401 - the platform's funded LNbits wallet, a fixture of the integration tests
    point_settings_at_lnbits,
    run_celery_worker,
    wait_for,
)
from tests.lnbits_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
AMOUNT_MSAT = 21_000
# Past the waits a lost step leaves (payments.payouts: 5 minutes; a webhook's retry after a counted attempt: 1 to 2
# minutes), well within invoices' own expiry (an hour): what beat would see a few minutes after the crash.
SWEEP_AHEAD = timedelta(minutes=6)

DEPOSIT_POINTS = ["deposit.paid_not_credited", "deposit.credit_uncommitted", "deposit.credited"]
WEB_DEPOSIT_POINTS = ["deposit.paid_not_credited", "deposit.credit_uncommitted"]
WEBHOOK_POINTS = ["webhook.sending", "webhook.answered_not_recorded"]
WITHDRAW_PAYOUT_POINTS = ["payout.sending", "payout.paid_not_recorded"]
WITHDRAW_CLAIM_POINTS = ["withdraw.claim_uncommitted", "withdraw.claimed_not_enqueued"]
DISPUTE_POINTS = ["dispute.decision_uncommitted", "dispute.overturned_not_enqueued"]
KILLS: dict[str, int] = {}  # point -> kills in the running test, for the figures it prints


@pytest.fixture(autouse=True)
def count_kills_afresh() -> None:
    KILLS.clear()


@pytest.fixture(scope="module")
def lnbits_money_environment(lnbits, lnbits_platform_wallet) -> dict[str, str]:  # noqa: F811
    """The environment of the processes the tests start: a Boltwork whose backend is the platform wallet on the
    session's LNbits. A killed process keeps its outbound slot for a host until the slot expires
    (payments.host_limits): enough slots that the tests need not wait for that."""
    return {
        **lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet),
        "LNURL_HOST_CONCURRENCY": "32",
    }


@pytest.fixture
def money(settings, lnbits_money_environment) -> dict[str, str]:
    """The same settings for the test process; returns the environment."""
    point_settings_at_lnbits(settings, lnbits_money_environment)
    settings.LNURL_HOST_CONCURRENCY = 32
    return lnbits_money_environment


@pytest.fixture(scope="module")
def kill_folder() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="kill-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def kill_celery_worker_at(point: str, *, environment: dict, kill_folder: str, start_work) -> None:
    """Start a Celery worker that dies at `point`, give it work (`start_work()`, after the start: a new worker's
    queues are purged) and wait until it is dead."""
    flag = kill_point_arm(kill_folder, point)
    killing = {**environment, KILL_DIR_VARIABLE: kill_folder}
    with run_celery_worker(environment=killing, name=f"killed-{point}") as celery:
        start_work()
        wait_for(lambda: celery.process.poll() is not None or not flag.exists(), timeout=30, worker=celery,
                 message=f"the worker to reach {point}")  # fmt: skip
        wait_for(lambda: celery.process.poll() is not None, timeout=15, worker=celery, message="the worker to die")
    KILLS[point] = KILLS.get(point, 0) + 1


def lnbits_balance_change(lnbits, wallet, before: int) -> int:
    return lnbits.balance_msat(wallet) - before


def sweep_payouts(*, until, timeout: float = 60.0) -> None:
    """The payout sweeper's work (payments.background.advance_due_payouts), run here with its clock SWEEP_AHEAD
    ahead, until `until()` holds."""

    def swept() -> bool:
        later = timezone.now() + SWEEP_AHEAD
        for payout_id in payouts.payouts_due(now=later):
            payouts.payout_advance(payout_id=payout_id, now=later)
        for worker_id in payouts.workers_waiting_for_payout(now=later):
            started = payouts.payout_start_for_worker(worker_id=worker_id)
            if started is not None:
                payouts.payout_advance(payout_id=started.pk, now=later)
        return until()

    wait_for(
        swept,
        timeout=timeout,
        interval=0.5,
        message=lambda: "payouts: " + repr(list(Payout.objects.values_list("kind", "state", "attempts", "last_error"))),
    )


def assert_lightning_agrees(lnbits, platform_wallet, platform_before: int, *, deposited: int = 0) -> None:
    """The ledger balances, nothing is in flight, and the platform's LNbits wallet moved by exactly what the ledger
    says came in (deposits) and went out (payouts and their routing fees) in this test."""
    assert ledger_check() == []
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    succeeded = Payout.objects.filter(state=PayoutState.SUCCEEDED)
    paid_out = sum(payout.amount_msat + payout.fee_msat for payout in succeeded)
    assert platform(AccountKind.LIGHTNING_OUT) == paid_out
    assert lnbits_balance_change(lnbits, platform_wallet, platform_before) == deposited - paid_out


# Deposits credited (the Celery sweeper payments.background.sync_pending_deposits) ---------------------------------


@pytest.mark.parametrize("point", DEPOSIT_POINTS)
def test_a_deposit_sweep_killed_anywhere_credits_each_deposit_exactly_once(
    point,
    money,
    kill_folder,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    lightning_in_before = platform(AccountKind.LIGHTNING_IN)
    count = SCALE
    payer = lnbits.create_wallet(f"payer-{point}")
    lnbits.top_up(payer, count * AMOUNT_MSAT // MSAT_PER_SAT + 100)
    requesters = [make_user(funds_sats=0) for _ in range(count)]
    deposits = [deposit_create(user=requester, amount_msat=AMOUNT_MSAT) for requester in requesters]
    for deposit in deposits:
        lnbits.pay(payer, deposit.bolt11)  # paid on Lightning while nobody has the page open: the sweeper credits it

    for _ in range(count):
        kill_celery_worker_at(point, environment=money, kill_folder=kill_folder, start_work=sync_pending_deposits.delay)
    with run_celery_worker(environment=money, name="restarted") as celery:

        def all_credited() -> bool:
            sync_pending_deposits.delay()
            return not Deposit.objects.exclude(status=DepositStatus.PAID).exists()

        wait_for(all_credited, timeout=30, interval=0.5, worker=celery, message="every deposit credited")
        celery.wait_until_idle()

    for requester, deposit in zip(requesters, deposits, strict=True):
        assert available(requester) == AMOUNT_MSAT, requester.username
        assert LedgerTransaction.objects.filter(key=f"deposit:{deposit.payment_hash}").count() == 1
        assert Event.objects.filter(type="deposit.paid", subject_id=deposit.public_id).count() == 1
    assert platform(AccountKind.LIGHTNING_IN) - lightning_in_before == -count * AMOUNT_MSAT
    assert_lightning_agrees(lnbits, lnbits_platform_wallet, platform_before, deposited=count * AMOUNT_MSAT)
    print(f"\n{point}: {count} deposits, {KILLS[point]} kills, each credited once")


# Webhook deliveries (Celery: api.background.deliver_webhook) ------------------------------------------------------


@pytest.mark.parametrize("point", WEBHOOK_POINTS)
def test_a_webhook_worker_killed_anywhere_delivers_each_event_with_one_id(point, settings, money, kill_folder):
    count = SCALE
    with Receiver() as receiver:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [*settings.LNURL_ALLOWED_INSECURE_HOSTS, receiver.host_port]
        environment = {**money, "LNURL_ALLOWED_INSECURE_HOSTS": ",".join(settings.LNURL_ALLOWED_INSECURE_HOSTS)}
        requester = make_user()
        webhook_endpoint_create(user=requester, url=receiver.url)
        job = make_job(requester=requester, tasks=count)
        for _ in range(count):
            make_submitted_assignment(job=job, worker=make_user(funds_sats=0))  # an `assignment.submitted` webhook
        deliveries = list(WebhookDelivery.objects.values_list("pk", flat=True))
        assert len(deliveries) == count

        for _ in range(count):
            kill_celery_worker_at(point, environment=environment, kill_folder=kill_folder,
                                  start_work=deliver_due_webhooks.delay)  # fmt: skip

        def all_delivered() -> bool:
            later = timezone.now() + SWEEP_AHEAD
            for delivery_id in webhook_deliveries_due(now=later):
                webhook_deliver(delivery_id=delivery_id, now=later)
            return not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()

        wait_for(all_delivered, timeout=30, interval=0.5, message="every delivery delivered")
        received = list(receiver.requests)

    sent_ids = [int(request["headers"]["Boltwork-Delivery"]) for request in received]
    assert set(sent_ids) == set(deliveries)
    for delivery in WebhookDelivery.objects.select_related("event"):
        sendings = [request for request in received if int(request["headers"]["Boltwork-Delivery"]) == delivery.pk]
        # At least once; every sending is the same delivery: the same id, the same body.
        assert len({request["body"] for request in sendings}) == 1
        # The killed attempt is counted; it was answered and then forgotten (sent again), or never sent.
        assert delivery.attempts == 2
        assert len(sendings) == (2 if point == "webhook.answered_not_recorded" else 1)
        assert delivery.delivered_at is not None
        assert delivery.last_status_code == 200
    assert ledger_check() == []
    print(f"\n{point}: {count} deliveries, {KILLS[point]} kills, {len(received)} POSTs, each recorded delivered once")


# A gunicorn web server whose worker processes die at armed kill points -------------------------------------------


@contextlib.contextmanager
def run_gunicorn(*, environment: dict[str, str]) -> Iterator[str]:
    """gunicorn with the project's WSGI app on 127.0.0.1 and a free port, one sync worker (the master starts a new
    one when it dies), on the test database; yields its base URL."""
    port = free_port()
    database = connection.settings_dict
    full_environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,  # the test process's logged-in sessions must be valid there
        "DEBUG": "0",
        "SITE_URL": f"http://127.0.0.1:{port}",
        **environment,
    }
    log_file = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    log_path = Path(log_file.name)
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "marketplace.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--timeout", "60", "--graceful-timeout", "5",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=full_environment, stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(base_url) or process.poll() is not None, timeout=30, message="gunicorn to start")
        assert process.poll() is None, log_path.read_text()[-3000:]
        yield base_url
    finally:
        process.send_signal(signal.SIGQUIT)  # gunicorn's quick shutdown: nothing is left to answer
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log_path.unlink(missing_ok=True)


def answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/accounts/login/", timeout=5).status_code < 500
    except httpx.HTTPError:
        return False


def request_killed_at(point: str, *, kill_folder: str, base_url: str, send) -> None:
    """Arm `point`, send the request that reaches it (`send()`), see the connection drop as the worker process
    dies, and wait until the master has a new worker answering."""
    flag = kill_point_arm(kill_folder, point)
    try:
        answer = send()
    except httpx.TransportError:
        pass  # the process died under the request
    else:
        pytest.fail(f"The request came back ({answer.status_code}): {point} was not reached.")
    assert not flag.exists(), f"{point} was not reached"
    wait_for(lambda: answers(base_url), timeout=30, message="gunicorn's new worker to answer")
    KILLS[point] = KILLS.get(point, 0) + 1


@pytest.fixture(scope="module")
def web(django_db_setup, lnbits_money_environment, kill_folder) -> Iterator[str]:
    """One gunicorn for the module's web-side tests (its workers die and are replaced; the master stays)."""
    with run_gunicorn(environment={**lnbits_money_environment, KILL_DIR_VARIABLE: kill_folder}) as base_url:
        yield base_url


def lnurl_withdraw_callback(base_url: str, *, k1: str, invoice: str) -> httpx.Response:
    """What the worker's wallet does once it has made its invoice (LUD-03)."""
    return httpx.get(f"{base_url}{reverse('lnurl_withdraw_callback')}", params={"k1": k1, "pr": invoice}, timeout=30)


def withdraw_setup(lnbits, name: str):
    """A worker with earnings, their withdraw link, and the invoice their LNbits wallet made for it."""
    worker = make_user(funds_sats=0)
    give_earnings(worker, AMOUNT_MSAT)
    link = withdraw_link_create(worker=worker)
    wallet = lnbits.create_wallet(name)
    invoice = lnbits.create_invoice(wallet, link.max_withdrawable_msat // MSAT_PER_SAT, memo="Boltwork withdrawal")
    return worker, link, wallet, invoice["bolt11"]


# Withdraw links claimed (the web process: the wallet's LNURL-withdraw callback) -----------------------------------


@pytest.mark.parametrize("point", WITHDRAW_CLAIM_POINTS)
def test_a_web_process_killed_in_a_withdraw_claim_pays_the_link_once(
    point,
    money,
    kill_folder,
    web,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    claims = []
    for number in range(SCALE):
        worker, link, wallet, invoice = withdraw_setup(lnbits, f"withdraw-{point}-{number}")
        send = partial(lnurl_withdraw_callback, web, k1=link.k1, invoice=invoice)
        request_killed_at(point, kill_folder=kill_folder, base_url=web, send=send)
        # The wallet saw the connection drop and tries again: a claim that never committed is made now; one that
        # did is refused, and its payout (whose job was never sent) is the sweeper's to find.
        again = lnurl_withdraw_callback(web, k1=link.k1, invoice=invoice).json()
        if point == "withdraw.claim_uncommitted":
            assert again == {"status": "OK"}
        else:
            assert again == {"status": "ERROR", "reason": "This withdraw link was already used."}
        claims.append((worker, wallet))

    sweep_payouts(until=lambda: not Payout.objects.exclude(state=PayoutState.SUCCEEDED).exists())

    for worker, wallet in claims:
        assert lnbits.balance_msat(wallet) == AMOUNT_MSAT, worker.username
        assert Payout.objects.get(worker=worker).kind == PayoutKind.WITHDRAW  # one payout, paid
        assert earned(worker) == 0
    assert_lightning_agrees(lnbits, lnbits_platform_wallet, platform_before)
    print(f"\n{point}: {len(claims)} withdraw links, {KILLS[point]} kills, each paid once")


# A withdraw payout (Celery) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", WITHDRAW_PAYOUT_POINTS)
def test_a_worker_killed_paying_a_withdraw_link_pays_it_at_most_once_and_loses_nothing(
    point,
    money,
    kill_folder,
    web,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    """The wallet gave one invoice, so a withdraw payout is never asked for another: killed after its pay call, it
    is found paid; killed before, LNbits knows no such payment once it has settled, the payout fails and the money
    returns to the balance, from which the worker withdraws again."""
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    claims = []
    for number in range(SCALE):
        worker, link, wallet, invoice = withdraw_setup(lnbits, f"withdraw-pay-{point}-{number}")
        assert lnurl_withdraw_callback(web, k1=link.k1, invoice=invoice).json() == {"status": "OK"}
        payout = Payout.objects.get(worker=worker)
        kill_celery_worker_at(point, environment=money, kill_folder=kill_folder,
                              start_work=lambda payout=payout: enqueue_payout_advance(payout.pk))  # fmt: skip
        claims.append((worker, wallet, payout))

    sweep_payouts(until=every_payout_ended)
    for worker, wallet, payout in claims:
        payout.refresh_from_db()
        if point == "payout.sending":
            assert payout.state == PayoutState.FAILED, payout.last_error
            assert lnbits.balance_msat(wallet) == 0
            assert earned(worker) == AMOUNT_MSAT  # nothing lost: back in the balance
            _, link, _, invoice = withdraw_again(lnbits, worker, wallet)
            assert lnurl_withdraw_callback(web, k1=link.k1, invoice=invoice).json() == {"status": "OK"}
        else:
            assert payout.state == PayoutState.SUCCEEDED, payout.last_error
    sweep_payouts(until=every_payout_ended)

    for worker, wallet, _ in claims:
        assert lnbits.balance_msat(wallet) == AMOUNT_MSAT, worker.username
        assert Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).count() == 1
        assert earned(worker) == 0
    assert_lightning_agrees(lnbits, lnbits_platform_wallet, platform_before)
    print(f"\n{point} (withdraw payouts): {len(claims)} links, {KILLS[point]} kills, each paid once")


def every_payout_ended() -> bool:
    return not Payout.objects.exclude(state__in=[PayoutState.SUCCEEDED, PayoutState.FAILED]).exists()


def withdraw_again(lnbits, worker, wallet):
    link = withdraw_link_create(worker=worker)
    invoice = lnbits.create_invoice(wallet, link.max_withdrawable_msat // MSAT_PER_SAT, memo="Boltwork withdrawal")
    return worker, link, wallet, invoice["bolt11"]


# Deposits credited by the web process (a requester's script polling API v1) ------------------------------------


@pytest.mark.parametrize("point", WEB_DEPOSIT_POINTS)
def test_a_web_process_killed_crediting_a_deposit_credits_it_once(
    point,
    money,
    kill_folder,
    web,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    """The requester's script asks API v1 about its deposit; the web process that notices the payment dies. The
    script asks again while the sweeper runs: credited once, whichever gets there first."""
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    payer = lnbits.create_wallet(f"web-payer-{point}")
    lnbits.top_up(payer, SCALE * AMOUNT_MSAT // MSAT_PER_SAT + 100)
    credited = []
    for _ in range(SCALE):
        requester = make_user(funds_sats=0)
        _, secret = api_key_create(user=requester, name="script")
        deposit = deposit_create(user=requester, amount_msat=AMOUNT_MSAT)
        lnbits.pay(payer, deposit.bolt11)
        script = partial(httpx.get, f"{web}/api/v1/deposits/{deposit.public_id}",
                         headers={"Authorization": f"Bearer {secret}"}, timeout=30)  # fmt: skip
        request_killed_at(point, kill_folder=kill_folder, base_url=web, send=script)
        deposits_sync()
        assert script().json()["status"] == DepositStatus.PAID
        credited.append((requester, deposit))

    for requester, deposit in credited:
        assert available(requester) == AMOUNT_MSAT, requester.username
        assert LedgerTransaction.objects.filter(key=f"deposit:{deposit.payment_hash}").count() == 1
        assert Event.objects.filter(type="deposit.paid", subject_id=deposit.public_id).count() == 1
    assert_lightning_agrees(lnbits, lnbits_platform_wallet, platform_before, deposited=SCALE * AMOUNT_MSAT)
    print(f"\n{point} (web): {len(credited)} deposits, {KILLS[point]} kills, each credited once")


# Dispute overturns (the web process: a moderator's form) ----------------------------------------------------------


def moderator_browser(base_url: str, moderator) -> tuple[httpx.Client, str]:
    """A moderator's logged-in browser (a session of its own and a CSRF cookie) and the token its forms carry."""
    django_client = Client()
    django_client.force_login(moderator)
    session = django_client.cookies[settings.SESSION_COOKIE_NAME].value
    token = "t" * 32
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={token}"
    return httpx.Client(base_url=base_url, headers={"Cookie": cookie}, timeout=30), token


@pytest.mark.parametrize("point", DISPUTE_POINTS)
def test_a_web_process_killed_in_an_overturn_pays_the_worker_once(
    point,
    money,
    kill_folder,
    web,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    moderator = make_moderator()
    browser, token = moderator_browser(web, moderator)
    decided = []
    with browser:
        for number in range(SCALE):
            requester, worker = make_user(), make_user(funds_sats=0)
            wallet = lnbits.create_wallet(f"dispute-{point}-{number}")
            services.payout_destination_set(
                user=worker,
                address=f"{wallet.lightning_address}@{lnbits_host_port(lnbits)}",
                auto_payout=True,
                minimum_payout_msat=1_000,
            )
            job = make_job(requester=requester, tasks=2, reward_msat=AMOUNT_MSAT)
            assignment = assignment_review(
                assignment=make_submitted_assignment(job=job, worker=worker),
                reviewer=requester,
                approve=False,
                feedback="Half empty.",
                rejection_reason="incomplete",
            )
            dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Complete.")
            url = reverse("dispute_act", kwargs={"dispute_id": dispute.public_id})
            form = {"action": "overturn", "text": "It is complete.", "csrfmiddlewaretoken": token}
            send = partial(browser.post, url, data=form)
            request_killed_at(point, kill_folder=kill_folder, base_url=web, send=send)
            # The moderator sees an error page and sends the form again: decided now, or already decided.
            assert browser.post(url, data=form).status_code == 302
            decided.append((worker, wallet, job, dispute, assignment))

    workers = [worker for worker, *_ in decided]
    sweep_payouts(
        until=lambda: all(Payout.objects.filter(worker=w, state=PayoutState.SUCCEEDED).exists() for w in workers)
    )

    for worker, wallet, job, dispute, assignment in decided:
        dispute.refresh_from_db()
        assignment.refresh_from_db()
        assert dispute.status == DisputeStatus.OVERTURNED
        assert Event.objects.filter(type="dispute.decided", subject_id=dispute.public_id).count() == 1
        assert assignment.status == AssignmentStatus.APPROVED
        assert lnbits.balance_msat(wallet) == AMOUNT_MSAT, worker.username
        assert Payout.objects.filter(worker=worker).count() == 1
        assert earned(worker) == 0
        assert balance_msat(account=dispute_hold_account_of_job(job=job)) == 0
    assert_lightning_agrees(lnbits, lnbits_platform_wallet, platform_before)
    print(f"\n{point}: {len(decided)} overturns, {KILLS[point]} kills, each paid once")
