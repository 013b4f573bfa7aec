"""A worker changes or removes their Lightning Address while payouts are open (security issue: open payouts kept
the old address and ended in the moderator queue with the money locked).

A payout with no invoice yet follows the new address; with no address, its amount returns to the earned balance;
a payout that holds an invoice is left alone, since that invoice may be paid already. The owner is told by email.
"""

from datetime import timedelta

import bolt11 as bolt11_lib
import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from payments.lightning import PaymentOutcome, PaymentResult
from payments.models import Payout, PayoutKind, PayoutState
from payments.payouts import SENDING_SETTLE_TIME, payout_advance, payout_create
from payments.services import payout_destination_set
from tests.balances import earned, in_flight
from tests.factories import give_earnings, make_user, set_payout_destination
from tests.payments.lnurl_test_server import FakeLnurlWallet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "six_payout_attempts")]

AMOUNT = 21_000


@pytest.fixture
def old_wallet(settings):
    with FakeLnurlWallet(name="alice") as server:
        yield server


@pytest.fixture
def new_wallet(settings, old_wallet):
    with FakeLnurlWallet(name="alice2") as server:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [old_wallet.host_port, server.host_port]
        yield server


@pytest.fixture
def worker(db, old_wallet):
    user = make_user("alice", funds_sats=0)
    give_earnings(user, AMOUNT)
    set_payout_destination(user, old_wallet.address, auto_payout=False)
    return user


def open_payout(worker, **fields) -> Payout:
    with transaction.atomic():
        return payout_create(
            worker=worker,
            kind=PayoutKind.LNURL_PAY,
            amount_msat=AMOUNT,
            destination=worker.payout_destination.address,
            **fields,
        )


class PayingNode:
    """Pays any invoice at once, with the preimage of whichever test wallet issued it (the development backend pays
    only invoices it made itself)."""

    def __init__(self, wallets) -> None:
        self.wallets = wallets
        self.paid: list[str] = []

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        self.paid.append(bolt11)
        payment_hash = bolt11_lib.decode(bolt11).payment_hash
        preimage = next(w.issued_preimages[payment_hash] for w in self.wallets if payment_hash in w.issued_preimages)
        return PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage, fee_msat=0)


@pytest.fixture
def node(monkeypatch, old_wallet, new_wallet):
    paying = PayingNode([old_wallet, new_wallet])
    monkeypatch.setattr("payments.payouts.get_backend", lambda: paying)
    return paying


def change_address(worker, address: str):
    return payout_destination_set(user=worker, address=address, auto_payout=False, minimum_payout_msat=1_000)


def test_a_payout_without_an_invoice_follows_the_new_address(worker, new_wallet, old_wallet, node):
    payout = open_payout(worker)

    change_address(worker, new_wallet.address)

    payout.refresh_from_db()
    assert (payout.state, payout.destination) == (PayoutState.CREATED, new_wallet.address)
    payout = payout_advance(payout_id=payout.pk)
    assert payout.state == PayoutState.SUCCEEDED
    assert payout.payment_hash in new_wallet.issued_preimages
    assert not old_wallet.requests_to(old_wallet.callback_path)


def test_a_payout_waiting_for_a_moderator_gets_fresh_attempts_at_the_new_address(worker, new_wallet):
    payout = open_payout(worker)
    Payout.objects.filter(pk=payout.pk).update(
        state=PayoutState.NEEDS_MODERATOR, attempts=6, last_error="The wallet refused: unknown user"
    )

    change_address(worker, new_wallet.address)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED
    assert payout.destination == new_wallet.address
    assert payout.attempts == 0
    assert payout.next_attempt_at <= timezone.now()
    assert "new one" in payout.last_error
    assert in_flight() == AMOUNT


def test_removing_the_address_returns_the_money_of_payouts_without_an_invoice(worker):
    created = open_payout(worker)

    change_address(worker, "")

    created.refresh_from_db()
    assert created.state == PayoutState.FAILED
    assert "removed your Lightning Address" in created.last_error
    assert earned(worker) == AMOUNT
    assert in_flight() == 0


def test_a_payout_holding_an_invoice_is_left_alone(worker, new_wallet, old_wallet):
    payout = open_payout(worker)
    Payout.objects.filter(pk=payout.pk).update(state=PayoutState.SENDING, bolt11="lnbc1fake", payment_hash="ab" * 32)

    change_address(worker, new_wallet.address)
    change_address(worker, "")

    payout.refresh_from_db()
    assert payout.state == PayoutState.SENDING
    assert payout.destination == old_wallet.address
    assert in_flight() == AMOUNT


@pytest.mark.django_db(transaction=True)
def test_an_invoice_asked_of_the_old_address_while_the_worker_changes_it_is_dropped(
    worker, new_wallet, old_wallet, node
):
    """The worker saves a new address while the payout's request to the old one is under way: the old wallet's
    invoice must not be paid; the payout asks the new wallet instead."""
    payout = open_payout(worker)
    answer_with_old_invoice = old_wallet.invoice_answer

    def change_address_while_answering(query):
        # The wallet server's own thread, so its own database connection: like the worker's request would be.
        change_address(worker, new_wallet.address)
        connection.close()
        return answer_with_old_invoice(query)

    old_wallet.invoice_answer = change_address_while_answering

    payout = payout_advance(payout_id=payout.pk)

    assert old_wallet.requests_to(old_wallet.callback_path)  # the old wallet was asked, and answered
    assert payout.state == PayoutState.SUCCEEDED
    assert payout.destination == new_wallet.address
    assert node.paid == [payout.bolt11]
    assert payout.payment_hash in new_wallet.issued_preimages


def test_the_owner_is_told_by_email_when_the_address_changes_and_only_then(
    worker, new_wallet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change_address(worker, new_wallet.address)
    with django_capture_on_commit_callbacks(execute=True):
        change_address(worker, new_wallet.address)  # the same again: nothing changed

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [worker.email]
    assert "payout address was changed" in message.subject
    assert new_wallet.address in message.body
    assert "If you did not" in message.body


class InFlightThenFailedNode(PayingNode):
    """The first payment's outcome is unknown, and the node later says it failed; later payments are paid."""

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        if not self.paid:
            self.paid.append(bolt11)
            return PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason="in flight")
        return super().pay_invoice(bolt11=bolt11, fee_limit_msat=fee_limit_msat)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        return PaymentResult(outcome=PaymentOutcome.FAILED, reason="no route")


def test_an_invoice_dropped_after_the_address_changed_is_asked_again_of_the_new_address(
    worker, new_wallet, old_wallet, monkeypatch
):
    """The payout held the old wallet's invoice when the worker changed address, so it was left alone; once that
    invoice turned out failed, the next one must come from the new address."""
    node = InFlightThenFailedNode([old_wallet, new_wallet])
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    payout = payout_advance(payout_id=open_payout(worker).pk)
    assert payout.state == PayoutState.SENDING  # holding the old wallet's invoice

    change_address(worker, new_wallet.address)
    assert Payout.objects.get(pk=payout.pk).destination == old_wallet.address  # left alone: it may be paid
    later = timezone.now() + SENDING_SETTLE_TIME + timedelta(seconds=1)
    payout = payout_advance(payout_id=payout.pk, now=later)  # the node is sure now: it failed
    assert (payout.state, payout.payment_hash) == (PayoutState.CREATED, None)

    payout = payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)

    assert payout.state == PayoutState.SUCCEEDED
    assert payout.destination == new_wallet.address
    assert payout.payment_hash in new_wallet.issued_preimages
    assert len(old_wallet.requests_to(old_wallet.callback_path)) == 1


def test_a_payout_started_as_the_address_changed_asks_the_new_address(worker, new_wallet, old_wallet, node):
    payout = open_payout(worker)  # made with the old address, as a start racing the change would
    set_payout_destination(worker, new_wallet.address)  # the change, saved without following the payout

    payout = payout_advance(payout_id=payout.pk)

    assert (payout.state, payout.destination) == (PayoutState.SUCCEEDED, new_wallet.address)
    assert not old_wallet.requests_to(old_wallet.callback_path)


@pytest.mark.django_db(transaction=True)
def test_removing_the_address_during_the_last_attempt_returns_the_money(settings, worker, old_wallet, new_wallet):
    """The last allowed request to the old wallet fails while the worker removes the address: the payout must not
    wait for a moderator with nowhere to pay."""
    settings.PAYOUT_MAX_ATTEMPTS = 1
    payout = open_payout(worker)

    def remove_address_and_refuse(handler):
        change_address(worker, "")
        connection.close()
        handler.send_json({"status": "ERROR", "reason": "try later"})

    old_wallet.route(old_wallet.callback_path, remove_address_and_refuse)

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.FAILED
    assert "removed your Lightning Address" in payout.last_error
    assert earned(worker) == AMOUNT
    assert in_flight() == 0
