"""Fixtures shared by the payments tests. (Older modules still define their own copies of `enqueued`.)"""

import pytest

from payments import background, payouts
from tests.payments.lnurl_test_server import FakeLnurlWallet


@pytest.fixture
def wallet(settings):
    """A worker's wallet service that answers LNURL-pay with invoices signed by a key of its own, allowlisted as
    development would allowlist it."""
    server = FakeLnurlWallet().start()
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [server.host_port]
    yield server
    server.stop()


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
            payouts.payout_start_for_worker(worker_id=argument)
        else:
            payouts.payout_advance(payout_id=argument)
