from dataclasses import dataclass

from django.utils.functional import SimpleLazyObject

from notifications.selectors import unread_count
from payments.lightning import get_backend, test_wallet_enabled

MOST_UNREAD_SHOWN = 99


def lightning(request) -> dict:
    """Tells every page whether real money moves, so the development backend is labelled everywhere, and whether
    its test wallet buttons may be offered."""
    return {
        "lightning_moves_real_money": get_backend().moves_real_money,
        "test_wallet_enabled": test_wallet_enabled(),
    }


@dataclass(frozen=True)
class NotificationBell:
    count: int

    @property
    def shown(self) -> str:
        """The number on the badge: three characters at most."""
        return "99+" if self.count > MOST_UNREAD_SHOWN else str(self.count)


def notifications(request) -> dict:
    """The bell's unread count: counted once per request, and only when a page shows it (a partial that htmx swaps
    in never asks)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not hasattr(request, "_notification_bell"):
        request._notification_bell = SimpleLazyObject(lambda: NotificationBell(unread_count(user_id=user.pk)))
    return {"notification_bell": request._notification_bell}
