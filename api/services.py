"""API keys and idempotency: every state change of the api app."""

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from api.models import ApiKey, ApiScope, IdempotencyRecord, hash_secret
from core.errors import DomainError, InvalidInput, NotFound
from marketplace.models import User

KEY_PREFIX = "bw_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
IDEMPOTENCY_KEY_MAX = 255
# How long a key is remembered, from its first request; after that a repeat acts again as a new request (the API
# description says so). Stripe's keys last as long.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
# A repeat that finds the key taken tries again this often when the row it found was forgotten meanwhile.
IDEMPOTENCY_CLAIM_ATTEMPTS = 3
PRUNE_BATCH_SIZE = 5_000
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


def _idempotency_forgotten(*, now: datetime) -> Q:
    """Records that no longer hold their key: older than a day, or still in progress after the in-progress timeout
    (the request that made it crashed: none runs that long, see IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS)."""
    in_progress_timeout = timedelta(seconds=settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS)
    return Q(created_at__lte=now - IDEMPOTENCY_KEY_LIFETIME) | Q(
        response_status__isnull=True, created_at__lte=now - in_progress_timeout
    )


def _is_idempotency_forgotten(record: IdempotencyRecord, *, now: datetime) -> bool:
    """The same test as _idempotency_forgotten, on a row already read."""
    in_progress_timeout = timedelta(seconds=settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS)
    return record.created_at <= now - IDEMPOTENCY_KEY_LIFETIME or (
        not record.answered and record.created_at <= now - in_progress_timeout
    )


def idempotency_begin(*, user: User, key: str, fingerprint: str, now: datetime | None = None) -> IdempotencyRecord:
    """Claim an Idempotency-Key for a request. Returns the key's record: when it is `answered`, the same request
    was answered before and the caller replays that answer; otherwise it is this request's own claim, and the
    caller acts, then passes it to idempotency_finish or idempotency_abandon.

    The same key with a different request is a conflict; a repeat while the first is still running is refused. A
    key older than IDEMPOTENCY_KEY_LIFETIME is forgotten, and so is a claim left in progress for longer than
    IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS (its request crashed): the request acts again as a new one. Of
    repeats arriving together, one acts: the forgotten row is deleted only while it is still forgotten, and the
    new claim is an insert the unique constraint on (user, key) admits once.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise InvalidInput(f"The Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters.")
    now = now or timezone.now()
    for _ in range(IDEMPOTENCY_CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(user=user, key=key, request_fingerprint=fingerprint)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:
            continue  # abandoned or forgotten between the insert and this read: claim it again
        if _is_idempotency_forgotten(record, now=now):
            # Only this row, and only while it is still forgotten: a claim a concurrent repeat made meanwhile (a new
            # row) or an answer a slow request wrote meanwhile is never deleted. Whoever deletes it, the insert
            # above then lets exactly one request through.
            IdempotencyRecord.objects.filter(pk=record.pk).filter(_idempotency_forgotten(now=now)).delete()
            continue
        if record.request_fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This Idempotency-Key was used for a different request.", details={"idempotency_key": key}
            )
        if not record.answered:
            break
        return record
    raise IdempotencyInProgress(
        "A request with this Idempotency-Key is still being processed; repeat it in a moment.",
        details={"idempotency_key": key},
    )


def idempotency_finish(*, record: IdempotencyRecord, status: int, body: dict) -> None:
    """Remember the answer on this request's claim. Server errors are not remembered: the key is released so the
    client can retry. A claim that was recovered meanwhile (it outlived the in-progress timeout) is gone, and
    another request's claim is never touched."""
    claim = IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True)
    if status >= 500:
        claim.delete()
    else:
        claim.update(response_status=status, response_body=json.dumps(body))


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    """Release this request's claim unanswered, so a repeat acts."""
    IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotency_records_prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete the records of keys older than IDEMPOTENCY_KEY_LIFETIME, answered or not (idempotency_begin already
    ignores them; this keeps the table to about a day of keys). One short statement per batch, so it never holds
    many row locks and may be stopped anywhere; safe to run twice at once. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_KEY_LIFETIME
    expired = IdempotencyRecord.objects.filter(created_at__lte=cutoff)
    deleted = 0
    while True:
        batch = Subquery(expired.order_by().values("pk")[:batch_size])
        count, _ = IdempotencyRecord.objects.filter(pk__in=batch, created_at__lte=cutoff).delete()
        deleted += count
        if count < batch_size:
            return deleted
