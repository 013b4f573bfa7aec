"""Money: GetAccountBalance, SendBonus, ListBonusPayments. The live endpoint reads and moves real money; the sandbox
endpoint the requester's play money, never the other."""

from django.db.models import Sum

from core.errors import NotFound
from marketplace.models import Job
from mturk import amounts, shapes
from mturk.lookups import assignments_of, own_hit
from mturk.protocol import Caller, RequestError, after_key, entity_id, listing, page, page_size, text
from mturk.tokens import once_per_token
from payments.models import Account, AccountKind, Bonus
from tasks.bonuses import bonus_pay

MAX_REASON_CHARS = 1_000


def get_account_balance(caller: Caller, params: dict) -> dict:
    available_kind = AccountKind.SANDBOX_REQUESTER_AVAILABLE if caller.sandbox else AccountKind.REQUESTER_AVAILABLE
    available = (
        Account.objects.filter(user=caller.user, kind=available_kind).values_list("balance_msat", flat=True).first()
        or 0
    )
    on_hold = (
        Account.objects.filter(
            kind__in=[AccountKind.JOB_ESCROW, AccountKind.DISPUTE_HOLD],
            job__requester=caller.user,
            job__sandbox=caller.sandbox,
        ).aggregate(total=Sum("balance_msat"))["total"]
        or 0
    )
    return {
        "AvailableBalance": shapes.money(available, caller),
        "OnHoldBalance": shapes.money(on_hold, caller),
    }


def send_bonus(caller: Caller, params: dict) -> dict:
    worker_id = text(params, "WorkerId", required=True, max_length=64)
    assignment_id = entity_id(params, "AssignmentId")
    reason = text(params, "Reason", required=True, max_length=MAX_REASON_CHARS)
    # As on Mechanical Turk, a bonus is for submitted work (approved, rejected or waiting for review).
    assignment = (
        assignments_of(caller).filter(public_id=assignment_id, status__in=list(shapes.ASSIGNMENT_STATUSES)).first()
    )
    if assignment is None or assignment.worker.public_id != worker_id:
        raise NotFound(f"Assignment {assignment_id} of worker {worker_id} does not exist among your HITs.")
    job: Job = assignment.job
    amount_msat = amounts.to_msat(
        text(params, "BonusAmount", required=True),
        currency=caller.currency,
        sats_per_usd=job.sats_per_usd,
        name="BonusAmount",
    )
    if amount_msat == 0:
        raise RequestError("BonusAmount must be more than zero.")

    def act() -> str:
        bonus_pay(
            requester=caller.user,
            worker_id=worker_id,
            amount_msat=amount_msat,
            reason=reason,
            assignment_id=assignment_id,
        )
        return assignment_id

    once_per_token(caller, params, operation="SendBonus", act=act, what="bonus's assignment")
    return {}


def list_bonus_payments(caller: Caller, params: dict) -> dict:
    hit_id = params.get("HITId")
    assignment_id = params.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise RequestError("Give either HITId or AssignmentId.")
    bonuses = Bonus.objects.filter(requester=caller.user, assignment__job__sandbox=caller.sandbox).select_related(
        "worker", "assignment__job"
    )
    if hit_id is not None:
        task = own_hit(caller, entity_id(params, "HITId"), disposed_too=True)
        bonuses = bonuses.filter(assignment__task=task)
        scope = f"ListBonusPayments:hit:{task.public_id}"
    else:
        bonuses = bonuses.filter(assignment__public_id=entity_id(params, "AssignmentId"))
        scope = f"ListBonusPayments:assignment:{assignment_id}"
    size = page_size(params)
    after = after_key(params, scope=scope)
    if after is not None:
        bonuses = bonuses.filter(pk__gt=after)
    rows, next_token = page(bonuses.order_by("pk")[: size + 1], size=size, scope=scope, key=lambda bonus: bonus.pk)
    return listing([shapes.bonus_shape(bonus, caller) for bonus in rows], name="BonusPayments", next_token=next_token)


OPERATIONS = {
    "GetAccountBalance": get_account_balance,
    "SendBonus": send_bonus,
    "ListBonusPayments": list_bonus_payments,
}
