"""Issue 16: the same code on several hosts. Two web hosts (gunicorn) and two Celery worker hosts, each in a network
namespace of its own made by this test, on one PostgreSQL, one Redis and one LNbits, under work-loop load through
API v1; one worker host is killed mid-run (every process in it, SIGKILL) and one web host restarted.

The network: a bridge in the root namespace at 10.<n>.<m>.1/24 and one veth pair per host, as hosts on one LAN. The
machine's PostgreSQL, Redis and the session's LNbits listen on 127.0.0.1 only, so a forwarder process in the root
namespace (tests/tcp_forwarder.py) listens on the bridge address, on the same ports, and passes the connections on:
each host reaches them over its veth as it would reach a database server on another machine. The clients (threads in
this process) call the web hosts at their addresses and, as a load balancer would, send a request to the other host
when one does not answer (every POST carries an Idempotency-Key, so a repeat is never done twice).

Then: every approved reward is paid, none twice (each worker's LNbits wallet holds exactly its approvals), the ledger
balances and agrees with the platform's LNbits wallet, and no request got a 5xx. The payouts the killed host left
half done are finished by the sweeper, run here with its clock ahead, as beat would run it minutes later.
"""

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection
from django.db.models import Sum

from api.services import api_key_create
from payments.ledger import ledger_check
from payments.models import AccountKind, Payout, PayoutState
from tests.factories import make_job, make_user
from tests.factories.money import forget_queued_payout_starts, set_payout_destination
from tests.integration.conftest import (
    ROOT,
    CeleryWorker,
    _wait_until_ready,
    all_queues,
    lnbits_environment,
    lnbits_host_port,
    point_settings_at_lnbits,
    wait_for,
)
from tests.reliability.payout_checks import platform_balance, sweep_ahead_until_paid

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REWARD_MSAT = 21_000
CLIENTS = 6
CYCLES_PER_CLIENT = 6
WEB_PORT = 8000
API_ANSWER = {"sentiment": "Positive", "notes": ""}
# Addresses on the test's own network: hosts are .11, .12 (web) and .21, .22 (Celery workers); the root namespace .1.
WEB_HOSTS = {"web1": 11, "web2": 12}
WORKER_HOSTS = {"worker1": 21, "worker2": 22}


def ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True)


@dataclass
class Network:
    """A bridge and a namespace per host, named after this process so parallel runs never meet."""

    prefix: str
    subnet: str  # "10.a.b"
    namespaces: list[str] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def address(self, host_number: int) -> str:
        return f"{self.subnet}.{host_number}"

    def namespace(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def add_host(self, name: str, number: int) -> None:
        namespace = self.namespace(name)
        ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        outside, inside = f"{self.prefix}o{number}", f"{self.prefix}i{number}"
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("link", "set", outside, "master", f"{self.prefix}br")
        ip("link", "set", outside, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", namespace, "addr", "add", f"{self.address(number)}/24", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")

    def pids(self, name: str) -> list[int]:
        listed = subprocess.run(["ip", "netns", "pids", self.namespace(name)], capture_output=True, text=True)
        return [int(pid) for pid in listed.stdout.split()]

    def kill_host(self, name: str) -> int:
        """SIGKILL every process in the host's namespace, as a machine losing power; returns how many."""
        pids = self.pids(name)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)


@contextlib.contextmanager
def private_network() -> Iterator[Network]:
    number = os.getpid()
    network = Network(prefix=f"bw{number % 100_000}", subnet=f"10.{200 + number % 50}.{number // 50 % 250}")
    bridge = f"{network.prefix}br"
    try:
        ip("link", "add", bridge, "type", "bridge")
        ip("addr", "add", f"{network.gateway}/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for name, host_number in {**WEB_HOSTS, **WORKER_HOSTS}.items():
            network.add_host(name, host_number)
        yield network
    finally:
        for namespace in network.namespaces:
            name = namespace.removeprefix(f"{network.prefix}-")
            network.kill_host(name)
            # Deleting a namespace deletes its end of the veth pair, and so the pair.
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def start_forwarder(pairs: list[str], *, wrapper: tuple[str, ...] = ()) -> subprocess.Popen:
    """tests/tcp_forwarder.py (in a namespace when `wrapper` is `ip netns exec …`); returns once it listens."""
    command = [*wrapper, sys.executable, "-m", "tests.tcp_forwarder", *pairs]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready", "the forwarder did not start"
    return process


@contextlib.contextmanager
def forwarder(pairs: list[str]) -> Iterator[None]:
    """tests/tcp_forwarder.py in the root namespace, until the block ends."""
    process = start_forwarder(pairs)
    try:
        yield
    finally:
        stop(process)


def in_namespace(network: Network, host: str, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", network.namespace(host), *command]


def reach_lnbits_on_loopback(network: Network, host: str, lnbits_port: int) -> None:
    """LNbits builds its LNURL callbacks from the address it is called at, and its LNURL library allows plain http
    only for 127.0.0.1 and localhost; so each host calls LNbits at 127.0.0.1:<port> of its own, where a forwarder
    of the host passes the connection over the veth to the root namespace's. It dies with the host."""
    start_forwarder([f"127.0.0.1:{lnbits_port}={network.gateway}:{lnbits_port}"],
                    wrapper=("ip", "netns", "exec", network.namespace(host)))  # fmt: skip


@dataclass
class Host:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])


def start_web(network: Network, name: str, environment: dict[str, str]) -> Host:
    """gunicorn as deployed (two sync workers) on the host's address; `wait_for_web` waits until it answers."""
    address = network.address(WEB_HOSTS[name])
    command = [
        sys.executable, "-m", "gunicorn", "marketplace.wsgi", "--bind", f"{address}:{WEB_PORT}", "--workers", "2",
        "--timeout", "60", "--graceful-timeout", "20",
    ]  # fmt: skip
    log_path = Path(tempfile.mkstemp(prefix=f"gunicorn-{name}-", suffix=".log")[1])
    with log_path.open("ab") as log:
        process = subprocess.Popen(in_namespace(network, name, command), cwd=ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    return Host(name=name, process=process, log_path=log_path)


def wait_for_web(network: Network, host: Host) -> None:
    url = f"http://{network.address(WEB_HOSTS[host.name])}:{WEB_PORT}"
    wait_for(lambda: _answers(url), timeout=90, message=lambda: f"gunicorn on {host.name} to start:\n{host.log_tail()}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/openapi.json", timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def start_celery_worker(network: Network, name: str, environment: dict[str, str]) -> CeleryWorker:
    """A Celery worker host: the prefork pool of two processes on every queue (`_wait_until_ready` waits for it)."""
    command = [
        sys.executable, "-m", "celery", "-A", "marketplace", "worker", "--pool", "prefork", "--concurrency", "2",
        "--loglevel", "INFO", "--queues", ",".join(all_queues()), "--without-heartbeat", "--without-gossip",
        "--without-mingle", "--hostname", f"{name}-{os.getpid()}@%h",
    ]  # fmt: skip
    log_path = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])
    with log_path.open("ab") as log:
        process = subprocess.Popen(in_namespace(network, name, command), cwd=ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    return CeleryWorker(process=process, log_path=log_path)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# The load: clients as worker scripts would be, behind a load balancer -----------------------------------------------


@dataclass
class Load:
    urls: list[str]
    job: str
    requester_key: str
    approved: Counter = field(default_factory=Counter)  # worker's API key -> approvals answered 2xx
    answers: Counter = field(default_factory=Counter)  # (host url, status) -> count
    failovers: int = 0
    cycles: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Each client waits at a third of its cycles until the worker host is killed, and at two thirds until the web
    # host's restart begins: the events happen mid-run whatever the machine's speed.
    killed: threading.Event = field(default_factory=threading.Event)
    restarting: threading.Event = field(default_factory=threading.Event)

    def post(self, key: str, path: str, body: dict | None = None) -> httpx.Response:
        """POST to one host, or to the next when it does not answer; the same Idempotency-Key on every try."""
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
        hosts = itertools.cycle(self.urls[int.from_bytes(os.urandom(1)) % len(self.urls) :] + self.urls)
        deadline = time.monotonic() + 60
        while True:
            url = next(hosts)
            try:
                answer = httpx.post(f"{url}/api/v1{path}", json=body, headers=headers, timeout=30)
            except httpx.TransportError:
                with self.lock:
                    self.failovers += 1
                assert time.monotonic() < deadline, f"no web host answered {path} for a minute"
                time.sleep(0.05)
                continue
            with self.lock:
                self.answers[(url, answer.status_code)] += 1
            assert answer.is_success, f"{url}{path}: {answer.status_code} {answer.text[:500]}"
            return answer

    def work(self, worker_key: str) -> None:
        for cycle in range(CYCLES_PER_CLIENT):
            if cycle == CYCLES_PER_CLIENT // 3:
                assert self.killed.wait(120), "the worker host was never killed"
            if cycle == 2 * CYCLES_PER_CLIENT // 3:
                assert self.restarting.wait(120), "the web host was never restarted"
            assignment = self.post(worker_key, f"/jobs/{self.job}/claim").json()["id"]
            self.post(worker_key, f"/assignments/{assignment}/submit", {"answer": API_ANSWER})
            self.post(self.requester_key, f"/assignments/{assignment}/approve")
            with self.lock:
                self.approved[worker_key] += 1
                self.cycles += 1


def run_clients(load: Load, keys: list[str]) -> tuple[list[threading.Thread], list[BaseException]]:
    errors: list[BaseException] = []

    def client(key: str) -> None:
        try:
            load.work(key)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=client, args=(key,), daemon=True) for key in keys]
    for thread in threads:
        thread.start()
    return threads, errors


def payout_states() -> str:
    return repr(list(Payout.objects.values_list("worker_id", "state", "attempts", "last_error")))


def succeeded_count() -> int:
    return Payout.objects.filter(state=PayoutState.SUCCEEDED).count()


def test_two_web_and_two_worker_hosts_lose_a_worker_host_and_restart_a_web_host_and_pay_each_reward_once(
    settings,
    lnbits,
    lnbits_platform_wallet,
):
    if os.geteuid() != 0:
        pytest.fail("The multi-host test makes network namespaces (`ip netns`): run it as root, as CI does.")
    database = connection.settings_dict
    lnbits_port = urlsplit(lnbits.url).port
    with private_network() as network:
        gateway = network.gateway
        lnbits_host = lnbits_host_port(lnbits)
        money = lnbits_environment(lnbits=lnbits, platform_wallet=lnbits_platform_wallet)
        point_settings_at_lnbits(settings, money)
        redis = urlsplit(settings.REDIS_URL)
        environment = {
            **os.environ,
            **money,
            "DATABASE_URL": f"postgres://{database['USER']}@{gateway}:{database['PORT']}/{database['NAME']}",
            "REDIS_URL": urlunsplit(redis._replace(netloc=f"{gateway}:{redis.port or 6379}")),
            "ALLOWED_HOSTS": ",".join(network.address(number) for number in WEB_HOSTS.values()),
            "SECRET_KEY": "multi-host",
            "DEBUG": "0",
            "CLAIMS_PER_MINUTE": "0",
            "LNURL_HOST_CONCURRENCY": "32",
        }
        job = make_job(tasks=CLIENTS * CYCLES_PER_CLIENT, reward_msat=REWARD_MSAT)
        wallets = [lnbits.create_wallet(f"multihost-{number}") for number in range(CLIENTS)]
        workers = [make_user(funds_sats=0) for _ in wallets]
        for worker, wallet in zip(workers, wallets, strict=True):
            set_payout_destination(worker, f"{wallet.lightning_address}@{lnbits_host}")
        keys = [api_key_create(user=worker, name="multihost")[1] for worker in workers]
        load = Load(
            urls=[f"http://{network.address(number)}:{WEB_PORT}" for number in WEB_HOSTS.values()],
            job=job.public_id,
            requester_key=api_key_create(user=job.requester, name="multihost")[1],
        )
        platform_before = lnbits.balance_msat(lnbits_platform_wallet)
        from marketplace.celery import app

        with app.connection_for_write() as broker:
            for queue in all_queues():
                broker.default_channel.queue_purge(queue)
        forget_queued_payout_starts(settings.REDIS_URL)
        started = time.monotonic()
        hosts: list = []
        with forwarder([f"{gateway}:{database['PORT']}=127.0.0.1:{database['PORT']}",
                        f"{gateway}:{redis.port or 6379}=127.0.0.1:{redis.port or 6379}",
                        f"{gateway}:{lnbits_port}=127.0.0.1:{lnbits_port}"]):  # fmt: skip
            try:
                for host in [*WEB_HOSTS, *WORKER_HOSTS]:
                    reach_lnbits_on_loopback(network, host, lnbits_port)
                # All four start at once, as hosts of a deployment would.
                web = {name: start_web(network, name, environment) for name in WEB_HOSTS}
                celery = {name: start_celery_worker(network, name, environment) for name in WORKER_HOSTS}
                hosts = [*web.values(), *celery.values()]
                for host in web.values():
                    wait_for_web(network, host)
                for worker in celery.values():
                    _wait_until_ready(worker, timeout=90)
                up_in = time.monotonic() - started
                threads, errors = run_clients(load, keys)
                total = CLIENTS * CYCLES_PER_CLIENT
                first_third = CLIENTS * (CYCLES_PER_CLIENT // 3)
                wait_for(lambda: (succeeded_count() and load.cycles == first_third) or errors, timeout=60,
                         message=lambda: f"a payout before the kill; {payout_states()}")  # fmt: skip
                in_flight_at_kill = Payout.objects.exclude(state=PayoutState.SUCCEEDED).count()
                killed = network.kill_host("worker1")
                load.killed.set()
                wait_for(lambda: load.cycles == CLIENTS * (2 * CYCLES_PER_CLIENT // 3) or errors, timeout=60,
                         message="work after the kill")  # fmt: skip
                # A web host restarted (a deploy) under the last third of the load: gunicorn's graceful stop lets the
                # requests it holds finish; new ones go to the other host until it is back.
                load.restarting.set()
                stop(web["web1"].process)
                web["web1"] = start_web(network, "web1", environment)
                hosts.append(web["web1"])
                wait_for_web(network, web["web1"])
                for thread in threads:
                    thread.join(timeout=120)
                assert not errors, errors
                assert load.cycles == total
                celery["worker2"].wait_until_idle(timeout=60)
                load_seconds = time.monotonic() - started - up_in
                paid_by_hosts = succeeded_count()
            finally:
                for host in hosts:
                    stop(host.process)
                    host.log_path.unlink(missing_ok=True)
            # What the killed host left half done: the sweeper, as beat would run it minutes later.
            sweeps = sweep_ahead_until_paid(workers, timeout=90)

    print(f"\nMulti-host: 2 web + 2 worker hosts up in {up_in:.0f} s; {total} claim-submit-approve cycles from "
          f"{CLIENTS} clients in {load_seconds:.0f} s; worker1 killed ({killed} processes, {in_flight_at_kill} payouts "
          f"open) after a third, web1 restarted after two thirds; {load.failovers} requests sent to the other host; "
          f"{paid_by_hosts} payouts paid by the hosts, the rest after {sweeps} sweeps; answers "
          f"{dict(Counter(status for (_, status) in load.answers.elements()))}")  # fmt: skip
    assert not [key for key in load.answers if key[1] >= 500], load.answers
    assert sum(load.approved.values()) == total
    for worker, wallet, key in zip(workers, wallets, keys, strict=True):
        owed = load.approved[key] * REWARD_MSAT
        assert lnbits.balance_msat(wallet) == owed, f"{worker.username}: {lnbits.balance_msat(wallet)} != {owed}"
        paid = Payout.objects.filter(worker=worker, state=PayoutState.SUCCEEDED).aggregate(s=Sum("amount_msat"))["s"]
        assert paid == owed, f"{worker.username}: payouts of {paid} msat for {owed} msat approved"
    assert not Payout.objects.exclude(state=PayoutState.SUCCEEDED).exists()
    assert ledger_check() == []
    sent = Payout.objects.aggregate(amount=Sum("amount_msat"), fees=Sum("fee_msat"))
    assert platform_balance(AccountKind.LIGHTNING_OUT) == sent["amount"] + sent["fees"]
    assert platform_balance(AccountKind.PAYOUTS_IN_FLIGHT) == 0
    assert platform_before - lnbits.balance_msat(lnbits_platform_wallet) == sent["amount"] + sent["fees"]
