"""Bonuses: a requester pays a worker who did work for them an extra amount, paid out like a reward.

A bonus is in the book of the work it is for: on a sandbox job's assignment it is play money, from the requester's
sandbox balance to the worker's sandbox earnings (payments.ledger.BookAccounts). A bonus that names no assignment is
real money and needs real work: sandbox work costs nothing, so counting it would let a requester's second account
turn the requester's balance into earnings (the self-dealing the check below closes)."""

from django.db import transaction

from core.errors import InvalidInput, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id, is_worker_id
from core.money import MSAT_PER_SAT
from marketplace.escrow import platform_fee_msat
from marketplace.models import User
from payments.ledger import BookAccounts, Line, ledger_post
from payments.models import Bonus, TransactionKind
from tasks.models import Assignment

MAX_BONUS_MSAT = 10_000_000 * MSAT_PER_SAT


def bonus_pay(
    *, requester: User, worker_id: str, amount_msat: int, reason: str, assignment_id: str | None = None
) -> Bonus:
    """Pay a worker a bonus from the requester's balance (plus the platform fee), paid out like a reward.

    The worker and the assignment are named by their public ids. Only to a worker who did work for this requester
    (on the given assignment, if any). A worker id that names nobody gets the same refusal, after the same checks,
    as a real but unrelated user: the answer never tells whether an account exists.
    """
    if worker_id == requester.public_id:
        # With the claim check in tasks, this closes self-dealing: paying yourself was a way to move a requester
        # balance out as "earnings" (requesters withdraw unspent balance directly instead).
        raise InvalidInput("You cannot pay a bonus to yourself.")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say what the bonus is for: the worker will see it.")
    if len(reason) > 1_000:
        raise InvalidInput("The reason is limited to 1,000 characters.")
    if not 1 <= amount_msat <= MAX_BONUS_MSAT:
        raise InvalidInput(f"A bonus must be between 1 msat and {MAX_BONUS_MSAT // MSAT_PER_SAT:,} sats.")
    if not is_worker_id(worker_id) or not (assignment_id is None or is_public_id(assignment_id)):
        raise NotFound("No such worker or assignment among your jobs.")
    work = Assignment.objects.filter(worker__public_id=worker_id, job__requester=requester)
    if assignment_id is not None:
        work = work.filter(public_id=assignment_id)
    else:
        work = work.filter(job__sandbox=False)
    found = work.values("pk", "worker_id", "job__sandbox").first()
    if found is None:
        raise NotFound("No such worker or assignment among your jobs.")
    book = BookAccounts(sandbox=found["job__sandbox"])
    fee = platform_fee_msat(amount_msat)
    with transaction.atomic():
        bonus = Bonus.objects.create(
            requester=requester,
            worker_id=found["worker_id"],
            assignment_id=found["pk"] if assignment_id is not None else None,
            amount_msat=amount_msat,
            fee_msat=fee,
            reason=reason,
        )
        lines = [
            Line(book.requester_balance_of(requester), -(amount_msat + fee)),
            Line(book.earnings_of(bonus.worker), amount_msat),
        ]
        if fee:
            lines.append(Line(book.fees(), fee))
        ledger_post(kind=TransactionKind.BONUS, key=f"bonus:{bonus.pk}", memo=f"Bonus: {reason[:200]}", lines=lines)
        record_event(
            type="bonus.paid",
            actor=Actor.of(requester),
            subject=("bonus", bonus.public_id),
            audience=[requester.pk, bonus.worker_id],
            data={
                "bonus_id": bonus.public_id,
                "worker_id": worker_id,
                "amount_msat": amount_msat,
                "fee_msat": fee,
                "assignment_id": assignment_id,
                "sandbox": found["job__sandbox"],
            },
        )
    return bonus
