"""The work loop over HTTP, beside its floors measured in the same run.

.venv/bin/python -m benchmarks.work_loop [--clients 1,8,32] [--seconds 5] [--open-tasks 100000] [--no-overhead]

A job with 100,000 open tasks (kept between runs in boltwork_bench_work_loop and topped up when it runs low); K
clients (1, 8, 32), each a worker of its own, loop for a fixed time:
- API v1: POST /api/v1/jobs/<job>/claim → POST /api/v1/assignments/<id>/submit (a bearer key each);
- pages: POST /jobs/<job>/start/ (the claim, answered by a redirect to the task) → GET the task page → POST its form
  to /work/assignments/<id>/submit/ (a logged-in session each, and the CSRF token read from the page as a browser
  sends it; the redirect after the submit is not followed).
Floors, the same driver at the same K on the same server: GET /api/v1/me (the API loop's), a logged-in GET of a
plain view through Boltwork's whole middleware stack (the pages' "trivial page"), and the bare claim SQL under
pgbench at the same concurrency (rolled back, so it takes no task). Then the job is checked in the database: no task
holds more assignments than it has slots, and every slot count agrees with the assignments holding one.

Then the per-request overhead over HTTP (`--no-overhead` skips it): a bare Django view (a gunicorn of its own with
benchmarks/bare_settings.py: no app, no middleware) beside a plain view through Boltwork's stack
(benchmarks/bench_settings.py), GET /api/v1/me and the login page. What each middleware costs is measured in CPU
time inside one process by benchmarks/middleware_cost.py: over HTTP on a shared machine it drowns in noise.

The driver: several processes (one per 16 clients, at least two from 2 clients), each running an asyncio loop with
one httpx.AsyncClient per client. Its own CPU time is printed beside the server's, so a driver that became the
bottleneck shows. gunicorn runs as deployed: 2 sync workers (benchmarks/suite.py). The rate limits stay on with
limits the run cannot reach, so their counting is still paid. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

from benchmarks import suite  # reads BENCH_REDIS_URL when imported

SCRIPT = "work_loop"
JOB_TITLE = "Work loop benchmark"
SMALL_JOB_TITLE = "Work loop benchmark, 1,000 open tasks"
WORKER_PREFIX = "bench-loop-worker-"
REWARD_MSAT = 1000
CLIENTS_PER_DRIVER_PROCESS = 16
# Never reached in a run, so the limiters count every request as in production and refuse none.
UNREACHABLE_LIMITS = {"CLAIMS_PER_MINUTE": "10000000", "API_RATE_LIMIT_PER_MINUTE": "10000000"}
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ASSIGNMENT_PATH = re.compile(r"/work/assignments/([^/]+)/$")
# The claim's locking statement alone, as pgbench runs it (:job is the job's key); rolled back, so it takes nothing.
CLAIM_SQL = """BEGIN;
UPDATE tasks_task SET slots_open = slots_open - 1 WHERE id = (
    SELECT id FROM tasks_task WHERE job_id = :job AND slots_open > 0 AND kind <> 'training'
    ORDER BY position LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
ROLLBACK;
"""
BARE_DJANGO = "django.core.wsgi:get_wsgi_application()"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated client counts (K)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per loop and per floor")
    parser.add_argument("--open-tasks", type=int, default=100_000, help="open tasks in the job")
    parser.add_argument("--no-overhead", action="store_true", help="skip the per-request overhead")
    parser.add_argument("--skip-loops", action="store_true", help="only the per-request overhead")
    return parser.parse_args()


# --- the driver (runs in its own processes; no Django there) -----------------------------------------------------


@dataclass
class Client:
    """One simulated worker: a bearer key for the API, a session and CSRF cookie for the pages."""

    api_key: str
    cookies: dict[str, str]
    csrf_token: str


@dataclass
class Tally:
    cycles: int = 0
    samples_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def record(self, step: str, started: float) -> None:
        self.samples_ms.setdefault(step, []).append((time.perf_counter() - started) * 1000)

    def merge(self, other: Tally) -> None:
        self.cycles += other.cycles
        for step, samples in other.samples_ms.items():
            self.samples_ms.setdefault(step, []).extend(samples)
        self.errors.extend(other.errors)
        self.cpu_seconds += other.cpu_seconds


class StepFailed(Exception):
    pass


def expect(response, status: int, step: str) -> None:
    if response.status_code != status:
        raise StepFailed(f"{step}: {response.status_code} {response.text[:200]!r}")


async def api_cycle(http, client: Client, job_id: str, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {client.api_key}"}
    started = time.perf_counter()
    claimed = await http.post(f"/api/v1/jobs/{job_id}/claim", headers=headers)
    expect(claimed, 201, "claim")
    tally.record("claim", started)
    started = time.perf_counter()
    submitted = await http.post(
        f"/api/v1/assignments/{claimed.json()['id']}/submit", headers=headers, json={"answer": {"label": "x"}}
    )
    expect(submitted, 200, "submit")
    tally.record("submit", started)


async def pages_cycle(http, client: Client, job_id: str, tally: Tally) -> None:
    started = time.perf_counter()
    claimed = await http.post(f"/jobs/{job_id}/start/", data={"csrfmiddlewaretoken": client.csrf_token})
    expect(claimed, 302, "claim")
    task_path = claimed.headers["Location"]
    if not ASSIGNMENT_PATH.search(task_path):
        raise StepFailed(f"claim: redirected to {task_path}")
    tally.record("claim", started)
    started = time.perf_counter()
    page = await http.get(task_path)
    expect(page, 200, "task page")
    token = CSRF_INPUT.search(page.content)
    if token is None:
        raise StepFailed("task page: no CSRF token in the form")
    client.csrf_token = token[1].decode()  # as a browser posts the form it was given
    tally.record("task page", started)
    started = time.perf_counter()
    submitted = await http.post(
        f"{task_path}submit/", data={"csrfmiddlewaretoken": client.csrf_token, "answer-label": "x"}
    )
    expect(submitted, 302, "submit")
    tally.record("submit", started)


async def me_cycle(http, client: Client, job_id: str, tally: Tally) -> None:
    started = time.perf_counter()
    expect(await http.get("/api/v1/me", headers={"Authorization": f"Bearer {client.api_key}"}), 200, "GET /me")
    tally.record("request", started)


def get_cycle(path: str, status: int = 200):
    async def cycle(http, client: Client, job_id: str, tally: Tally) -> None:
        started = time.perf_counter()
        expect(await http.get(path), status, f"GET {path}")
        tally.record("request", started)

    return cycle


async def run_clients(url, clients, job_id, cycle, start_at, stop_at) -> Tally:
    import httpx

    tally = Tally()

    async def one(client: Client) -> None:
        async with httpx.AsyncClient(base_url=url, cookies=client.cookies, timeout=60) as http:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            while time.time() < stop_at:
                try:
                    await cycle(http, client, job_id, tally)
                except (StepFailed, httpx.HTTPError) as error:
                    tally.errors.append(f"{type(error).__name__}: {error}")
                    continue
                if time.time() < stop_at:
                    tally.cycles += 1  # only cycles that finished inside the window count

    cpu_before = time.process_time()
    await asyncio.gather(*(one(client) for client in clients))
    tally.cpu_seconds = time.process_time() - cpu_before
    return tally


def driver_process(url, clients, job_id, cycle, start_at, stop_at, results) -> None:
    results.put(asyncio.run(run_clients(url, clients, job_id, cycle, start_at, stop_at)))


def drive(url: str, clients: list[Client], job_id: str, cycle, seconds: float) -> Tally:
    """Every client loops `cycle` for `seconds`, spread over several driver processes that start together."""
    processes = max(2 if len(clients) > 1 else 1, -(-len(clients) // CLIENTS_PER_DRIVER_PROCESS))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0  # every process connected and waiting
    stop_at = start_at + seconds
    workers = [
        context.Process(
            target=driver_process, args=(url, clients[n::processes], job_id, cycle, start_at, stop_at, results)
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    tally = Tally()
    for _ in workers:
        tally.merge(results.get(timeout=seconds + 120))
    for worker in workers:
        worker.join()
    return tally


# --- the server's CPU ----------------------------------------------------------------------------------------


def cpu_seconds_of(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclass
class Run:
    label: str
    clients: int
    seconds: float
    tally: Tally
    server_cpu_seconds: float

    @property
    def requests(self) -> int:
        return sum(len(samples) for samples in self.tally.samples_ms.values())

    @property
    def cycles_per_second(self) -> float:
        return self.tally.cycles / self.seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def step_summary(self) -> str:
        return ", ".join(
            f"{step} p50 {suite.median(samples):.1f} / p95 {suite.percentile(samples, 0.95):.1f} ms"
            for step, samples in self.tally.samples_ms.items()
        )

    def describe(self) -> str:
        errors = f"; {len(self.tally.errors)} ERRORS, first: {self.tally.errors[0]}" if self.tally.errors else ""
        return (
            f"{self.label} K={self.clients}: {self.cycles_per_second:.1f} cycles/s, {self.requests_per_second:.1f} "
            f"requests/s; {self.step_summary()}; CPU cores used: server {self.server_cpu_seconds / self.seconds:.2f}, "
            f"driver {self.tally.cpu_seconds / self.seconds:.2f}{errors}"
        )


def measure(server, label: str, clients: list[Client], job_id: str, cycle, seconds: float) -> Run:
    pids = server.worker_pids()
    cpu_before = cpu_seconds_of(pids)
    tally = drive(server.url, clients, job_id, cycle, seconds)
    run = Run(label, len(clients), seconds, tally, cpu_seconds_of(pids) - cpu_before)
    print("  " + run.describe(), flush=True)
    return run


# --- set-up in the database (Django, in this process) -------------------------------------------------------


def prepared_job(title: str, open_tasks: int, *, reuse: bool):
    """A published job of one short-text field with at least `open_tasks` open tasks (90% when reused)."""
    from marketplace import services
    from marketplace.escrow import platform_fee_msat
    from marketplace.models import Job, JobStatus, User
    from tasks.services import tasks_add
    from tests.factories.money import fund

    requester, _ = User.objects.get_or_create(username="bench-loop-requester")
    job = Job.objects.filter(title=title, requester=requester, status=JobStatus.PUBLISHED).order_by("-pk").first()
    if reuse and job is not None and job.open_slot_count >= open_tasks * 0.9:
        return job
    from benchmarks.data import make_builder_job

    job = make_builder_job(requester, title, columns=("n",), reward_msat=REWARD_MSAT)
    started = time.perf_counter()
    tasks_add(job=job, actor=requester, columns=["n"], rows=[{"n": str(n)} for n in range(open_tasks)])
    print(f"created a job of {open_tasks:,} open tasks in {time.perf_counter() - started:.1f} s")
    fund(requester, (REWARD_MSAT + platform_fee_msat(REWARD_MSAT)) * open_tasks)
    services.job_publish(job=job, actor=requester)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment;")
    return job


def prepared_clients(count: int) -> list[Client]:
    """`count` workers, each with a fresh bearer key (work and read) and a logged-in session."""
    from django.middleware.csrf import _get_new_csrf_string

    from api.models import ApiScope
    from api.services import api_key_create
    from marketplace.models import User

    clients = []
    for number in range(count):
        worker, _ = User.objects.get_or_create(username=f"{WORKER_PREFIX}{number}")
        _, secret = api_key_create(user=worker, name="work loop benchmark", scopes=[ApiScope.WORK, ApiScope.READ])
        csrf_secret = _get_new_csrf_string()
        cookies = {**suite.session_cookies(worker), "csrftoken": csrf_secret}
        clients.append(Client(api_key=secret, cookies=cookies, csrf_token=csrf_secret))
    return clients


def overfilled_tasks(job) -> tuple[int, int]:
    """Tasks of the job holding more assignments than their slots, and tasks whose open-slot count disagrees with
    the assignments that hold a slot."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE held > allowed), count(*) FILTER (WHERE held + slots_open <> allowed)
            FROM (
                SELECT t.slots_open, COALESCE(t.max_assignments, j.assignments_per_task) AS allowed,
                       (SELECT count(*) FROM tasks_assignment a
                        WHERE a.task_id = t.id AND a.status IN ('accepted', 'submitted', 'approved')) AS held
                FROM tasks_task t JOIN marketplace_job j ON j.id = t.job_id
                WHERE t.job_id = %s AND t.kind <> 'training'
            ) counts
            """,
            [job.pk],
        )
        return cursor.fetchone()


# --- pgbench: the bare claim SQL ----------------------------------------------------------------------------------


def pgbench_claim_rate(job, clients: int, seconds: float) -> float:
    """Transactions per second of the claim's locking statement alone (rolled back, so no task is taken)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(CLAIM_SQL)
    try:
        command = [
            "pgbench", "-n", "-f", handle.name, "-c", str(clients), "-j", str(min(clients, 2)), "-T",
            str(max(1, round(seconds))), "-h", database["HOST"] or "127.0.0.1", "-p", str(database["PORT"] or 5432),
            "-U", database["USER"] or "postgres", "-D", f"job={job.pk}", database["NAME"],
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"tps = ([0-9.]+)", output)
    return float(match[1]) if match else 0.0


# --- the runs -----------------------------------------------------------------------------------------------------


def loop_figures(report, arguments, job, small_job, clients: list[Client]) -> None:
    from django.db import connection

    server_env = {"DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings", **UNREACHABLE_LIMITS}
    with suite.BenchServer(f"{SCRIPT}-loops", extra_env=server_env) as server:
        server.warm_up()
        seconds = arguments.seconds
        for cycle in (me_cycle, get_cycle("/bench/plain/"), api_cycle, pages_cycle):
            drive(server.url, clients[:2], job.public_id, cycle, 1.0)  # each view's first requests, not measured
        api_rates, page_rates = {}, {}
        for count in [int(k) for k in arguments.clients.split(",")]:
            some = clients[:count]
            print(f"K = {count}:")
            me = measure(server, "floor GET /api/v1/me", some, job.public_id, me_cycle, seconds)
            trivial = measure(server, "floor trivial page", some, job.public_id, get_cycle("/bench/plain/"), seconds)
            api = measure(server, "API v1 loop", some, job.public_id, api_cycle, seconds)
            pages = measure(server, "pages loop", some, job.public_id, pages_cycle, seconds)
            claim_sql = pgbench_claim_rate(job, count, seconds)
            print(f"  floor bare claim SQL under pgbench, {count} clients: {claim_sql:,.0f} claims/s")
            api_rates[count], page_rates[count] = api.cycles_per_second, pages.cycles_per_second
            add_loop_figures(report, count, me, trivial, api, pages, claim_sql)
        if len(api_rates) > 1 and 1 in api_rates and 8 in api_rates:
            report.add(
                suite.Figure(
                    name="API loop cycles/s, 8 clients vs 1",
                    value=api_rates[8],
                    unit="/s",
                    floor_name="1 client",
                    floor_value=api_rates[1],
                    target="rising (> 1x)",
                    met=api_rates[8] > api_rates[1],
                )
            )
        claim_at_one_client(report, server, clients[0], job, small_job, seconds)
    connection.close()
    overfilled, disagreeing = overfilled_tasks(job)
    report.add(
        suite.Figure(
            name="tasks over-filled after the runs",
            value=overfilled,
            unit="tasks",
            target="0",
            met=overfilled == 0 and disagreeing == 0,
            note=f"{disagreeing} tasks whose open-slot count disagrees with the assignments holding one",
        )
    )


def add_loop_figures(report, count, me, trivial, api, pages, claim_sql) -> None:
    api_errors, page_errors = len(api.tally.errors), len(pages.tally.errors)
    report.add(
        suite.Figure(
            name=f"API loop requests/s, {count} clients",
            value=api.requests_per_second,
            unit="/s",
            floor_name="GET /api/v1/me",
            floor_value=me.requests_per_second,
            target=">= 0.70x at 8 clients" if count == 8 else "",
            met=(api.requests_per_second >= 0.7 * me.requests_per_second and not api_errors) if count == 8 else None,
            note=(
                f"{api.cycles_per_second:.1f} cycles/s; {api.step_summary()}; {api_errors} errors; claims beside "
                f"the bare claim SQL at {claim_sql:,.0f}/s: {api.cycles_per_second / claim_sql:.3f}x; CPU cores: "
                f"server {api.server_cpu_seconds / api.seconds:.2f}, driver {api.tally.cpu_seconds / api.seconds:.2f}"
            ),
        )
    )
    report.add(
        suite.Figure(
            name=f"pages loop requests/s, {count} clients",
            value=pages.requests_per_second,
            unit="/s",
            floor_name="trivial page (logged in)",
            floor_value=trivial.requests_per_second,
            target=">= 0.50x",
            met=pages.requests_per_second >= 0.5 * trivial.requests_per_second and not page_errors,
            note=(
                f"{pages.cycles_per_second:.1f} cycles/s; {pages.step_summary()}; {page_errors} errors; CPU cores: "
                f"server {pages.server_cpu_seconds / pages.seconds:.2f}, "
                f"driver {pages.tally.cpu_seconds / pages.seconds:.2f}"
            ),
        )
    )


def claim_at_one_client(report, server, client: Client, job, small_job, seconds: float) -> None:
    """Claim p50 over HTTP with one client, on the 100,000-task job and on one of 1,000, beside GET /me's p50."""
    me = measure(server, "floor GET /api/v1/me", [client], job.public_id, me_cycle, seconds)
    me_p50 = suite.median(me.tally.samples_ms["request"])
    for label, which in (("100,000", job), ("1,000", small_job)):
        run = measure(server, f"API v1 loop, {label} open tasks", [client], which.public_id, api_cycle, seconds)
        claims = run.tally.samples_ms.get("claim", [0.0])
        report.add(
            suite.Figure(
                name=f"claim p50 over HTTP, 1 client, {label} open",
                value=suite.median(claims),
                unit="ms",
                floor_name="GET /api/v1/me p50",
                floor_value=me_p50,
                target="< 10 ms",
                met=suite.median(claims) < 10,
                note=f"claim p95 {suite.percentile(claims, 0.95):.1f} ms",
            )
        )


# --- per-request overhead -----------------------------------------------------------------------------------------


def overhead_figures(report, arguments, job, clients: list[Client]) -> None:
    seconds, some = arguments.seconds, clients[:8]
    plain = get_cycle("/bench/plain/")

    bare_env = {"DJANGO_SETTINGS_MODULE": "benchmarks.bare_settings"}
    with suite.BenchServer(f"{SCRIPT}-bare", extra_env=bare_env, wsgi_app=BARE_DJANGO) as server:
        server.warm_up("/bench/plain/")
        bare = measure(server, "bare Django view", some, job.public_id, plain, seconds).requests_per_second
    env = {"DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings", **UNREACHABLE_LIMITS}
    with suite.BenchServer(f"{SCRIPT}-overhead", extra_env=env) as server:
        server.warm_up("/bench/plain/")
        anonymous = [Client(api_key=c.api_key, cookies={}, csrf_token="") for c in some]
        login = get_cycle("/accounts/login/")
        for cycle, who in ((me_cycle, some), (login, anonymous)):
            drive(server.url, who[:2], job.public_id, cycle, 1.0)  # each view's first requests, not measured
        rates = {
            "plain view, whole stack, anonymous": measure(
                server, "plain, anonymous", anonymous, job.public_id, plain, seconds
            ),
            "plain view, whole stack, logged in": measure(
                server, "plain, logged in", some, job.public_id, plain, seconds
            ),
            "GET /api/v1/me": measure(server, "GET /api/v1/me", some, job.public_id, me_cycle, seconds),
            "login page (anonymous)": measure(server, "login page", anonymous, job.public_id, login, seconds),
        }
    for name, run in rates.items():
        report.add(
            suite.Figure(
                name=f"{name}, 8 clients",
                value=run.requests_per_second,
                unit="/s",
                floor_name="bare Django view",
                floor_value=bare,
                target="cost <= 1.5x bare",
                met=run.requests_per_second * 1.5 >= bare,
                note=f"{1000 * 8 / run.requests_per_second:.1f} ms per request at 8 clients vs "
                f"{1000 * 8 / bare:.1f} ms bare",
            )
        )


def main() -> None:
    arguments = parse_arguments()
    suite.bench_database(SCRIPT)
    # This process writes the sessions, keys and jobs the server reads: the same cache, broker and secret.
    os.environ.update({"REDIS_URL": suite.REDIS_URL, "CACHE_URL": suite.REDIS_URL.replace("redis://", "rediscache://")})
    os.environ.update({"DEBUG": "0", "LIGHTNING_DEV_BACKEND_ALLOWED": "1", "SECRET_KEY": suite.SECRET_KEY})
    from benchmarks.common import setup_django

    setup_django()
    report = suite.Report(SCRIPT)
    job = prepared_job(JOB_TITLE, arguments.open_tasks, reuse=True)
    small_job = prepared_job(SMALL_JOB_TITLE, 1_000, reuse=False)
    largest = max(int(k) for k in arguments.clients.split(","))
    clients = prepared_clients(max(largest, 8))
    from django.db import connection

    connection.close()  # the driver processes are forked: they must not share this connection
    print(f"machine: {suite.machine()}")
    if not arguments.skip_loops:
        loop_figures(report, arguments, job, small_job, clients)
    if not arguments.no_overhead:
        overhead_figures(report, arguments, job, clients)
    report.finish()


if __name__ == "__main__":
    main()
