"""Worker payout settings and bonuses. (Ledger, escrow, deposits, payouts and withdrawals have modules of their own.)"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.events import Actor, record_event
from core.money import MSAT_PER_SAT
from core.safe_http import FetchFailed, UnsafeUrl
from marketplace.models import User
from payments import lnurl_client
from payments.errors import PayoutDestinationInvalid
from payments.escrow import platform_fee_msat
from payments.ledger import Line, account_of_user, ledger_post, platform_account
from payments.models import AccountKind, Bonus, PayoutDestination, TransactionKind
from payments.payouts import payouts_follow_destination

MAX_BONUS_MSAT = 10_000_000 * MSAT_PER_SAT
MAX_MINIMUM_PAYOUT_MSAT = 100_000_000 * MSAT_PER_SAT  # 1 bitcoin


def payout_destination_set(
    *, user: User, address: str, auto_payout: bool, minimum_payout_msat: int
) -> PayoutDestination:
    """Save where a worker is paid. A Lightning Address or LNURL-pay string is resolved once, now, so a typo is
    caught here and not at payout time; the wallet's name is kept to show back. An empty address means
    "withdraw by QR only"."""
    address = address.strip()
    wallet_name = ""
    if address:
        try:
            url = lnurl_client.parse_pay_destination(address)
            # A person (and a web process) waits for this answer: a few seconds at most, however the wallet paces it.
            pay_request = lnurl_client.fetch_pay_request(url, timeout_seconds=settings.LNURL_DESTINATION_CHECK_SECONDS)
        except (lnurl_client.LnurlFailure, UnsafeUrl, FetchFailed) as error:
            raise PayoutDestinationInvalid(f"That address did not work: {error}") from None
        wallet_name = pay_request.wallet_name
    if not MSAT_PER_SAT <= minimum_payout_msat <= MAX_MINIMUM_PAYOUT_MSAT:
        raise InvalidInput(
            f"The minimum payout is at least 1 sat and at most {MAX_MINIMUM_PAYOUT_MSAT // MSAT_PER_SAT:,} sats."
        )
    with transaction.atomic():
        # The user first, as payout_start_for_worker locks it: a payout being started now either committed before
        # this (and follows the change below) or starts after it, with the new address.
        User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True).get()
        destination, _ = PayoutDestination.objects.select_for_update(no_key=True).get_or_create(user=user)
        old_address = destination.address
        destination.address = address
        destination.wallet_name = wallet_name[:300]
        destination.auto_payout = auto_payout
        destination.minimum_payout_msat = minimum_payout_msat
        destination.verified_at = timezone.now() if address else None
        destination.save()
        if address != old_address:
            payouts_follow_destination(worker=user, address=address)
        record_event(
            type="payout_destination.changed",
            actor=Actor.of(user),
            subject=("user", user.pk),
            audience=[user.pk],
            data={
                "worker_id": str(user.pk),
                "address_changed": address != old_address,
                "old_address": old_address,
                "new_address": address,
                "auto_payout": auto_payout,
                "minimum_payout_msat": minimum_payout_msat,
            },
        )
    return destination


def bonus_pay(
    *, requester: User, worker: User, amount_msat: int, reason: str, assignment_id: int | None = None
) -> Bonus:
    """Pay a worker a bonus from the requester's balance (plus the platform fee), paid out like a reward.

    Only to a worker who did work for this requester (on the given assignment, if any).
    """
    from tasks.models import Assignment  # tasks depends on payments, not the other way round

    if worker.pk == requester.pk:
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
    work = Assignment.objects.filter(worker=worker, job__requester=requester)
    if assignment_id is not None:
        work = work.filter(pk=assignment_id)
    if not work.exists():
        raise NotFound("No such worker or assignment among your jobs.")
    fee = platform_fee_msat(amount_msat)
    with transaction.atomic():
        bonus = Bonus.objects.create(
            requester=requester,
            worker=worker,
            assignment_id=assignment_id,
            amount_msat=amount_msat,
            fee_msat=fee,
            reason=reason,
        )
        lines = [
            Line(account_of_user(user=requester, kind=AccountKind.REQUESTER_AVAILABLE), -(amount_msat + fee)),
            Line(account_of_user(user=worker, kind=AccountKind.WORKER_EARNED), amount_msat),
        ]
        if fee:
            lines.append(Line(platform_account(kind=AccountKind.PLATFORM_FEES), fee))
        ledger_post(kind=TransactionKind.BONUS, key=f"bonus:{bonus.pk}", memo=f"Bonus: {reason[:200]}", lines=lines)
        record_event(
            type="bonus.paid",
            actor=Actor.of(requester),
            subject=("bonus", bonus.pk),
            audience=[requester.pk, worker.pk],
            data={
                "bonus_id": str(bonus.pk),
                "worker_id": str(worker.pk),
                "amount_msat": amount_msat,
                "fee_msat": fee,
                "assignment_id": str(assignment_id) if assignment_id else None,
            },
        )
    return bonus
