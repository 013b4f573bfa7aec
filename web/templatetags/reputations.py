"""Reputations in templates: a job's requester reputation and durations for people ("about 3 h")."""

from django import template

from marketplace.models import Job
from tasks.reputations import RequesterReputation, requester_reputation

register = template.Library()


@register.filter(name="requester_reputation")
def requester_reputation_of(job: Job) -> RequesterReputation:
    """`{% with rep=job|requester_reputation %}`: from the stats row the selector fetched with the job."""
    return requester_reputation(job)


@register.filter
def about_duration(seconds: int | None) -> str:
    """A measured duration rounded for people: "under a minute", "about 12 min", "about 3 h", "about 4 days"."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return "under a minute"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"about {minutes} min"
    hours = (seconds + 1800) // 3600
    if hours < 48:
        return f"about {hours} h"
    days = (seconds + 43200) // 86400
    return f"about {days} days"
