"""A payout whose step the database interrupted (SQLite's "database is locked" under `make run`) is asked again
within seconds, not left for the five-minute sweep of stale requests."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from core.models import Event
from payments import payouts
from payments.models import PayoutState
from payments.payouts import DATABASE_BUSY_RETRY, payout_advance
from tests.payments.conftest import started_payout

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


def test_a_database_error_while_storing_the_invoice_gives_the_request_back_at_once(wallet, monkeypatch):
    payout = started_payout(wallet)
    attempts_before = payout.attempts

    def locked(**kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(payouts, "_store_invoice", locked)
        with pytest.raises(OperationalError):
            payout_advance(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CREATED
    assert payout.attempts == attempts_before, "an interrupted request spends no attempt"
    assert payout.next_attempt_at <= timezone.now() + DATABASE_BUSY_RETRY
    assert "database was busy" in payout.last_error

    assert not Event.objects.filter(type="payout.invoice_verified", subject_id=payout.public_id).exists()
    payout_advance(payout_id=payout.pk, now=timezone.now() + DATABASE_BUSY_RETRY + timedelta(seconds=1))
    # Asked again, and this time the invoice was stored (the test wallet's invoices are not payable here).
    assert Event.objects.filter(type="payout.invoice_verified", subject_id=payout.public_id).exists()


def test_a_give_back_that_cannot_get_through_leaves_the_payout_to_the_sweeper(wallet, monkeypatch):
    payout = started_payout(wallet)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    real_transition = payouts._transition

    def transition_locked_back_to_created(payout, to_state, **kwargs):
        if to_state == PayoutState.CREATED:
            raise OperationalError("database is locked")
        real_transition(payout, to_state, **kwargs)

    monkeypatch.setattr(payouts, "_store_invoice", locked)
    monkeypatch.setattr(payouts, "_transition", transition_locked_back_to_created)
    monkeypatch.setattr(payouts.time, "sleep", lambda seconds: None)
    with pytest.raises(OperationalError):
        payout_advance(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.state == PayoutState.INVOICE_REQUESTED  # the STALE_REQUEST_AFTER rule recovers it
