"""API keys, idempotency records, and webhook endpoints with their deliveries."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import Job


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiScope(models.TextChoices):
    """What a key may do. Each scope is separate: a write scope does not imply `read`."""

    READ = "read", "read: see my account, jobs, results, the board, deposits and payouts (every GET)"
    WORK = "work", "work: claim, submit and return tasks as a worker"
    REQUESTER = "requester", "requester: create and change jobs, add tasks, publish, pause, close, review"
    MONEY = "money", "money: create deposits, pay bonuses, change my payout destination"


class ApiKey(models.Model):
    """A bearer key. Only its SHA-256 is stored; the key itself is shown once, when it is made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it by.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, help_text="The ApiScope values the key may use; empty means none.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="From then on the key is refused, exactly like a revoked one. Empty: never."
    )

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an Idempotency-Key, kept so a repeat returns it instead of acting again.

    A key is remembered for 24 hours from its first request (api.services.IDEMPOTENCY_KEY_LIFETIME); a record
    still in progress after IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS was left by a crash and may be claimed again.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress.")
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_per_user_and_key")]
        # The sweeper deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key}"

    @property
    def answered(self) -> bool:
        """Whether the first request finished: a repeat replays the answer; otherwise the record is a claim."""
        return self.response_status is not None


class WebhookEvent(models.TextChoices):
    ASSIGNMENT_SUBMITTED = "assignment.submitted"
    ASSIGNMENT_APPROVED = "assignment.approved"
    ASSIGNMENT_REJECTED = "assignment.rejected"
    JOB_COMPLETED = "job.completed"
    DEPOSIT_PAID = "deposit.paid"


class WebhookEndpoint(models.Model):
    """An https URL a requester wants events POSTed to, for one job or all of theirs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=64, help_text="Signs every delivery (HMAC-SHA256); shown once.")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user"], condition=Q(deleted_at__isnull=True), name="webhook_live_idx")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"
    # The endpoint was deleted before this was delivered: it is never sent (answers must not go to a removed URL).
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: the body is the event itself (type, time, data), so the delivery
    records only how sending it went."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("core.Event", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_idx"),
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_event")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}"

    def body(self) -> dict:
        """What is POSTed: the event as webhooks have always shown it."""
        return {"type": self.event.type, "created_at": self.event.created_at.isoformat(), "data": self.event.data}
