"""Each kind of notification, made from the event the real service records, for the person it concerns."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.models import EmailState, NotificationKind
from payments.deposits import deposit_create, deposit_refresh
from payments.lightning import get_backend
from payments.models import PayoutState
from payments.payouts import payout_advance, payout_start_for_worker
from payments.withdraw import withdraw_claim, withdraw_link_create
from tasks.bonuses import bonus_pay
from tasks.models import RejectionReason
from tasks.services import assignment_claim, assignment_review, assignments_auto_approve_due
from tests.factories import give_earnings, make_job, make_submitted_assignment, make_user, set_payout_destination
from tests.notifications.conftest import notifications_of

pytestmark = pytest.mark.django_db


# Work ------------------------------------------------------------------------------------------------------------


def test_approved_work_tells_the_worker_what_they_earned_and_not_the_requester(committed, requester, worker):
    job = make_job(requester=requester, tasks=2, reward_msat=21_000)
    assignment = make_submitted_assignment(job=job, worker=worker)

    with committed():
        assignment_review(assignment=assignment, reviewer=requester, approve=True, feedback="Neat work.")

    [notification] = notifications_of(worker)
    assert notification.kind == NotificationKind.WORK_APPROVED
    assert notification.title == "Work approved: “Rate a review”"
    assert "Task 1 of “Rate a review” was approved by the requester: you earned 21 sats." in notification.body
    assert "Feedback: Neat work." in notification.body
    assert notification.link == reverse("assignment_detail", args=[assignment.public_id])
    assert notification.read_at is None
    assert notifications_of(requester) == []


def test_work_approved_at_the_end_of_the_review_period_says_so(committed, requester, worker):
    job = make_job(requester=requester, tasks=1, auto_approve_seconds=3600)
    make_submitted_assignment(job=job, worker=worker)

    with committed():
        assert assignments_auto_approve_due(now=timezone.now() + timedelta(hours=2)) == 1

    [notification] = notifications_of(worker)
    assert "approved automatically, as the review period ended" in notification.body


def test_rejected_work_tells_the_worker_the_reason_and_the_message(committed, requester, worker):
    job = make_job(requester=requester, tasks=1)
    assignment = make_submitted_assignment(job=job, worker=worker)

    with committed():
        assignment_review(
            assignment=assignment,
            reviewer=requester,
            approve=False,
            feedback="The second half of the review was skipped.",
            rejection_reason=RejectionReason.INCOMPLETE,
        )

    [notification] = notifications_of(worker)
    assert notification.kind == NotificationKind.WORK_REJECTED
    assert notification.title == "Work rejected: “Rate a review”"
    assert "Reason: Incomplete." in notification.body
    assert "Message from the requester: The second half of the review was skipped." in notification.body
    assert "dispute it from the task's page within 7 days" in notification.body
    assert notification.link == reverse("assignment_detail", args=[assignment.public_id])


def test_a_bonus_tells_the_worker_the_amount_and_the_reason(committed, requester, worker):
    approved = give_earnings(worker, 10_000, requester=requester)

    with committed():
        bonus_pay(
            requester=requester,
            worker_id=worker.public_id,
            assignment_id=approved.public_id,
            amount_msat=5_000,
            reason="Thorough answers.",
        )

    [notification] = notifications_of(worker, kind=NotificationKind.BONUS_RECEIVED)
    assert notification.title == "Bonus received: 5 sats"
    assert f"{requester.username} paid you a bonus of 5 sats." in notification.body
    assert "Their reason: Thorough answers." in notification.body
    assert notification.link == reverse("wallet")


# Payouts ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def small_payouts(settings):
    settings.PAYOUT_MIN_MSAT = 1_000
    settings.WITHDRAW_MIN_MSAT = 1_000


@pytest.mark.usefixtures("small_payouts")
def test_a_payout_paid_tells_its_worker(committed, worker):
    give_earnings(worker, 21_000)
    link = withdraw_link_create(worker=worker)
    # The worker's wallet is played by the development backend: it pays only invoices it made itself.
    invoice = get_backend().create_invoice(amount_msat=21_000, memo="Worker's wallet")

    with committed():
        payout = withdraw_claim(k1=link.k1, invoice=invoice.bolt11)  # its job pays it once this commits

    payout.refresh_from_db()
    assert payout.state == PayoutState.SUCCEEDED
    [notification] = notifications_of(worker, kind=NotificationKind.PAYOUT_SENT)
    assert notification.title == "Payout sent: 21 sats"
    assert "A payout of 21 sats from your earnings was paid." in notification.body
    assert notification.link == reverse("payouts")


@pytest.mark.usefixtures("small_payouts")
def test_a_payout_that_failed_tells_its_worker_the_money_is_back(committed, worker):
    give_earnings(worker, 21_000)
    set_payout_destination(worker, "worker at wallet dot example")
    payout = payout_start_for_worker(worker_id=worker.pk)

    with committed():
        payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.FAILED
    [notification] = notifications_of(worker, kind=NotificationKind.PAYOUT_FAILED)
    assert notification.title == "Payout failed: 21 sats back in your balance"
    assert "the amount is back in your balance" in notification.body
    assert "Lightning Address" in notification.body  # what went wrong
    assert notification.link == reverse("payouts")


@pytest.mark.usefixtures("small_payouts")
def test_a_payout_waiting_for_a_moderator_tells_its_worker(committed, settings, worker):
    settings.PAYOUT_MAX_ATTEMPTS = 1
    with socket.socket() as probe:  # a port nothing listens on: the wallet's server is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [f"127.0.0.1:{port}"]
    give_earnings(worker, 21_000)
    set_payout_destination(worker, f"worker@127.0.0.1:{port}")
    payout = payout_start_for_worker(worker_id=worker.pk)

    with committed():
        payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.NEEDS_MODERATOR
    [notification] = notifications_of(worker, kind=NotificationKind.PAYOUT_NEEDS_MODERATOR)
    assert notification.title == "Payout waiting for a moderator: 21 sats"
    assert "A moderator will retry it, or cancel it and return the amount to your balance" in notification.body


# Requesters ------------------------------------------------------------------------------------------------------


def test_a_deposit_paid_tells_the_requester(committed, settings, requester):
    settings.DEPOSIT_MIN_MSAT = 1_000
    deposit = deposit_create(user=requester, amount_msat=50_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)  # the payer's wallet

    with committed():
        deposit_refresh(deposit=deposit)

    [notification] = notifications_of(requester)
    assert notification.kind == NotificationKind.DEPOSIT_RECEIVED
    assert notification.title == "Deposit received: 50 sats"
    assert notification.link == reverse("deposit_detail", args=[deposit.public_id])


def test_the_approval_that_finishes_a_job_tells_its_requester(committed, requester):
    job = make_job(requester=requester, tasks=2)
    first, last = (make_submitted_assignment(job=job) for _ in range(2))
    with committed():
        assignment_review(assignment=first, reviewer=requester, approve=True)
    assert notifications_of(requester) == []

    with committed():
        assignment_review(assignment=last, reviewer=requester, approve=True)

    [notification] = notifications_of(requester)
    assert notification.kind == NotificationKind.JOB_FINISHED
    assert notification.title == "Job finished: “Rate a review”"
    assert "(2 approved)" in notification.body
    assert notification.link == reverse("job_manage", args=[job.public_id])


def test_a_job_down_to_its_last_tenth_of_slots_tells_its_requester_once(committed, requester):
    job = make_job(requester=requester, tasks=10, assignments_per_task=2)  # 20 slots: told when 2 are left

    with committed():
        for _ in range(17):
            assignment_claim(job=job, worker=make_user())
    assert notifications_of(requester) == []

    with committed():
        assignment_claim(job=job, worker=make_user())

    [notification] = notifications_of(requester)
    assert notification.kind == NotificationKind.JOB_FUNDS_LOW
    assert notification.title == "Funds running out: “Rate a review”"
    assert notification.body.startswith("Only 2 of its 20 task slots are still open")
    assert notification.link == reverse("job_manage", args=[job.public_id])

    with committed():
        assignment_claim(job=job, worker=make_user())
        assignment_claim(job=job, worker=make_user())
    assert notifications_of(requester) == [notification]


def test_claims_that_take_the_last_slots_at_once_are_told_once(committed, requester):
    job = make_job(requester=requester, tasks=10)

    with committed():  # the handlers run after all ten claims: they find no slot open
        for _ in range(10):
            assignment_claim(job=job, worker=make_user())

    [notification] = notifications_of(requester)
    assert notification.body.startswith("All 10 of its task slots are taken")


def test_a_job_of_fewer_than_ten_slots_is_not_said_to_run_out_of_funds(committed, requester):
    job = make_job(requester=requester, tasks=9)

    with committed():
        for _ in range(9):
            assignment_claim(job=job, worker=make_user())

    assert notifications_of(requester) == []


# What every kind shares ------------------------------------------------------------------------------------------


def test_a_notification_is_emailed_with_a_link_to_its_page(committed, settings, requester, worker):
    assignment = make_submitted_assignment(job=make_job(requester=requester, tasks=2), worker=worker)

    with committed():
        assignment_review(assignment=assignment, reviewer=requester, approve=True)

    [notification] = notifications_of(worker)
    assert notification.email_state == EmailState.SENT
    [email] = mail.outbox
    assert email.to == [worker.email]
    assert email.subject == "Boltwork: Work approved: “Rate a review”"
    assert notification.body in email.body
    assert f"{settings.SITE_URL}{notification.link}" in email.body
    assert f"{settings.SITE_URL}/notifications/settings/" in email.body
