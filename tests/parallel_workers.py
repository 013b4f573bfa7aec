"""`make test` runs the tests in two pytest-xdist worker processes. pytest-django gives each its own test database
(test_<name>_gw0, test_<name>_gw1); this gives each its own Redis database too, so one worker's Celery queues,
cache and rate limits never meet the other's. Loaded with `-p` (pyproject.toml), before Django reads its settings;
it changes nothing in a run without workers."""

import os
from urllib.parse import urlsplit, urlunsplit


def redis_url_of_worker(redis_url: str, worker: str) -> str:
    """The Redis database below the one given, one per worker: gw0 takes the next lower number, gw1 the one below."""
    parts = urlsplit(redis_url)
    database = int(parts.path.lstrip("/") or 0)
    number = int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{(database - 1 - number) % 16}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], _worker)
