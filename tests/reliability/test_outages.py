"""Issue 15, outages: the services Boltwork stands on go away in the middle of a run of payouts, with a real Celery
worker (and beat, and a gunicorn web server) doing the work, and come back; every reward is then paid exactly once,
the ledger balances, and it agrees with the LNbits wallets to the millisatoshi.

- Redis emptied (FLUSHALL) while payouts are queued: the queued jobs are gone, and the sweepers (a real beat) find
  the work again in the database.
- LNbits stopped for a minute (the process ended, its data kept) while payouts are in flight and new approvals
  arrive: nothing is marked failed, payouts whose pay call had no answer stay `sending`, and all complete once it is
  back.
- PostgreSQL restarted while the web server takes requests and the Celery worker pays: both go on without being
  restarted (the same process ids), and nothing is lost.

The shared PostgreSQL and Redis of the machine are never stopped or emptied: each outage is made on a private
instance (a redis-server, an LNbits, a PostgreSQL cluster of this test's own, on free ports, in folders under /tmp).
RELIABILITY_SCALE multiplies the payouts and lengthens the LNbits outage.
"""

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import kombu.pools
import psycopg
import pytest
import redis

from core.faults import KILL_DIR_VARIABLE, kill_point_arm
from marketplace.celery import app
from payments.ledger import ledger_check
from payments.models import AccountKind, Payout, PayoutState
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.factories import answer_data, make_job
from tests.integration.conftest import (
    ROOT,
    lnbits_environment,
    lnbits_host_port,
    lnbits_platform_wallet,  # noqa: F401 - the platform's funded LNbits wallet, a fixture of the integration tests
    point_settings_at_lnbits,
    run_celery_worker,
    wait_for,
)
from tests.lnbits_server import LnbitsServer, free_port
from tests.reliability.payout_checks import platform_balance, workers_paid_by_lnbits
from tests.reliability.test_payout_crashes import sweep_until_paid

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
REWARD_MSAT = 21_000
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# Beat enqueues the payout sweeper this often (seconds) in these tests, instead of every 30 s.
SWEEP_SECONDS = "1"


# Helpers: processes ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of this test's own (no persistence), so it can be emptied; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        wait_for(lambda: _pings(client), timeout=10, message="the private redis-server to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextlib.contextmanager
def broker_at(settings, url: str) -> Iterator[None]:
    """Point this process at another Redis: the setting (payment host slots, the worker's environment) and the Celery
    app's broker, for the enqueues the services make on commit."""
    before = app.conf.broker_url
    settings.REDIS_URL = url
    _drop_broker_connections()
    app.conf.broker_url = url
    try:
        yield
    finally:
        _drop_broker_connections()
        app.conf.broker_url = before


def _drop_broker_connections() -> None:
    """Celery makes its broker connections on first use, from the broker_url of then, and keeps them in two pools
    (the app's and its producers'); it has no public call that drops both (`app.close()` drops only the first, and
    unregisters the app). Both come from kombu's registry of pools, keyed by the connection: `kombu.pools.reset()`
    closes and forgets them all (closing only the app's pool would leave that closed pool in the registry, handed
    back to the next test on the same broker: "Acquire on closed pool"). Dropped, the next enqueue connects to the
    broker_url of now."""
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def run_celery_beat(environment: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`celery -A marketplace beat`, with its schedule file in a folder of its own, the payout sweeper every
    SWEEP_SECONDS; stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="beat-"))
    command = [
        sys.executable, "-m", "celery", "-A", "marketplace", "beat", "--loglevel", "INFO",
        "--schedule", str(folder / "schedule"), "--pidfile", str(folder / "beat.pid"),
    ]  # fmt: skip
    full_environment = {**os.environ, **environment, "SWEEP_PAYOUTS_SECONDS": SWEEP_SECONDS}
    with (folder / "beat.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class PrivatePostgres:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/boltwork"

    def pg_ctl(self, *arguments: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
            "-o", options, "-w", *arguments,
        )  # fmt: skip

    def restart(self) -> None:
        """What an operator's `pg_ctl restart -m fast` does: every open connection is cut."""
        self.pg_ctl("-m", "fast", "restart")

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as connection:
            return connection.execute(sql).fetchall()


def as_postgres(*command: str) -> None:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when this is root."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own with an empty `boltwork` database; stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="outage-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    cluster = PrivatePostgres(folder=folder, port=free_port())
    as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-sync")  # fmt: skip
    cluster.pg_ctl("start")
    try:
        subprocess.run(
            [str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "boltwork"],
            check=True,
            timeout=30,
        )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def start_manage(environment: dict[str, str], *arguments: str) -> subprocess.Popen:
    """`manage.py …` in a process of its own with `environment` (e.g. another database)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_manage(process: subprocess.Popen) -> str:
    """Wait for a `start_manage` process; fail unless it succeeded; returns its output."""
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


def manage(environment: dict[str, str], *arguments: str) -> str:
    return finish_manage(start_manage(environment, *arguments))


@contextlib.contextmanager
def run_gunicorn(environment: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """The web server as deployed (gunicorn, two sync workers) on a free port; yields it and its base URL."""
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
    command = [
        sys.executable, "-m", "gunicorn", "marketplace.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--timeout", "60",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=30, message=lambda: "gunicorn to start:\n" + log_path.read_text())
        yield process, url
    finally:
        _stop(process)
        log_path.unlink(missing_ok=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def children(pid: int) -> set[int]:
    """The process ids of a process's children (gunicorn's workers)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


# Helpers: money ----------------------------------------------------------------------------------------------------


def approve_work(job, workers: list) -> None:
    """Each worker claims, submits and is approved: each approval enqueues a payout job once it commits."""
    for worker in workers:
        assignment = assignment_claim(job=job, worker=worker)
        assignment_submit(assignment=assignment, worker=worker, data=answer_data())
        assignment_review(assignment=assignment, reviewer=job.requester, approve=True)


def succeeded_count() -> int:
    return Payout.objects.filter(state=PayoutState.SUCCEEDED).count()


def payout_states() -> str:
    return repr(list(Payout.objects.values_list("worker_id", "state", "attempts", "next_attempt_at", "last_error")))


def assert_paid_exactly_once(lnbits, platform_wallet, platform_before: int, workers: list, wallets: list) -> None:
    """Each wallet holds exactly its reward, each worker has one succeeded payout, the ledger balances, and the
    platform's LNbits wallet went down by exactly what the ledger says left through Lightning."""
    for worker, wallet in zip(workers, wallets, strict=True):
        assert lnbits.balance_msat(wallet) == REWARD_MSAT, worker.username
        assert Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).count() == 1, worker.username
    assert not Payout.objects.exclude(state=PayoutState.SUCCEEDED).exists(), payout_states()
    assert ledger_check() == []
    paid = sum(Payout.objects.values_list("amount_msat", flat=True))
    fees = sum(Payout.objects.values_list("fee_msat", flat=True))
    assert paid == len(workers) * REWARD_MSAT
    assert platform_balance(AccountKind.LIGHTNING_OUT) == paid + fees
    assert platform_balance(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert platform_before - lnbits.balance_msat(platform_wallet) == paid + fees


# 1. Redis emptied --------------------------------------------------------------------------------------------------


def test_redis_emptied_mid_run_every_payout_still_completes_from_the_database(
    settings,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    count = 20 * SCALE
    with private_redis() as redis_url, broker_at(settings, redis_url):
        environment = {
            **lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet),
            # All the wallets live on one LNbits: let the payouts to it run side by side.
            "LNURL_HOST_CONCURRENCY": "32",
            "REDIS_URL": redis_url,
        }
        point_settings_at_lnbits(settings, environment)
        settings.LNURL_HOST_CONCURRENCY = 32
        platform_before = lnbits.balance_msat(lnbits_platform_wallet)
        job = make_job(tasks=count, reward_msat=REWARD_MSAT)
        workers, wallets = workers_paid_by_lnbits(lnbits, count, "flush")
        broker = redis.Redis.from_url(redis_url)

        with run_celery_worker(environment=environment, concurrency=2, name="flush") as celery:
            approve_work(job, workers)
            wait_for(lambda: succeeded_count() >= count // 4, timeout=60, worker=celery,
                     message="a quarter of the payouts to be paid before Redis is emptied")  # fmt: skip
            queued = sum(broker.llen(queue) for queue in ("celery", "payouts", "sweepers"))
            broker.flushall()
            paid_before_flush = succeeded_count()
            # Every queued job is gone: only what the database holds can finish the run. (The worker's jobs still
            # running may enqueue new ones as they end, so the queues are not checked for emptiness here.)
            with run_celery_beat(environment):
                wait_for(lambda: succeeded_count() == count, timeout=90, interval=0.5, worker=celery,
                         message=lambda: f"every payout to complete after FLUSHALL: {payout_states()}")  # fmt: skip
            celery.wait_until_idle()

    print(
        f"\nRedis emptied: {count} payouts, {paid_before_flush} paid before FLUSHALL, {queued} queued jobs lost, "
        f"all {count} paid once"
    )
    assert queued > 0, "Redis was emptied with no job queued: the test proved nothing"
    assert paid_before_flush < count
    assert_paid_exactly_once(lnbits, lnbits_platform_wallet, platform_before, workers, wallets)


# 2. LNbits stopped for a minute ------------------------------------------------------------------------------------

# RELIABILITY_SCALE lengthens the outage. A minute spans two of the payouts' retry delays (30 s, then 60 s:
# payments.payouts.retry_delay), so the sweepers retry during it; PAYOUT_MAX_ATTEMPTS (6) is reached only after
# about 15 minutes of retries, and then a payout waits for a moderator: it is never failed by an outage.
OUTAGE_SECONDS = 60 * SCALE
NOT_FAILED = {PayoutState.FAILED, PayoutState.NEEDS_MODERATOR}


# What the LNbits backend says when the pay call never reached LNbits (payments/lightning/lnbits.py): the fee
# reserve could not be asked, or the connection was refused. Only then may a `sending` payout drop its invoice.
NOTHING_SENT = ("Payment failed: Nothing was sent", "Payment failed: Could not connect to LNbits, nothing was sent")


def assert_unknown_payments_stayed_sending(samples: list[dict[int, tuple[str, str]]]) -> None:
    """A payout seen `sending` stays `sending` (its outcome unknown) through the outage, unless the backend knew
    its pay call never reached LNbits: then, and only then, it goes back to `created` to ask for a new invoice."""
    for earlier, later in itertools.pairwise(samples):
        for pk, (state, _) in earlier.items():
            later_state, error = later[pk]
            if state == PayoutState.SENDING and later_state != PayoutState.SENDING:
                assert later_state == PayoutState.CREATED, (pk, later_state, error)
                assert error.startswith(NOTHING_SENT), (pk, error)


@pytest.fixture
def private_lnbits():
    """An LNbits of this test's own, so it can be stopped without stopping the session's."""
    server = LnbitsServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_lnbits_stopped_for_a_minute_fails_nothing_and_every_payout_completes_once(settings, private_lnbits):
    lnbits = private_lnbits
    platform_wallet = lnbits.create_wallet("outage-platform")
    lnbits.top_up(platform_wallet, 1_000_000)
    environment = {
        **lnbits_environment(lnbits=lnbits, platform_wallet=platform_wallet),
        "LNURL_HOST_CONCURRENCY": "32",
    }
    point_settings_at_lnbits(settings, environment)
    settings.LNURL_HOST_CONCURRENCY = 32
    platform_before = lnbits.balance_msat(platform_wallet)
    before, during = 4 * SCALE, 4 * SCALE
    job = make_job(tasks=before + during, reward_msat=REWARD_MSAT)
    workers, wallets = workers_paid_by_lnbits(lnbits, before + during, "outage")

    # A payment truly in flight when LNbits stops: the worker that sent it dies after LNbits paid and before the
    # answer is recorded (the kill point), so the payout says `sending` and only LNbits knows its outcome.
    kill_folder = tempfile.mkdtemp(prefix="kill-")
    flag = kill_point_arm(kill_folder, "payout.paid_not_recorded")
    with run_celery_worker(environment={**environment, KILL_DIR_VARIABLE: kill_folder}, name="outage-killed") as first:
        approve_work(job, workers[:before])
        wait_for(lambda: first.process.poll() is not None and not flag.exists(), timeout=60, worker=first,
                 message="the first payout to be paid by LNbits, unrecorded")  # fmt: skip
    shutil.rmtree(kill_folder, ignore_errors=True)
    lnbits.halt()
    stopped_at = time.monotonic()
    in_flight = Payout.objects.get(state=PayoutState.SENDING)

    samples: list[dict[int, tuple[str, str]]] = []
    with run_celery_worker(environment=environment, concurrency=2, name="outage") as celery:
        with run_celery_beat(environment):
            # The jobs of the other approvals were purged as the worker started: the sweepers find them (and the
            # payout in flight) in the database, during the outage.
            late_workers = list(workers[before:])
            approval_every = OUTAGE_SECONDS / (during + 1)
            while (elapsed := time.monotonic() - stopped_at) < OUTAGE_SECONDS:
                samples.append(
                    {pk: (state, error) for pk, state, error in Payout.objects.values_list("pk", "state", "last_error")}
                )
                # New approvals keep arriving during the outage, spread over it.
                if late_workers and elapsed >= approval_every * (during - len(late_workers) + 1):
                    approve_work(job, [late_workers.pop(0)])
                time.sleep(1)
            approve_work(job, late_workers)
            seen = Counter(state for sample in samples for state, _ in sample.values())
            assert not NOT_FAILED & set(seen), f"a payout was failed or handed to a moderator during the outage: {seen}"
            assert_unknown_payments_stayed_sending(samples)
            assert all(sample[in_flight.pk][0] == PayoutState.SENDING for sample in samples)
            in_flight.refresh_from_db()
            assert "Waiting for the payment's outcome" in in_flight.last_error, "the sweeper never asked about it"
            resuming = time.monotonic()
            lnbits.resume()
            resumed_in = time.monotonic() - resuming
            # The payouts retried during the outage wait out their backoff: the sweeper runs as beat would a few
            # minutes later (its clock moved ahead), until every worker is paid.
            sweep_until_paid(workers, timeout=90)
            paid_in = time.monotonic() - resuming - resumed_in
        celery.wait_until_idle()

    print(f"\nLNbits stopped {OUTAGE_SECONDS} s: {before + during} payouts (1 paid by LNbits and unrecorded when it "
          f"stopped), {len(samples)} samples of their states, states seen {dict(seen)}, resumed in {resumed_in:.0f} s, "
          f"all paid {paid_in:.0f} s after")  # fmt: skip
    assert_paid_exactly_once(lnbits, platform_wallet, platform_before, workers, wallets)


# 3. PostgreSQL restarted -------------------------------------------------------------------------------------------

# Run in the private database by `manage.py shell -c`: a requester with a job, workers whose Lightning Addresses are
# wallets on the session's LNbits (given in BOLTWORK_TEST_ADDRESSES), and an API key for each. Prints them as JSON.
SETUP_SCRIPT = """
import json, os
from api.services import api_key_create
from tests.factories import make_job, make_user
from tests.factories.money import set_payout_destination
addresses = json.loads(os.environ["BOLTWORK_TEST_ADDRESSES"])
job = make_job(tasks=len(addresses), reward_msat=int(os.environ["BOLTWORK_TEST_REWARD_MSAT"]))
keys = []
for address in addresses:
    worker = make_user(funds_sats=0)
    set_payout_destination(worker, address)
    keys.append(api_key_create(user=worker, name="outage")[1])
print(json.dumps({"job": job.public_id, "requester": api_key_create(user=job.requester, name="outage")[1],
                  "workers": keys}))
"""
PAYOUT_STATES = "SELECT id, state, attempts, last_error FROM payments_payout"
LEDGER_SCRIPT = "import json; from payments.ledger import ledger_check; print(json.dumps(ledger_check()))"


API_ANSWER = {"sentiment": "Positive", "notes": ""}


class Api:
    """API v1 of the web server, as a worker or requester script would call it (each call a new connection)."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/api/v1"

    def post(self, key: str, path: str, body: dict | None = None) -> httpx.Response:
        answer = httpx.post(f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert answer.is_success, f"{path}: {answer.status_code} {answer.text[:500]}"
        return answer

    def work_and_approve(self, *, job: str, worker_key: str, requester_key: str) -> None:
        assignment = self.post(worker_key, f"/jobs/{job}/claim").json()["id"]
        self.post(worker_key, f"/assignments/{assignment}/submit", {"answer": API_ANSWER})
        self.post(requester_key, f"/assignments/{assignment}/approve")


def test_postgresql_restarted_mid_run_web_and_celery_recover_without_a_restart(
    settings,
    lnbits,
    lnbits_platform_wallet,  # noqa: F811
):
    count = 6 * SCALE
    wallets = [lnbits.create_wallet(f"pg-restart-{number}") for number in range(count)]
    platform_before = lnbits.balance_msat(lnbits_platform_wallet)
    with private_postgres() as postgres:
        environment = {
            **lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet),
            "LNURL_HOST_CONCURRENCY": "32",
            "CLAIMS_PER_MINUTE": "0",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": "postgres-outage",
            "DEBUG": "0",
        }
        manage(environment, "migrate", "--verbosity", "0", "--skip-checks")
        addresses = [f"{wallet.lightning_address}@{lnbits_host_port(lnbits)}" for wallet in wallets]
        setup_environment = {
            **environment,
            "BOLTWORK_TEST_ADDRESSES": json.dumps(addresses),
            "BOLTWORK_TEST_REWARD_MSAT": str(REWARD_MSAT),
        }
        # The data is made while the web server and the Celery worker start.
        setup = start_manage(setup_environment, "shell", "-c", SETUP_SCRIPT)

        def succeeded() -> int:
            return postgres.query("SELECT count(*) FROM payments_payout WHERE state = 'succeeded'")[0][0]

        with (
            run_gunicorn(environment) as (web, url),
            run_celery_worker(environment=environment, concurrency=2, name="pg-restart") as celery,
            run_celery_beat(environment),
        ):
            made = json.loads(finish_manage(setup).strip().splitlines()[-1])
            api = Api(url)
            web_workers = children(web.pid)
            celery_children = children(celery.process.pid)
            first, second = made["workers"][: count // 2], made["workers"][count // 2 :]
            for key in first:
                api.work_and_approve(job=made["job"], worker_key=key, requester_key=made["requester"])
            wait_for(lambda: succeeded() >= 1, timeout=60, worker=celery, message="a first payout before the restart")
            postgres.restart()
            restarted_with_paid = succeeded()
            # Every request after the restart is answered without a retry: each process's next query finds its old
            # connection dead and opens a new one.
            for key in second:
                api.work_and_approve(job=made["job"], worker_key=key, requester_key=made["requester"])
            wait_for(lambda: succeeded() == count, timeout=90, interval=0.5, worker=celery,
                     message=lambda: repr(postgres.query(PAYOUT_STATES)))  # fmt: skip
            celery.wait_until_idle()
            # The same processes did the work: none was restarted (not gunicorn's workers, not Celery's pool).
            assert web.poll() is None
            assert celery.process.poll() is None
            assert children(web.pid) == web_workers
            assert children(celery.process.pid) == celery_children
            log = celery.log()
        problems = json.loads(manage(environment, "shell", "-c", LEDGER_SCRIPT).strip().splitlines()[-1])
        payouts = postgres.query("SELECT state, amount_msat, fee_msat FROM payments_payout")

    print(f"\nPostgreSQL restarted: {count} payouts, {restarted_with_paid} paid before the restart, "
          f"{count - count // 2} jobs' work done over HTTP after it, all paid once; "
          f"{log.count('OperationalError')} OperationalError lines in the Celery log")  # fmt: skip
    assert restarted_with_paid < count
    assert problems == []
    assert [state for state, _, _ in payouts] == ["succeeded"] * count
    for wallet in wallets:
        assert lnbits.balance_msat(wallet) == REWARD_MSAT
    assert platform_before - lnbits.balance_msat(lnbits_platform_wallet) == sum(a + (f or 0) for _, a, f in payouts)
