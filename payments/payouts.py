"""Payouts: a state machine whose every state is written before the outside call it guards.

    created → invoice_requested → invoice_verified → sending → succeeded
                                                          ↘ (definite failure) created again, with a new invoice
    any open state → needs_moderator after too many attempts; a moderator retries it or fails it.
    failed: the money goes back to the worker's balance.

Rules learned the hard way elsewhere (BTCPay Server, LNbits): no database transaction is open during an HTTP call;
the answer of a payment is paid, failed or unknown; unknown stays `sending` and is resolved by asking the backend
about the stored payment hash; no new invoice is fetched while an old one might still be paid; only a definite
failure gives the money back.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from core.errors import InvalidTransition
from core.events import Actor, record_event
from core.faults import kill_point
from core.safe_http import FetchFailed, UnsafeUrl
from payments import invoices, lnurl_client
from payments.errors import PayoutStillInFlight
from payments.host_limits import payout_host_slot
from payments.ledger import Line, account_of_user, balance_msat, ledger_post, platform_account
from payments.lightning import PaymentOutcome, PaymentResult, get_backend
from payments.models import (
    OPEN_PAYOUT_STATES,
    PAYOUT_TRANSITIONS,
    Account,
    AccountKind,
    Payout,
    PayoutDestination,
    PayoutKind,
    PayoutSource,
    PayoutState,
    TransactionKind,
)

logger = logging.getLogger(__name__)
SYSTEM = Actor.system("payouts")

BASIS_POINTS = 10_000
# A payout stuck in `invoice_requested` this long lost its process mid-request: no invoice was stored, so asking
# again is safe.
STALE_REQUEST_AFTER = timedelta(minutes=5)
# A request that a database error interrupted (no invoice stored) is asked again this soon.
DATABASE_BUSY_RETRY = timedelta(seconds=2)
GIVE_BACK_ATTEMPTS = 5
PAYMENT_COMMENT = "Boltwork payout"
# How long after entering `sending` a backend's "failed" (as opposed to the pay call's own answer) is believed.
SENDING_SETTLE_TIME = timedelta(minutes=5)
# After a payout failed for good, automatic payouts for that worker pause this long.
FAILED_PAUSE = timedelta(hours=1)
DESTINATION_CHANGED = "You changed your Lightning Address: paying to the new one."
DESTINATION_REMOVED = (
    "You removed your Lightning Address before this payout had an invoice: the amount is back in your balance."
)


def payout_fee_limit_msat(amount_msat: int) -> int:
    """The most routing fee the platform pays for a payout: max(floor, percentage), but never more than the
    largest share of the amount the platform accepts (PAYOUT_FEE_LIMIT_MAX_PERCENT). Without that bound a floor of
    10 sats on a 1-sat payout would be a 1,000% fee, collected by whoever controls the route's last hop."""
    percentage = amount_msat * settings.PAYOUT_FEE_LIMIT_BASIS_POINTS // BASIS_POINTS
    ceiling = amount_msat * settings.PAYOUT_FEE_LIMIT_MAX_BASIS_POINTS // BASIS_POINTS
    return min(max(settings.PAYOUT_FEE_LIMIT_FLOOR_MSAT, percentage), ceiling)


def payout_minimum_msat(destination: PayoutDestination | None = None) -> int:
    """The smallest automatic payout: the platform's minimum, or the worker's own if that is higher."""
    own = destination.minimum_payout_msat if destination is not None else 0
    return max(settings.PAYOUT_MIN_MSAT, own)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1 min, 2 min, … capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


# Starting a payout ---------------------------------------------------------------------------------------------


def payout_start_for_worker(*, worker_id: int) -> Payout | None:
    """Pay a worker's whole earned balance to their Lightning Address, if they want automatic payouts.

    Does nothing (returns None) without a destination, with auto-payout off, under the worker's minimum, while
    another payout of theirs is open (one payout at a time per worker, so a balance is never sent twice), or for an
    inactive (banned) account: what happens to a banned worker's earnings is a moderator's decision.
    """
    with transaction.atomic():
        worker = get_user_model().objects.select_for_update(no_key=True).filter(pk=worker_id).first()
        if worker is None or not worker.is_active:
            return None
        destination = PayoutDestination.objects.filter(user=worker).first()
        if destination is None or not destination.address or not destination.auto_payout:
            return None
        if Payout.objects.filter(worker=worker, kind=PayoutKind.LNURL_PAY, state__in=OPEN_PAYOUT_STATES).exists():
            return None
        amount = _whole_sats(balance_msat(account=account_of_user(user=worker, kind=AccountKind.WORKER_EARNED)))
        if amount <= 0 or amount < payout_minimum_msat(destination):
            return None
        return payout_create(
            worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=amount, destination=destination.address
        )


def _whole_sats(amount_msat: int) -> int:
    # Most wallets, LNbits included, invoice whole sats; the millisatoshis stay in the balance for next time.
    return amount_msat - amount_msat % 1000


def payout_create(
    *,
    worker: AbstractUser,
    kind: str,
    amount_msat: int,
    destination: str,
    source: str = PayoutSource.EARNINGS,
    **fields,
) -> Payout:
    """Create the payout and move its amount from the user's `source` balance (a worker's earnings, or a
    requester's unspent balance) into `payouts_in_flight`, in the caller's transaction, and record
    `payout.started` (its handler starts the payout's background job once that commits).

    Who pays the routing fee: the platform for earnings; the requester for unspent balance, since that money paid
    the platform no fee and a requester could otherwise cycle deposits and withdrawals through a route whose last
    hop they own, at the platform's cost. Their fee limit is held from the balance beside the amount."""
    fee_limit = payout_fee_limit_msat(amount_msat)
    reserve = fee_limit if source == PayoutSource.BALANCE else 0
    payout = Payout.objects.create(
        worker=worker,
        kind=kind,
        source=source,
        amount_msat=amount_msat,
        destination=destination,
        fee_limit_msat=fee_limit,
        fee_reserve_msat=reserve,
        next_attempt_at=timezone.now(),
        **fields,
    )
    ledger_post(
        kind=TransactionKind.PAYOUT_START,
        key=f"payout-start:{payout.pk}",
        memo=f"Payout {payout.public_id}",
        lines=[
            Line(account_of_user(user=worker, kind=source), -(amount_msat + reserve)),
            Line(platform_account(kind=AccountKind.PAYOUTS_IN_FLIGHT), amount_msat + reserve),
        ],
    )
    _record(payout, "payout.started", actor=SYSTEM)
    return payout


def payouts_follow_destination(*, worker: AbstractUser, address: str) -> None:
    """The worker changed or removed their Lightning Address: every open payout of theirs that holds no invoice
    yet follows it. With a new address it is asked for afresh (a payout waiting for a moderator gets new
    attempts); with none, its amount goes back to the worker's earnings. A payout with an invoice is left alone:
    that invoice may be paid already. Call inside the transaction that saves the address."""
    now = timezone.now()
    unpaid = Payout.objects.select_for_update(no_key=True).filter(
        worker=worker,
        kind=PayoutKind.LNURL_PAY,
        payment_hash__isnull=True,
        state__in=[PayoutState.CREATED, PayoutState.INVOICE_REQUESTED, PayoutState.NEEDS_MODERATOR],
    )
    for payout in unpaid.exclude(destination=address).order_by("pk"):
        if payout.state == PayoutState.INVOICE_REQUESTED:
            # A request to the old address is under way: `_store_invoice` sees the change when it answers. update(),
            # so `updated_at` keeps saying when that request started (see STALE_REQUEST_AFTER).
            Payout.objects.filter(pk=payout.pk).update(destination=address)
            continue
        if not address:
            _fail_locked(payout, reason=DESTINATION_REMOVED, actor=Actor.of(worker))
            continue
        fresh = {"destination": address, "attempts": 0, "next_attempt_at": now, "last_error": DESTINATION_CHANGED}
        if payout.state == PayoutState.CREATED:
            Payout.objects.filter(pk=payout.pk).update(**fresh, updated_at=now)
            payout.refresh_from_db()
            _record(payout, "payout.redirected", actor=Actor.of(worker))
        else:
            _transition(payout, PayoutState.CREATED, actor=Actor.of(worker), **fresh)


# Moving a payout along -----------------------------------------------------------------------------------------


def payout_advance(*, payout_id: int, now: datetime | None = None) -> Payout:
    """Take a payout as far as it can go now. Safe to call any number of times, from any number of processes:
    each step claims its state under a row lock before the outside call, and a step already taken is skipped."""
    for _ in range(4):  # at most: request invoice, send, (re-check), done
        payout = Payout.objects.get(pk=payout_id)
        if payout.state == PayoutState.CREATED:
            stepped = _request_invoice(payout_id=payout_id, now=now)
        elif payout.state == PayoutState.INVOICE_VERIFIED:
            stepped = _send(payout_id=payout_id, now=now)
        elif payout.state == PayoutState.SENDING:
            stepped = _check_sending(payout_id=payout_id, now=now)
            return Payout.objects.get(pk=payout_id)
        else:
            return payout
        if not stepped:
            break
    return Payout.objects.get(pk=payout_id)


def _move(*, payout_id: int, from_states: set[str], to_state: str, **fields) -> Payout | None:
    """Lock the payout and move it from one of `from_states` to `to_state`, saving `fields`. None when it is not
    in one of those states any more (another process got there first)."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state not in from_states:
            return None
        _transition(payout, to_state, actor=SYSTEM, **fields)
    return payout


def _transition(payout: Payout, to_state: str, *, actor: Actor, **fields) -> None:
    """The one gate of the payout state machine, for a payout the caller has locked: refuses a move the
    transitions table does not allow, saves the state with `fields`, and records `payout.<state>`."""
    if to_state not in PAYOUT_TRANSITIONS[payout.state]:
        raise InvalidTransition(f"Payout {payout.public_id}: {payout.state} → {to_state} is not allowed.")
    payout.state = to_state
    for name, value in fields.items():
        setattr(payout, name, value)
    payout.save()
    _record(payout, f"payout.{to_state}", actor=actor)


def _record(payout: Payout, event_type: str, *, actor: Actor) -> None:
    record_event(
        type=event_type,
        actor=actor,
        subject=("payout", payout.public_id),
        audience=[payout.worker_id],
        data={
            "payout_id": payout.public_id,
            "worker_id": payout.worker.public_id,
            "kind": payout.kind,
            "source": payout.source,
            "amount_msat": payout.amount_msat,
            "state": payout.state,
            "attempts": payout.attempts,
            "due_at": payout.next_attempt_at.isoformat() if payout.next_attempt_at else None,
            "error": payout.last_error,
        },
    )


def _request_invoice(*, payout_id: int, now: datetime | None) -> bool:
    now = now or timezone.now()
    payout = Payout.objects.get(pk=payout_id)
    if payout.next_attempt_at and payout.next_attempt_at > now:
        return False
    payout = _with_current_destination(payout)
    if payout is None:
        return False
    slot = payout_host_slot(payout.destination)
    if slot is None:
        # Another payout is asking this wallet's server (which may be slow): ask shortly, spending no attempt, and
        # leave this process to other workers' payouts. The job or the sweeper comes back when it is due.
        retry_at = now + timedelta(seconds=settings.LNURL_HOST_BUSY_RETRY_SECONDS)
        Payout.objects.filter(pk=payout_id, state=PayoutState.CREATED).update(next_attempt_at=retry_at)
        return False
    payout = _move(
        payout_id=payout_id,
        from_states={PayoutState.CREATED},
        to_state=PayoutState.INVOICE_REQUESTED,
        attempts=payout.attempts + 1,
    )
    if payout is None:
        slot.release()
        return False
    try:
        return _ask_for_invoice(payout, slot=slot, now=now)
    except DatabaseError:
        # The database refused a write after the payout moved to `invoice_requested` (SQLite under `make run`:
        # "database is locked"). No invoice was stored: put it back to be asked again in seconds, then let the job's
        # retry come back for it.
        _give_back_interrupted_request(payout_id=payout_id)
        raise


def _ask_for_invoice(payout: Payout, *, slot, now: datetime) -> bool:
    payout_id = payout.pk
    kill_point("payout.invoice_requested")  # the state says "asking", and nothing was asked yet
    try:
        with slot:
            offer = _fetch_invoice(payout)
    except (lnurl_client.InvalidDestination, lnurl_client.AmountOutOfRange) as error:
        # The address is wrong, or its wallet does not take this amount: asking again will not help. The worker
        # gets the money back and is told; a later payout of a different amount may work.
        _fail(payout_id=payout_id, from_states={PayoutState.INVOICE_REQUESTED}, reason=str(error))
        return False
    except (lnurl_client.LnurlFailure, UnsafeUrl, FetchFailed) as error:
        _retry_later(payout_id=payout_id, reason=str(error), now=now)
        return False
    try:
        return _store_invoice(payout_id=payout_id, asked_destination=payout.destination, offer=offer, now=now)
    except IntegrityError:
        _retry_later(payout_id=payout_id, reason="The wallet sent an invoice that was already used.", now=now)
        return False


def _give_back_interrupted_request(*, payout_id: int) -> None:
    """Back from `invoice_requested` to `created`, due in DATABASE_BUSY_RETRY, without spending an attempt. Such
    database errors pass, so this tries a few times; if it never gets through, the sweeper's STALE_REQUEST_AFTER
    rule still recovers the payout."""
    for attempt in range(GIVE_BACK_ATTEMPTS):
        try:
            with transaction.atomic():
                payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
                if payout.state == PayoutState.INVOICE_REQUESTED:
                    _transition(
                        payout,
                        PayoutState.CREATED,
                        actor=SYSTEM,
                        attempts=max(payout.attempts - 1, 0),
                        last_error="The database was busy: asking for the invoice again in a moment.",
                        next_attempt_at=timezone.now() + DATABASE_BUSY_RETRY,
                    )
            return
        except DatabaseError:
            logger.warning("Payout %s: could not give back its interrupted request (try %s)", payout_id, attempt + 1)
            time.sleep(0.25 * (attempt + 1))


def _with_current_destination(payout: Payout) -> Payout | None:
    """An automatic payout asks for its invoice where the worker wants to be paid now: one whose invoice was dropped
    after a change of address (a failed payment, an expired invoice, a moderator's retry), or that was started as
    the address changed, follows the new address; with none left, its money returns. None when it was failed."""
    if payout.kind != PayoutKind.LNURL_PAY:
        return payout
    current = PayoutDestination.objects.filter(user_id=payout.worker_id).values_list("address", flat=True).first()
    current = current or ""
    if current == payout.destination:
        return payout
    if not current:
        _fail(payout_id=payout.pk, from_states={PayoutState.CREATED}, reason=DESTINATION_REMOVED)
        return None
    Payout.objects.filter(pk=payout.pk, state=PayoutState.CREATED).update(destination=current)
    return Payout.objects.get(pk=payout.pk)


def _store_invoice(*, payout_id: int, asked_destination: str, offer: lnurl_client.InvoiceOffer, now: datetime) -> bool:
    """Keep the wallet's invoice, unless the worker changed their address while we were asking: then the invoice
    of the old address is dropped (nothing was paid) and the payout asks the new one, or returns the money when
    the address was removed."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state != PayoutState.INVOICE_REQUESTED:
            return False
        if payout.destination != asked_destination:
            if not payout.destination:
                _fail_locked(payout, reason=DESTINATION_REMOVED)
                return False
            _transition(payout, PayoutState.CREATED, actor=SYSTEM, next_attempt_at=now, last_error=DESTINATION_CHANGED)
            return True
        _transition(
            payout,
            PayoutState.INVOICE_VERIFIED,
            actor=SYSTEM,
            bolt11=offer.bolt11,
            payment_hash=offer.payment_hash,
            success_action=offer.success_action,
            last_error="",
        )
    kill_point("payout.invoice_stored")  # the invoice is kept, and the pay call is still to come
    return True


def _fetch_invoice(payout: Payout) -> lnurl_client.InvoiceOffer:
    url = lnurl_client.parse_pay_destination(payout.destination)
    pay_request = lnurl_client.fetch_pay_request(url)
    offer = lnurl_client.request_invoice(pay_request, amount_msat=payout.amount_msat, comment=PAYMENT_COMMENT)
    if not offer.description_hash_matches:
        logger.warning("Payout %s: the invoice's description hash does not match the LNURL metadata", payout.pk)
    return offer


def _retry_later(*, payout_id: int, reason: str, now: datetime) -> None:
    """The invoice could not be had (nothing was paid): ask again after a backoff, or hand over to a moderator."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state != PayoutState.INVOICE_REQUESTED:
            return
        if payout.kind == PayoutKind.LNURL_PAY and not payout.destination:
            # The worker removed their address while this request was under way: nothing to ask again.
            _fail_locked(payout, reason=DESTINATION_REMOVED)
            return
        if payout.attempts >= settings.PAYOUT_MAX_ATTEMPTS:
            _transition(payout, PayoutState.NEEDS_MODERATOR, actor=SYSTEM, last_error=reason[:2000])
        else:
            _transition(
                payout,
                PayoutState.CREATED,
                actor=SYSTEM,
                last_error=reason[:2000],
                next_attempt_at=now + retry_delay(payout.attempts),
            )


def _send(*, payout_id: int, now: datetime | None) -> bool:
    now = now or timezone.now()
    payout = Payout.objects.get(pk=payout_id)
    expiring = _invoice_expires_too_soon(payout, now)
    if expiring and payout.kind == PayoutKind.WITHDRAW:
        # The wallet gave us this one invoice; there is no asking for another. Nothing was sent.
        reason = "The wallet's invoice expired before it was paid; withdraw again for a new one."
        _fail(payout_id=payout_id, from_states={PayoutState.INVOICE_VERIFIED}, reason=reason)
        return False
    if expiring:
        # Never sent, so it can never be paid: drop it and ask the wallet for a fresh one.
        _move(
            payout_id=payout_id,
            from_states={PayoutState.INVOICE_VERIFIED},
            to_state=PayoutState.CREATED,
            bolt11="",
            payment_hash=None,
            last_error="The invoice expired before it was paid; asking the wallet for a new one.",
            next_attempt_at=now,
        )
        return True
    payout = _move(payout_id=payout_id, from_states={PayoutState.INVOICE_VERIFIED}, to_state=PayoutState.SENDING)
    if payout is None:
        return False
    kill_point("payout.sending")  # the state says "sending", and the pay call was not made
    result = get_backend().pay_invoice(bolt11=payout.bolt11, fee_limit_msat=payout.fee_limit_msat)
    kill_point("payout.paid_not_recorded")  # the backend paid, and nothing here knows it yet
    _record_payment_result(payout_id=payout_id, result=result, now=timezone.now())
    return False


def _invoice_expires_too_soon(payout: Payout, now: datetime) -> bool:
    return invoices.decode(payout.bolt11).expires_at <= now + timedelta(seconds=10)


def _check_sending(*, payout_id: int, now: datetime | None) -> bool:
    """Ask the backend what became of a payment whose answer was unknown."""
    now = now or timezone.now()
    payout = Payout.objects.get(pk=payout_id)
    result = get_backend().payment_status(payment_hash=payout.payment_hash)
    if result.outcome == PaymentOutcome.FAILED and payout.updated_at > now - SENDING_SETTLE_TIME:
        # "No such payment" can also mean "not recorded yet" (LNbits queues payments behind a wallet lock): only
        # believe a failure once the pay call has certainly ended, or a new invoice could be paid beside the old.
        result = PaymentResult(outcome=PaymentOutcome.UNKNOWN, reason=result.reason)
    _record_payment_result(payout_id=payout_id, result=result, now=now)
    return False


def _record_payment_result(*, payout_id: int, result: PaymentResult, now: datetime) -> None:
    if result.outcome == PaymentOutcome.PAID:
        _succeed(payout_id=payout_id, preimage=result.preimage, fee_msat=result.fee_msat or 0, now=now)
    elif result.outcome == PaymentOutcome.FAILED:
        _payment_failed(payout_id=payout_id, reason=result.reason, now=now)
    else:
        _still_unknown(payout_id=payout_id, reason=result.reason, now=now)


def _succeed(*, payout_id: int, preimage: str, fee_msat: int, now: datetime) -> None:
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state == PayoutState.SUCCEEDED:
            return
        _transition(
            payout,
            PayoutState.SUCCEEDED,
            actor=SYSTEM,
            preimage=preimage,
            fee_msat=fee_msat,
            settled_at=now,
            last_error="",
            next_attempt_at=None,
        )
        ledger_post(kind=TransactionKind.PAYOUT_SUCCESS, key=f"payout-success:{payout.pk}", lines=_paid_lines(payout))


def _paid_lines(payout: Payout) -> list[Line]:
    """The money in flight leaves for the outside world with its routing fee. The user's fee reserve pays the fee
    first and its rest goes back to them; the platform pays any fee beyond the reserve."""
    fee = payout.fee_msat or 0
    paid_by_user = min(fee, payout.fee_reserve_msat)
    lines = [
        Line(platform_account(kind=AccountKind.PAYOUTS_IN_FLIGHT), -(payout.amount_msat + payout.fee_reserve_msat)),
        Line(platform_account(kind=AccountKind.LIGHTNING_OUT), payout.amount_msat + fee),
    ]
    if payout.fee_reserve_msat - paid_by_user:
        lines.append(
            Line(account_of_user(user=payout.worker, kind=payout.source), payout.fee_reserve_msat - paid_by_user)
        )
    if fee - paid_by_user:
        lines.append(Line(platform_account(kind=AccountKind.ROUTING_FEES), -(fee - paid_by_user)))
    return lines


def _payment_failed(*, payout_id: int, reason: str, now: datetime) -> None:
    """The backend is sure the payment did not happen: the invoice is dead, so a new one may be asked for."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state != PayoutState.SENDING:
            return
        error = f"Payment failed: {reason}"[:2000]
        if payout.kind == PayoutKind.WITHDRAW:
            # The wallet gave us this one invoice; there is no asking for another.
            _fail_locked(payout, reason=error)
            return
        dropped = {"bolt11": "", "payment_hash": None, "last_error": error}
        if payout.attempts >= settings.PAYOUT_MAX_ATTEMPTS:
            _transition(payout, PayoutState.NEEDS_MODERATOR, actor=SYSTEM, **dropped)
        else:
            _transition(
                payout, PayoutState.CREATED, actor=SYSTEM, next_attempt_at=now + retry_delay(payout.attempts), **dropped
            )


def _still_unknown(*, payout_id: int, reason: str, now: datetime) -> None:
    # update(), not save(): `updated_at` must keep saying when sending started (see SENDING_SETTLE_TIME).
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state != PayoutState.SENDING:
            return
        Payout.objects.filter(pk=payout_id).update(
            last_error=f"Waiting for the payment's outcome: {reason}"[:2000],
            next_attempt_at=now + retry_delay(payout.attempts),
        )


def _fail(*, payout_id: int, from_states: set[str], reason: str) -> None:
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout_id)
        if payout.state in from_states:
            _fail_locked(payout, reason=reason)


def _fail_locked(payout: Payout, *, reason: str, actor: Actor | None = None) -> None:
    """Give the money back to the balance it came from. Only for payouts that certainly sent nothing."""
    _transition(payout, PayoutState.FAILED, actor=actor or SYSTEM, last_error=reason[:2000], next_attempt_at=None)
    ledger_post(
        kind=TransactionKind.PAYOUT_RETURN,
        key=f"payout-return:{payout.pk}",
        memo=f"Payout {payout.public_id} failed: the amount is back in your balance",
        lines=[
            Line(platform_account(kind=AccountKind.PAYOUTS_IN_FLIGHT), -(payout.amount_msat + payout.fee_reserve_msat)),
            Line(account_of_user(user=payout.worker, kind=payout.source), payout.amount_msat + payout.fee_reserve_msat),
        ],
    )


# Moderators ----------------------------------------------------------------------------------------------------


def payout_retry_by_moderator(*, payout: Payout, moderator: AbstractUser | None = None) -> Payout:
    """Give a payout that waits for a moderator a fresh set of attempts. With a stored invoice it only re-checks
    that invoice's payment (it may have been paid); without one it asks the wallet again."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout.pk)
        if payout.state != PayoutState.NEEDS_MODERATOR:
            return payout
        _transition(
            payout,
            PayoutState.SENDING if payout.payment_hash else PayoutState.CREATED,
            actor=_moderator(moderator),
            attempts=0,
            next_attempt_at=timezone.now(),
        )
    return payout


def _moderator(user: AbstractUser | None) -> Actor:
    return Actor.moderator(user) if user is not None else Actor.system("moderator action")


def payout_fail_by_moderator(*, payout: Payout, reason: str, moderator: AbstractUser | None = None) -> Payout:
    """A moderator, having checked the node, declares a waiting payout failed: the money returns to the worker.

    Refused while the backend still reports the stored payment as possibly in flight or paid.
    """
    if payout.payment_hash:
        result = get_backend().payment_status(payment_hash=payout.payment_hash)
        if result.outcome != PaymentOutcome.FAILED:
            raise PayoutStillInFlight(
                "The node does not confirm that this payment failed; it cannot be returned to the balance."
            )
    with transaction.atomic():
        payout = Payout.objects.select_for_update(no_key=True).get(pk=payout.pk)
        if payout.state == PayoutState.NEEDS_MODERATOR:
            _fail_locked(payout, reason=f"Failed by a moderator: {reason}", actor=_moderator(moderator))
    return payout


# Sweeping ------------------------------------------------------------------------------------------------------


def workers_waiting_for_payout(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Workers with automatic payouts whose balance reached their minimum but who have no payout under way, e.g.
    because the message that should have started one was lost. A worker whose payout failed in the last hour is
    left alone until then (or until they save their address again), so a broken wallet is not called every beat."""
    now = now or timezone.now()
    recently_failed = Payout.objects.filter(
        worker=OuterRef("user"), state=PayoutState.FAILED, updated_at__gte=now - FAILED_PAUSE
    )
    waiting = (
        Account.objects.filter(
            kind=AccountKind.WORKER_EARNED,
            balance_msat__gte=F("user__payout_destination__minimum_payout_msat"),
            user__payout_destination__auto_payout=True,
        )
        .filter(balance_msat__gte=settings.PAYOUT_MIN_MSAT)
        .exclude(user__payout_destination__address="")
        .exclude(user__is_active=False)
        .exclude(user__payouts__state__in=OPEN_PAYOUT_STATES)
        # One subquery for both conditions: the same payout must be failed *and* recent.
        .exclude(Exists(recently_failed))
    )
    return list(waiting.values_list("user_id", flat=True)[:limit])


def payouts_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Open payouts whose next step is due, and requests that lost their process."""
    now = now or timezone.now()
    stale = Payout.objects.filter(state=PayoutState.INVOICE_REQUESTED, updated_at__lte=now - STALE_REQUEST_AFTER)
    for payout_id in stale.values_list("pk", flat=True)[:limit]:
        _retry_later(payout_id=payout_id, reason="The request for an invoice was interrupted.", now=now)
    due = Payout.objects.filter(
        state__in=[PayoutState.CREATED, PayoutState.INVOICE_VERIFIED, PayoutState.SENDING], next_attempt_at__lte=now
    ).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:limit])
