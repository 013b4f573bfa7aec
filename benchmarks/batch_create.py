"""Batch creation: a CSV of N rows added to a draft job through the requester's page (a logged-in session posting
the real form, as a browser uploads a file) and through API v1 (`POST /api/v1/jobs/{id}/tasks` with a text/csv
body), beside the floor: PostgreSQL `COPY` of the same rows into a table of the same shape (LIKE tasks_task, with
its indexes), from this process.

.venv/bin/python -m benchmarks.batch_create [--sizes 10000,100000] [--repeats 3] [--workers 2]

Each figure is the median of `repeats` runs (one run for sizes of 100,000 and more), each on a new job of a new
requester, timed from the request's first byte to the response (the redirect, or the API's 201). Target: within 3x
of COPY. Figures, never assertions.
"""

import argparse
import json
import re
import statistics
import time

from benchmarks.suite import BenchServer, Figure, Report, bench_database, session_cookies

SCRIPT = "batch_create"
TARGET_RATIO = 3.0
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 100,000 (the median is shown)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    return parser.parse_args()


def csv_text(rows: int) -> str:
    lines = ["id,text,image_url"] + [
        f'{n},"Sentence number {n}, with a comma",https://example.org/img/{n}.png' for n in range(rows)
    ]
    return "\n".join(lines) + "\n"


def row_input(n: int) -> dict[str, str]:
    return {"id": str(n), "text": f"Sentence number {n}, with a comma", "image_url": f"https://example.org/img/{n}.png"}


def new_draft_job(label: str):
    """A new requester (the draft quota counts per requester) with a draft job whose form uses the CSV's columns."""
    from marketplace.models import User

    requester = User.objects.create(username=f"bench-{label}-{time.monotonic_ns()}")
    from benchmarks.data import make_builder_job

    return requester, make_builder_job(requester, f"Batch {label}")


def created_tasks(job) -> int:
    from tasks.models import Task

    return Task.objects.filter(job_id=job.pk).count()


def time_web_upload(server: BenchServer, text: str, rows: int) -> tuple[float, float]:
    """The requester's page: GET it for the CSRF token, then POST the form with the CSV as a file."""
    import httpx

    requester, job = new_draft_job("web")
    path = f"/requester/jobs/{job.public_id}/tasks/"
    with httpx.Client(base_url=server.url, cookies=session_cookies(requester), timeout=300) as client:
        page = client.get(path)
        page.raise_for_status()
        token = CSRF_INPUT.search(page.text).group(1)
        form = {"csrfmiddlewaretoken": token, "add_csv": "1"}
        files = {"csv_file": ("tasks.csv", text.encode(), "text/csv")}
        cpu_before = server.cpu_seconds()
        start = time.perf_counter()
        response = client.post(path, data=form, files=files)
        seconds = time.perf_counter() - start
        cpu_seconds = server.cpu_seconds() - cpu_before
    if response.status_code != 302 or created_tasks(job) != rows:
        raise RuntimeError(f"web upload: {response.status_code}, {created_tasks(job)} of {rows} tasks created")
    return seconds, cpu_seconds


def time_api_upload(server: BenchServer, text: str, rows: int) -> tuple[float, float]:
    import httpx

    from api.services import api_key_create

    requester, job = new_draft_job("api")
    _, secret = api_key_create(user=requester, name="batch benchmark")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "text/csv"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:
        cpu_before = server.cpu_seconds()
        start = time.perf_counter()
        response = client.post(f"/api/v1/jobs/{job.public_id}/tasks", content=text.encode())
        seconds = time.perf_counter() - start
        cpu_seconds = server.cpu_seconds() - cpu_before
    if response.status_code != 201 or response.json()["created"] != rows:
        raise RuntimeError(f"API upload: {response.status_code} {response.text[:300]}")
    return seconds, cpu_seconds


def time_copy_floor(rows: int) -> float:
    """COPY of the rows tasks_add writes (the same columns and values) into a logged table LIKE tasks_task with its
    indexes, and the commit: what the database alone needs to store the batch."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.ids import new_public_id

    _, job = new_draft_job("copy")
    now = timezone.now()
    prepared = [
        (new_public_id(), job.pk, position, json.dumps(row_input(n))) for position, n in enumerate(range(rows), start=1)
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_floor")
        cursor.execute("CREATE TABLE bench_copy_floor (LIKE tasks_task INCLUDING ALL)")
    copy_sql = (
        "COPY bench_copy_floor (public_id, job_id, position, input, slots_open, kind, gold, created_at) FROM STDIN"
    )
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for public_id, job_id, position, task_input in prepared:
            copy.write_row((public_id, job_id, position, task_input, 1, "regular", "{}", now))
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_floor")
    return seconds


def warm_up_both_routes(server: BenchServer) -> None:
    """Requests to the requester's pages and to API v1 on every worker, so no measured upload is a worker's first
    request to either (which imports and builds the API's schemas, a tenth of a second)."""
    from api.services import api_key_create

    requester, job = new_draft_job("warm-up")
    _, secret = api_key_create(user=requester, name="warm-up")
    server.warm_up(path=f"/requester/jobs/{job.public_id}/tasks/", requests=10, cookies=session_cookies(requester))
    server.warm_up(path="/api/v1/me", requests=10, headers={"Authorization": f"Bearer {secret}"})


def median_of(repeats: int, measure) -> float:
    return statistics.median(measure() for _ in range(repeats))


def medians_of(repeats: int, measure) -> tuple[float, float]:
    """The median wall time and the median server CPU time of `repeats` measurements."""
    runs = [measure() for _ in range(repeats)]
    return statistics.median(run[0] for run in runs), statistics.median(run[1] for run in runs)


def main() -> None:
    arguments = parse_arguments()
    bench_database(SCRIPT)
    from benchmarks.common import setup_django

    setup_django()
    report = Report(SCRIPT)
    with BenchServer(SCRIPT, workers=arguments.workers) as server:
        warm_up_both_routes(server)
        for rows in (int(size) for size in arguments.sizes.split(",")):
            repeats = arguments.repeats if rows < 100_000 else 1
            text = csv_text(rows)
            floor = median_of(repeats, lambda rows=rows: time_copy_floor(rows))
            web = medians_of(repeats, lambda text=text, rows=rows: time_web_upload(server, text, rows))
            api = medians_of(repeats, lambda text=text, rows=rows: time_api_upload(server, text, rows))
            floor_name = f"COPY {rows:,} rows"
            for route, (seconds, cpu_seconds) in (("web upload", web), ("API v1 text/csv", api)):
                report.add(
                    Figure(
                        name=f"batch {rows:,} rows, {route}",
                        value=seconds,
                        unit="s",
                        floor_name=floor_name,
                        floor_value=floor,
                        target=f"<= {TARGET_RATIO:g}x floor",
                        met=seconds <= TARGET_RATIO * floor,
                        note=f"{rows / seconds:,.0f} rows/s, CSV {len(text) / 1e6:.1f} MB, median of {repeats}; "
                        f"server CPU {cpu_seconds:.2f} s",
                    )
                )
    report.finish()


if __name__ == "__main__":
    main()
