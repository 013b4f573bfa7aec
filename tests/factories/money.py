"""Money as the services leave it: a requester's balance after a deposit, a worker's saved payout destination."""

import uuid

from django.utils import timezone

from marketplace.models import User
from payments.background import QUEUED_START_KEY
from payments.host_limits import redis_client
from payments.ledger import Line, account_of_user, ledger_post, platform_account
from payments.models import AccountKind, PayoutDestination, TransactionKind


def fund(user: User, amount_msat: int) -> None:
    """Credit a requester's balance the way a settled deposit does (lightning_in → requester available)."""
    ledger_post(
        kind=TransactionKind.DEPOSIT,
        key=f"test-deposit:{uuid.uuid4()}",
        lines=[
            Line(platform_account(kind=AccountKind.LIGHTNING_IN), -amount_msat),
            Line(account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE), amount_msat),
        ],
    )


def set_payout_destination(
    user: User, address: str, *, auto_payout: bool = True, minimum_payout_msat: int = 1_000
) -> PayoutDestination:
    """Save a payout destination as `payout_destination_set` would, without resolving the address first (for tests
    whose subject is what happens at payout time; the resolution itself has tests of its own)."""
    destination, _ = PayoutDestination.objects.update_or_create(
        user=user,
        defaults={
            "address": address,
            "auto_payout": auto_payout,
            "minimum_payout_msat": minimum_payout_msat,
            "verified_at": timezone.now() if address else None,
        },
    )
    return destination


def forget_queued_payout_starts(redis_url: str) -> None:
    """Drop the marks of payout starts waiting in the queue (payments.background.enqueue_payout_start), as when the
    queues they name are purged: a test that empties the queues, or starts the next test, must not find starts
    marked as queued that no queue holds any more."""
    client = redis_client(redis_url)
    keys = list(client.scan_iter(match=QUEUED_START_KEY.format(worker_id="*")))
    if keys:
        client.delete(*keys)
