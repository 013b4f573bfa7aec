"""The frame every benchmark plugs into: a production-like server, figures beside their floors, one summary table.

- `bench_database(script)` points the script at its own PostgreSQL database, boltwork_bench_<script>, and
  `benchmarks.common.setup_django()` creates and migrates it.
- `BenchServer` runs gunicorn as production does (DEBUG off, a fixed number of sync workers, persistent database
  connections, whitenoise for static files) on 127.0.0.1 and a free port, against that database, and reads its
  workers' memory from /proc.
- `Figure` is one measured value beside the floor measured in the same run; `Report` collects them, prints one
  table and writes var/bench/<script>.json, which `benchmarks.run_all` reads back into the combined table.

Figures, never assertions: the machine is shared and its speed drifts, so each figure is read as its ratio to a
floor taken minutes apart on the same machine.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = ROOT / "var" / "bench"
DATABASE_SERVER_URL = os.environ.get("BENCH_DATABASE_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRET_KEY = "benchmark-secret-key-not-for-production"
# httpx logs each request at INFO, which Django's logging settings would print: thousands of lines per benchmark.
logging.getLogger("httpx").setLevel(logging.WARNING)


def bench_database(script: str) -> str:
    """The script's own database URL (BENCH_DATABASE_URL wins), set in the environment for setup_django(), with
    the server's SECRET_KEY: sessions and API keys the script makes must be valid in the server."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"{DATABASE_SERVER_URL}/boltwork_bench_{script}"
    os.environ["BENCH_DATABASE_URL"] = url
    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ["BOLTWORK_DOTENV"] = "0"
    return url


# --- figures -------------------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured value beside its floor. `ratio` is value / floor in the figure's own unit: for a time, lower is
    better (1.0 = as fast as the floor); for a rate, higher is better (1.0 = the floor's rate)."""

    name: str
    value: float
    unit: str
    floor_name: str = ""
    floor_value: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    ratio: float | None = field(default=None)

    def __post_init__(self) -> None:
        if self.ratio is None and self.floor_value:
            self.ratio = self.value / self.floor_value


class Report:
    """The figures of one benchmark script. `finish()` prints the table and writes var/bench/<script>.json."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.figures: list[Figure] = []
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.load_before = os.getloadavg()

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {format_row(asdict(figure))}", flush=True)
        return figure

    def finish(self) -> Path:
        print_table(f"{self.script} (load before {format_load(self.load_before)}, after {format_load()})", self.figures)
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / f"{self.script}.json"
        document = {
            "script": self.script,
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_before": self.load_before,
            "load_after": os.getloadavg(),
            "figures": [asdict(figure) for figure in self.figures],
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")
        return path


def format_load(load: tuple[float, float, float] | None = None) -> str:
    one, five, fifteen = load or os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def format_number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_row(figure: dict) -> str:
    floor = f"{figure['floor_name']} {format_number(figure['floor_value'])}" if figure["floor_name"] else "-"
    ratio = f"{figure['ratio']:.2f}x" if figure["ratio"] is not None else "-"
    met = {True: "yes", False: "NO", None: "-"}[figure["met"]]
    return (
        f"{figure['name']:<44} {format_number(figure['value']):>10} {figure['unit']:<6} {floor:<34} {ratio:>7}  "
        f"{figure['target']:<22} {met}"
    )


def print_table(title: str, figures: list[Figure] | list[dict]) -> None:
    rows = [asdict(figure) if isinstance(figure, Figure) else figure for figure in figures]
    header = f"{'figure':<44} {'value':>10} {'unit':<6} {'floor (same run)':<34} {'ratio':>7}  {'target':<22} met"
    print(f"\n== {title}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(format_row(row))
        if row.get("note"):
            print(f"{'':<4}{row['note']}")
    print(flush=True)


# --- statistics ----------------------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction 0.5 = median, 0.95 = p95)."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


# --- the machine ---------------------------------------------------------------------------------------------


def machine() -> dict:
    """CPU model, cores, memory, PostgreSQL version and the load average now, for the summary."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_total_kb() / 1024 / 1024, 1),
        "postgresql": postgresql_version(),
        "python": platform.python_version(),
        "load": os.getloadavg(),
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_total_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def postgresql_version() -> str:
    import psycopg

    with psycopg.connect(f"{DATABASE_SERVER_URL}/postgres") as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


# --- the server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BenchServer:
    """gunicorn with production settings against the benchmark database, as a context manager.

    `extra_env` overrides settings for one benchmark (a rate limit the load would hit, say; or
    DJANGO_SETTINGS_MODULE=benchmarks.bench_settings for the bare-view floor); say why where it is used.
    The server's log goes to var/bench/<name>-gunicorn.log."""

    def __init__(
        self,
        name: str,
        *,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        wsgi_app: str = "marketplace.wsgi:application",
    ) -> None:
        self.name = name
        self.wsgi_app = wsgi_app  # another application only for a floor (a bare Django: benchmarks/work_loop.py)
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = OUTPUT_DIR / f"{name}-gunicorn.log"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
                "DATABASE_CONN_MAX_AGE": "600",
                "DEBUG": "0",
                "SECRET_KEY": SECRET_KEY,
                "BOLTWORK_DOTENV": "0",
                "SITE_URL": self.url,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "REDIS_URL": REDIS_URL,
                "CACHE_URL": REDIS_URL.replace("redis://", "rediscache://", 1),
                "LIGHTNING_DEV_BACKEND_ALLOWED": "1",
                "WEB_CONCURRENCY": str(self.workers),
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> BenchServer:
        ensure_static_manifest()
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            self.wsgi_app,
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--access-logfile",
            "/dev/null",
            "--timeout",
            "120",
            # Several gunicorns run on this machine (other benchmarks, tests): none shares the default socket.
            "--no-control-socket",
        ]
        log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.environment(), stdout=log, stderr=log)
        self.wait_until_ready()
        return self

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/health/live", timeout=2).status_code == 200 and self.all_workers_up():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; see {self.log_path}")

    def all_workers_up(self) -> bool:
        return len(self.worker_pids()) == self.workers

    def warm_up(
        self, path: str = "/health/live", requests: int = 20, cookies: dict | None = None, headers: dict | None = None
    ) -> None:
        """A few requests so each worker has imported its code and opened its database connection."""
        import httpx

        with httpx.Client(base_url=self.url, cookies=cookies, headers=headers) as client:
            for _ in range(requests):
                client.get(path)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # CPU time and memory of the gunicorn workers, from /proc

    def cpu_seconds(self) -> float:
        """The CPU time (user and system) the workers have used so far. The difference across a measurement is the
        server's own cost, which, unlike the wall-clock time, hardly moves with what else the machine runs."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def reset_peak_memory(self) -> dict[int, int]:
        """Resets each worker's peak RSS (VmHWM, by writing 5 to clear_refs) and returns its RSS now, in KB."""
        before = {}
        for pid in self.worker_pids():
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            before[pid] = process_memory_kb(pid)["VmRSS"]
        return before

    def peak_memory_growth_mb(self, rss_before_kb: dict[int, int]) -> float:
        """The largest growth of one worker's peak RSS since `reset_peak_memory()`, in MB."""
        growths = [
            process_memory_kb(pid)["VmHWM"] - rss for pid, rss in rss_before_kb.items() if Path(f"/proc/{pid}").exists()
        ]
        return max(growths, default=0) / 1024


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_memory_kb(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def ensure_static_manifest() -> None:
    """With DEBUG off, {% static %} needs collectstatic's manifest (`make test` writes it too)."""
    if not (ROOT / "staticfiles" / "staticfiles.json").exists():
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            check=True,
            env={**os.environ, "SECRET_KEY": SECRET_KEY, "DEBUG": "0", "BOLTWORK_DOTENV": "0"},
        )


# --- sessions ------------------------------------------------------------------------------------------------


def session_cookies(user) -> dict[str, str]:
    """Cookies of a logged-in session for `user`, written as django.contrib.auth.login() would write them, so
    a benchmark can act as a user without driving the login form (allauth's rate limits would count it)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return {settings.SESSION_COOKIE_NAME: store.session_key}
