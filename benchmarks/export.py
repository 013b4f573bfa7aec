"""Export: a requester downloads the results CSV (results.csv, streamed; from the page with a session and from API
v1 with a key) of a job with N submitted assignments; time to the last byte through the server and the serving
worker's peak memory growth, beside the floor: PostgreSQL `COPY (the same query) TO STDOUT` read by this process,
the database's own cost to produce those rows.

.venv/bin/python -m benchmarks.export [--sizes 10000,100000] [--repeats 3] [--workers 2]

The assignments are made with set-based SQL (benchmarks/data.py). Memory: each gunicorn worker's peak RSS is reset
before a download (clear_refs) and read after it (VmHWM); the growth shown is the largest of one worker.
Targets: 100,000 rows in under 3 s, memory growth under 50 MB. Figures, never assertions.
"""

import argparse
import statistics
import time

from benchmarks.suite import BenchServer, Figure, Report, bench_database, session_cookies

SCRIPT = "export"
SECONDS_TARGET = 3.0
SECONDS_TARGET_ROWS = 100_000
MEMORY_TARGET_MB = 50.0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated assignment counts")
    parser.add_argument("--repeats", type=int, default=3, help="downloads per size (the median is shown)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    return parser.parse_args()


def make_job_with_results(rows: int, worker_ids: list[int]):
    from benchmarks.data import insert_submitted_assignments, insert_tasks, make_builder_job, unique_label
    from marketplace.models import User

    requester = User.objects.create(username=unique_label("export-requester"))
    job = make_builder_job(requester, f"Export {rows:,}")
    insert_tasks(job.pk, rows)
    made = insert_submitted_assignments(job.pk, worker_ids)
    assert made == rows, made
    job.refresh_from_db()
    return requester, job


def api_path(job) -> str:
    return f"/api/v1/jobs/{job.public_id}/results.csv"


def api_headers(requester) -> dict:
    from api.services import api_key_create

    _, secret = api_key_create(user=requester, name="export benchmark", scopes=["read"])
    return {"headers": {"Authorization": f"Bearer {secret}"}}


def seconds_figure(name: str, runs: list[tuple], rows: int, floor: float, repeats: int) -> Figure:
    if any(run[1] != rows + 1 for run in runs):
        raise RuntimeError(f"{name}: {[run[1] for run in runs]} lines, expected {rows + 1}")
    seconds = statistics.median(run[0] for run in runs)
    cpu_seconds = statistics.median(run[3] for run in runs)
    at_target_size = rows >= SECONDS_TARGET_ROWS
    return Figure(
        name=name,
        value=seconds,
        unit="s",
        floor_name="COPY (same query) TO STDOUT",
        floor_value=floor,
        target=f"< {SECONDS_TARGET:g} s" if at_target_size else "",
        met=seconds < SECONDS_TARGET if at_target_size else None,
        note=f"{rows / seconds:,.0f} rows/s, time to last byte, median of {repeats}; server CPU {cpu_seconds:.2f} s",
    )


def download(server: BenchServer, path: str, client_options: dict) -> tuple[float, int, float, float]:
    """Seconds to the last byte, lines received, the peak memory growth of a worker (MB) and the server's CPU
    seconds, for one download."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=300, **client_options) as client:
        client.get("/health/live")  # the connection is open before the clock starts
        memory_before = server.reset_peak_memory()
        cpu_before = server.cpu_seconds()
        start = time.perf_counter()
        lines = 0
        with client.stream("GET", path) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - start
    return seconds, lines, server.peak_memory_growth_mb(memory_before), server.cpu_seconds() - cpu_before


def copy_floor(job) -> float:
    """COPY of the query results.csv streams (tasks.selectors.result_rows), as CSV, read to the end."""
    from django.db import connection

    sql = _result_rows_sql(job)
    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH CSV") as copy:
        for _ in copy:
            pass
    return time.perf_counter() - start


def _result_rows_sql(job) -> str:
    """result_rows' query (tasks.selectors), its parameters quoted into it: COPY takes no bind parameters."""
    from django.db import connection

    from tasks.selectors import result_rows_query

    queryset = result_rows_query(job=job)
    sql, params = queryset.query.sql_with_params()
    return connection.ops.compose_sql(sql, params)


def main() -> None:
    arguments = parse_arguments()
    bench_database(SCRIPT)
    from benchmarks.common import setup_django

    setup_django()
    from benchmarks.data import make_users

    report = Report(SCRIPT)
    worker_ids = make_users(1_000, "export-worker")
    with BenchServer(SCRIPT, workers=arguments.workers) as server:
        for rows in (int(size) for size in arguments.sizes.split(",")):
            requester, job = make_job_with_results(rows, worker_ids)
            cookies = {"cookies": session_cookies(requester)}
            path = f"/requester/jobs/{job.public_id}/results.csv"
            server.warm_up(path="/", requests=10, cookies=cookies["cookies"])
            floor = statistics.median(copy_floor(job) for _ in range(arguments.repeats))
            runs = [download(server, path, cookies) for _ in range(arguments.repeats)]
            report.add(seconds_figure(f"export {rows:,} rows, results.csv", runs, rows, floor, arguments.repeats))
            api_runs = [download(server, api_path(job), api_headers(requester)) for _ in range(arguments.repeats)]
            report.add(
                seconds_figure(f"export {rows:,} rows, API v1 results.csv", api_runs, rows, floor, arguments.repeats)
            )
            growth = max(run[2] for run in runs + api_runs)
            report.add(
                Figure(
                    name=f"export {rows:,} rows, worker memory growth",
                    value=growth,
                    unit="MB",
                    target=f"< {MEMORY_TARGET_MB:g} MB",
                    met=growth < MEMORY_TARGET_MB,
                    note="peak RSS of the serving worker minus its RSS before, the largest of all downloads",
                )
            )
    report.finish()


if __name__ == "__main__":
    main()
