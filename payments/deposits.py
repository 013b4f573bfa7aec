"""Deposits: a requester pays a Lightning invoice and their balance grows, exactly once per payment hash."""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.events import Actor, record_event
from core.faults import kill_point
from core.locks import lock_user
from core.money import MSAT_PER_SAT
from payments.errors import DepositInvalid, LightningUnavailable
from payments.ledger import Line, account_of_user, ledger_post, platform_account
from payments.lightning import InvoiceState, LightningError, get_backend
from payments.models import AccountKind, Deposit, DepositStatus, TransactionKind

# An expired invoice can still turn out paid (some backends settle late, or pay internal invoices after expiry):
# the sweeper keeps looking at expired deposits this long.
LATE_PAYMENT_WINDOW = timedelta(days=1)


def deposit_create(*, user: AbstractUser, amount_msat: int) -> Deposit:
    """Ask the Lightning backend for an invoice of `amount_msat` (whole sats) and remember it."""
    if amount_msat % MSAT_PER_SAT:
        raise DepositInvalid("Deposits are in whole sats.")
    if not settings.DEPOSIT_MIN_MSAT <= amount_msat <= settings.DEPOSIT_MAX_MSAT:
        raise DepositInvalid(
            f"A deposit must be between {settings.DEPOSIT_MIN_MSAT // MSAT_PER_SAT:,} and "
            f"{settings.DEPOSIT_MAX_MSAT // MSAT_PER_SAT:,} sats."
        )
    _check_pending_cap(user)  # early, to spare the node an invoice nobody will see
    try:
        invoice = get_backend().create_invoice(
            amount_msat=amount_msat,
            memo=f"Boltwork deposit for {user.username}",
            expiry_seconds=settings.DEPOSIT_EXPIRY_SECONDS,
        )
    except LightningError as error:
        raise LightningUnavailable(
            "The Lightning node did not answer; no invoice was made. Try again in a minute."
        ) from error
    with transaction.atomic():
        # Again under the user's row lock: requests racing past the first check must not all get an invoice.
        lock_user(user.pk)
        _check_pending_cap(user)
        return Deposit.objects.create(
            user=user,
            amount_msat=amount_msat,
            bolt11=invoice.bolt11,
            payment_hash=invoice.payment_hash,
            expires_at=invoice.expires_at,
        )


def _check_pending_cap(user: AbstractUser) -> None:
    pending = Deposit.objects.filter(user=user, status=DepositStatus.PENDING, expires_at__gt=timezone.now()).count()
    if pending >= settings.DEPOSIT_MAX_PENDING_PER_USER:
        raise DepositInvalid(
            f"You already have {pending} unpaid deposit invoice{'s' if pending != 1 else ''}, the most one account "
            "may hold at once. Pay one of them, or wait until it expires."
        )


def deposit_refresh(*, deposit: Deposit, now: datetime | None = None) -> Deposit:
    """Ask the backend about a deposit's invoice and settle or expire it. Safe to call from anywhere, any number
    of times: the page's polling and the sweeper may both notice the same payment; it is credited once."""
    now = now or timezone.now()
    if deposit.status == DepositStatus.PAID:
        return deposit
    try:
        status = get_backend().invoice_status(payment_hash=deposit.payment_hash)
    except LightningError:
        return deposit  # ask again on the next poll
    if status.state == InvoiceState.PAID:
        kill_point("deposit.paid_not_credited")  # the node says paid, and nothing here knows it yet
        settled = _settle(deposit_id=deposit.pk, now=now)
        kill_point("deposit.credited")  # credited and committed; the caller (a page, a sweep) has not seen it
        return settled
    if deposit.status == DepositStatus.PENDING and (status.state == InvoiceState.EXPIRED or deposit.expires_at <= now):
        Deposit.objects.filter(pk=deposit.pk, status=DepositStatus.PENDING).update(status=DepositStatus.EXPIRED)
    return Deposit.objects.get(pk=deposit.pk)


def _settle(*, deposit_id: int, now: datetime) -> Deposit:
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update(no_key=True).select_related("user").get(pk=deposit_id)
        if deposit.status == DepositStatus.PAID:
            return deposit
        deposit.status = DepositStatus.PAID
        deposit.paid_at = now
        deposit.save(update_fields=["status", "paid_at"])
        ledger_post(
            kind=TransactionKind.DEPOSIT,
            key=f"deposit:{deposit.payment_hash}",
            memo=f"Deposit {deposit.public_id}",
            lines=[
                Line(platform_account(kind=AccountKind.LIGHTNING_IN), -deposit.amount_msat),
                Line(account_of_user(user=deposit.user, kind=AccountKind.REQUESTER_AVAILABLE), deposit.amount_msat),
            ],
        )
        record_event(
            type="deposit.paid",
            actor=Actor.system("a Lightning payment arrived"),
            subject=("deposit", deposit.public_id),
            audience=[deposit.user_id],
            data={
                "deposit_id": deposit.public_id,
                "amount_msat": deposit.amount_msat,
                "payment_hash": deposit.payment_hash,
            },
        )
        kill_point("deposit.credit_uncommitted")  # marked paid and posted to the ledger, not yet committed
    return deposit


def deposits_sync(*, now: datetime | None = None, page_size: int = 200, time_budget: float | None = None) -> int:
    """Refresh pending deposits and recently expired ones, least recently checked first, in pages, until all were
    seen or the time budget is spent. Returns how many were credited.

    Fair by construction: each deposit checked goes to the back of the line, so however many unpaid invoices one
    account piles up, every other deposit is reached within a sweep or two.
    """
    now = now or timezone.now()
    budget = settings.DEPOSIT_SYNC_TIME_BUDGET_SECONDS if time_budget is None else time_budget
    stop_at = time.monotonic() + budget
    candidates = Deposit.objects.filter(
        Q(status=DepositStatus.PENDING) | Q(status=DepositStatus.EXPIRED, expires_at__gte=now - LATE_PAYMENT_WINDOW)
    ).filter(last_checked_at__lt=now)
    credited = 0
    while time.monotonic() < stop_at:
        page = list(candidates.order_by("last_checked_at", "id")[:page_size])
        for deposit in page:
            if time.monotonic() >= stop_at:
                break
            Deposit.objects.filter(pk=deposit.pk).update(last_checked_at=now)
            if deposit_refresh(deposit=deposit, now=now).status == DepositStatus.PAID:
                credited += 1
        if len(page) < page_size:
            break
    return credited
