"""Claim latency and throughput from one job with 100,000 open tasks (FOR UPDATE SKIP LOCKED, partial index).

.venv/bin/python -m benchmarks.claim [open_tasks] [claims] [threads]
"""

import sys
import threading
import time

from benchmarks.common import describe, setup_django


def main() -> None:
    open_tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    claims = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    setup_django()
    from django.db import connection

    from marketplace import services
    from marketplace.models import User
    from tasks.services import assignment_claim, tasks_add

    requester, _ = User.objects.get_or_create(username="bench-requester")
    from benchmarks.data import make_builder_job

    job = make_builder_job(requester, "Claim benchmark", columns=("n",))
    start = time.perf_counter()
    tasks_add(job=job, actor=requester, columns=["n"], rows=[{"n": str(n)} for n in range(open_tasks)])
    print(f"created {open_tasks:,} open tasks in {time.perf_counter() - start:.2f} s")
    services.job_publish(job=job, actor=requester)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task; ANALYZE tasks_assignment;")

    workers = [User.objects.create(username=f"bench-worker-{job.pk}-{n}") for n in range(claims)]

    # Sequential: one claim at a time, each a new worker (the worst case for the per-worker exclusion).
    sequential = workers[: claims // 2]
    samples = []
    for worker in sequential:
        t0 = time.perf_counter()
        assignment_claim(job=job, worker=worker)
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"sequential claims: {len(samples):,}, {describe(samples)}, {len(samples) / (sum(samples) / 1000):.0f}/s")

    # Concurrent: `threads` connections claiming from the same job at once.
    remaining = workers[claims // 2 :]
    chunks = [remaining[i::threads] for i in range(threads)]
    concurrent_samples: list[float] = []
    lock = threading.Lock()

    def run(chunk):
        local = []
        for worker in chunk:
            t0 = time.perf_counter()
            assignment_claim(job=job, worker=worker)
            local.append((time.perf_counter() - t0) * 1000)
        with lock:
            concurrent_samples.extend(local)
        connection.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    print(
        f"concurrent claims ({threads} threads): {len(concurrent_samples):,} in {elapsed:.2f} s = "
        f"{len(concurrent_samples) / elapsed:.0f}/s, {describe(concurrent_samples)}"
    )


if __name__ == "__main__":
    main()
