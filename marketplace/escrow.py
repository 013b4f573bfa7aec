"""Escrow: every open slot on the board is paid for.

A job's escrow holds (reward + platform fee) for every slot that can still be approved: open slots plus
assignments in progress or submitted. Publishing and adding tasks fund it from the requester's balance; an approval
pays the reward to the worker and the fee to the platform; closing or cancelling refunds what no one can claim any
more. A rejected slot stays funded: it re-opens for another worker (see docs/architecture.md).

These functions run inside the caller's transaction (the job or assignment row is already locked).

Every account is named through the job's book (payments.ledger.JobBook): a sandbox job moves play money between
the requester's sandbox balance, its escrow, the worker's sandbox earnings and the sandbox fees, exactly as a real
job moves real money, and never touches a real account.
"""

from django.conf import settings

from marketplace.models import Job, JobStatus, User
from payments.ledger import JobBook, Line, _lock_accounts, ledger_post
from payments.models import LedgerTransaction, TransactionKind

BASIS_POINTS = 10_000


def platform_fee_msat(amount_msat: int) -> int:
    """The platform fee on an amount, rounded up to the millisatoshi."""
    return -(-amount_msat * settings.PLATFORM_FEE_BASIS_POINTS // BASIS_POINTS)


def escrow_per_slot_msat(job: Job) -> int:
    return job.reward_msat + job.fee_per_assignment_msat


def publish_cost_msat(job: Job) -> int:
    """What publishing a draft moves into escrow, at today's fee."""
    per_slot = job.reward_msat + platform_fee_msat(job.reward_msat)
    return per_slot * job.task_count * job.assignments_per_task


def escrow_fund_for_publish(*, job: Job) -> None:
    """Move reward + fee for every slot of a draft from the requester's balance into the job's escrow.

    Fixes the job's fee per assignment. Raises InsufficientFunds (with the amount missing) and moves nothing when
    the balance is short.
    """
    job.fee_per_assignment_msat = platform_fee_msat(job.reward_msat)
    amount = escrow_per_slot_msat(job) * job.task_count * job.assignments_per_task
    _move_into_escrow(job=job, amount_msat=amount, key=f"publish:{job.pk}", memo=f"Escrow for “{job.title}”")


def escrow_fund_for_new_tasks(*, job: Job, new_slots: int, batch_key: str) -> None:
    """Top escrow up for slots added to a published or paused job."""
    amount = escrow_per_slot_msat(job) * new_slots
    _move_into_escrow(
        job=job, amount_msat=amount, key=f"top-up:{job.pk}:{batch_key}", memo=f"Escrow for new tasks of “{job.title}”"
    )


def escrow_refund_for_removed_task(*, job: Job, task_id: int, slots: int) -> None:
    """A task removed from a published or paused job before anyone claimed it: its slots' escrow goes back."""
    amount = escrow_per_slot_msat(job) * slots
    if amount == 0:
        return
    ledger_post(
        kind=TransactionKind.ESCROW_REFUND,
        key=f"task-removed:{task_id}",
        memo=f"Escrow of a removed task of “{job.title}” refunded",
        lines=[Line(JobBook(job).escrow(), -amount), Line(JobBook(job).requester_balance(), amount)],
    )


def escrow_refund_slots(*, job: Job, slots: int, key: str, memo: str) -> int:
    """Slots taken off the board before anyone could fill them (a HIT that expired, tasks.hits): their escrow goes
    back to the requester, once per `key`. Returns the amount."""
    amount = escrow_per_slot_msat(job) * slots
    if amount == 0:
        return 0
    ledger_post(
        kind=TransactionKind.ESCROW_REFUND,
        key=key,
        memo=memo,
        lines=[Line(JobBook(job).escrow(), -amount), Line(JobBook(job).requester_balance(), amount)],
    )
    return amount


def escrow_refund_unused_overlap(*, job: Job, task_id: int, position: int, slots: int) -> int:
    """Dynamic overlap: a task complete with fewer answers than the job funded gives back the escrow of the slots it
    did not use, once per task (key `overlap-unused:<task>`). Returns the amount refunded now: 0 when it already
    was. For a published or paused job (a closed job's refund at close covers these slots); the caller holds the
    task's and the job's locks."""
    amount = escrow_per_slot_msat(job) * slots
    if amount == 0 or escrow_overlap_refunded(task_id=task_id):
        return 0
    ledger_post(
        kind=TransactionKind.ESCROW_REFUND,
        key=_overlap_refund_key(task_id),
        memo=f"Escrow of answers task {position} of “{job.title}” did not need, refunded",
        lines=[Line(JobBook(job).escrow(), -amount), Line(JobBook(job).requester_balance(), amount)],
    )
    return amount


def escrow_overlap_refunded(*, task_id: int) -> bool:
    """Whether the task's unused overlap escrow went back already (then the task may not want more answers)."""
    return LedgerTransaction.objects.filter(key=_overlap_refund_key(task_id)).exists()


def _overlap_refund_key(task_id: int) -> str:
    return f"overlap-unused:{task_id}"


def _move_into_escrow(*, job: Job, amount_msat: int, key: str, memo: str) -> None:
    if amount_msat == 0:
        return
    ledger_post(
        kind=TransactionKind.ESCROW_FUND,
        key=key,
        memo=memo,
        lines=[Line(JobBook(job).requester_balance(), -amount_msat), Line(JobBook(job).escrow(), amount_msat)],
    )


def reward_pay_for_approval(*, job: Job, assignment_id: int, worker: User) -> None:
    """Approval: the reward goes from escrow to the worker's earnings, the fee to the platform. Once per assignment."""
    book = JobBook(job)
    lines = [Line(book.escrow(), -escrow_per_slot_msat(job)), Line(book.earnings_of(worker), job.reward_msat)]
    if job.fee_per_assignment_msat:
        lines.append(Line(book.fees(), job.fee_per_assignment_msat))
    ledger_post(
        kind=TransactionKind.REWARD,
        key=f"reward:{assignment_id}",
        memo=f"Reward for task work on “{job.title}”",
        lines=lines,
    )


def escrow_refund_unclaimable(*, job: Job, event_key: str) -> int:
    """Refund to the requester the escrow no assignment can claim any more. Returns the amount refunded.

    Only for closed or cancelled jobs; called when the job closes and again whenever one of its assignments ends
    unapproved. `event_key` names that event, so each happens at most once. Locks the job row, then the escrow and
    the requester's balance (the order of the rest of the code: job before accounts, accounts by primary key).
    """
    job = Job.objects.select_for_update(no_key=True).get(pk=job.pk)
    if job.status not in {JobStatus.CLOSED, JobStatus.CANCELLED}:
        return 0
    escrow = JobBook(job).escrow()
    requester_balance = JobBook(job).requester_balance()
    # The job row (locked above) holds the count of live assignments; an approval lowers it before it pays the slot
    # out of this escrow, in one transaction: it has either committed before this lock (both halves seen) or waits
    # for it (neither seen). Read apart, one committing between the count and the balance would be seen half, and
    # one slot's escrow stranded. The accounts are locked in the ledger's order (ledger_post takes them below).
    escrow_balance = _lock_accounts([escrow.pk, requester_balance.pk])[escrow.pk].balance_msat
    still_claimable = escrow_per_slot_msat(job) * job.live_assignment_count
    surplus = escrow_balance - still_claimable
    if surplus <= 0:
        return 0
    ledger_post(
        kind=TransactionKind.ESCROW_REFUND,
        key=f"refund:{job.pk}:{event_key}",
        memo=f"Unused escrow of “{job.title}” refunded",
        lines=[Line(escrow, -surplus), Line(requester_balance, surplus)],
    )
    return surplus


# Disputes ---------------------------------------------------------------------------------------------------------
# The disputed slot's reward + fee sit in the job's dispute hold until a decision. Each movement happens once per
# dispute (its key names the dispute and the step).


def dispute_hold_from_escrow(*, job: Job, dispute_key: str) -> int:
    """The hold taken from the slot the rejection re-opened (the caller takes that slot off the board)."""
    amount = escrow_per_slot_msat(job)
    _move(
        kind=TransactionKind.DISPUTE_HOLD,
        key=f"dispute-hold:{dispute_key}",
        source=JobBook(job).escrow(),
        destination=JobBook(job).dispute_hold(),
        amount_msat=amount,
        memo=f"Held for a dispute on “{job.title}”",
    )
    return amount


def dispute_hold_from_balance(*, job: Job, dispute_key: str) -> int:
    """The hold taken from the requester's balance, when the rejected slot's escrow went back to them or to another
    worker. InsufficientFunds when the balance is short."""
    amount = escrow_per_slot_msat(job)
    _move(
        kind=TransactionKind.DISPUTE_HOLD,
        key=f"dispute-hold:{dispute_key}",
        source=JobBook(job).requester_balance(),
        destination=JobBook(job).dispute_hold(),
        amount_msat=amount,
        memo=f"Held for a dispute on “{job.title}”",
    )
    return amount


def dispute_release_to_escrow(*, job: Job, dispute_key: str, amount_msat: int) -> None:
    """The hold back into the job's escrow: to pay the overturned work, or to fund the slot again when upheld."""
    _move(
        kind=TransactionKind.DISPUTE_RELEASE,
        key=f"dispute-release:{dispute_key}",
        source=JobBook(job).dispute_hold(),
        destination=JobBook(job).escrow(),
        amount_msat=amount_msat,
        memo=f"Dispute on “{job.title}” decided",
    )


def dispute_release_to_requester(*, job: Job, dispute_key: str, amount_msat: int) -> None:
    """The hold back to the requester: the rejection stands and the job takes no more work."""
    _move(
        kind=TransactionKind.DISPUTE_RELEASE,
        key=f"dispute-release:{dispute_key}",
        source=JobBook(job).dispute_hold(),
        destination=JobBook(job).requester_balance(),
        amount_msat=amount_msat,
        memo=f"Dispute on “{job.title}” decided: the hold back in the requester's balance",
    )


def _move(*, kind: str, key: str, source, destination, amount_msat: int, memo: str) -> None:
    if amount_msat == 0:
        return
    ledger_post(kind=kind, key=key, memo=memo, lines=[Line(source, -amount_msat), Line(destination, amount_msat)])
