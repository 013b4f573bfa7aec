"""Fixtures shared by the payments tests: the money settings they all run under, the ones several modules share,
a worker's wallet service, and background jobs recorded for the tests to run themselves."""

import socket

import pytest

from payments import background, payouts
from payments.models import Payout
from tests.factories import give_earnings, make_user, set_payout_destination
from tests.payments.lnurl_test_server import FakeLnurlWallet


@pytest.fixture(autouse=True)
def dev_backend_on_mainnet(settings):
    """The development Lightning backend (no real money moves) making mainnet invoices, whatever the environment
    says. A test about another backend or network sets it itself."""
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "mainnet"


@pytest.fixture
def fee_limits(settings):
    """Routing fees the platform pays: up to the greater of 10 sats and 1 %, never more than 5 % of the amount."""
    settings.PAYOUT_FEE_LIMIT_FLOOR_MSAT = 10_000
    settings.PAYOUT_FEE_LIMIT_BASIS_POINTS = 100
    settings.PAYOUT_FEE_LIMIT_MAX_BASIS_POINTS = 500


@pytest.fixture
def six_payout_attempts(settings):
    settings.PAYOUT_MAX_ATTEMPTS = 6


@pytest.fixture
def small_withdrawals(settings):
    """Withdrawals from 1 sat: tests of the claim mechanics use a few sats; the minimum has tests of its own."""
    settings.WITHDRAW_MIN_MSAT = 1_000


@pytest.fixture
def no_allowlisted_hosts(settings):
    """Every wallet must be reached over https, unless a test allowlists its own (the `wallet` fixture does)."""
    settings.LNURL_ALLOWED_INSECURE_HOSTS = []


@pytest.fixture
def only_local_connections(monkeypatch):
    """Records every outgoing TCP connection and refuses any that is not to 127.0.0.1: the test fails rather than
    reach the internet."""
    attempted: list[tuple] = []
    real_create_connection = socket.create_connection

    def guarded(address, *args, **kwargs):
        attempted.append(address)
        if address[0] != "127.0.0.1":
            raise AssertionError(f"the code under test tried to connect to {address}")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempted


@pytest.fixture
def wallet(settings):
    """A worker's wallet service that answers LNURL-pay with invoices signed by a key of its own, allowlisted as
    development would allowlist it."""
    with FakeLnurlWallet() as server:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [server.host_port]
        yield server


@pytest.fixture
def enqueued(monkeypatch):
    """Background jobs enqueued on commit, recorded instead of sent to the broker: the tests play the Celery
    worker themselves with `run_background_jobs`."""
    jobs: list[tuple[str, int]] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def delay(self, argument: int) -> None:
            jobs.append((self.name, argument))

    monkeypatch.setattr(background, "advance_payout", Recorder("advance_payout"))
    monkeypatch.setattr(background, "pay_out_worker", Recorder("pay_out_worker"))
    return jobs


def run_background_jobs(jobs: list[tuple[str, int]]) -> None:
    """What a Celery worker would do with the enqueued jobs, in order, including those they enqueue."""
    while jobs:
        name, argument = jobs.pop(0)
        if name == "pay_out_worker":
            background.queued_payout_start(argument)
        else:
            payouts.payout_advance(payout_id=argument)


def started_payout(wallet: FakeLnurlWallet) -> Payout:
    """The payout started for a new worker, alice, who has earned 21 sats and is paid at the wallet's address."""
    worker = make_user("alice", funds_sats=0)
    give_earnings(worker, 21_000)
    set_payout_destination(worker, wallet.address)
    payout = payouts.payout_start_for_worker(worker_id=worker.pk)
    assert payout is not None
    return payout
