"""Row locks taken in more than one app, named so the order they are taken in can be read (see docs/architecture.md:
a user's own row first, then the object, then the ledger's accounts by primary key). All are FOR NO KEY UPDATE:
they serialise our writers without blocking the FOR KEY SHARE that foreign-key checks take."""

from django.contrib.auth import get_user_model


def lock_user(user_id: int) -> None:
    """Serialise what one person does at once (claims, deposits, withdrawals, drafts, their payout address)."""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk", flat=True).get()
