"""Issue 13: the sandbox's play money and real money are two books that never meet.

Every account is of one book; `ledger_post` refuses a transaction across the two, the database refuses an account
whose kind says one book and whose row says the other, and `ledger_check` (run after every database test of the
whole suite) reports any transaction that spans both. A whole sandbox job's life through the services moves no
real money and starts no payout.
"""

import pytest
from django.db import IntegrityError, transaction

from core.errors import NotFound
from marketplace import services as job_services
from marketplace.escrow import escrow_fund_for_publish
from payments import payouts
from payments.errors import LedgerError, WithdrawRefused
from payments.ledger import JobBook, Line, account_of_job, account_of_user, ledger_check, ledger_post, platform_account
from payments.models import (
    Account,
    AccountKind,
    Book,
    Deposit,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    TransactionKind,
    WithdrawLink,
)
from payments.sandbox import sandbox_balance_msat, sandbox_balance_target_msat, sandbox_balance_top_up, sandbox_summary
from payments.selectors import wallet_summary
from payments.withdraw import withdraw_link_create
from tasks import disputes
from tasks.bonuses import bonus_pay
from tasks.models import AssignmentStatus, RejectionReason
from tasks.services import assignment_claim, assignment_review, tasks_add
from tests.balances import available, earned
from tests.factories import make_job, make_moderator, make_submitted_assignment, make_user, set_payout_destination

pytestmark = pytest.mark.django_db


class RolledBack(Exception):
    """Raised to undo what a block wrote once it has been looked at."""


def rejected(job, worker):
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(
        assignment=assignment,
        reviewer=job.requester,
        approve=False,
        feedback="Half of it is missing.",
        rejection_reason=RejectionReason.INCOMPLETE,
    )


def real_money_snapshot() -> dict:
    """Everything real money is: each real account's balance (accounts made since with nothing in them are the
    same money), the real book's entries, and the rows of money coming in and going out."""
    return {
        "balances": {
            pk: balance
            for pk, balance in Account.objects.filter(book=Book.REAL).values_list("pk", "balance_msat")
            if balance != 0
        },
        "real_entries": LedgerEntry.objects.filter(account__book=Book.REAL).count(),
        "payouts": Payout.objects.count(),
        "withdraw_links": WithdrawLink.objects.count(),
        "deposits": Deposit.objects.count(),
    }


def play_transactions_stay_play() -> set[str]:
    """Every transaction that touched a play account touched nothing else: returns their kinds."""
    touching_play = LedgerTransaction.objects.filter(entries__account__book=Book.PLAY).distinct()
    kinds = set()
    for ledger_transaction in touching_play.prefetch_related("entries__account"):
        books = {entry.account.book for entry in ledger_transaction.entries.all()}
        assert books == {Book.PLAY}, f"{ledger_transaction} ({ledger_transaction.key}) touches {books}"
        kinds.add(ledger_transaction.kind)
    return kinds


# The two books ----------------------------------------------------------------------------------------------------


def test_ledger_post_refuses_a_transaction_across_the_two_books(requester):
    sandbox_balance_top_up(user=requester)
    play_before = sandbox_balance_msat(user=requester)
    real_job = make_job(requester=requester, tasks=1)
    across = [
        # Real balance into play balance, and back.
        [
            Line(account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE), -1_000),
            Line(account_of_user(user=requester, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE), 1_000),
        ],
        [
            Line(account_of_user(user=requester, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE), -1_000),
            Line(account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE), 1_000),
        ],
        # The sandbox mint paying real earnings, a real job's escrow paying sandbox earnings.
        [
            Line(platform_account(kind=AccountKind.SANDBOX_MINT), -1_000),
            Line(account_of_user(user=requester, kind=AccountKind.WORKER_EARNED), 1_000),
        ],
        [
            Line(account_of_job(job=real_job), -1_000),
            Line(account_of_user(user=requester, kind=AccountKind.SANDBOX_WORKER_EARNED), 1_000),
        ],
    ]
    real_before = available(requester)
    transactions_before = LedgerTransaction.objects.count()
    for number, lines in enumerate(across):
        with pytest.raises(LedgerError, match="mixes the real and the play book"):
            ledger_post(kind=TransactionKind.DEPOSIT, key=f"across:{number}", lines=lines)
    assert LedgerTransaction.objects.count() == transactions_before
    assert (available(requester), sandbox_balance_msat(user=requester)) == (real_before, play_before)


def test_the_database_refuses_an_account_whose_book_is_not_its_kinds(requester):
    for kind, book in [
        (AccountKind.SANDBOX_REQUESTER_AVAILABLE, Book.REAL),
        (AccountKind.SANDBOX_WORKER_EARNED, Book.REAL),
        (AccountKind.REQUESTER_AVAILABLE, Book.PLAY),
        (AccountKind.WORKER_EARNED, Book.PLAY),
    ]:
        with pytest.raises(IntegrityError, match="account_book_matches_kind"), transaction.atomic():
            Account.objects.create(kind=kind, user=make_user(funds_sats=0), book=book)
    for kind, book in [(AccountKind.SANDBOX_MINT, Book.REAL), (AccountKind.LIGHTNING_OUT, Book.PLAY)]:
        Account.objects.filter(kind=kind).delete()  # unused platform rows, if any, so only the book can refuse
        with pytest.raises(IntegrityError, match="account_book_matches_kind"), transaction.atomic():
            Account.objects.create(kind=kind, book=book)


def test_a_jobs_accounts_are_in_its_book_whatever_the_instance_in_hand_says(requester):
    sandbox_job = make_job(requester=requester, tasks=1, sandbox=True, publish=False)
    real_job = make_job(requester=requester, tasks=1, publish=False)
    assert JobBook(sandbox_job).book == Book.PLAY
    assert JobBook(real_job).book == Book.REAL
    stale = type(sandbox_job).objects.get(pk=sandbox_job.pk)
    stale.sandbox = False  # an instance read before the job was marked sandbox
    assert account_of_job(job=stale).book == Book.PLAY
    # Its escrow is play money, so a stale instance cannot fund it from the real balance: refused, nothing moves.
    real_before = available(requester)
    with pytest.raises(LedgerError, match="mixes"):
        escrow_fund_for_publish(job=stale)
    assert available(requester) == real_before


def problems_if(change) -> list[str]:
    """What ledger_check says once `change()` wrote to the database, which is then rolled back."""
    found = []

    def change_and_check():
        with transaction.atomic():
            change()
            found.extend(ledger_check())
            raise RolledBack

    with pytest.raises(RolledBack):
        change_and_check()
    return found


def test_ledger_check_reports_a_transaction_across_books_and_a_misfiled_job_account(requester):
    job = make_job(requester=requester, tasks=1, sandbox=True)
    escrow = account_of_job(job=job)
    play = account_of_user(user=requester, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE)
    real = account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE)
    assert ledger_check() == []
    written = []

    def write_across_books():
        # Past ledger_post, as a bug or a hand in the database would, with the cached balances kept right.
        mixed = LedgerTransaction.objects.create(kind=TransactionKind.DEPOSIT, key="written-by-hand")
        written.append(mixed)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(transaction=mixed, account=real, amount_msat=-5_000),
                LedgerEntry(transaction=mixed, account=play, amount_msat=5_000),
            ]
        )
        Account.objects.filter(pk=real.pk).update(balance_msat=real.balance_msat - 5_000)
        Account.objects.filter(pk=play.pk).update(balance_msat=play.balance_msat + 5_000)

    assert problems_if(write_across_books) == [f"Transaction {written[0].pk} mixes the real and the play book."]
    funding = LedgerTransaction.objects.get(key=f"publish:{job.pk}")
    assert problems_if(lambda: Account.objects.filter(pk=escrow.pk).update(book=Book.REAL)) == [
        f"Transaction {funding.pk} mixes the real and the play book.",
        f"{escrow} is in the real book, unlike its job.",
    ]
    assert ledger_check() == []


# A sandbox job's whole life ---------------------------------------------------------------------------------------


def test_a_sandbox_jobs_whole_life_moves_play_money_only_and_pays_nothing_out(
    requester, enqueued, django_capture_on_commit_callbacks
):
    """Top up, publish, add tasks, claim, submit, approve, reject, dispute (held from the slot and from the balance),
    overturn, uphold, bonus, close with a refund: play money moves as real money would, and real money not at all."""
    workers = [make_user(f"sandboxer{n}", funds_sats=0) for n in range(5)]
    for worker in workers:
        # Automatic payouts from 1 sat: any play money counted as earnings would start a payout.
        set_payout_destination(worker, f"{worker.username}@wallet.example", minimum_payout_msat=1_000)
    moderator = make_moderator("sandbox-mod")
    target = sandbox_balance_target_msat()
    assert sandbox_balance_top_up(user=requester) == target
    before = real_money_snapshot()

    # Every event's handlers run as on commit: the payout trigger among them.
    with django_capture_on_commit_callbacks(execute=True):
        job = make_job(requester=requester, tasks=3, reward_msat=20_000, sandbox=True)
        per_slot = job.reward_msat + job.fee_per_assignment_msat
        assert sandbox_summary(user=requester)["escrow_msat"] == 3 * per_slot
        tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "One more"}])
        assert sandbox_balance_msat(user=requester) == target - 4 * per_slot

        # Approved, then a bonus on that work.
        approved = make_submitted_assignment(job=job, worker=workers[0])
        assignment_review(assignment=approved, reviewer=requester, approve=True)
        bonus_pay(
            requester=requester,
            worker_id=workers[0].public_id,
            amount_msat=7_000,
            reason="Careful work",
            assignment_id=approved.public_id,
        )
        # Rejected, disputed (held from the re-opened slot), overturned by a moderator: paid from the hold.
        disputed = rejected(job, workers[1])
        dispute = disputes.dispute_open(assignment_id=disputed.public_id, worker=workers[1], message="It is complete.")
        disputes.dispute_decide(dispute_id=dispute.public_id, moderator=moderator, overturn=True, reason="Complete.")
        disputed.refresh_from_db()
        assert disputed.status == AssignmentStatus.APPROVED

        # A one-task job whose re-opened slot another worker took: the hold comes from the sandbox balance; upheld.
        small = make_job(requester=requester, tasks=1, reward_msat=20_000, sandbox=True)
        lost = rejected(small, workers[2])
        assignment_claim(job=small, worker=workers[3])
        balance_before_hold = sandbox_balance_msat(user=requester)
        held = disputes.dispute_open(assignment_id=lost.public_id, worker=workers[2], message="Please look again.")
        assert sandbox_balance_msat(user=requester) == balance_before_hold - held.held_msat
        disputes.dispute_decide(dispute_id=held.public_id, moderator=moderator, overturn=False, reason="Half empty.")

        # Closing refunds what nobody can claim any more into the sandbox balance.
        balance_before_close = sandbox_balance_msat(user=requester)
        job_services.job_close(job=job, actor=requester)
        assert sandbox_balance_msat(user=requester) == balance_before_close + 2 * per_slot
        assert sandbox_summary(user=workers[0])["earned_msat"] == 20_000 + 7_000
        assert sandbox_summary(user=workers[1])["earned_msat"] == 20_000

    # The payout trigger heard every approval and bonus and started nothing; had it, a worker would find nothing.
    assert enqueued == []
    for worker in workers:
        assert payouts.payout_start_for_worker(worker_id=worker.pk) is None
        assert (earned(worker), wallet_summary(user=worker)["earned_msat"]) == (0, 0)
        with pytest.raises(WithdrawRefused):
            withdraw_link_create(worker=worker)
    assert not set(payouts.workers_waiting_for_payout()) & {worker.pk for worker in workers}
    assert wallet_summary(user=requester)["escrow_msat"] == 0  # play escrow is no real escrow

    assert real_money_snapshot() == before
    assert play_transactions_stay_play() >= {
        TransactionKind.SANDBOX_TOP_UP,
        TransactionKind.ESCROW_FUND,
        TransactionKind.REWARD,
        TransactionKind.BONUS,
        TransactionKind.DISPUTE_HOLD,
        TransactionKind.DISPUTE_RELEASE,
        TransactionKind.ESCROW_REFUND,
    }
    # Play money is conserved: what the mint issued is everywhere else in the play book.
    play_total = sum(Account.objects.filter(book=Book.PLAY).values_list("balance_msat", flat=True))
    assert play_total == 0
    assert ledger_check() == []


def test_a_real_bonus_needs_real_work(requester):
    """A bonus naming no assignment is real money: sandbox work, which costs nothing, does not make a worker
    someone the requester can pay real money to (that would be a way to move a balance into earnings)."""
    worker = make_user(funds_sats=0)
    job = make_job(requester=requester, tasks=1, sandbox=True)
    assignment = make_submitted_assignment(job=job, worker=worker)
    assignment_review(assignment=assignment, reviewer=requester, approve=True)
    real_before = available(requester)
    with pytest.raises(NotFound):
        bonus_pay(requester=requester, worker_id=worker.public_id, amount_msat=5_000, reason="Thanks")
    assert available(requester) == real_before
    assert earned(worker) == 0


def test_topping_up_brings_the_sandbox_balance_to_its_amount_once(requester, settings):
    settings.SANDBOX_BALANCE_USD = 10
    settings.MTURK_SATS_PER_USD = 1_000
    assert sandbox_balance_target_msat() == 10_000_000
    real_before = available(requester)
    assert sandbox_balance_top_up(user=requester) == 10_000_000
    assert sandbox_balance_top_up(user=requester) == 0
    job = make_job(requester=requester, tasks=2, reward_msat=1_000_000, sandbox=True)  # tops up: nothing to add
    spent = sandbox_balance_target_msat() - sandbox_balance_msat(user=requester)
    assert spent == 2 * (job.reward_msat + job.fee_per_assignment_msat)
    assert sandbox_balance_top_up(user=requester) == spent
    assert sandbox_balance_msat(user=requester) == 10_000_000
    assert available(requester) == real_before
    assert LedgerTransaction.objects.filter(kind=TransactionKind.SANDBOX_TOP_UP).count() == 2
