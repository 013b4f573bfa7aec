"""Read queries for the bell, the list and the preferences page."""

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser
from django.db.models import QuerySet

from notifications.models import Notification, NotificationKind, NotificationPreference

# What a kind is for someone who never chose: on in the site and by email.
DEFAULT_CHOICE = (True, True)


def unread_count(*, user_id: int) -> int:
    """The bell's number: one query on the unread index."""
    return Notification.objects.filter(user_id=user_id, in_app=True, read_at__isnull=True).count()


def notifications_of_user(*, user: AbstractUser) -> QuerySet[Notification]:
    """The user's notifications in the site, newest first."""
    return (
        Notification.objects.filter(user=user, in_app=True)
        .only("id", "public_id", "kind", "title", "body", "link", "created_at", "read_at")
        .order_by("-created_at", "-id")
    )


def preferences_of_users(user_ids: Iterable[int]) -> dict[int, dict[str, tuple[bool, bool]]]:
    """For each user, kind → (in the site, by email), the default where they never chose. One query."""
    choices: dict[int, dict[str, tuple[bool, bool]]] = defaultdict(lambda: defaultdict(lambda: DEFAULT_CHOICE))
    rows = NotificationPreference.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "kind", "in_app", "email"
    )
    for user_id, kind, in_app, email in rows:
        choices[user_id][kind] = (in_app, email)
    return choices


def preferences_of_user(*, user: AbstractUser) -> dict[str, tuple[bool, bool]]:
    """kind → (in the site, by email) for every kind, in the order of NotificationKind."""
    chosen = preferences_of_users([user.pk])[user.pk]
    return {kind: chosen[kind] for kind in NotificationKind.values}
