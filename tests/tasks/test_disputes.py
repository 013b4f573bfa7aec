"""Issue 10: disputes, with the slot's reward + fee held in the ledger until a decision, and the review rules a
worker can count on (a reason from a list, no rejection after the review period)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition, NotFound, RateLimited
from marketplace import services as job_services
from marketplace.escrow import escrow_per_slot_msat
from payments.ledger import account_of_job, balance_msat, dispute_hold_account_of_job, ledger_check
from tasks import disputes
from tasks.errors import DisputeRefused, ReviewPeriodOver
from tasks.models import AssignmentStatus, DisputeStatus, HeldFrom, RejectionReason, Task
from tasks.selectors import worker_stats
from tasks.services import assignment_claim, assignment_review, rejection_hold_decide
from tests.balances import available, earned
from tests.concurrency import run_in_threads
from tests.factories import make_job, make_moderator, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(db):
    return make_moderator("mod")


def rejected(job, worker, *, reason=RejectionReason.INCOMPLETE):
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(
        assignment=assignment, reviewer=job.requester, approve=False, feedback="Half empty.", rejection_reason=reason
    )


def hold(job) -> int:
    return balance_msat(account=dispute_hold_account_of_job(job=job))


def escrow_of(job) -> int:
    return balance_msat(account=account_of_job(job=job))


# Review rules ----------------------------------------------------------------------------------------------------


def test_a_rejection_has_a_reason_from_the_list_and_a_message(requester, worker):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job, worker=worker)
    with pytest.raises(InvalidInput, match="Choose a rejection reason"):
        assignment_review(
            assignment=assignment, reviewer=requester, approve=False, feedback="x", rejection_reason="meh"
        )
    done = assignment_review(
        assignment=assignment, reviewer=requester, approve=False, feedback="Empty.", rejection_reason="spam"
    )
    assert (done.status, done.rejection_reason, done.feedback) == ("rejected", "spam", "Empty.")


def test_a_rejection_after_the_review_period_is_refused(requester, worker):
    job = make_job(requester=requester, auto_approve_seconds=3600)
    assignment = make_submitted_assignment(job=job, worker=worker)
    later = timezone.now() + timedelta(hours=2)
    with pytest.raises(ReviewPeriodOver):
        assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback="Late.", now=later)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED


def test_an_approval_is_final(requester, worker):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job, worker=worker)
    assignment_review(assignment=assignment, reviewer=requester, approve=True)
    with pytest.raises(InvalidTransition):
        assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback="Changed my mind.")


# Opening ---------------------------------------------------------------------------------------------------------


def test_opening_a_dispute_holds_the_slots_reward_and_takes_the_slot_off_the_board(requester, worker):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    job.refresh_from_db()
    open_slots, escrow_before = job.open_slot_count, escrow_of(job)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="I answered all.")
    job.refresh_from_db()
    per_slot = escrow_per_slot_msat(job)
    assert (dispute.status, dispute.held_from, dispute.held_msat) == (DisputeStatus.OPEN, HeldFrom.SLOT, per_slot)
    assert hold(job) == per_slot
    assert escrow_of(job) == escrow_before - per_slot
    assert job.open_slot_count == open_slots - 1
    assert Task.objects.get(pk=assignment.task_id).slots_open == 0
    assert [m.body for m in dispute.messages.all()] == ["I answered all."]
    assert ledger_check() == []


def test_a_dispute_is_refused_after_the_window_twice_or_for_someone_else(requester, worker):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    late = timezone.now() + timedelta(days=8)
    with pytest.raises(DisputeRefused, match="7 days"):
        disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="m", now=late)
    with pytest.raises(NotFound):
        disputes.dispute_open(assignment_id=assignment.public_id, worker=make_user(), message="m")
    with pytest.raises(InvalidInput):
        disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="  ")
    disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="m")
    with pytest.raises(DisputeRefused, match="already disputed"):
        disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="again")
    approved = make_submitted_assignment(job=job)
    assignment_review(assignment=approved, reviewer=requester, approve=True)
    with pytest.raises(DisputeRefused, match="Only rejected"):
        disputes.dispute_open(assignment_id=approved.public_id, worker=approved.worker, message="m")


def test_when_the_slot_was_taken_again_the_hold_comes_from_the_requesters_balance(requester, worker):
    job = make_job(requester=requester, tasks=1)
    assignment = rejected(job, worker)
    assignment_claim(job=job, worker=make_user())  # another worker takes the re-opened slot
    before = available(requester)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Unfair.")
    assert dispute.held_from == HeldFrom.BALANCE
    assert available(requester) == before - dispute.held_msat
    assert ledger_check() == []


# Deciding --------------------------------------------------------------------------------------------------------


def test_withdrawing_the_rejection_pays_the_worker_from_the_hold(requester, worker):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Look again.")
    disputes.dispute_withdraw_rejection(dispute_id=dispute.public_id, requester=requester)
    assignment.refresh_from_db()
    job.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
    assert earned(worker) == job.reward_msat
    assert hold(job) == 0
    assert worker_stats(worker=worker)["approval_rate"] == 100.0
    assert ledger_check() == []


def test_an_overturn_clicked_twice_on_a_closed_job_pays_once(requester, worker, moderator):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Please check.")
    job_services.job_close(job=job, actor=requester)
    job.refresh_from_db()
    assert hold(job) == dispute.held_msat  # the hold survives the close: it is not refunded
    for _ in range(2):
        disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=True, reason="Complete.")
    assert earned(worker) == job.reward_msat
    assert hold(job) == 0
    assert escrow_of(job) == 0
    with pytest.raises(InvalidTransition):
        disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=False, reason="No.")
    assert ledger_check() == []


def test_overturns_racing_on_separate_connections_pay_once(transactional_db):
    requester, worker = make_user(), make_user()
    moderator = make_moderator()
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Race me.")

    results = run_in_threads(
        4,
        lambda _: disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=True, reason="r"),
        what="an overturn",
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert earned(worker) == job.reward_msat
    assert ledger_check() == []


def test_an_upheld_rejection_puts_the_slot_back_on_a_live_jobs_board(requester, worker, moderator):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    job.refresh_from_db()
    open_slots, escrow_before = job.open_slot_count, escrow_of(job)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Hmm.")
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=False, reason="Empty answer.")
    job.refresh_from_db()
    assert (job.open_slot_count, escrow_of(job), hold(job)) == (open_slots, escrow_before, 0)
    assert earned(worker) == 0
    assert worker_stats(worker=worker)["approval_rate"] == 0.0
    assert ledger_check() == []


def test_an_upheld_rejection_on_a_closed_job_goes_back_to_the_requester(requester, worker, moderator):
    job = make_job(requester=requester, tasks=2)
    assignment = rejected(job, worker)
    dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=worker, message="Hmm.")
    job_services.job_close(job=job, actor=requester)
    before = available(requester)
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=False, reason="Spam.")
    assert available(requester) == before + dispute.held_msat
    assert ledger_check() == []


def test_only_a_moderator_decides_and_always_with_a_reason(requester, worker, moderator):
    job = make_job(requester=requester, tasks=2)
    dispute = disputes.dispute_open(assignment_id=rejected(job, worker).public_id, worker=worker, message="m")
    with pytest.raises(NotFound):
        disputes.dispute_decide(dispute_id=dispute.public_id, moderator=requester, overturn=False, reason="mine")
    with pytest.raises(InvalidInput):
        disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=True, reason=" ")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


# The requester's answer, the thread, the deadline --------------------------------------------------------------


def test_the_requester_answers_once_then_the_thread_goes_on_and_the_deadline_escalates(requester, worker, moderator):
    job = make_job(requester=requester, tasks=2)
    dispute = disputes.dispute_open(assignment_id=rejected(job, worker).public_id, worker=worker, message="Why?")
    disputes.dispute_answer(dispute_id=dispute.public_id, requester=requester, message="Field 2 was empty.")
    with pytest.raises(DisputeRefused, match="answered"):
        disputes.dispute_answer(dispute_id=dispute.public_id, requester=requester, message="Again.")
    disputes.dispute_message_add(dispute_id=dispute.public_id, author=worker, body="It was not.")
    disputes.dispute_message_add(dispute_id=dispute.public_id, author=moderator, body="Looking.")
    with pytest.raises(NotFound):
        disputes.dispute_message_add(dispute_id=dispute.public_id, author=make_user(), body="Me too.")
    assert disputes.disputes_escalate_due() == 0
    later = timezone.now() + timedelta(days=3, minutes=1)
    assert disputes.disputes_escalate_due(now=later) == 1
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.ESCALATED
    roles = list(dispute.messages.values_list("role", flat=True))
    assert roles == ["worker", "requester", "worker", "moderator"]


# Mass rejections ---------------------------------------------------------------------------------------------------


def test_a_mass_rejection_is_held_for_a_moderator_who_decides(requester, worker, moderator):
    job = make_job(requester=requester, tasks=4)
    work = [make_submitted_assignment(job=job, worker=worker)]
    # One worker does all four tasks of the job (a worker takes each task once, so claim them in turn).
    work += [make_submitted_assignment(job=job, worker=worker) for _ in range(3)]
    outcomes = []
    for assignment in work:
        done = assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback="Bad.")
        outcomes.append((done.status, done.rejection_held_at is not None))
    # Two rejections are half of four; the third would be three of four within the hour: held, and the fourth too.
    assert outcomes == [("rejected", False), ("rejected", False), ("submitted", True), ("submitted", True)]
    held = work[2]
    held.refresh_from_db()
    assert held.auto_approve_at is None  # neither rejected nor auto-approved while a moderator looks
    with pytest.raises(InvalidTransition, match="moderator"):
        assignment_review(assignment=held, reviewer=requester, approve=True)
    with pytest.raises(NotFound):
        rejection_hold_decide(assignment_id=held.public_id, moderator=requester, let_stand=True, note="mine")
    approved = rejection_hold_decide(assignment_id=held.public_id, moderator=moderator, let_stand=False, note="Fine.")
    assert approved.status == AssignmentStatus.APPROVED
    assert earned(worker) == job.reward_msat
    stood = rejection_hold_decide(assignment_id=work[3].public_id, moderator=moderator, let_stand=True, note="Spam.")
    assert (stood.status, stood.feedback, stood.rejection_reason) == ("rejected", "Bad.", "other")
    assert ledger_check() == []


def test_dispute_messages_are_limited_per_hour_with_a_clear_message(requester, worker, settings):
    settings.DISPUTE_MESSAGES_PER_HOUR = 2
    job = make_job(requester=requester, tasks=2)
    dispute = disputes.dispute_open(assignment_id=rejected(job, worker).public_id, worker=worker, message="One.")
    disputes.dispute_message_add(dispute_id=dispute.public_id, author=worker, body="Two.")
    with pytest.raises(RateLimited, match="Too many dispute messages: at most 2 an hour"):
        disputes.dispute_message_add(dispute_id=dispute.public_id, author=worker, body="Three.")
    assert dispute.messages.count() == 2
    disputes.dispute_answer(dispute_id=dispute.public_id, requester=requester, message="The requester counts apart.")
