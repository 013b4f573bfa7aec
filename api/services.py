"""API keys and idempotency: every state change of the api app."""

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiKey, ApiScope, IdempotencyRecord, hash_secret
from core.errors import DomainError, InvalidInput, NotFound
from marketplace.models import User

KEY_PREFIX = "bw_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
IDEMPOTENCY_KEY_MAX = 255
ALL_SCOPES = tuple(ApiScope.values)
MAX_KEY_LIFETIME = timedelta(days=3653)


class IdempotencyConflict(DomainError):
    code = "idempotency_key_reused"


class IdempotencyInProgress(DomainError):
    code = "idempotency_key_in_progress"


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str] = ALL_SCOPES,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a key with the given scopes (all four unless told) that works until `expires_at` (for ever if None).
    Returns it with the secret, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Give the key a name of 1 to 100 characters, e.g. the script that will use it.")
    wanted = set(scopes)
    unknown = sorted(wanted - set(ALL_SCOPES))
    if unknown:
        raise InvalidInput(f"Unknown scope {', '.join(unknown)}; the scopes are {', '.join(ALL_SCOPES)}.")
    if not wanted:
        raise InvalidInput("Give the key at least one scope: a key without any can do nothing.")
    now = now or timezone.now()
    if expires_at is not None and not now < expires_at <= now + MAX_KEY_LIFETIME:
        raise InvalidInput("A key's expiry must be in the future and at most ten years away.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=secret[:10],
        key_hash=hash_secret(secret),
        scopes=[scope for scope in ALL_SCOPES if scope in wanted],
        expires_at=expires_at,
    )
    return api_key, secret


def api_key_revoke(*, user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys. Idempotent."""
    api_key = ApiKey.objects.filter(pk=key_id, user=user).first()
    if api_key is None:
        raise NotFound("No such key.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, secret: str, now: datetime | None = None) -> ApiKey | None:
    """The key (with its active user) the secret belongs to, or None when it is unknown, revoked or expired: an
    expired key is refused exactly like a revoked one. Notes when it was last used (at most once a minute)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    now = now or timezone.now()
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=hash_secret(secret), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if api_key is None:
        return None
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def idempotency_begin(*, user: User, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Claim an Idempotency-Key for a request. Returns the stored record when the same request was answered
    before (the caller replays it), None when this request is the first (the caller acts, then finishes it).

    The same key with a different request is a conflict; a repeat while the first is still running is refused.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise InvalidInput(f"The Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters.")
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(user=user, key=key, request_fingerprint=fingerprint)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user=user, key=key)
        if record.request_fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This Idempotency-Key was used for a different request.", details={"idempotency_key": key}
            ) from None
        if record.response_status is None:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; repeat it in a moment.",
                details={"idempotency_key": key},
            ) from None
        return record
    return None


def idempotency_finish(*, user: User, key: str, status: int, body: dict) -> None:
    """Remember the answer. Server errors are not remembered: the key is released so the client can retry."""
    records = IdempotencyRecord.objects.filter(user=user, key=key, response_status__isnull=True)
    if status >= 500:
        records.delete()
    else:
        records.update(response_status=status, response_body=json.dumps(body))


def idempotency_abandon(*, user: User, key: str) -> None:
    IdempotencyRecord.objects.filter(user=user, key=key, response_status__isnull=True).delete()
