"""Races over HTTP (issue 15): requests fired at once at a live server, each from its own client and so on its own
connection and server thread (with its own database connection), as separate browsers, scripts and web processes
would send them.

Each race ends in exactly one outcome, the money the outcome implies, and a balanced ledger. Run with `-s` to see
the figures: threads, attempts and the answers they got.
"""

import os
import time
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import reverse

from api.services import api_key_create
from core.models import Event
from marketplace.escrow import escrow_per_slot_msat, platform_fee_msat
from payments import background
from payments.ledger import account_of_job, balance_msat, dispute_hold_account_of_job, ledger_check
from payments.lightning import get_backend
from payments.models import Payout, PayoutSource, WithdrawLink
from payments.withdraw import withdraw_link_create
from tasks import disputes
from tasks.models import Assignment, AssignmentStatus, DisputeStatus, Task
from tasks.services import assignment_review
from tests.balances import available, earned, fees, in_flight
from tests.concurrency import run_in_threads
from tests.factories import (
    give_earnings,
    make_claimed_assignment,
    make_job,
    make_moderator,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/v1"
# The races whose winner varies run this many rounds, each on fresh rows (RELIABILITY_SCALE multiplies them).
ROUNDS = range(3 * int(os.environ.get("RELIABILITY_SCALE", "1")))


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Payouts enqueued on commit are recorded, not sent to Celery: these races are about the books, not paying."""
    enqueued: list[tuple[str, int]] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def delay(self, argument: int) -> None:
            enqueued.append((self.name, argument))

    monkeypatch.setattr(background, "advance_payout", Recorder("advance_payout"))
    monkeypatch.setattr(background, "pay_out_worker", Recorder("pay_out_worker"))
    return enqueued


OPEN_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients():
    """Close every client after its test: a kept-alive connection holds its server thread, and that thread's
    database connection, open past the test (and the test database cannot be dropped)."""
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def http_client(**kwargs) -> httpx.Client:
    client = httpx.Client(timeout=30, **kwargs)
    OPEN_CLIENTS.append(client)
    return client


def api_client(live_server, user) -> httpx.Client:
    _, secret = api_key_create(user=user, name="race")
    return http_client(base_url=f"{live_server.url}{API}", headers={"Authorization": f"Bearer {secret}"})


def web_client(live_server, user) -> tuple[httpx.Client, str]:
    """A logged-in browser: a session of its own and a CSRF cookie; returns it with the token its forms carry."""
    django_client = Client()
    django_client.force_login(user)
    session = django_client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = _get_new_csrf_string()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return http_client(base_url=live_server.url, headers={"Cookie": cookie}), csrf


def race(what: str, calls: list) -> list[httpx.Response]:
    """Fire `calls` (each a function of no arguments making one request) at once; print and return the answers."""
    answers = run_in_threads(len(calls), lambda index: calls[index](), what=what)
    failures = [answer for answer in answers if isinstance(answer, Exception)]
    assert not failures, failures
    statuses = dict(Counter(answer.status_code for answer in answers))
    print(f"\n[race] {what}: {len(calls)} threads, {len(calls)} attempts, answers {statuses}")
    return answers


def ok(answers: list[httpx.Response]) -> list[httpx.Response]:
    return [answer for answer in answers if 200 <= answer.status_code < 300]


def assert_refusals(answers: list[httpx.Response]) -> None:
    """Every answer that did not win is a clear refusal: a 4xx with a message, never a 5xx."""
    for answer in answers:
        assert answer.status_code < 500, answer.text[:500]


# 1. Claims -------------------------------------------------------------------------------------------------------


def test_32_workers_claim_ten_slots_at_once(live_server):
    job = make_job(tasks=5, assignments_per_task=2)
    workers = [make_user(funds_sats=0) for _ in range(32)]
    clients = [api_client(live_server, worker) for worker in workers]

    answers = race("32 workers claim 10 slots", [lambda c=c: c.post(f"/jobs/{job.public_id}/claim") for c in clients])

    assert_refusals(answers)
    assert len(ok(answers)) == 10
    assert all(answer.status_code == 201 for answer in ok(answers))
    assignments = list(Assignment.objects.filter(job=job).values_list("task_id", "worker_id"))
    assert len(assignments) == 10
    assert len({worker for _, worker in assignments}) == 10, "a worker got two slots"
    assert max(Counter(task for task, _ in assignments).values()) == 2, "a task got more than its slots"
    assert set(Task.objects.filter(job=job).values_list("slots_open", flat=True)) == {0}
    job.refresh_from_db()
    assert (job.open_slot_count, job.live_assignment_count) == (0, 10)
    assert balance_msat(account=account_of_job(job=job)) == 10 * escrow_per_slot_msat(job)
    assert ledger_check() == []


# 2. Submit -------------------------------------------------------------------------------------------------------


def test_the_same_assignment_submitted_twice_at_once(live_server):
    job = make_job(tasks=2)
    worker = make_user(funds_sats=0)
    assignment = make_claimed_assignment(job=job, worker=worker)
    clients = [api_client(live_server, worker) for _ in range(2)]
    answers_sent = [{"sentiment": "Positive", "notes": "first"}, {"sentiment": "Negative", "notes": "second"}]

    answers = race(
        "one assignment submitted twice",
        [
            lambda c=c, a=a: c.post(f"/assignments/{assignment.public_id}/submit", json={"answer": a})
            for c, a in zip(clients, answers_sent, strict=True)
        ],
    )

    assert_refusals(answers)
    winners = ok(answers)
    assert len(winners) == 1
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == winners[0].json()["answer"]
    job.refresh_from_db()
    assert job.live_assignment_count == 1
    assert ledger_check() == []


# 3. Review -------------------------------------------------------------------------------------------------------


def test_approved_four_times_at_once_pays_once(live_server):
    requester, worker = make_user(), make_user(funds_sats=0)
    job = make_job(requester=requester, tasks=2)
    assignment = make_submitted_assignment(job=job, worker=worker)
    clients = [api_client(live_server, requester) for _ in range(4)]

    answers = race(
        "approved four times", [lambda c=c: c.post(f"/assignments/{assignment.public_id}/approve") for c in clients]
    )

    assert_refusals(answers)
    assert ok(answers), [answer.text for answer in answers]
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
    assert earned(worker) == job.reward_msat
    assert fees() == platform_fee_msat(job.reward_msat)
    assert ledger_check() == []


@pytest.mark.parametrize("round_", ROUNDS)
def test_approved_and_rejected_at_once_has_one_outcome(live_server, round_):
    requester, worker = make_user(), make_user(funds_sats=0)
    job = make_job(requester=requester, tasks=2)
    assignment = make_submitted_assignment(job=job, worker=worker)
    approver, rejecter = api_client(live_server, requester), api_client(live_server, requester)
    escrow_before = balance_msat(account=account_of_job(job=job))

    # Sent at the same instant, or one a little after the other, so that each side wins in some round.
    approve_delay, reject_delay = [(0, 0), (0.05, 0), (0, 0.05)][round_ % 3]

    def approve():
        time.sleep(approve_delay)
        return approver.post(f"/assignments/{assignment.public_id}/approve")

    def reject():
        time.sleep(reject_delay)
        body = {"reason": "Half empty.", "category": "incomplete"}
        return rejecter.post(f"/assignments/{assignment.public_id}/reject", json=body)

    approved, rejected = race("approved and rejected", [approve, reject])
    outcome = "approved" if approved.is_success else "rejected"
    print(f"[race] approve {approved.status_code}, reject {rejected.status_code}: {outcome}")

    assert_refusals([approved, rejected])
    assert len(ok([approved, rejected])) == 1, (approved.text, rejected.text)
    assignment.refresh_from_db()
    if approved.is_success:
        assert assignment.status == AssignmentStatus.APPROVED
        assert earned(worker) == job.reward_msat
        assert balance_msat(account=account_of_job(job=job)) == escrow_before - escrow_per_slot_msat(job)
    else:
        assert assignment.status == AssignmentStatus.REJECTED
        assert earned(worker) == 0
        assert fees() == 0
    assert ledger_check() == []


# 4. Dispute ------------------------------------------------------------------------------------------------------


def test_a_dispute_overturned_from_four_moderator_pages_at_once_pays_once(live_server):
    requester, worker = make_user(), make_user(funds_sats=0)
    moderators = [make_moderator(), make_moderator()]
    job = make_job(requester=requester, tasks=2)
    assignment = assignment_review(
        assignment=make_submitted_assignment(job=job, worker=worker),
        reviewer=requester,
        approve=False,
        feedback="Half empty.",
        rejection_reason="incomplete",
    )
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="It is complete.")
    # Two moderators, each with two tabs open on the dispute (four sessions).
    browsers = [web_client(live_server, moderator) for moderator in moderators for _ in range(2)]
    url = reverse("dispute_act", kwargs={"dispute_id": dispute.public_id})

    answers = race(
        "dispute overturned four times",
        [
            lambda b=b, t=t: b.post(url, data={"action": "overturn", "text": "Complete.", "csrfmiddlewaretoken": t})
            for b, t in browsers
        ],
    )

    assert {answer.status_code for answer in answers} == {302}, [answer.text[:300] for answer in answers]
    dispute.refresh_from_db()
    assignment.refresh_from_db()
    assert dispute.status == DisputeStatus.OVERTURNED
    assert decisions(dispute) == 1
    assert assignment.status == AssignmentStatus.APPROVED
    assert earned(worker) == job.reward_msat
    assert balance_msat(account=dispute_hold_account_of_job(job=job)) == 0
    assert ledger_check() == []


@pytest.mark.parametrize("round_", ROUNDS)
def test_overturn_uphold_and_withdrawal_of_one_dispute_at_once_have_one_outcome(live_server, round_):
    funds = 1_000_000 * 1000
    requester, worker = make_user(), make_user(funds_sats=0)
    overturner, upholder = make_moderator(), make_moderator()
    job = make_job(requester=requester, tasks=2)
    assignment = assignment_review(
        assignment=make_submitted_assignment(job=job, worker=worker),
        reviewer=requester,
        approve=False,
        feedback="Half empty.",
        rejection_reason="incomplete",
    )
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="It is complete.")
    url = reverse("dispute_act", kwargs={"dispute_id": dispute.public_id})
    actions = [(overturner, "overturn"), (upholder, "uphold"), (requester, "withdraw")]
    first = round_ % 3  # each in turn is sent a little before the other two, so that each wins in some round
    calls = []
    for index, (user, action) in enumerate(actions):
        browser, token = web_client(live_server, user)
        delay = 0 if index == first else 0.05

        def call(browser=browser, token=token, action=action, delay=delay):
            time.sleep(delay)
            return browser.post(url, data={"action": action, "text": "Decided.", "csrfmiddlewaretoken": token})

        calls.append(call)

    answers = race("overturn, uphold and withdraw one dispute", calls)

    assert {answer.status_code for answer in answers} == {302}, [answer.text[:300] for answer in answers]
    dispute.refresh_from_db()
    assignment.refresh_from_db()
    print(f"[race] {actions[first][1]} sent first; outcome {dispute.status}")
    assert decisions(dispute) == 1
    assert dispute.status in {DisputeStatus.OVERTURNED, DisputeStatus.UPHELD, DisputeStatus.WITHDRAWN}
    if dispute.status == DisputeStatus.UPHELD:
        assert assignment.status == AssignmentStatus.REJECTED
        assert earned(worker) == 0
    else:
        assert assignment.status == AssignmentStatus.APPROVED
        assert earned(worker) == job.reward_msat
    assert balance_msat(account=dispute_hold_account_of_job(job=job)) == 0
    escrow_left = balance_msat(account=account_of_job(job=job))
    assert available(requester) + escrow_left + earned(worker) + fees() == funds
    assert ledger_check() == []


def decisions(dispute) -> int:
    return Event.objects.filter(type="dispute.decided", subject_type="dispute", subject_id=dispute.public_id).count()


# 5. Close --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_job_closed_while_its_last_tasks_are_claimed_and_approved(live_server, round_):
    funds = 1_000_000 * 1000
    requester = make_user()
    job = make_job(requester=requester, tasks=4)
    pending = [make_submitted_assignment(job=job) for _ in range(2)]  # two tasks left open
    closer = api_client(live_server, requester)
    approvers = [api_client(live_server, requester) for _ in pending]
    claimers = [api_client(live_server, make_user(funds_sats=0)) for _ in range(3)]

    # A claim does more before it takes the job's lock (key, eligibility, rate limit) than a close, so a close sent
    # at the same instant always wins; later rounds send it a little later so that claims land before and after it.
    delay = (round_ % 3) * 0.04

    def close():
        time.sleep(delay)
        return closer.post(f"/jobs/{job.public_id}/close")

    calls = [close]
    pairs = zip(approvers, pending, strict=True)
    calls += [lambda c=c, a=a: c.post(f"/assignments/{a.public_id}/approve") for c, a in pairs]
    calls += [lambda c=c: c.post(f"/jobs/{job.public_id}/claim") for c in claimers]
    answers = race("close while claimed and approved", calls)

    assert_refusals(answers)
    assert answers[0].is_success, answers[0].text
    assert all(answer.is_success for answer in answers[1:3]), "approving work on a closed job is allowed"
    claimed = len(ok(answers[3:]))
    refusals = Counter(answer.json()["error"]["code"] for answer in answers[3:] if not answer.is_success)
    assert claimed <= 2
    job.refresh_from_db()
    live_unapproved = Assignment.objects.filter(
        job=job, status__in=[AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED]
    ).count()
    assert live_unapproved == claimed
    # The escrow keeps exactly what the assignments still live can claim; the rest went back to the requester.
    assert balance_msat(account=account_of_job(job=job)) == live_unapproved * escrow_per_slot_msat(job)
    paid_workers = sum(earned(a.worker) for a in pending)
    assert paid_workers == 2 * job.reward_msat
    assert available(requester) + balance_msat(account=account_of_job(job=job)) + paid_workers + fees() == funds
    print(f"[race] close sent {delay:.2f} s late: {claimed} of 3 claims won, the others refused {dict(refusals)}")
    assert ledger_check() == []


# 6. Bonus and withdraw -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_bonus_and_a_withdraw_at_once_for_the_last_sats(live_server, round_, settings):
    settings.WITHDRAW_MIN_MSAT = 1_000
    worker = make_user(funds_sats=0)
    requester = make_user(funds_sats=100)
    work = give_earnings(worker, 20_000, requester=requester)
    balance = available(requester)
    link = withdraw_link_create(worker=requester, source=PayoutSource.BALANCE)
    invoice = get_backend().create_invoice(amount_msat=link.max_withdrawable_msat, memo="Requester's wallet").bolt11
    # The largest bonus the balance can pay with its fee: each alone fits, both together do not.
    bonus = balance
    while bonus + platform_fee_msat(bonus) > balance:
        bonus -= 1_000
    assert bonus > 0
    assert bonus + platform_fee_msat(bonus) + link.max_withdrawable_msat > balance
    payer = api_client(live_server, requester)
    wallet = http_client(base_url=live_server.url)
    earned_before = earned(worker)

    bonus_answer, withdraw_answer = race(
        "bonus and withdraw for the last sats",
        [
            lambda: payer.post(
                "/bonuses",
                json={"worker_id": worker.public_id, "amount_msat": bonus, "reason": "Thanks", "assignment_id": None},
            ),
            lambda: wallet.get(reverse("lnurl_withdraw_callback"), params={"k1": link.k1, "pr": invoice}),
        ],
    )

    assert_refusals([bonus_answer, withdraw_answer])
    withdrew = withdraw_answer.status_code == 200 and withdraw_answer.json()["status"] == "OK"
    print(f"[race] bonus {bonus_answer.status_code}, withdraw {withdraw_answer.json()}")
    assert bonus_answer.is_success != withdrew, (bonus_answer.text, withdraw_answer.text)
    assert available(requester) >= 0
    if withdrew:
        payout = Payout.objects.get(worker=requester)
        assert payout.amount_msat == link.max_withdrawable_msat
        assert earned(worker) == earned_before
        assert bonus_answer.status_code == 402
    else:
        assert not Payout.objects.filter(worker=requester).exists()
        assert WithdrawLink.objects.get(pk=link.pk).claimed_at is None
        assert earned(worker) == earned_before + bonus
        assert available(requester) == balance - bonus - platform_fee_msat(bonus)
    assert work.status == AssignmentStatus.APPROVED
    assert ledger_check() == []


# 7. One withdraw link, fifty wallets -------------------------------------------------------------------------------


def test_fifty_withdraw_callbacks_with_one_k1_at_once_pay_once(live_server, settings):
    # The in-process version (tests/integration/test_money_lnbits.py) calls the service; these come over HTTP, each
    # with an invoice of its own, as fifty copies of a leaked link would.
    settings.WITHDRAW_MIN_MSAT = 1_000
    worker = make_user(funds_sats=0)
    give_earnings(worker, 21_000)
    link = withdraw_link_create(worker=worker)
    amount = link.max_withdrawable_msat
    invoices = [get_backend().create_invoice(amount_msat=amount, memo=f"Wallet {n}").bolt11 for n in range(50)]
    wallets = [http_client(base_url=live_server.url) for _ in range(50)]
    url = reverse("lnurl_withdraw_callback")

    answers = race(
        "fifty callbacks with one k1",
        [lambda w=w, i=i: w.get(url, params={"k1": link.k1, "pr": i}) for w, i in zip(wallets, invoices, strict=True)],
    )

    assert {answer.status_code for answer in answers} == {200}
    statuses = Counter(answer.json()["status"] for answer in answers)
    print(f"[race] callbacks: {dict(statuses)}")
    assert statuses == {"OK": 1, "ERROR": 49}
    payout = Payout.objects.get(worker=worker)
    assert payout.amount_msat == amount
    assert WithdrawLink.objects.get(pk=link.pk).payout == payout
    assert earned(worker) == 21_000 - amount
    assert in_flight() == amount
    assert ledger_check() == []
