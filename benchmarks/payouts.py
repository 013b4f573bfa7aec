"""Payouts through a real Celery worker against a real LNbits (FakeWallet): payouts per second, LNbits' own
create-and-pay rate in the same run, and the latency from approval to paid.

.venv/bin/python -m benchmarks.payouts [--assignments N] [--workers M] [--raw-pairs K] [--concurrency C]
                                       [--approve bulk|each] [--timeout SECONDS]

It starts LNbits (tests/lnbits_server.py, so `scripts/install-lnbits.sh` must have run) and a
`celery -A marketplace worker` (prefork, C processes) on Redis, funds a requester with a real deposit from an LNbits
wallet, has M workers (each with an LNbits Lightning Address) do N assignments of one job, approves them (all in one
review by default; `--approve each` reviews one at a time) and waits until every reward reached its LNbits wallet.
Then it measures LNbits alone: K invoices created by one wallet and paid by another, from one client and from C.

Then one approval at a time, five times, each waited for until paid. The summary table (benchmarks/suite.py) sets
each figure beside LNbits' own from the same run. Figures, never assertions. Needs PostgreSQL (BENCH_DATABASE_URL,
default a database of its own) and Redis (BENCH_REDIS_URL, default database 12, emptied of queued jobs at the start).
"""

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/boltwork_bench_payouts")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
# Every queue the settings route jobs to (CELERY_TASK_ROUTES): payouts run on `payouts`, not Celery's default.
WORKER_QUEUES = "payouts,webhooks,sweepers,celery"
SINGLE_APPROVALS = 5  # one approval at a time, each waited for: the latency a worker sees
REWARD_SATS = 10


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", type=int, default=300, help="approved assignments (N)")
    parser.add_argument("--workers", type=int, default=100, help="workers sharing them (M)")
    parser.add_argument("--raw-pairs", type=int, default=200, help="LNbits create-and-pay pairs measured alone (K)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (C)")
    parser.add_argument("--approve", choices=["bulk", "each"], default="bulk", help="one review for all, or one each")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the payouts")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    from tests.lnbits_server import LnbitsServer

    started = time.perf_counter()
    lnbits = LnbitsServer().start()
    print(f"LNbits {lnbits.url} up in {time.perf_counter() - started:.1f} s")
    try:
        platform = lnbits.create_wallet("boltwork-platform")
        environment = {
            "LIGHTNING_BACKEND": "lnbits",
            "LNBITS_URL": lnbits.url,
            "LNBITS_ADMIN_KEY": platform.adminkey,
            "LNURL_ALLOWED_INSECURE_HOSTS": lnbits.url.removeprefix("http://"),
            "BITCOIN_NETWORK": "mainnet",  # FakeWallet signs lnbc… invoices
            "REDIS_URL": REDIS_URL,
            "DEBUG": "0",
            # Every worker's address is on the one LNbits host, and the floor is LNbits at C clients: let C
            # requests reach that host at once, as docs/deployment.md advises for workers who share a custodial
            # wallet host (the default of 1 is for hosts nobody vouches for).
            "LNURL_HOST_CONCURRENCY": str(arguments.concurrency),
        }
        os.environ.update(environment)
        from benchmarks.common import BENCH_DATABASE_URL, setup_django

        setup_django()
        with celery_worker({**environment, "DATABASE_URL": BENCH_DATABASE_URL}, arguments.concurrency) as log_path:
            burst = measure_payouts(lnbits, platform, arguments)
            single = argparse.Namespace(**{**vars(arguments), "assignments": 1, "workers": 1, "approve": "each"})
            singles = [measure_payouts(lnbits, platform, single) for _ in range(SINGLE_APPROVALS)]
            print("Celery job run times: " + job_run_times(log_path))
        raw = measure_raw_lnbits(lnbits, arguments)
    finally:
        lnbits.stop()
    report_figures(arguments, burst, singles, raw)


def report_figures(arguments, burst: dict, singles: list[dict], raw: dict) -> None:
    """The frame's table (benchmarks/suite.py): each figure beside LNbits' own figure from this run."""
    from benchmarks import suite

    report = suite.Report("payouts")
    report.add(
        suite.Figure(
            name=f"payouts/s through Celery ({arguments.concurrency} processes)",
            value=burst["paid_per_second"],
            unit="/s",
            floor_name=f"LNbits create-and-pay, {arguments.concurrency} clients",
            floor_value=raw["pairs_per_second"],
            target=">= 0.80x",
            met=burst["paid_per_second"] >= 0.8 * raw["pairs_per_second"],
            note=f"a burst of {arguments.assignments:,} approvals in one review, {burst['paid']:,} payouts",
        )
    )
    one_payment_ms = raw["one_client_p50_ms"]
    for label, fraction in (("p50", 0.5), ("p95", 0.95)):
        report.add(
            suite.Figure(
                name=f"approval → paid {label}, burst of {arguments.assignments:,}",
                value=suite.percentile(burst["to_paid_ms"], fraction),
                unit="ms",
                floor_name="LNbits create-and-pay p50",
                floor_value=one_payment_ms,
            )
        )
    single_ms = [sample for run in singles for sample in run["to_paid_ms"]]
    if single_ms:
        report.add(
            suite.Figure(
                name=f"approval → paid p50, one approval ({len(single_ms)} runs)",
                value=suite.median(single_ms),
                unit="ms",
                floor_name="LNbits create-and-pay p50",
                floor_value=one_payment_ms,
                target="< 1,000 ms",
                met=suite.median(single_ms) < 1000,
                note=f"p95 {suite.percentile(single_ms, 0.95):.0f} ms",
            )
        )
    report.finish()


@contextlib.contextmanager
def celery_worker(environment: dict[str, str], concurrency: int):
    from marketplace.celery import app

    app.control.purge()
    log = tempfile.NamedTemporaryFile(prefix="bench-celery-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable, "-m", "celery", "-A", "marketplace", "worker", "--pool", "prefork",
        "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-heartbeat", "--without-gossip",
        "--without-mingle", "--hostname", f"bench-{os.getpid()}@%h", "--queues", WORKER_QUEUES,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    log_path = Path(log.name)
    try:
        deadline = time.monotonic() + 30
        while " ready." not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The Celery worker did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log_path.unlink(missing_ok=True)


def measure_payouts(lnbits, platform, arguments) -> dict:
    from django.utils import timezone

    from marketplace import services as job_services
    from marketplace.escrow import platform_fee_msat
    from marketplace.models import User
    from payments import services
    from payments.deposits import deposit_create, deposit_refresh
    from payments.models import OPEN_PAYOUT_STATES, Account, AccountKind, DepositStatus, Payout, PayoutState
    from tasks.models import Assignment
    from tasks.services import assignment_claim, assignment_review, assignment_submit, tasks_add

    count, worker_count = arguments.assignments, arguments.workers
    run = f"{time.time_ns()}"  # several runs a second (the single approvals)
    reward_msat = REWARD_SATS * 1000
    ledger_before = platform_ledger(Account, AccountKind)

    # A requester funds the job with a real deposit from their LNbits wallet.
    setup_started = time.perf_counter()
    requester = User.objects.create_user(username=f"bench-payouts-requester-{run}")
    cost_msat = (reward_msat + platform_fee_msat(reward_msat)) * count
    deposit_sats = -(-cost_msat // 1000)
    payer = lnbits.create_wallet("bench-requester")
    lnbits.top_up(payer, deposit_sats)
    deposit = deposit_create(user=requester, amount_msat=deposit_sats * 1000)
    lnbits.pay(payer, deposit.bolt11)
    if deposit_refresh(deposit=deposit).status != DepositStatus.PAID:
        raise RuntimeError("The requester's deposit was not credited: is LNbits answering?")

    from benchmarks.data import make_builder_job

    job = make_builder_job(requester, "Payout benchmark", columns=("n",), reward_msat=reward_msat)
    tasks_add(job=job, actor=requester, columns=["n"], rows=[{"n": str(n)} for n in range(count)])
    job_services.job_publish(job=job, actor=requester)

    workers, wallets = [], {}
    for number in range(worker_count):
        worker = User.objects.create_user(username=f"bench-payouts-worker-{run}-{number}")
        wallet = lnbits.create_wallet(f"bench-worker-{number}")
        address = f"{wallet.lightning_address}@{lnbits.url.removeprefix('http://')}"
        services.payout_destination_set(user=worker, address=address, auto_payout=True, minimum_payout_msat=1000)
        workers.append(worker)
        wallets[worker.pk] = wallet
    assignments = []
    for number in range(count):
        worker = workers[number % worker_count]
        assignment = assignment_claim(job=job, worker=worker)
        assignment_submit(assignment=assignment, worker=worker, data={"answer-label": str(number)})
        assignments.append(assignment)
    print(
        f"set-up: {count:,} submitted assignments for {worker_count:,} workers with LNbits addresses, "
        f"funded by a {deposit_sats:,} sat deposit, in {time.perf_counter() - setup_started:.1f} s"
    )

    # Approve; every approval enqueues its worker's payout once it commits.
    clock = time.perf_counter()
    if arguments.approve == "bulk":
        from tasks.services import assignments_review_bulk

        assignments_review_bulk(
            job=job, reviewer=requester, approve_ids=[assignment.public_id for assignment in assignments], reject={}
        )
    else:
        for assignment in assignments:
            assignment_review(assignment=assignment, reviewer=requester, approve=True)
    approved_at = timezone.now()  # the (last) approval committed
    print(f"approvals ({arguments.approve}): {count:,} in {time.perf_counter() - clock:.2f} s")

    earned = Account.objects.filter(kind=AccountKind.WORKER_EARNED, user__in=workers)
    deadline = time.monotonic() + arguments.timeout
    while time.monotonic() < deadline:
        open_payouts = Payout.objects.filter(worker__in=workers, state__in=OPEN_PAYOUT_STATES).exists()
        unpaid = sum(earned.values_list("balance_msat", flat=True))
        if not open_payouts and unpaid == 0:
            break
        time.sleep(0.2)
    else:
        print(f"timed out after {arguments.timeout:.0f} s: {unpaid:,} msat still unpaid")

    paid = list(Payout.objects.filter(worker__in=workers, state=PayoutState.SUCCEEDED).order_by("created_at"))
    failed = Payout.objects.filter(worker__in=workers).exclude(state=PayoutState.SUCCEEDED).count()
    if not paid:
        print("no payout succeeded")
        return {"paid_per_second": 0.0, "paid": 0, "to_paid_ms": []}
    first_reviewed = min(Assignment.objects.filter(job=job).values_list("reviewed_at", flat=True))
    start = first_reviewed if arguments.approve == "each" else approved_at
    elapsed = (max(payout.updated_at for payout in paid) - start).total_seconds()
    print(
        f"payouts through Celery (prefork, {arguments.concurrency} processes) against LNbits: {len(paid):,} paid "
        f"({failed:,} not) in {elapsed:.2f} s from the {'first approval' if arguments.approve == 'each' else 'commit'}"
        f" = {len(paid) / elapsed:.1f} payouts/s, {count / elapsed:.1f} rewards/s"
    )

    # Approval to paid, per assignment: its reward is paid by the first payout of its worker made after approval.
    payouts_by_worker: dict[int, list] = {}
    for payout in paid:
        payouts_by_worker.setdefault(payout.worker_id, []).append(payout)
    to_settled, to_written = [], []
    for assignment in Assignment.objects.filter(pk__in=[assignment.pk for assignment in assignments]):
        payout = next(
            (p for p in payouts_by_worker.get(assignment.worker_id, []) if p.created_at >= assignment.reviewed_at),
            None,
        )
        if payout is not None:
            to_settled.append((payout.settled_at - assignment.reviewed_at).total_seconds() * 1000)
            to_written.append((payout.updated_at - assignment.reviewed_at).total_seconds() * 1000)
    print(f"approval → payout settled_at ({len(to_settled):,} rewards): {describe(to_settled)}")
    print(f"approval → `succeeded` written:            {describe(to_written)}")
    print(
        "one payout, created → succeeded (queueing included): "
        + describe([(payout.updated_at - payout.created_at).total_seconds() * 1000 for payout in paid])
    )

    received = sum(lnbits.balance_msat(wallets[worker.pk]) for worker in workers)
    ledger_after = platform_ledger(Account, AccountKind)
    change = {kind: ledger_after[kind] - ledger_before[kind] for kind in ledger_after}
    ledger_says = -change[AccountKind.LIGHTNING_IN] - change[AccountKind.LIGHTNING_OUT]
    lnbits_says = lnbits.balance_msat(platform)
    print(
        f"workers' LNbits wallets received {received:,} msat for {count * reward_msat:,} msat of rewards; "
        f"platform wallet {lnbits_says:,} msat, ledger says {ledger_says:,} msat "
        f"(difference {lnbits_says - ledger_says:,} msat)"
    )
    return {"paid_per_second": len(paid) / elapsed, "paid": len(paid), "to_paid_ms": to_written}


def job_run_times(log_path: Path) -> str:
    """How long the worker spent in each kind of job, from its log ("Task name[id] succeeded in 0.41s")."""
    samples: dict[str, list[float]] = {}
    for match in re.finditer(r"Task [\w.]+\.(\w+)\[[0-9a-f-]+\] succeeded in ([0-9.e-]+)s", log_path.read_text()):
        samples.setdefault(match[1], []).append(float(match[2]) * 1000)
    return "; ".join(f"{name} ×{len(values):,}: {describe(values)}" for name, values in sorted(samples.items()))


def platform_ledger(account_model, kinds) -> dict[str, int]:
    balances = dict(account_model.objects.filter(user=None, job=None).values_list("kind", "balance_msat"))
    return {kind: balances.get(kind, 0) for kind in (kinds.LIGHTNING_IN, kinds.LIGHTNING_OUT)}


def measure_raw_lnbits(lnbits, arguments) -> dict:
    """LNbits alone: one wallet invoices, another pays, as fast as the clients go (no Boltwork, no LNURL)."""
    pairs = arguments.raw_pairs
    payer, payee = lnbits.create_wallet("raw-payer"), lnbits.create_wallet("raw-payee")
    lnbits.top_up(payer, pairs * 2)

    def create_and_pay(how_many: int, samples: list[float]) -> None:
        for _ in range(how_many):
            start = time.perf_counter()
            invoice = lnbits.create_invoice(payee, 1, "raw")
            lnbits.pay(payer, invoice["bolt11"])
            samples.append((time.perf_counter() - start) * 1000)

    samples: list[float] = []
    start = time.perf_counter()
    create_and_pay(pairs, samples)
    elapsed = time.perf_counter() - start
    print(f"LNbits alone, 1 client: {pairs:,} create-and-pay pairs in {elapsed:.2f} s = {pairs / elapsed:.1f}/s, "
          f"{describe(samples)}")  # fmt: skip
    one_client_p50_ms = statistics.median(samples)

    clients = arguments.concurrency
    per_client = pairs // clients
    threaded: list[float] = []
    threads = [threading.Thread(target=create_and_pay, args=(per_client, threaded)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    total = per_client * clients
    print(f"LNbits alone, {clients} clients: {total:,} pairs in {elapsed:.2f} s = {total / elapsed:.1f}/s, "
          f"{describe(threaded)}")  # fmt: skip
    expected = (pairs + total) * 1000
    print(f"raw payee received {lnbits.balance_msat(payee):,} msat of {expected:,} msat")
    return {"pairs_per_second": total / elapsed, "one_client_p50_ms": one_client_p50_ms}


def describe(samples_ms: list[float]) -> str:
    if not samples_ms:
        return "no samples"
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms"


if __name__ == "__main__":
    main()
