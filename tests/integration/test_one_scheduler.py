"""Exactly one scheduler (docs/deployment.md): two real `celery beat` processes on the test Redis, with a schedule
whose first entry is due every second. Only the beat holding celery-redbeat's lock in Redis sends anything; when it
is killed without releasing the lock, the other takes over once the lock expires.

No Celery worker runs: what the beats send stays in the `sweepers` queue, so Redis counts every message sent, and
each beat's log says which of them sent it."""

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.integration.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
LOCK_TIMEOUT_SECONDS = 4
# Any entry sent, though within the test only the expiry sweeper (every second) is due.
SENT = re.compile(r"Scheduler: Sending due task ")

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the scheduler's lock lives in Redis")


@dataclass
class Beat:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent(self) -> int:
        return len(SENT.findall(self.log()))


@contextlib.contextmanager
def run_beat(folder: Path, key_prefix: str) -> Iterator[Beat]:
    """`celery -A marketplace beat` as deployed (no scheduler option: the settings choose redbeat with Redis), with the
    expiry sweeper due every second, the lock expiring LOCK_TIMEOUT_SECONDS after its holder dies, and keys of this
    test's own in Redis."""
    folder.mkdir()
    environment = {
        **os.environ,
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "beat-under-test",
        "DEBUG": "0",
        "SWEEP_EXPIRE_SECONDS": "1",
        "BEAT_KEY_PREFIX": key_prefix,
        "BEAT_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT_SECONDS),
        "BEAT_MAX_LOOP_SECONDS": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "marketplace", "beat", "--loglevel", "INFO",
               "--pidfile", str(folder / "beat.pid")]  # fmt: skip
    log_path = folder / "beat.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Beat(process=process, log_path=log_path)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("sweepers")
    yield client
    client.delete("sweepers")
    client.close()


@pytest.fixture
def key_prefix(broker) -> Iterator[str]:
    prefix = f"test-beat-{uuid.uuid4().hex[:8]}:"
    yield prefix
    keys = list(broker.scan_iter(match=f"{prefix}*"))
    if keys:
        broker.delete(*keys)


def test_two_beats_send_the_schedule_once_and_the_second_takes_over_when_the_first_dies(broker, key_prefix, tmp_path):
    with run_beat(tmp_path / "first", key_prefix) as first:
        wait_for(lambda: first.sent() >= 1, timeout=30, message=lambda: "the first beat to send:\n" + first.log())
        with run_beat(tmp_path / "second", key_prefix) as second:
            # It prints its banner, then waits for the lock before sending anything.
            wait_for(lambda: ". scheduler -> " in second.log(), timeout=30,
                     message=lambda: "the second beat to start:\n" + second.log())  # fmt: skip
            sent_before = first.sent()
            wait_for(lambda: first.sent() >= sent_before + 3, timeout=30, message=lambda: first.log())
            assert second.sent() == 0, "both beats sent the schedule:\n" + second.log()

            first.process.kill()  # no chance to release the lock: as if its host was lost
            first.process.wait(timeout=5)
            killed_at = time.monotonic()
            sent_by_first = first.sent()
            wait_for(lambda: second.sent() >= 1, timeout=LOCK_TIMEOUT_SECONDS + 30,
                     message=lambda: "the second beat to take over:\n" + second.log())  # fmt: skip
            took_over_in = time.monotonic() - killed_at
            wait_for(lambda: second.sent() >= 3, timeout=30, message=lambda: second.log())
        sent_by_second = second.sent()

    # What Redis holds is what the two logs say was sent, no more: nothing was sent twice behind the logs' backs.
    # (The first may have logged one message it had no time to send before it was killed.)
    queued = broker.llen("sweepers")
    assert sent_by_first + sent_by_second - 1 <= queued <= sent_by_first + sent_by_second
    print(f"\nTwo beats: the first sent {sent_by_first} jobs, the second none until the first was killed; it took over "
          f"in {took_over_in:.1f} s (lock timeout {LOCK_TIMEOUT_SECONDS} s) and sent {sent_by_second}")  # fmt: skip
