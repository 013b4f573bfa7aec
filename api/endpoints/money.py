"""The caller's balances, deposits, bonuses, payouts and payout destination."""

from django.http import HttpRequest
from ninja import Router, Status
from ninja.decorators import decorate_view

from api import schemas
from api.core import ApiError, idempotent, page_of
from api.endpoints.common import ERRORS, MONEY, READ
from payments import deposits
from payments import selectors as money_selectors
from payments import services as money_services
from tasks import bonuses

router = Router(tags=["money"])


@router.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["account"], auth=READ)
def me(request: HttpRequest):
    summary = money_selectors.wallet_summary(user=request.auth)
    return {"id": request.auth.public_id, "username": request.auth.username, **summary}


@router.post("/deposits", response={201: schemas.DepositOut, 503: schemas.ErrorOut, **ERRORS}, auth=MONEY)
@decorate_view(idempotent)
def deposit_create(request: HttpRequest, body: schemas.DepositIn):
    return Status(201, deposits.deposit_create(user=request.auth, amount_msat=body.amount_msat))


@router.get("/deposits/{deposit_id}", response={200: schemas.DepositOut, **ERRORS}, auth=READ)
def deposit_get(request: HttpRequest, deposit_id: str):
    deposit = money_selectors.deposit_of_user_get(user=request.auth, public_id=deposit_id)
    return deposits.deposit_refresh(deposit=deposit)


@router.post("/bonuses", response={201: schemas.BonusOut, 402: schemas.ErrorOut, **ERRORS}, auth=MONEY)
@decorate_view(idempotent)
def bonus_create(request: HttpRequest, body: schemas.BonusIn):
    bonus = bonuses.bonus_pay(
        requester=request.auth,
        worker_id=body.worker_id,
        amount_msat=body.amount_msat,
        reason=body.reason,
        assignment_id=body.assignment_id,
    )
    return Status(201, bonus)


@router.get("/payouts", response={200: schemas.PayoutPage, **ERRORS}, auth=READ)
def payouts(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    return page_of(money_selectors.payouts_of_worker(worker=request.auth), cursor=cursor, limit=limit)


@router.put("/me/payout-destination", response={200: schemas.PayoutDestinationOut, **ERRORS}, auth=MONEY)
def payout_destination_set(request: HttpRequest, body: schemas.PayoutDestinationIn):
    if body.lightning_address and body.lnurl:
        raise ApiError(400, "validation_error", "Give either lightning_address or lnurl, not both.")
    return money_services.payout_destination_set(
        user=request.auth,
        address=body.lightning_address or body.lnurl or "",
        auto_payout=body.auto_payout,
        minimum_payout_msat=body.minimum_payout_msat,
    )
