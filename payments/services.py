"""Worker payout settings and bonuses. (Ledger, escrow, deposits, payouts and withdrawals have modules of their own.)"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from core.events import Actor, record_event
from core.locks import lock_user
from core.money import MSAT_PER_SAT
from core.safe_http import FetchFailed, UnsafeUrl
from payments import lnurl_client
from payments.errors import PayoutDestinationInvalid
from payments.models import PayoutDestination
from payments.payouts import payouts_follow_destination

MAX_MINIMUM_PAYOUT_MSAT = 100_000_000 * MSAT_PER_SAT  # 1 bitcoin


def payout_destination_set(
    *, user: AbstractUser, address: str, auto_payout: bool, minimum_payout_msat: int
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
        lock_user(user.pk)
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
            subject=("user", user.public_id),
            audience=[user.pk],
            data={
                "worker_id": user.public_id,
                "address_changed": address != old_address,
                "old_address": old_address,
                "new_address": address,
                "auto_payout": auto_payout,
                "minimum_payout_msat": minimum_payout_msat,
            },
        )
    return destination
