"""The fixed-window limiter (core/ratelimit.py), on the local-memory cache the tests use and on the real Redis."""

import socket
import threading
import uuid

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from core import ratelimit
from core.errors import RateLimited

MINUTE = 60
# A moment 15 s into a minute: its window ends 45 s later.
NOON_AND_15_SECONDS = 1_800_000_015.0


def test_the_limit_allows_that_many_calls_in_a_window_and_refuses_the_next():
    answers = [ratelimit.hit("test:a", limit=3, period_seconds=MINUTE, now=NOON_AND_15_SECONDS) for _ in range(4)]

    assert [answer.allowed for answer in answers] == [True, True, True, False]
    assert [answer.used for answer in answers] == [1, 2, 3, 4]
    assert answers[-1].retry_after_seconds == 45


def test_each_key_counts_on_its_own():
    for _ in range(2):
        ratelimit.hit("claim:1", limit=2, period_seconds=MINUTE, now=NOON_AND_15_SECONDS)

    assert not ratelimit.hit("claim:1", limit=2, period_seconds=MINUTE, now=NOON_AND_15_SECONDS).allowed
    assert ratelimit.hit("claim:2", limit=2, period_seconds=MINUTE, now=NOON_AND_15_SECONDS).allowed
    assert ratelimit.hit("report:1", limit=2, period_seconds=MINUTE, now=NOON_AND_15_SECONDS).allowed


def test_the_next_window_counts_from_zero_again():
    for _ in range(2):
        ratelimit.hit("test:b", limit=1, period_seconds=MINUTE, now=NOON_AND_15_SECONDS)

    next_minute = NOON_AND_15_SECONDS + 45
    answer = ratelimit.hit("test:b", limit=1, period_seconds=MINUTE, now=next_minute)

    assert answer.allowed
    assert answer.used == 1
    assert answer.retry_after_seconds == 60


def test_a_limit_of_zero_allows_everything():
    assert all(ratelimit.allow("test:c", limit=0, period_seconds=MINUTE) for _ in range(50))


def test_enforce_says_how_many_are_allowed_and_when_to_try_again():
    ratelimit.enforce("test:d", limit=1, period_seconds=3600, action="reports")

    with pytest.raises(RateLimited) as refused:
        ratelimit.enforce("test:d", limit=1, period_seconds=3600, action="reports")

    error = refused.value
    assert error.status == 429
    assert error.code == "rate_limited"
    assert error.message.startswith("Too many reports: at most 1 an hour. Try again in ")
    assert 1 <= error.retry_after_seconds <= 3600
    assert error.details == {"limit": 1, "period_seconds": 3600, "retry_after_seconds": error.retry_after_seconds}


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (45, "45 seconds"), (119, "119 seconds"), (120, "2 minutes"), (3599, "60 minutes"),
     (7200, "2 hours")],
)  # fmt: skip
def test_waits_are_said_in_words(seconds, words):
    assert ratelimit.duration_in_words(seconds) == words


def default_cache_on_redis(location: str, **options):
    """The default cache on Redis, as CACHE_URL=rediscache://… sets it in production. A context manager, so the
    tests' own cache comes back before the fixtures that clear it run again."""
    return override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, **options}}
    )


@pytest.fixture
def redis_cache():
    with default_cache_on_redis(django_settings.REDIS_URL, KEY_PREFIX=f"test-ratelimit-{uuid.uuid4()}"):
        yield


def test_on_redis_concurrent_calls_never_pass_more_than_the_limit(redis_cache):
    allowed = []
    start = threading.Barrier(8)

    def call_five_times() -> None:
        start.wait()
        for _ in range(5):
            allowed.append(ratelimit.allow("claim:concurrent", limit=12, period_seconds=3600))

    threads = [threading.Thread(target=call_five_times) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 40
    assert allowed.count(True) == 12


def test_on_redis_the_counts_are_shared_and_expire_with_their_window(redis_cache):
    from django.core.cache import cache

    answer = ratelimit.hit("test:e", limit=5, period_seconds=MINUTE)

    # This test's own keys: an earlier run's (another prefix) may still be in its window.
    mine = f"{cache.key_prefix}:".encode()
    counters = [
        key for key in cache._cache.get_client().keys("*") if key.startswith(mine) and b"ratelimit:test:e:60:" in key
    ]
    assert len(counters) == 1
    ttl = cache._cache.get_client().ttl(counters[0])
    assert answer.retry_after_seconds <= ttl <= answer.retry_after_seconds + ratelimit.EXPIRY_MARGIN_SECONDS


def test_on_redis_a_call_is_one_round_trip_and_the_cache_reads_its_count(redis_cache, monkeypatch):
    """Every API request and claim pays for the limiter: one round trip to Redis, not two (docs/PERFORMANCE.md)."""
    import redis
    from django.core.cache import cache

    round_trips = []
    for owner, method in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
        original = getattr(owner, method)

        def counted(self, *args, _original=original, **kwargs):
            if not (isinstance(self, redis.client.Pipeline) and _original.__name__ == "execute_command"):
                round_trips.append(_original.__name__)  # a pipeline's buffered commands are not round trips
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(owner, method, counted)

    answers = [ratelimit.hit("test:trips", limit=2, period_seconds=MINUTE, now=NOON_AND_15_SECONDS) for _ in range(3)]

    assert len(round_trips) == 3
    assert [answer.allowed for answer in answers] == [True, True, False]
    window = int(NOON_AND_15_SECONDS // MINUTE)
    assert cache.get(f"{ratelimit.KEY_PREFIX}:test:trips:{MINUTE}:{window}") == 3


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_when_the_cache_cannot_be_reached_the_action_is_allowed(caplog):
    with default_cache_on_redis(f"redis://127.0.0.1:{closed_port()}/0"):
        answers = [ratelimit.allow("test:f", limit=1, period_seconds=MINUTE) for _ in range(3)]

    assert answers == [True, True, True]
    assert "cannot be reached" in caplog.text
