"""At most `settings.LNURL_HOST_CONCURRENCY` outbound requests in flight per destination host, across every process.

A wallet or webhook server can hold each request we send it until the request's deadline (payments/safe_http.py).
Without a limit, a burst of jobs for one slow host (many workers sharing a hostile Lightning Address domain, a
requester's slow webhook endpoint with many events) would take every outbound worker process for that long and
everyone else's payouts would wait behind them. With it, a slow host holds at most N processes; a job that finds
its host busy is put off a little, without spending one of its attempts, and its process moves on to other work.

Payouts and webhooks count their slots apart, so a requester's webhook endpoints cannot crowd out payouts to the
same host. The slots live in Redis (`REDIS_URL`, which every deployment of more than one process has) so every
process on every machine counts the same ones; each expires on its own after the longest its holder could need
it, so a process killed while holding one blocks its host only until then. Without Redis (development on the
filesystem broker) the Django cache holds them. When Redis cannot be reached the limit is skipped rather than the
payout: it is a fairness measure, and the deadlines still bound every request.
"""

import functools
import logging
import secrets
from datetime import datetime
from typing import Any

import httpx
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from payments import lnurl_client

logger = logging.getLogger(__name__)

KEY_PREFIX = "boltwork:host-slot"
# Beyond the requests' own deadlines: database work between them, and a process slow to get scheduled.
HOLD_MARGIN_SECONDS = 30
# Deletes the slot only if it is still ours: after it expired, another process may hold it.
RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class HostSlot:
    """One held slot; `release()` it (or use it as a context manager) when the requests are done. Releasing twice,
    or after it expired, does nothing."""

    def __init__(self, key: str | None = None, token: str = "") -> None:
        self.key = key  # None: nothing is held (no host to limit, or the store was unreachable)
        self.token = token

    def release(self) -> None:
        key, self.key = self.key, None
        if key is None:
            return
        if not settings.REDIS_URL:
            if cache.get(key) == self.token:
                cache.delete(key)
            return
        try:
            redis_client(settings.REDIS_URL).eval(RELEASE_SCRIPT, 1, key, self.token)
        except redis.RedisError:
            logger.warning("Could not release the outbound slot %s; it expires on its own", key, exc_info=True)

    def __enter__(self) -> "HostSlot":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def payout_host_slot(destination: str) -> HostSlot | None:
    """A slot for asking the wallet behind a payout `destination` (its terms, then an invoice); None while its host
    is busy. A destination that does not parse gets an empty slot: it fails on its own, without a request."""
    try:
        host = url_host(lnurl_client.parse_pay_destination(destination))
    except lnurl_client.InvalidDestination:
        host = ""
    # Two requests (the pay request, then the callback), each ending by its deadline.
    return host_slot_acquire(kind="payout", host=host, hold_seconds=2 * settings.LNURL_TIMEOUT_SECONDS)


def webhook_host_slot(url: str) -> HostSlot | None:
    """A slot for one webhook POST to `url`; None while its host is busy."""
    return host_slot_acquire(kind="webhook", host=url_host(url), hold_seconds=settings.LNURL_TIMEOUT_SECONDS)


def host_slot_acquire(*, kind: str, host: str, hold_seconds: float) -> HostSlot | None:
    """Take one of the `LNURL_HOST_CONCURRENCY` slots of `host` for `kind` of job, or None when all are taken.

    `hold_seconds` is the longest the holder can need it; the slot expires on its own a margin after that.
    """
    if not host:
        return HostSlot()
    token = secrets.token_hex(16)
    expiry_seconds = hold_seconds + HOLD_MARGIN_SECONDS
    for index in range(max(1, settings.LNURL_HOST_CONCURRENCY)):
        key = f"{KEY_PREFIX}:{kind}:{host}:{index}"
        if settings.REDIS_URL:
            try:
                taken = redis_client(settings.REDIS_URL).set(key, token, nx=True, px=int(expiry_seconds * 1000))
            except redis.RedisError:
                logger.warning("Outbound slots unavailable; calling %s without one", host, exc_info=True)
                return HostSlot()
        else:
            taken = cache.add(key, token, timeout=expiry_seconds)
        if taken:
            return HostSlot(key, token)
    return None


def url_host(url: str) -> str:
    """The URL's host as the connection names it (lowercase, IDNA-encoded, no port); empty when there is none.

    The port is left out on purpose: one server on many ports is still one server.
    """
    try:
        return httpx.URL(url).raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, TypeError, UnicodeError):
        return ""


@functools.cache
def redis_client(url: str) -> redis.Redis:
    # Short timeouts: a slot is a quick question, never worth holding a job for. redis-py reconnects after a fork.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def come_back_when_due(task: Any, object_id: int, due_at: datetime | None) -> None:
    """Send the Celery `task(object_id)` again at `due_at` when that is at most `LNURL_HOST_BUSY_RETRY_SECONDS` away
    (the job found its host busy), rather than leave it to the next sweep. Later retries (backoffs) are the
    sweepers'; the database row stays the record, so a lost message only waits for the sweep."""
    if due_at is None:
        return
    delay = (due_at - timezone.now()).total_seconds()
    if 0 < delay <= settings.LNURL_HOST_BUSY_RETRY_SECONDS:
        # A tenth of a second late, so the row is certainly due when the job reads it.
        task.apply_async((object_id,), countdown=delay + 0.1)
