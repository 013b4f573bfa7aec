"""LNURL-auth (LUD-04) challenges: one k1 a browser asked for, and what the wallet did with it."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Action(models.TextChoices):
    LOGIN = "login", "Log in or sign up"
    LINK = "link", "Link a wallet to the logged-in account"


class AuthChallenge(models.Model):
    """A k1 shown to one browser. The wallet signs it (the callback sets `linking_key` and `verified_at`, once); the
    browser that asked finishes the log-in (sets `finished_at`, once). The browser is named by the hash of a random
    token kept in its session, not by the session key, which changes when the user logs in."""

    k1 = models.CharField(max_length=64, unique=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    browser_hash = models.CharField(max_length=64)
    # Only for "link": the account the wallet is to be linked to.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    linking_key = models.CharField(max_length=66, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="lnauth_challenge_expires_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=Action.values), name="lnauth_action_valid"),
            models.CheckConstraint(
                condition=Q(action="login", user__isnull=True) | Q(action="link", user__isnull=False),
                name="lnauth_link_has_user",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True, linking_key="")
                | (Q(verified_at__isnull=False) & ~Q(linking_key="")),
                name="lnauth_verified_has_key",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(verified_at__isnull=False),
                name="lnauth_finished_after_verified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.k1[:12]}…"
