"""The Mechanical Turk requester API's own records: requesters' credentials and the UniqueRequestTokens it has
seen. Everything else the API touches (jobs, tasks, assignments, money) is Boltwork's own."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Currency(models.TextChoices):
    USD = "usd", "US dollars (converted to sats at the site's rate, fixed on each HIT)"
    SAT = "sat", 'Satoshis ("21" means 21 sats)'


class MturkCredential(models.Model):
    """An AWS-style access key pair. The secret is stored encrypted (mturk.credentials), because checking a
    Signature Version 4 signature needs the secret itself, not a hash of it; it is shown once, when made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mturk_credentials")
    access_key_id = models.CharField(max_length=20, unique=True)
    secret_encrypted = models.TextField()
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="mturk_credential_user_idx")]
        constraints = [models.CheckConstraint(condition=Q(currency__in=Currency.values), name="mturk_currency_valid")]

    def __str__(self) -> str:
        return self.access_key_id


class RequestToken(models.Model):
    """A UniqueRequestToken a requester sent with an operation that creates something: a repeat within 24 hours
    never acts twice and is answered with the id of what the first call made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sandbox = models.BooleanField()
    operation = models.CharField(max_length=64)
    token = models.CharField(max_length=64)
    # What the first call made: a HIT id, a bonus's assignment id; empty while it is being made.
    object_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "sandbox", "operation", "token"], name="mturk_token_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="mturk_token_created_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.token}"
