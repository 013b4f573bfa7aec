"""What each step of the API work loop costs in CPU, inside one process (no HTTP, no gunicorn), beside GET /me.

.venv/bin/python -m benchmarks.loop_cpu [--cycles 200] [--profile claim|submit|me|page]

Over HTTP on 2 cores the loop's figures (benchmarks/work_loop.py) move with whatever else runs; here Django's test
client sends claim → submit through API v1 with the whole middleware stack and production settings, and the
process's own CPU time (time.process_time) is divided by the requests, with each step's query count. `--profile`
prints pyinstrument's tree of one step, to see where its time goes. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

from benchmarks import suite  # reads BENCH_REDIS_URL when imported

SCRIPT = "loop_cpu"
STEPS = ("claim", "submit", "me", "page")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--profile", choices=STEPS, default="")
    return parser.parse_args()


class Loop:
    """One worker's claim → submit through API v1, and the two floors (GET /me, a task page), each step timed."""

    def __init__(self, job, api_key: str, session_cookie: dict[str, str]):
        from django.test import Client

        self.job = job
        self.api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        self.pages = Client()
        self.pages.cookies.load(session_cookie)
        self.assignment_id = ""

    def claim(self) -> None:
        response = self.api.post(f"/api/v1/jobs/{self.job.public_id}/claim")
        assert response.status_code == 201, response.content  # a broken set-up, not a timing
        self.assignment_id = response.json()["id"]

    def submit(self) -> None:
        response = self.api.post(
            f"/api/v1/assignments/{self.assignment_id}/submit",
            data={"answer": {"label": "cat"}},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content

    def me(self) -> None:
        response = self.api.get("/api/v1/me")
        assert response.status_code == 200, response.content

    def page(self) -> None:
        response = self.pages.get("/bench/plain/")
        assert response.status_code == 200, response.status_code


def measure(loop: Loop, cycles: int) -> dict[str, tuple[float, int]]:
    """CPU ms per request and queries per request of each step (counted by an execute wrapper: Django's query log
    keeps only the last 9,000 queries, so counting from it reads 0 once a long run has filled it)."""
    from django.db import connection

    spent = dict.fromkeys(STEPS, 0.0)
    queries = dict.fromkeys(STEPS, 0)
    counted = [0]

    def count(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        for _ in range(cycles):
            for step in STEPS:
                counted[0] = 0
                started = time.process_time()
                getattr(loop, step)()
                spent[step] += time.process_time() - started
                queries[step] = counted[0]
    return {step: (spent[step] * 1000 / cycles, queries[step]) for step in STEPS}


def profile(loop: Loop, step: str, cycles: int) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    for _ in range(cycles):
        if step == "submit":
            loop.claim()
        profiler.start()
        getattr(loop, step)()
        profiler.stop()
        if step == "claim":
            loop.submit()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> None:
    arguments = parse_arguments()
    suite.bench_database("work_loop")  # the work loop's database and its job of 100,000 open tasks
    os.environ.update({"REDIS_URL": suite.REDIS_URL, "CACHE_URL": suite.REDIS_URL.replace("redis://", "rediscache://")})
    os.environ.update({"DEBUG": "0", "LIGHTNING_DEV_BACKEND_ALLOWED": "1", "API_RATE_LIMIT_PER_MINUTE": "10000000"})
    os.environ.update({"CLAIMS_PER_MINUTE": "0", "ALLOWED_HOSTS": "*"})
    from benchmarks.common import setup_django

    setup_django()
    from django.test import override_settings

    from api.models import ApiScope
    from api.services import api_key_create
    from benchmarks.work_loop import prepared_job
    from marketplace.models import User

    job = prepared_job("Work loop benchmark", 100_000, reuse=True)
    worker, _ = User.objects.get_or_create(username="bench-loop-cpu-worker")
    _, api_key = api_key_create(user=worker, name="loop cpu", scopes=[ApiScope.WORK, ApiScope.READ])
    with override_settings(ROOT_URLCONF="benchmarks.bench_urls"):
        loop = Loop(job, api_key, suite.session_cookies(worker))
        measure(loop, 10)  # first requests: imports, connections, caches
        if arguments.profile:
            profile(loop, arguments.profile, arguments.cycles)
            return
        figures = measure(loop, arguments.cycles)
    report = suite.Report(SCRIPT)
    me_cpu = figures["me"][0]
    for step in ("claim", "submit", "page"):
        cpu, queries = figures[step]
        report.add(
            suite.Figure(
                name=f"{step}, CPU per request ({queries} queries)",
                value=cpu,
                unit="ms CPU",
                floor_name=f"GET /api/v1/me ({figures['me'][1]} queries)",
                floor_value=me_cpu,
                target="",
            )
        )
    report.finish()


if __name__ == "__main__":
    main()
