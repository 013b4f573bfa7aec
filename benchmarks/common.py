"""Shared set-up for benchmark scripts: a dedicated PostgreSQL database, migrated, and Django configured.

Benchmarks print figures; they never assert on time. Run them from the repository root, e.g.
`.venv/bin/python -m benchmarks.claim`.
"""

import os
import statistics
import time
from contextlib import contextmanager

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/boltwork_bench")


def setup_django() -> None:
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("SECRET_KEY", "benchmark")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    _create_database_if_missing()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _create_database_if_missing() -> None:
    import psycopg

    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    server_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start


def describe(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms"
