"""One request in flight per destination host (payments/host_limits.py), and jobs stopped by their time limits
(security issue 7, item 2).

A slow wallet or webhook server may hold each request until its deadline. The per-host slots keep it from holding
more than one outbound worker process at a time: a payout or delivery that finds its host busy is put off a moment
without spending an attempt. And a job stopped by Celery's soft time limit leaves its row where a sweeper picks
it up. Slots live in the test Redis (REDIS_URL), as in production.
"""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from api import background as api_background
from api.models import DeliveryStatus, WebhookDelivery
from api.webhooks import webhook_deliver, webhook_endpoint_create
from payments import background, host_limits, lnurl_client
from payments.host_limits import (
    KEY_PREFIX,
    HostSlot,
    host_slot_acquire,
    payout_host_slot,
    redis_client,
    url_host,
    webhook_host_slot,
)
from payments.lightning import PaymentOutcome, PaymentResult
from payments.models import Payout, PayoutState
from payments.payouts import STALE_REQUEST_AFTER, payout_advance, payouts_due
from tests.factories import make_job, make_submitted_assignment
from tests.payments.conftest import started_payout

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_slots(settings):
    """No slot left over from another test (or a test process that was killed while holding one)."""
    settings.LNURL_HOST_CONCURRENCY = 1
    settings.LNURL_HOST_BUSY_RETRY_SECONDS = 5
    client = redis_client(settings.REDIS_URL)
    for key in client.scan_iter(f"{KEY_PREFIX}:*"):
        client.delete(key)
    yield
    for key in client.scan_iter(f"{KEY_PREFIX}:*"):
        client.delete(key)


@pytest.fixture
def rescheduled(monkeypatch):
    """Jobs a background job sent again with a countdown, recorded instead of sent to the broker."""
    sent: list[tuple[str, tuple, float]] = []

    def recorder(task):
        return lambda args, countdown: sent.append((task.name, args, countdown))

    monkeypatch.setattr(background.advance_payout, "apply_async", recorder(background.advance_payout))
    monkeypatch.setattr(api_background.deliver_webhook, "apply_async", recorder(api_background.deliver_webhook))
    return sent


def assert_sent_again_once_in_five_seconds(rescheduled: list, task, pk: int) -> None:
    """The job was sent again once, for this row, to run when the host's busy wait (5 s) is over."""
    ((name, args, countdown),) = rescheduled
    assert (name, args) == (task.name, (pk,))
    assert 4 < countdown <= 5.1


class StoppingNode:
    """A Lightning backend whose pay call is stopped by Celery's soft time limit, as a slow node's would be.

    A fake because the real thing needs a pay call that outlasts the job's time limit, minutes long."""

    name = "stopping"
    moves_real_money = True

    def __init__(self) -> None:
        self.status = PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="in flight")

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        raise SoftTimeLimitExceeded()

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        return self.status


# The slots ------------------------------------------------------------------------------------------------------


def test_one_slot_per_host_and_kind_until_it_is_released(settings):
    first = host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10)

    assert first is not None
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is None
    assert host_slot_acquire(kind="payout", host="other.example", hold_seconds=10) is not None
    # Webhooks count apart: a requester's endpoints cannot crowd out payouts to the same host.
    assert host_slot_acquire(kind="webhook", host="wallet.example", hold_seconds=10) is not None
    # Held in the shared Redis, so every process counts the same slot, and it expires on its own.
    ttl_ms = redis_client(settings.REDIS_URL).pttl(first.key)
    assert 10_000 < ttl_ms <= (10 + host_limits.HOLD_MARGIN_SECONDS) * 1000

    first.release()
    first.release()  # twice does no harm
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is not None


def test_the_concurrency_setting_gives_that_many_slots(settings):
    settings.LNURL_HOST_CONCURRENCY = 2

    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is not None
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is not None
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is None


def test_a_late_release_never_frees_a_slot_someone_else_took_after_it_expired(settings):
    mine = host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10)
    redis_client(settings.REDIS_URL).delete(mine.key)  # as if it had expired
    theirs = host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10)

    mine.release()

    assert theirs is not None
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is None


def test_without_redis_the_django_cache_holds_the_slots(settings):
    settings.REDIS_URL = ""

    slot = host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10)

    assert slot is not None
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is None
    slot.release()
    assert host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10) is not None


def test_when_redis_cannot_be_reached_the_limit_is_skipped_not_the_payout(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    slot = host_slot_acquire(kind="payout", host="wallet.example", hold_seconds=10)

    assert isinstance(slot, HostSlot)
    slot.release()


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Wallet.Example:8443/.well-known/lnurlp/a", "wallet.example"),  # one server, whatever the port
        ("https://bücher.example/x", "xn--bcher-kva.example"),
        ("https://[::1]:8080/", "::1"),
        ("not a url", ""),
    ],
)
def test_the_host_is_the_servers_name_without_the_port(url, host):
    assert url_host(url) == host


def test_a_destination_that_does_not_parse_gets_an_empty_slot_and_fails_on_its_own():
    slot = payout_host_slot("not an address")

    assert slot is not None
    assert slot.key is None


# Payouts --------------------------------------------------------------------------------------------------------


def test_a_payout_whose_wallet_host_is_busy_waits_without_spending_an_attempt(wallet, rescheduled):
    payout = started_payout(wallet)
    other_payout_to_the_same_host = payout_host_slot(payout.destination)
    before = timezone.now()

    background.advance_payout(payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 0
    assert before + timedelta(seconds=5) <= payout.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    assert wallet.requests == []
    # The job comes back when the payout is due, rather than at the next sweep.
    assert_sent_again_once_in_five_seconds(rescheduled, background.advance_payout, payout.pk)

    other_payout_to_the_same_host.release()
    payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)

    payout.refresh_from_db()
    assert payout.attempts == 1
    assert len(wallet.requests_to(wallet.callback_path)) == 1


def test_a_payout_in_its_ordinary_backoff_is_left_to_the_sweeper(wallet, rescheduled):
    payout = started_payout(wallet)
    wallet.route(f"/.well-known/lnurlp/{wallet.name}", lambda handler: handler.send_json({"status": "ERROR"}, 500))

    background.advance_payout(payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED
    assert payout.attempts == 1
    assert rescheduled == []


def test_the_slot_is_released_after_the_invoice_request_whatever_its_outcome(wallet):
    payout = started_payout(wallet)
    wallet.route(f"/.well-known/lnurlp/{wallet.name}", lambda handler: handler.send_json({"status": "ERROR"}, 500))

    payout_advance(payout_id=payout.pk)

    assert Payout.objects.get(pk=payout.pk).attempts == 1
    assert payout_host_slot(payout.destination) is not None


def test_a_payout_stopped_by_the_soft_time_limit_while_asking_for_an_invoice_is_recovered_by_the_sweeper(
    wallet, monkeypatch
):
    payout = started_payout(wallet)

    def stopped(url, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(lnurl_client, "fetch_pay_request", stopped)

    with pytest.raises(SoftTimeLimitExceeded):
        payout_advance(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.INVOICE_REQUESTED  # stored before the request, so nothing is lost
    assert payout_host_slot(payout.destination) is not None  # and its host is free again
    payouts_due(now=timezone.now() + STALE_REQUEST_AFTER + timedelta(seconds=1))
    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED  # to be asked again: no invoice was ever stored
    assert payouts_due(now=payout.next_attempt_at) == [payout.pk]


def test_a_payout_stopped_by_the_soft_time_limit_mid_send_stays_sending_and_the_sweeper_settles_it(wallet, monkeypatch):
    node = StoppingNode()
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    payout = started_payout(wallet)

    with pytest.raises(SoftTimeLimitExceeded):
        payout_advance(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.SENDING  # might have been paid: never treated as failed
    assert payout.pk in payouts_due()
    preimage = wallet.issued_preimages[payout.payment_hash]
    node.status = PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage, fee_msat=0)

    payout_advance(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.SUCCEEDED
    assert payout.preimage == preimage


# Webhooks -------------------------------------------------------------------------------------------------------


def test_a_webhook_whose_host_is_busy_waits_without_spending_an_attempt(rescheduled, monkeypatch):
    posted: list[str] = []
    monkeypatch.setattr("api.webhooks.safe_post", lambda url, **kwargs: posted.append(url) or 200)
    job = make_job(tasks=1)
    webhook_endpoint_create(user=job.requester, url="https://hooks.example/boltwork")
    make_submitted_assignment(job=job)
    delivery = WebhookDelivery.objects.get()
    other_delivery_to_the_same_host = webhook_host_slot("https://hooks.example/other")

    api_background.deliver_webhook(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert posted == []
    assert_sent_again_once_in_five_seconds(rescheduled, api_background.deliver_webhook, delivery.pk)

    other_delivery_to_the_same_host.release()
    webhook_deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert posted == ["https://hooks.example/boltwork"]
    assert webhook_host_slot("https://hooks.example/boltwork") is not None  # released after the POST
