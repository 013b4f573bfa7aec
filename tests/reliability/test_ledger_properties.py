"""Issue 15, "Properties": a Hypothesis state machine drives random sequences of deposits, publishes, task
imports, claims, submits, reviews (by the requester and by a job's quality rules), disputes (withdrawn, upheld,
overturned), bonuses, closes, payouts and LNURL-withdrawals (the node answers paid, failed, or unknown then paid)
through the real services, and checks the money after every step.

The Lightning node is a fake (tests/payments/test_payouts.py's ScriptedNode): it is outside our control, and its
three-valued answers are what the payouts must survive. The worker's wallet is the LNURL test server. Everything
else is the project's own code.

Examples share the test's database transaction: each example makes fresh users and jobs, the ledger-wide
invariants are checked over everything, and the per-job and per-worker ones over the example's own objects.
`RELIABILITY_SCALE` (environment) multiplies the number of examples.
"""

import os
import random
import time
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from core.errors import DomainError
from marketplace import services as job_services
from marketplace.escrow import escrow_per_slot_msat
from marketplace.models import Job, JobStatus
from payments.ledger import account_of_job, balance_msat, dispute_hold_account_of_job, ledger_check
from payments.lightning.base import PaymentOutcome, PaymentResult
from payments.models import Account, LedgerEntry, Payout, PayoutState
from payments.payouts import payout_advance, payout_fail_by_moderator, payout_start_for_worker
from payments.withdraw import withdraw_claim, withdraw_link_create
from tasks import disputes, quality
from tasks.bonuses import bonus_pay
from tasks.models import Assignment, AssignmentStatus, Dispute, DisputeStatus, RejectionReason, Task
from tasks.services import assignment_claim, assignment_review, assignment_submit, tasks_add_from_csv
from tests.balances import earned
from tests.factories import make_job, make_moderator, make_user, set_payout_destination
from tests.factories.assignments import answer_data
from tests.factories.money import fund
from tests.factories.quality import make_quality_job
from tests.payments.lnurl_test_server import FakeLnurlWallet, make_invoice
from tests.payments.test_payouts import FAILED, UNKNOWN, ScriptedNode, paid_by

SCALE = int(os.environ.get("RELIABILITY_SCALE", "1"))
EXAMPLES = 100 * SCALE  # about 85 s here (150 took 125 s); RELIABILITY_SCALE=10 for a long run
STEPS = 20
LIVE_DISPUTE = [DisputeStatus.OPEN, DisputeStatus.ANSWERED, DisputeStatus.ESCALATED]
LIVE_ASSIGNMENT = [AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED]
UNFINISHED_PAYOUT = [
    PayoutState.CREATED,
    PayoutState.INVOICE_REQUESTED,
    PayoutState.INVOICE_VERIFIED,
    PayoutState.SENDING,
    PayoutState.NEEDS_MODERATOR,
]
WORKED = [AssignmentStatus.APPROVED, AssignmentStatus.REJECTED, AssignmentStatus.SUBMITTED]
REWARDS = st.sampled_from([1_000, 7_000, 10_000, 21_500])
SENTIMENTS = st.sampled_from(["Positive", "Negative"])  # a control's known answer is "Positive"
OUTCOMES = st.sampled_from(["paid", "failed", "unknown then paid"])


# Invariants, each over the objects given (the example's own) or the whole ledger ---------------------------------


def ledger_balances() -> None:
    """Every transaction balances, and the accounts of all users, jobs and the platform sum to zero."""
    assert ledger_check() == []
    assert (Account.objects.aggregate(total=Sum("balance_msat"))["total"] or 0) == 0


def no_user_account_negative(users) -> None:
    """What the ledger owes a user (balance, earnings) never goes below zero."""
    negative = Account.objects.filter(user__in=users, balance_msat__lt=0).values_list("kind", "balance_msat")
    assert list(negative) == []


def escrow_covers_live_obligations(job: Job) -> None:
    """A live job's escrow holds reward + fee for every open slot and every live assignment; a closed job's for
    the live assignments only (marketplace/escrow.py)."""
    job = Job.objects.get(pk=job.pk)
    per_slot = escrow_per_slot_msat(job)
    live = Assignment.objects.filter(job=job, status__in=LIVE_ASSIGNMENT).count()
    open_slots = Task.objects.filter(job=job).aggregate(total=Sum("slots_open"))["total"] or 0
    escrow = balance_msat(account=account_of_job(job=job))
    if job.status in {JobStatus.PUBLISHED, JobStatus.PAUSED}:
        assert escrow == per_slot * (open_slots + live)
    else:
        assert escrow >= per_slot * live


def dispute_hold_equals_open_disputes(job: Job) -> None:
    """The job's dispute hold is the sum of what its live disputes hold (one slot's reward + fee each)."""
    job = Job.objects.get(pk=job.pk)  # the fee per slot is fixed at publishing, after the machine's copy was made
    held = Dispute.objects.filter(assignment__job=job, status__in=LIVE_DISPUTE).count()
    assert balance_msat(account=dispute_hold_account_of_job(job=job)) == escrow_per_slot_msat(job) * held


def paid_out_is_earned_minus_still_theirs(worker, earned_total_msat: int) -> None:
    """Succeeded payouts == what the worker earned - (earned balance + payouts in flight)."""
    payouts = Payout.objects.filter(worker=worker)
    succeeded = payouts.filter(state=PayoutState.SUCCEEDED).aggregate(t=Sum("amount_msat"))["t"] or 0
    in_flight = payouts.filter(state__in=UNFINISHED_PAYOUT).aggregate(t=Sum("amount_msat"))["t"] or 0
    assert succeeded == earned_total_msat - (earned(worker) + in_flight)


def entry_count() -> int:
    return LedgerEntry.objects.count()


# The machine -----------------------------------------------------------------------------------------------------


class ControlDraws:
    """Stands in for `secrets` in tasks.controls, whose claim draws a control or a regular task at random: the same
    draws for the same sequence of steps, as Hypothesis needs to replay and shrink one (reset with each example)."""

    generator = random.Random(0)

    @classmethod
    def randbelow(cls, limit: int) -> int:
        return cls.generator.randrange(limit)


class Figures:
    examples = 0
    steps = 0
    refusals = 0
    done: dict[str, int] = {}
    refused: dict[str, int] = {}


class MoneyMachine(RuleBasedStateMachine):
    wallet: FakeLnurlWallet
    node: ScriptedNode

    def __init__(self) -> None:
        super().__init__()
        Figures.examples += 1
        ControlDraws.generator = random.Random(0)
        self.requesters = [make_user(funds_sats=300) for _ in range(2)]  # enough for a job or two; deposits add more
        self.workers = [make_user(funds_sats=0) for _ in range(3)]
        for worker in self.workers:
            set_payout_destination(worker, self.wallet.address)
        self.moderator = make_moderator()
        # One job on the board from the start, so that every example has work to claim.
        self.jobs: list[Job] = [make_job(requester=self.requesters[0], tasks=2, assignments_per_task=2)]
        self.earned_total = {worker.pk: 0 for worker in self.workers}
        # And one approved answer, so that payouts and withdrawals have earnings to move from the first step.
        first = assignment_claim(job=self.jobs[0], worker=self.workers[0])
        assignment_submit(assignment=first, worker=first.worker, data=answer_data())
        assignment_review(assignment=first, reviewer=self.requesters[0], approve=True)
        self.earned_total[first.worker_id] += self.jobs[0].reward_msat

    # Helpers

    def attempt(self, name: str, action):
        """Run one service call; a refusal (DomainError) is fine but must not move any money."""
        before = entry_count()
        try:
            result = action()
        except DomainError as error:
            Figures.refusals += 1
            refusal = f"{name}: {type(error).__name__}"
            Figures.refused[refusal] = Figures.refused.get(refusal, 0) + 1
            assert entry_count() == before, f"{name} was refused but moved money"
            return None
        Figures.done[name] = Figures.done.get(name, 0) + 1
        return result

    def assignments(self, *statuses):
        return list(Assignment.objects.filter(job__in=self.jobs, status__in=statuses).order_by("pk"))

    def jobs_in(self, status: str) -> list[Job]:
        return list(Job.objects.filter(pk__in=[job.pk for job in self.jobs], status=status).order_by("pk"))

    def live_disputes(self):
        return list(Dispute.objects.filter(assignment__job__in=self.jobs, status__in=LIVE_DISPUTE).order_by("pk"))

    def workers_with_earnings(self) -> list:
        return [worker for worker in self.workers if earned(worker) >= 1_000]

    # Rules

    @rule(requester=st.integers(0, 1), sats=st.integers(1, 200))
    def deposit(self, requester, sats):
        fund(self.requesters[requester], sats * 1000)
        Figures.done["deposit"] = Figures.done.get("deposit", 0) + 1

    @precondition(lambda self: len(self.jobs) < 4)
    @rule(
        requester=st.integers(0, 1),
        tasks=st.integers(1, 3),
        per_task=st.integers(1, 2),
        reward=REWARDS,
        rules=st.booleans(),
    )
    def create_and_publish(self, requester, tasks, per_task, reward, rules):
        """A job reviewed by its requester, or by quality rules: a control among its tasks, a wrong answer to it
        rejected at once, and (two workers per task) answers approved as soon as their task's answers agree."""
        owner = self.requesters[requester]
        if rules:
            job = make_quality_job(
                requester=owner,
                regular=tasks,
                controls=1,
                assignments_per_task=per_task,
                terms={"reward_msat": reward},
                publish=False,
                control_rate_percent=50,
                reject_wrong_controls=True,
                approve_on_agreement=per_task > 1,  # agreement needs two workers per task
            )
        else:
            job = make_job(
                requester=owner, tasks=tasks, assignments_per_task=per_task, reward_msat=reward, publish=False
            )
        self.jobs.append(job)
        self.attempt("publish", lambda: job_services.job_publish(job=job, actor=owner))

    @precondition(lambda self: self.jobs_in(JobStatus.DRAFT))
    @rule(data=st.data())
    def publish(self, data):
        job = data.draw(st.sampled_from(self.jobs_in(JobStatus.DRAFT)))
        self.attempt("publish", lambda: job_services.job_publish(job=job, actor=job.requester))

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), rows=st.integers(1, 3))
    def add_tasks(self, data, rows):
        job = data.draw(st.sampled_from(self.jobs))
        csv_text = "review\n" + "".join(f"Added review {n}\n" for n in range(rows))
        self.attempt("add_tasks", lambda: tasks_add_from_csv(job=job, actor=job.requester, csv_text=csv_text))

    @rule(data=st.data(), worker=st.integers(0, 2), submit=st.booleans(), sentiment=SENTIMENTS)
    def claim(self, data, worker, submit, sentiment):
        """A worker claims a task of one of the jobs and, mostly, submits an answer in the same step (the step
        that only submits covers an answer given later)."""
        job = data.draw(st.sampled_from(self.jobs))
        assignment = self.attempt("claim", lambda: assignment_claim(job=job, worker=self.workers[worker]))
        if assignment is not None and submit:
            self.submit_answer(assignment, sentiment)

    @precondition(lambda self: self.assignments(AssignmentStatus.ACCEPTED))
    @rule(data=st.data(), sentiment=SENTIMENTS)
    def submit(self, data, sentiment):
        self.submit_answer(data.draw(st.sampled_from(self.assignments(AssignmentStatus.ACCEPTED))), sentiment)

    def submit_answer(self, assignment: Assignment, sentiment: str):
        return self.attempt(
            "submit",
            lambda: assignment_submit(assignment=assignment, worker=assignment.worker, data=answer_data(sentiment)),
        )

    @precondition(lambda self: self.unchecked_submissions())
    @rule(data=st.data())
    def review_by_rules(self, data):
        """The quality pipeline on a submission, as its handler runs it once the submit commits: it may reject a
        wrong control, or approve every agreeing answer of the task at once."""
        self.check_by_rules(data.draw(st.sampled_from(self.unchecked_submissions())))

    @precondition(lambda self: self.jobs_with_rules())
    @rule(data=st.data(), sentiments=st.lists(SENTIMENTS, min_size=3, max_size=3))
    def round_of_work_by_rules(self, data, sentiments):
        """Every worker claims a task of a job reviewed by rules and answers it, and the pipeline checks each
        submission as it commits: the way agreeing answers get approved by a rule."""
        job = data.draw(st.sampled_from(self.jobs_with_rules()))
        for worker, sentiment in zip(self.workers, sentiments, strict=True):
            assignment = self.attempt("claim", lambda worker=worker: assignment_claim(job=job, worker=worker))
            if assignment is not None and self.submit_answer(assignment, sentiment) is not None:
                self.check_by_rules(assignment)

    def check_by_rules(self, assignment: Assignment) -> None:
        approved_before = set(self.assignment_ids(AssignmentStatus.APPROVED))
        decisions = self.attempt("review_by_rules", lambda: quality.submission_checked(assignment_id=assignment.pk))
        for decision in decisions or []:
            Figures.done[f"rule {decision.outcome}"] = Figures.done.get(f"rule {decision.outcome}", 0) + 1
        newly_approved = set(self.assignment_ids(AssignmentStatus.APPROVED)) - approved_before
        for approved in Assignment.objects.filter(pk__in=newly_approved).select_related("job"):
            self.earned_total[approved.worker_id] += approved.job.reward_msat

    def jobs_with_rules(self) -> list[Job]:
        return list(
            Job.objects.filter(
                pk__in=[job.pk for job in self.jobs], status=JobStatus.PUBLISHED, quality__isnull=False
            ).order_by("pk")
        )

    def unchecked_submissions(self) -> list[Assignment]:
        return list(
            Assignment.objects.filter(
                job__in=self.jobs, status=AssignmentStatus.SUBMITTED, quality_checked_at__isnull=True
            ).order_by("pk")
        )

    def assignment_ids(self, status: str) -> list[int]:
        return list(Assignment.objects.filter(job__in=self.jobs, status=status).values_list("pk", flat=True))

    @precondition(lambda self: self.assignments(AssignmentStatus.SUBMITTED))
    @rule(data=st.data(), verdict=st.integers(0, 2))
    def review(self, data, verdict):
        """The requester approves two times in three: rejections have paths of their own (disputes) to reach."""
        approve = verdict > 0
        assignment = data.draw(st.sampled_from(self.assignments(AssignmentStatus.SUBMITTED)))
        done = self.attempt(
            "approve" if approve else "reject",
            lambda: assignment_review(
                assignment=assignment,
                reviewer=assignment.job.requester,
                approve=approve,
                feedback="" if approve else "Not what was asked.",
                rejection_reason="" if approve else RejectionReason.INCOMPLETE,
            ),
        )
        if done is not None and done.status == AssignmentStatus.APPROVED:
            self.earned_total[assignment.worker_id] += assignment.job.reward_msat

    @precondition(lambda self: self.assignments(AssignmentStatus.REJECTED))
    @rule(data=st.data())
    def dispute(self, data):
        assignment = data.draw(st.sampled_from(self.assignments(AssignmentStatus.REJECTED)))
        self.attempt(
            "dispute_open",
            lambda: disputes.dispute_open(
                assignment_id=assignment.public_id, worker=assignment.worker, message="I did it all."
            ),
        )

    @precondition(lambda self: self.live_disputes())
    @rule(data=st.data(), how=st.sampled_from(["withdraw", "uphold", "overturn"]))
    def settle_dispute(self, data, how):
        live = self.live_disputes()
        dispute = data.draw(st.sampled_from(live))
        assignment = dispute.assignment
        if how == "withdraw":
            action = lambda: disputes.dispute_withdraw_rejection(  # noqa: E731
                dispute_id=dispute.public_id, requester=assignment.job.requester
            )
        else:
            action = lambda: disputes.dispute_decide(  # noqa: E731
                dispute_id=dispute.public_id, moderator=self.moderator, overturn=how == "overturn", reason="Checked."
            )
        done = self.attempt(how, action)
        if done is not None and done.status in {DisputeStatus.WITHDRAWN, DisputeStatus.OVERTURNED}:
            self.earned_total[assignment.worker_id] += assignment.job.reward_msat

    @precondition(lambda self: self.assignments(*WORKED))
    @rule(data=st.data(), sats=st.integers(1, 50))
    def bonus(self, data, sats):
        worked = self.assignments(*WORKED)
        assignment = data.draw(st.sampled_from(worked))
        done = self.attempt(
            "bonus",
            lambda: bonus_pay(
                requester=assignment.job.requester,
                worker_id=assignment.worker.public_id,
                amount_msat=sats * 1000,
                reason="Thanks.",
                assignment_id=assignment.public_id,
            ),
        )
        if done is not None:
            self.earned_total[assignment.worker_id] += sats * 1000

    @precondition(lambda self: self.jobs_in(JobStatus.PUBLISHED))
    @rule(data=st.data())
    def close(self, data):
        job = data.draw(st.sampled_from(self.jobs_in(JobStatus.PUBLISHED)))
        self.attempt("close", lambda: job_services.job_close(job=job, actor=job.requester))

    @precondition(lambda self: self.workers_with_earnings())
    @rule(data=st.data(), outcome=OUTCOMES)
    def payout(self, data, outcome):
        worker = data.draw(st.sampled_from(self.workers_with_earnings()))
        payout = self.attempt("payout_start", lambda: payout_start_for_worker(worker_id=worker.pk))
        if payout is None:  # nothing earned (or under the minimum): nothing to pay
            return
        first = {"paid": paid_by(self.wallet), "failed": FAILED, "unknown then paid": UNKNOWN}[outcome]
        self.node.pay_answers = [first]
        payout = payout_advance(payout_id=payout.pk)
        if outcome == "unknown then paid":
            assert payout.state == PayoutState.SENDING
            preimage = self.wallet.issued_preimages[payout.payment_hash]
            self.node.status_answer = paid_by(self.wallet)(payout.bolt11)
            assert self.node.status_answer.preimage == preimage
            check_every_step(self)  # the money while the payment's fate is unknown
            payout = payout_advance(payout_id=payout.pk, now=timezone.now() + timedelta(seconds=30))
        while outcome == "failed" and payout.state == PayoutState.CREATED:
            # A failed payment is retried after a backoff, up to PAYOUT_MAX_ATTEMPTS; the node keeps failing it.
            self.node.pay_answers = [FAILED]
            payout = payout_advance(payout_id=payout.pk, now=payout.next_attempt_at)
        if payout.state == PayoutState.NEEDS_MODERATOR:
            # After the last attempt a moderator decides; failing it gives the money back to the worker.
            payout = payout_fail_by_moderator(payout=payout, reason="No route, ever.", moderator=self.moderator)
        expected = PayoutState.FAILED if outcome == "failed" else PayoutState.SUCCEEDED
        assert payout.state == expected, payout.last_error
        Figures.done[f"payout {outcome}"] = Figures.done.get(f"payout {outcome}", 0) + 1

    @precondition(lambda self: self.workers_with_earnings())
    @rule(data=st.data(), outcome=OUTCOMES)
    def withdraw(self, data, outcome):
        """A worker withdraws all their earnings over LNURL-withdraw: the link, the wallet's callback with its
        invoice, and the payment, which the node pays, fails (the worker keeps the money; a withdrawal is not
        retried, the wallet gave one invoice) or leaves unknown and pays later."""
        worker = data.draw(st.sampled_from(self.workers_with_earnings()))
        link = self.attempt("withdraw_link", lambda: withdraw_link_create(worker=worker))
        if link is None:  # nothing to withdraw
            return
        invoice, preimage = make_invoice(amount_msat=link.max_withdrawable_msat)
        payout = self.attempt("withdraw_claim", lambda: withdraw_claim(k1=link.k1, invoice=invoice))
        if payout is None:
            return
        paid = PaymentResult(outcome=PaymentOutcome.PAID, preimage=preimage)
        self.node.pay_answers = [{"paid": paid, "failed": FAILED, "unknown then paid": UNKNOWN}[outcome]]
        payout = payout_advance(payout_id=payout.pk)
        if outcome == "unknown then paid":
            assert payout.state == PayoutState.SENDING
            self.node.status_answer = paid
            check_every_step(self)  # the money while the payment's fate is unknown
            payout = payout_advance(payout_id=payout.pk, now=timezone.now() + timedelta(seconds=30))
        expected = PayoutState.FAILED if outcome == "failed" else PayoutState.SUCCEEDED
        assert payout.state == expected, payout.last_error
        Figures.done[f"withdraw {outcome}"] = Figures.done.get(f"withdraw {outcome}", 0) + 1

    @invariant()
    def money_is_sound(self):
        Figures.steps += 1
        check_every_step(self)


def check_every_step(machine: MoneyMachine) -> None:
    ledger_balances()
    no_user_account_negative([*machine.requesters, *machine.workers])
    for job in machine.jobs:
        escrow_covers_live_obligations(job)
        dispute_hold_equals_open_disputes(job)
    for worker in machine.workers:
        paid_out_is_earned_minus_still_theirs(worker, machine.earned_total[worker.pk])


@pytest.fixture
def lightning(settings, monkeypatch):
    """The development backend's invoices on mainnet (as tests/payments), the scripted node for payouts, a wallet
    service allowlisted as development would, payouts from 1 sat, and background jobs not sent anywhere."""
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "mainnet"
    settings.PAYOUT_MIN_MSAT = 1_000
    settings.PAYOUT_MAX_ATTEMPTS = 6
    node = ScriptedNode()
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    monkeypatch.setattr("tasks.controls.secrets", ControlDraws)
    with FakeLnurlWallet() as wallet:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [wallet.host_port]
        yield wallet, node


@pytest.mark.django_db
def test_the_money_stays_sound_under_random_sequences(lightning):
    MoneyMachine.wallet, MoneyMachine.node = lightning
    started = time.monotonic()
    run_state_machine_as_test(
        MoneyMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            # The same sequences on every run (a fixed seed), so the check below that every kind of step ran holds
            # on every machine; RELIABILITY_SCALE runs more of them.
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(
        f"\nledger properties: {Figures.examples} examples, {Figures.steps} checked steps, "
        f"{Figures.refusals} refusals, {time.monotonic() - started:.1f} s;\n"
        f" done: {dict(sorted(Figures.done.items()))};\n refused: {dict(sorted(Figures.refused.items()))}"
    )
    # The machine reached every kind of step at least once: a rule that never runs checks nothing.
    every_kind = ["publish", "claim", "submit", "approve", "reject", "dispute_open", "bonus", "close"]
    every_kind += ["rule approved", "rule rejected", "withdraw paid", "withdraw failed", "withdraw unknown then paid"]
    for name in every_kind:
        assert Figures.done.get(name, 0) > 0, name
