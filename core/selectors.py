"""Reading the audit log."""

from django.db.models import QuerySet

from core.models import Event


def events_for_user(*, user_id: int) -> QuerySet[Event]:
    """The events of the user's own objects (their jobs, assignments, payouts, deposits…), newest first."""
    return Event.objects.filter(audience__user_id=user_id).select_related("actor").order_by("-id")
