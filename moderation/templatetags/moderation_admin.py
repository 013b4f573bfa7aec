"""What the admin's front page shows moderators besides Django's list of models."""

from django import template
from django.conf import settings

from moderation import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def flagged_requesters(context) -> dict | None:
    """Requesters whose rejection rate crosses the threshold, for whoever may see users; None for anyone else."""
    request = context.get("request")
    if request is None or not request.user.has_perm("marketplace.view_user"):
        return None
    return {
        "requesters": selectors.requesters_flagged_for_rejections(),
        "rate": settings.MODERATION_FLAG_REJECTION_RATE,
        "min_reviews": settings.MODERATION_FLAG_MIN_REVIEWS,
        "days": settings.MODERATION_FLAG_WINDOW_DAYS,
    }
