"""The reputation sweeper over a large history: a full refresh (no watermark), an incremental one after a few new
reviews, and one with nothing new.

.venv/bin/python -m benchmarks.reputations [assignments] [requesters] [workers]

The history is inserted in bulk, straight into the tables (reviewed assignments, succeeded payouts without their
ledger postings): what is measured is the sweeper's reading and writing, not the services that made the rows.
"""

import random
import sys
import time
from datetime import timedelta

from benchmarks.common import setup_django

JOBS_PER_REQUESTER = 2
BATCH = 5_000


def main() -> None:
    assignments = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    requester_count = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    worker_count = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from marketplace.models import Job, JobStatus, RequesterStats, User, WorkerStats
    from payments.models import Payout, PayoutKind, PayoutState
    from tasks.models import Assignment, AssignmentStatus, ReviewSource, Task
    from tasks.reputations import reputations_refresh

    random.seed(1)
    now = timezone.now()
    tag = int(time.time())
    start = time.perf_counter()
    requesters = User.objects.bulk_create(User(username=f"rep-r{tag}-{n}") for n in range(requester_count))
    workers = User.objects.bulk_create(
        (User(username=f"rep-w{tag}-{n}") for n in range(worker_count)), batch_size=BATCH
    )
    per_job = assignments // (requester_count * JOBS_PER_REQUESTER)
    jobs = Job.objects.bulk_create(
        Job(
            requester=requester,
            title="Reputation benchmark",
            description="x",
            reward_msat=10_000,
            status=JobStatus.PUBLISHED,
            published_at=now - timedelta(days=90),
            task_count=per_job,
        )
        for requester in requesters
        for _ in range(JOBS_PER_REQUESTER)
    )
    rows = []
    for job in jobs:
        tasks = Task.objects.bulk_create(
            (Task(job=job, position=n + 1, slots_open=0) for n in range(per_job)), batch_size=BATCH
        )
        for task, worker in zip(tasks, random.sample(workers, per_job), strict=True):
            accepted = now - timedelta(days=60, seconds=random.randint(0, 50 * 86400))
            submitted = accepted + timedelta(seconds=random.randint(20, 900))
            approved = random.random() < 0.95
            rows.append(
                Assignment(
                    task=task,
                    job=job,
                    worker=worker,
                    status=AssignmentStatus.APPROVED if approved else AssignmentStatus.REJECTED,
                    accepted_at=accepted,
                    deadline_at=accepted + timedelta(hours=1),
                    submitted_at=submitted,
                    reviewed_at=submitted + timedelta(seconds=random.randint(60, 3 * 86400)),
                    review_source=ReviewSource.REQUESTER,
                    feedback="" if approved else "Wrong.",
                    rejection_reason="" if approved else "other",
                )
            )
    Assignment.objects.bulk_create(rows, batch_size=BATCH)
    Payout.objects.bulk_create(
        (
            Payout(
                worker=worker,
                kind=PayoutKind.WITHDRAW,
                amount_msat=10_000,
                state=PayoutState.SUCCEEDED,
                payment_hash=f"{tag:016x}{n:048x}",
                settled_at=now - timedelta(days=5),
            )
            for n, worker in enumerate(workers)
        ),
        batch_size=BATCH,
    )
    Payout.objects.filter(worker__username__startswith=f"rep-w{tag}-").update(
        created_at=now - timedelta(days=5, minutes=1)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"history: {len(rows):,} reviewed assignments of {requester_count:,} requesters ({len(jobs):,} jobs), "
        f"{worker_count:,} workers, {worker_count:,} payouts, made in {time.perf_counter() - start:.1f} s"
    )

    RequesterStats.objects.all().delete()
    WorkerStats.objects.all().delete()
    for label, prepare in (
        ("full (no watermark)", lambda: None),
        ("incremental, nothing new", lambda: None),
        ("incremental, 100 new reviews", lambda: _review_again(Assignment, rows[:100])),
    ):
        prepare()
        began = time.perf_counter()
        written = reputations_refresh()
        print(f"{label}: {time.perf_counter() - began:.2f} s, {written:,} rows written")


def _review_again(model, assignments) -> None:
    from django.utils import timezone

    model.objects.filter(pk__in=[assignment.pk for assignment in assignments]).update(reviewed_at=timezone.now())


if __name__ == "__main__":
    main()
