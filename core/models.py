"""The domain event record: what happened, who did it, to what. The same rows are the audit log.

Append-only: the database refuses to update or delete them (triggers, see migration 0002), not only the admin.
"""

from django.conf import settings
from django.db import models


class ActorKind(models.TextChoices):
    USER = "user", "User"
    MODERATOR = "moderator", "Moderator"
    SYSTEM = "system", "System"


class Event(models.Model):
    """One thing that happened, recorded by the service that made it happen, in that service's transaction."""

    type = models.CharField(max_length=60)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # For the system: the rule that acted ("auto-approve", "expiry sweep", …).
    rule = models.CharField(max_length=100, blank=True)
    subject_type = models.CharField(max_length=40)  # "job", "assignment", "payout", …
    subject_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "id"], name="event_subject_idx"),
            models.Index(fields=["type", "id"], name="event_type_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(actor_kind__in=ActorKind.values), name="event_actor_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(actor_kind=ActorKind.SYSTEM) | models.Q(actor__isnull=True),
                name="event_system_has_no_user",
            ),
            models.CheckConstraint(
                condition=models.Q(actor_kind=ActorKind.SYSTEM) | models.Q(actor__isnull=False),
                name="event_person_has_a_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject_type}:{self.subject_id}"

    @property
    def actor_label(self) -> str:
        """Who did it, as the other people concerned see it (moderators stay anonymous)."""
        if self.actor_kind == ActorKind.SYSTEM:
            return f"Boltwork ({self.rule})" if self.rule else "Boltwork"
        if self.actor_kind == ActorKind.MODERATOR:
            return "A moderator"
        return getattr(self.actor, "public_name", None) or self.actor.get_username()


class EventAudience(models.Model):
    """Who may read an event as their own: the owners of its subject (a job's requester, an assignment's worker…)."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="audience")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="event_audience_once")]
        indexes = [models.Index(fields=["user", "-event"], name="event_audience_user_idx")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.user_id}"
