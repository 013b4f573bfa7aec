"""The job board with many jobs: p50/p95 of `GET /` through the server, anonymous and logged in as a worker with
qualifications, and the board's query count; beside the floor: `GET /health/live` on the same server (its cheapest
request: no session, no template, no query).

.venv/bin/python -m benchmarks.board [--jobs 10000] [--tasks-per-job 100] [--requests 200] [--workers 2]

The jobs and tasks (10,000 and 1,000,000 by default) are made once with set-based SQL (benchmarks/data.py) and kept
in the benchmark's database for the next run. A fifth of the jobs ask for a custom qualification the worker has
(score 80 of at least 50), one in twenty hides from workers without another one (which the worker lacks), and the
worker took tasks of a hundred of them (so the board's exclusion and cap annotations have rows to find).
Query counts are read in this process through Django's test client (the server runs with DEBUG off).
Target: p50 under 30 ms. Figures, never assertions.
"""

import argparse
import time

from benchmarks.suite import BenchServer, Figure, Report, bench_database, percentile, session_cookies

SCRIPT = "board"
P50_TARGET_MS = 30.0
JOB_TITLE_PREFIX = "Board benchmark job"
ASKED_SCORE = 50
WORKER_SCORE = 80


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="published jobs")
    parser.add_argument("--tasks-per-job", type=int, default=100, help="tasks per job")
    parser.add_argument("--requests", type=int, default=200, help="requests per measured page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    return parser.parse_args()


def board_data(jobs: int, tasks_per_job: int):
    """The jobs, tasks, qualification types and the worker, made once; returns the worker."""
    from marketplace.models import Job, User

    worker = User.objects.filter(username="board-bench-worker").first()
    made = Job.objects.filter(title__startswith=JOB_TITLE_PREFIX, status="published").count()
    if worker is not None and made == jobs:
        print(f"reusing {made:,} jobs already made")
        return worker
    start = time.perf_counter()
    worker = make_board_data(jobs, tasks_per_job)
    print(f"made {jobs:,} jobs and {jobs * tasks_per_job:,} tasks in {time.perf_counter() - start:.0f} s")
    return worker


def make_board_data(jobs: int, tasks_per_job: int):
    import json

    from django.db import connection, transaction

    from benchmarks.data import SQL_PUBLIC_ID, make_builder_job, make_users
    from marketplace import qualifications
    from marketplace.models import Job, User

    with transaction.atomic():
        # A run with other sizes: the jobs of the last one leave the board (closed, renamed) rather than being deleted.
        Job.objects.filter(title__startswith=JOB_TITLE_PREFIX).update(status="closed", title="Old board benchmark job")
        owner = User.objects.create(username=f"board-bench-owner-{time.monotonic_ns()}")
        has = qualifications.qualification_type_create(owner=owner, name="Board skill")
        lacks = qualifications.qualification_type_create(owner=owner, name="Board secret")
        User.objects.filter(username="board-bench-worker").update(username=f"board-bench-old-{time.monotonic_ns()}")
        worker = User.objects.create(username="board-bench-worker")
        qualifications.qualification_grant(
            qualification=has, actor=owner, worker_id=worker.public_id, value=WORKER_SCORE
        )
        template = make_builder_job(owner, "Board benchmark template")  # not counted among the jobs made
        requester_ids = make_users(100, "board-requester")
        asks = [
            {
                "qualification_type_id": has.public_id,
                "comparator": "GreaterThanOrEqualTo",
                "integer_values": [ASKED_SCORE],
                "actions_guarded": "Accept",
            }
        ]
        hides = [
            {
                "qualification_type_id": lacks.public_id,
                "comparator": "Exists",
                "integer_values": [],
                "actions_guarded": "DiscoverPreviewAndAccept",
            }
        ]
        columns = [
            field.column
            for field in Job._meta.concrete_fields
            if field.column
            not in {
                "id",
                "public_id",
                "title",
                "requester_id",
                "status",
                "published_at",
                "reward_msat",
                "task_count",
                "open_slot_count",
                "qualification_requirements",
                "hides_from_unqualified",
                "input_columns",
            }
        ]
        listed = ", ".join(columns)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO marketplace_job (
                    {listed}, public_id, title, requester_id, status, published_at, reward_msat, task_count,
                    open_slot_count, qualification_requirements, hides_from_unqualified, input_columns)
                SELECT {listed}, {SQL_PUBLIC_ID}, %s || ' ' || n, (%s::bigint[])[1 + n %% 100], 'published',
                       now() - n * interval '1 minute', 1000 * (1 + n %% 500), %s, %s,
                       CASE WHEN n %% 20 = 0 THEN %s::jsonb WHEN n %% 5 = 0 THEN %s::jsonb ELSE '[]'::jsonb END,
                       n %% 20 = 0, '["text", "image_url"]'::jsonb
                FROM marketplace_job, generate_series(1, %s) AS n WHERE marketplace_job.id = %s
                """,  # noqa: S608 (column names from the model)
                [
                    JOB_TITLE_PREFIX,
                    requester_ids,
                    tasks_per_job,
                    tasks_per_job,
                    json.dumps(hides),
                    json.dumps(asks),
                    jobs,
                    template.pk,
                ],
            )
            cursor.execute(
                f"""
                INSERT INTO tasks_task (public_id, job_id, position, input, slots_open, kind, gold, created_at)
                SELECT {SQL_PUBLIC_ID}, j.id, n,
                       jsonb_build_object('text', 'Sentence ' || n, 'image_url', 'https://example.org/' || n || '.png'),
                       1, 'regular', '{{}}'::jsonb, now()
                FROM marketplace_job AS j, generate_series(1, %s) AS n
                WHERE j.title LIKE %s AND j.status = 'published'
                """,  # noqa: S608 (constants only)
                [tasks_per_job, f"{JOB_TITLE_PREFIX} %"],
            )
            worker_took_tasks(cursor, worker.pk)
            cursor.execute("ANALYZE")
    return worker


def worker_took_tasks(cursor, worker_id: int) -> None:
    """The worker's submitted work in a hundred of the jobs: the board annotates each job with what they took."""
    cursor.execute(
        """
        INSERT INTO tasks_assignment (
            public_id, job_id, task_id, worker_id, status, accepted_at, deadline_at, answer, submitted_at,
            review_source, feedback, rejection_reason, flag_reason, review_rule)
        SELECT upper(substr(md5(random()::text || t.id), 1, 30)), t.job_id, t.id, %s, 'submitted',
               now() - interval '1 hour', now() + interval '1 hour', '{"label": "x"}'::jsonb,
               now() - interval '30 minutes', '', '', '', '', ''
        FROM tasks_task AS t
        JOIN marketplace_job AS j ON j.id = t.job_id
        WHERE j.status = 'published' AND t.position = 1 AND j.id %% 100 = 0
        """,
        [worker_id],
    )


def query_count(path: str, user=None) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    if user is not None:
        client.force_login(user)
    client.get(path)  # the first request fills caches (the session, the site); count a later one
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
    return len(captured.captured_queries)


def latencies_ms(
    server: BenchServer, path: str, requests: int, cookies: dict | None = None
) -> tuple[list[float], float]:
    """Each request's time, and the server's CPU time per request (ms), for `requests` requests one at a time."""
    import httpx

    samples = []
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=60) as client:
        for _ in range(10):
            client.get(path).raise_for_status()
        cpu_before = server.cpu_seconds()
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / requests
    return samples, cpu_ms


def main() -> None:
    arguments = parse_arguments()
    bench_database(SCRIPT)
    from benchmarks.common import setup_django

    setup_django()
    report = Report(SCRIPT)
    worker = board_data(arguments.jobs, arguments.tasks_per_job)
    cookies = session_cookies(worker)
    pages = [
        ("board, anonymous", "/", None, None),
        ("board, worker with qualifications", "/", cookies, worker),
        ("board, worker, qualified only", "/?qualified=on", cookies, worker),
        ("board, worker, page 50 (the last)", "/?page=50", cookies, worker),
    ]
    with BenchServer(SCRIPT, workers=arguments.workers) as server:
        floor_samples, floor_cpu_ms = latencies_ms(server, "/health/live", arguments.requests)
        floor = percentile(floor_samples, 0.5)
        for name, path, page_cookies, user in pages:
            samples, cpu_ms = latencies_ms(server, path, arguments.requests, page_cookies)
            p50 = percentile(samples, 0.5)
            queries = query_count(path, user)
            report.add(
                Figure(
                    name=f"{name}, p50",
                    value=p50,
                    unit="ms",
                    floor_name="GET /health/live p50",
                    floor_value=floor,
                    target=f"< {P50_TARGET_MS:g} ms",
                    met=p50 < P50_TARGET_MS,
                    note=f"p95 {percentile(samples, 0.95):.1f} ms, {queries} queries, {arguments.requests} requests",
                )
            )
            report.add(
                Figure(
                    name=f"{name}, server CPU",
                    value=cpu_ms,
                    unit="ms",
                    floor_name="GET /health/live CPU",
                    floor_value=floor_cpu_ms,
                    note="CPU time of the gunicorn workers (/proc): steadier than wall time on a busy machine",
                )
            )
    report.finish()


if __name__ == "__main__":
    main()
