"""Rate limits for actions people repeat: a fixed window counted in Django's cache.

A service calls `enforce` before it changes anything; past the limit it raises `RateLimited` (HTTP 429), whose
message says how many are allowed and when to try again, and which every interface already answers clearly (web
pages show the message, the API sends its error body with a Retry-After header):

    from core import ratelimit

    def report_file(*, reporter, ...):
        ratelimit.enforce(
            f"report:{reporter.pk}", limit=settings.REPORTS_PER_HOUR, period_seconds=3600, action="reports"
        )
        ...

    # dispute messages: key f"dispute-message:{author.pk}", settings.DISPUTE_MESSAGES_PER_HOUR, 3600, "messages"

`allow` answers True or False instead, for a caller that refuses in its own way; `hit` also says how many were used
and how long until the window ends. Rules for callers:
- The key names the action and who acts (`claim:<user pk>`); the limiter adds its own prefix and the window.
- Every call counts, refused ones included, so call it once per attempt and before the work it protects.
- A limit of 0 (or less) turns that limit off: settings use 0 for "no limit".

Windows are fixed and aligned to the clock (a one-minute limit resets at every whole minute), so a burst that
straddles a boundary can reach twice the limit; in exchange each call is one atomic increment and nothing else is
stored. The counts live in the cache: shared by every process when CACHE_URL names Redis (see system check
boltwork.W001), per process with the local-memory default. If the cache cannot be reached the action is allowed and
a warning logged: a limit protects against abuse, and an outage of it must not stop everyone's work.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from core.errors import RateLimited

logger = logging.getLogger(__name__)

KEY_PREFIX = "ratelimit"
# Counters outlive their window by this much, so a slow request near the end of a window still finds its count.
EXPIRY_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Hit:
    allowed: bool
    used: int  # calls counted in this window, this one included
    retry_after_seconds: int  # until the window ends and the count starts again (at least 1)


def hit(key: str, *, limit: int, period_seconds: int, now: float | None = None) -> Hit:
    """Count one call under `key` and say whether it is within `limit` calls per `period_seconds`."""
    if period_seconds <= 0:
        raise ValueError("period_seconds must be positive")
    now = time.time() if now is None else now
    window = int(now // period_seconds)
    retry_after = max(1, math.ceil((window + 1) * period_seconds - now))
    if limit <= 0:
        return Hit(allowed=True, used=0, retry_after_seconds=retry_after)
    counter = f"{KEY_PREFIX}:{key}:{period_seconds}:{window}"
    try:
        used = _increment(counter, timeout=retry_after + EXPIRY_MARGIN_SECONDS)
    except RedisError:
        logger.warning("Rate limit %s not counted: the cache cannot be reached", key, exc_info=True)
        return Hit(allowed=True, used=0, retry_after_seconds=retry_after)
    return Hit(allowed=used <= limit, used=used, retry_after_seconds=retry_after)


def allow(key: str, *, limit: int, period_seconds: int) -> bool:
    """Count one call under `key`: True while it is within `limit` calls per `period_seconds`."""
    return hit(key, limit=limit, period_seconds=period_seconds).allowed


def enforce(key: str, *, limit: int, period_seconds: int, action: str) -> None:
    """Count one call under `key`; past `limit` per `period_seconds`, raise RateLimited with a message naming the
    `action` in the plural ("claims", "reports") and when to try again."""
    result = hit(key, limit=limit, period_seconds=period_seconds)
    if result.allowed:
        return
    raise RateLimited(
        f"Too many {action}: at most {limit:,} {per_period(period_seconds)}. "
        f"Try again in {duration_in_words(result.retry_after_seconds)}.",
        retry_after_seconds=result.retry_after_seconds,
        details={"limit": limit, "period_seconds": period_seconds},
    )


def _increment(counter: str, *, timeout: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _increment_on_redis(backend, counter, timeout=timeout)
    # add() then incr(): both atomic in the local-memory cache, so concurrent calls never lose a count.
    cache.add(counter, 0, timeout=timeout)
    try:
        return cache.incr(counter)
    except ValueError:  # it expired between the two calls: this call starts the count
        cache.set(counter, 1, timeout=timeout)
        return 1


def _increment_on_redis(backend: RedisCache, counter: str, *, timeout: int) -> int:
    """The count's creation with its expiry and the increment in one MULTI: one round trip on every API request and
    claim instead of two (add, then incr), atomic, and no window between them for the key to expire in. The key and
    the plain integer value are those Django's RedisCache would write, so cache.get() still reads the count."""
    key = backend.make_and_validate_key(counter)
    client = backend._cache.get_client(key, write=True)
    with client.pipeline(transaction=True) as pipeline:
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
        _, used = pipeline.execute()
    return used


def per_period(period_seconds: int) -> str:
    """'a minute', 'an hour', 'a day', or 'every 90 seconds'."""
    named = {60: "a minute", 3600: "an hour", 86400: "a day"}
    if period_seconds in named:
        return named[period_seconds]
    return f"every {duration_in_words(period_seconds)}"


def duration_in_words(seconds: int) -> str:
    """Seconds under two minutes, then minutes (rounded up) under two hours, then hours (rounded up)."""
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"
