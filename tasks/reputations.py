"""Reputations from real data (issue 11): the only writer of WorkerStats, RequesterStats and a job's
effective_sats_per_hour.

Every figure comes from assignments, disputes, jobs and payouts, never from anything a user types, so none can be
faked. How each is computed (docs/reputations.md says the same for people):

- Counts are over all of a user's assignments by their current status: approved (by the requester, the auto-approve
  rule or a dispute) and rejected. approval_percent = approved * 100 // (approved + rejected), null when nothing was
  reviewed.
- Medians are over a bounded recent window, the last REPUTATION_WINDOW approved (or reviewed) assignments by review
  time, so a refresh costs the same however long a requester has been around. A median of an even count is the mean
  of the two middle values; figures are exact fractions until they are stored, rounded down. A working time under a
  second counts as one second.
- Working time: submitted_at - accepted_at of an approved assignment. A requester's effective_sats_per_hour is the
  median over the window of reward * 3600 / working time, in whole sats; a job's is its reward * 3600 / the median
  working time of its approved assignments. Both only once at least settings.REPUTATION_MIN_APPROVED of the
  requester's (the job's) assignments were approved, null before: a handful of fast workers is not a rate.
- Time to review: submitted_at → reviewed_at of reviews by the requester and of automatic approvals (a dispute's
  decision approves with its own time, which says nothing about how fast the requester reviews).
- Approval → sats arrived: payouts are not per assignment. An approval credits the worker's earnings; an automatic
  payout takes the whole earned balance and at most one is open per worker (payments.payouts), so the approved
  amount leaves in the first payout from the worker's earnings created at or after the approval that succeeded (a
  failed one gives the money back to the balance and a later one carries it). The figure is that payout's settled_at
  minus the approval's reviewed_at, over the approvals of the window already paid out; approvals still waiting for a
  payout (a worker without a Lightning Address, or under their minimum) are left out until they are paid. A worker
  who withdraws only part of their balance with LNURL-withdraw is counted as paid by that withdrawal.
- Disputes lost: disputes decided in the worker's favour, the requester withdrawing the rejection or a moderator
  overturning it.
- Active since: the first published_at of the requester's jobs.
- Sandbox work never counts (issue 13): assignments, disputes and jobs of sandbox jobs (play money, free to make)
  are left out of every figure, so neither a worker's system qualifications nor a requester's reputation can be
  built in the sandbox.

Refreshing is incremental: only the workers, requesters and jobs touched since the last run, found from
assignments reviewed, disputes decided, jobs published and payouts settled since the watermark (the newest
refreshed_at of the stats rows, less WATERMARK_OVERLAP for transactions that committed after their timestamps were
taken). With no watermark, everything is recomputed. Rows are written with bulk upserts, in one transaction at the
end, so a run cut short leaves the watermark where it was and the next run does its work again. Idempotent.
"""

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.money import MSAT_PER_SAT
from marketplace.models import Job, RequesterStats, WorkerStats
from payments.models import Payout, PayoutSource, PayoutState
from tasks.models import Assignment, AssignmentStatus, Dispute, DisputeStatus, ReviewSource

# The medians' window: the last this many approved (or reviewed) assignments of a requester or a job.
REPUTATION_WINDOW = 1_000
# How far before the newest refreshed_at the next run looks again: a review's timestamp is taken before its
# transaction commits (the auto-approve sweep stamps a whole run with its start time), so a change may become
# visible after a run that its timestamp says it precedes. Looking back again is harmless: a refresh is idempotent.
WATERMARK_OVERLAP = timedelta(hours=1)
# Rows of ids per query (IN lists), and per batch of requesters whose windows are read together.
ID_CHUNK = 500
REQUESTER_BATCH = 50
REVIEWED = (AssignmentStatus.APPROVED, AssignmentStatus.REJECTED)
LOST_DISPUTE_STATUSES = (DisputeStatus.WITHDRAWN, DisputeStatus.OVERTURNED)
TIMED_REVIEW_SOURCES = (ReviewSource.REQUESTER, ReviewSource.AUTO)
MICROS_PER_SECOND = 1_000_000
# Real work only (see the module's docstring): the sandbox is for trying things out.
REAL_WORK = Q(job__sandbox=False)
# Sats per hour from msat per microsecond: / MSAT_PER_SAT * 3,600 s * 1,000,000 µs.
SATS_PER_HOUR_FROM_MSAT_PER_MICRO = 3600 * MICROS_PER_SECOND // MSAT_PER_SAT


@dataclass(frozen=True)
class Touched:
    workers: set[int]
    requesters: set[int]
    jobs: set[int]


def reputations_refresh(*, now: datetime | None = None, full: bool = False) -> int:
    """Recompute the reputation rows of everyone touched since the last run (everything without a watermark, or
    with `full`, e.g. after REPUTATION_MIN_APPROVED changed). Returns how many rows were written: worker and
    requester rows upserted, jobs whose measured rate changed.

    Guarantees: idempotent (a second run over the same data writes the same values); reads outside any transaction
    and writes the stats rows in one short transaction, so a run cut short changes no stats and moves no watermark;
    a job's rate is written one row at a time and only when it changed, so no claim waits on more than one short
    update.
    """
    now = now or timezone.now()
    since = None if full else _watermark()
    touched = _everything() if since is None else _touched_since(since - WATERMARK_OVERLAP)

    worker_rows = [row for chunk in _chunks(touched.workers) for row in _worker_rows(chunk, now=now)]
    requester_rows = [
        row for chunk in _chunks(touched.requesters, size=REQUESTER_BATCH) for row in _requester_rows(chunk, now=now)
    ]
    jobs_changed = sum(_jobs_refresh(chunk) for chunk in _chunks(touched.jobs, size=REQUESTER_BATCH))
    with transaction.atomic():
        WorkerStats.objects.bulk_create(
            worker_rows,
            batch_size=ID_CHUNK,
            update_conflicts=True,
            unique_fields=["worker"],
            update_fields=["approved_count", "rejected_count", "approval_percent", "refreshed_at"],
        )
        RequesterStats.objects.bulk_create(
            requester_rows,
            batch_size=ID_CHUNK,
            update_conflicts=True,
            unique_fields=["requester"],
            update_fields=[
                "approved_count",
                "rejected_count",
                "approval_percent",
                "effective_sats_per_hour",
                "median_work_seconds",
                "median_review_seconds",
                "median_payment_seconds",
                "disputes_lost",
                "active_since",
                "refreshed_at",
            ],
        )
    return len(worker_rows) + len(requester_rows) + jobs_changed


# What to refresh ------------------------------------------------------------------------------------------------


def _watermark() -> datetime | None:
    newest = [
        WorkerStats.objects.aggregate(newest=Max("refreshed_at"))["newest"],
        RequesterStats.objects.aggregate(newest=Max("refreshed_at"))["newest"],
    ]
    known = [moment for moment in newest if moment is not None]
    return max(known) if known else None


def _everything() -> Touched:
    reviewed = Assignment.objects.filter(REAL_WORK, status__in=REVIEWED)
    return Touched(
        workers=set(reviewed.values_list("worker_id", flat=True).distinct()),
        requesters=set(
            Job.objects.filter(sandbox=False, published_at__isnull=False)
            .values_list("requester_id", flat=True)
            .distinct()
        ),
        # Jobs with approved work, and any still showing a rate (the threshold may have been raised).
        jobs=set(reviewed.filter(status=AssignmentStatus.APPROVED).values_list("job_id", flat=True).distinct())
        | set(Job.objects.filter(sandbox=False, effective_sats_per_hour__isnull=False).values_list("pk", flat=True)),
    )


def _touched_since(since: datetime) -> Touched:
    workers, requesters, jobs = set(), set(), set()
    reviewed = Assignment.objects.filter(REAL_WORK, reviewed_at__gte=since).values_list(
        "worker_id", "job_id", "job__requester_id"
    )
    for worker_id, job_id, requester_id in reviewed.distinct():
        workers.add(worker_id)
        jobs.add(job_id)
        requesters.add(requester_id)
    decided = Dispute.objects.filter(assignment__job__sandbox=False, decided_at__gte=since).values_list(
        "assignment__job__requester_id", flat=True
    )
    requesters.update(decided.distinct())
    published = Job.objects.filter(sandbox=False, published_at__gte=since).values_list("requester_id", flat=True)
    requesters.update(published.distinct())
    requesters.update(_requesters_paid_since(since))
    return Touched(workers=workers, requesters=requesters, jobs=jobs)


def _paid_payouts():
    return Payout.objects.filter(state=PayoutState.SUCCEEDED, source=PayoutSource.EARNINGS, settled_at__isnull=False)


def _requesters_paid_since(since: datetime) -> set[int]:
    """Requesters whose approvals a payout settled since `since` carried: for each such worker, the approvals after
    their previous successful payout (the one created last before their first new one) up to their newest new one."""
    newly_paid = _paid_payouts().filter(settled_at__gte=since)
    newest = dict(newly_paid.values("worker_id").annotate(newest=Max("created_at")).values_list("worker_id", "newest"))
    if not newest:
        return set()
    first_new = newly_paid.filter(worker_id=OuterRef("worker_id")).order_by("created_at").values("created_at")[:1]
    requesters = set()
    for chunk in _chunks(newest):
        previous = dict(
            _paid_payouts()
            .filter(worker_id__in=chunk, created_at__lt=Subquery(first_new))
            .values("worker_id")
            .annotate(previous=Max("created_at"))
            .values_list("worker_id", "previous")
        )
        carried = Q()
        for worker_id in chunk:
            window = Q(worker_id=worker_id, reviewed_at__lte=newest[worker_id])
            if previous.get(worker_id) is not None:
                window &= Q(reviewed_at__gt=previous[worker_id])
            carried |= window
        approved = Assignment.objects.filter(REAL_WORK, carried, status=AssignmentStatus.APPROVED)
        requesters.update(approved.values_list("job__requester_id", flat=True).distinct())
    return requesters


# Workers --------------------------------------------------------------------------------------------------------


def _worker_rows(worker_ids: list[int], *, now: datetime) -> list[WorkerStats]:
    counts = (
        Assignment.objects.filter(REAL_WORK, worker_id__in=worker_ids, status__in=REVIEWED)
        .values("worker_id")
        .annotate(
            approved=Count("id", filter=Q(status=AssignmentStatus.APPROVED)),
            rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)),
        )
    )
    by_worker = {row["worker_id"]: (row["approved"], row["rejected"]) for row in counts}
    rows = []
    for worker_id in worker_ids:
        approved, rejected = by_worker.get(worker_id, (0, 0))
        rows.append(
            WorkerStats(
                worker_id=worker_id,
                approved_count=approved,
                rejected_count=rejected,
                approval_percent=approval_percent(approved, rejected),
                refreshed_at=now,
            )
        )
    return rows


# Requesters -----------------------------------------------------------------------------------------------------


def _requester_rows(requester_ids: list[int], *, now: datetime) -> list[RequesterStats]:
    counts = {
        row["job__requester_id"]: (row["approved"], row["rejected"])
        for row in Assignment.objects.filter(REAL_WORK, job__requester_id__in=requester_ids, status__in=REVIEWED)
        .values("job__requester_id")
        .annotate(
            approved=Count("id", filter=Q(status=AssignmentStatus.APPROVED)),
            rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)),
        )
    }
    lost = dict(
        Dispute.objects.filter(
            assignment__job__sandbox=False,
            assignment__job__requester_id__in=requester_ids,
            status__in=LOST_DISPUTE_STATUSES,
        )
        .values("assignment__job__requester_id")
        .annotate(lost=Count("id"))
        .values_list("assignment__job__requester_id", "lost")
    )
    since = dict(
        Job.objects.filter(requester_id__in=requester_ids, sandbox=False, published_at__isnull=False)
        .values("requester_id")
        .annotate(first=Min("published_at"))
        .values_list("requester_id", "first")
    )
    approvals = _recent(
        Assignment.objects.filter(REAL_WORK, job__requester_id__in=requester_ids, status=AssignmentStatus.APPROVED),
        partition="job__requester_id",
        fields=("worker_id", "accepted_at", "submitted_at", "reviewed_at", "job__reward_msat"),
    )
    reviews = _recent(
        Assignment.objects.filter(
            REAL_WORK,
            job__requester_id__in=requester_ids,
            status__in=REVIEWED,
            review_source__in=TIMED_REVIEW_SOURCES,
            submitted_at__isnull=False,
        ),
        partition="job__requester_id",
        fields=("submitted_at", "reviewed_at"),
    )
    payment_seconds = _payment_micros(approvals)

    rows = []
    for requester_id in requester_ids:
        approved, rejected = counts.get(requester_id, (0, 0))
        theirs = approvals.get(requester_id, [])
        work = [_work_micros(accepted, submitted) for _, accepted, submitted, _, _ in theirs]
        rates = [_rate(reward_msat, micros) for (*_, reward_msat), micros in zip(theirs, work, strict=True)]
        review = [_micros(reviewed - submitted) for submitted, reviewed in reviews.get(requester_id, [])]
        rated = approved >= settings.REPUTATION_MIN_APPROVED and _enough_workers(worker for worker, *_ in theirs)
        rows.append(
            RequesterStats(
                requester_id=requester_id,
                approved_count=approved,
                rejected_count=rejected,
                approval_percent=approval_percent(approved, rejected),
                effective_sats_per_hour=_floor(median(rates, exact=_exact_rate)) if rated else None,
                median_work_seconds=_whole_seconds(median(work)),
                median_review_seconds=_whole_seconds(median(review)),
                median_payment_seconds=_whole_seconds(median(payment_seconds.get(requester_id, []))),
                disputes_lost=lost.get(requester_id, 0),
                active_since=since.get(requester_id),
                refreshed_at=now,
            )
        )
    return rows


def _payment_micros(approvals: dict[int, list[tuple]]) -> dict[int, list[int]]:
    """Per requester, approval → sats arrived of each approval in their window already paid out (see the module's
    docstring): the first successful payout from the worker's earnings created at or after the approval."""
    earliest: dict[int, datetime] = {}
    for rows in approvals.values():
        for worker_id, _, _, reviewed_at, _ in rows:
            if worker_id not in earliest or reviewed_at < earliest[worker_id]:
                earliest[worker_id] = reviewed_at
    payouts: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for chunk in _chunks(earliest):
        found = (
            _paid_payouts()
            .filter(worker_id__in=chunk, created_at__gte=min(earliest[worker_id] for worker_id in chunk))
            .order_by("worker_id", "created_at", "pk")
            .values_list("worker_id", "created_at", "settled_at")
        )
        for worker_id, created_at, settled_at in found:
            payouts[worker_id].append((created_at, settled_at))
    started = {worker_id: [created_at for created_at, _ in rows] for worker_id, rows in payouts.items()}
    seconds: dict[int, list[int]] = {}
    for requester_id, rows in approvals.items():
        paid = []
        for worker_id, _, _, reviewed_at, _ in rows:
            index = bisect_left(started.get(worker_id, []), reviewed_at)
            if index < len(started.get(worker_id, [])):
                settled_at = payouts[worker_id][index][1]
                paid.append(max(0, _micros(settled_at - reviewed_at)))
        seconds[requester_id] = paid
    return seconds


# Jobs -----------------------------------------------------------------------------------------------------------


def _jobs_refresh(job_ids: list[int]) -> int:
    """Write each job's measured sats per hour where it changed; returns how many changed."""
    approved = {
        job_id: (count, workers)
        for job_id, count, workers in Assignment.objects.filter(
            REAL_WORK, job_id__in=job_ids, status=AssignmentStatus.APPROVED
        )
        .values("job_id")
        .annotate(approved=Count("id"), workers=Count("worker_id", distinct=True))
        .values_list("job_id", "approved", "workers")
    }
    times = _recent(
        Assignment.objects.filter(REAL_WORK, job_id__in=job_ids, status=AssignmentStatus.APPROVED),
        partition="job_id",
        fields=("accepted_at", "submitted_at"),
    )
    changed = 0
    jobs = Job.objects.filter(pk__in=job_ids).order_by("pk").values_list("pk", "reward_msat", "effective_sats_per_hour")
    for job_id, reward_msat, current in jobs:
        rate = None
        count, workers = approved.get(job_id, (0, 0))
        if count >= settings.REPUTATION_MIN_APPROVED and workers >= settings.REPUTATION_MIN_WORKERS:
            work = median([_work_micros(accepted, submitted) for accepted, submitted in times.get(job_id, [])])
            rate = _floor(reward_msat * SATS_PER_HOUR_FROM_MSAT_PER_MICRO / work)
        if rate != current:
            # One short statement per job, in primary-key order, and update() leaves updated_at alone: the rate
            # is not an edit of the job.
            Job.objects.filter(pk=job_id).update(effective_sats_per_hour=rate)
            changed += 1
    return changed


def _enough_workers(worker_ids) -> bool:
    return len(set(worker_ids)) >= settings.REPUTATION_MIN_WORKERS


# Arithmetic and queries -----------------------------------------------------------------------------------------


def approval_percent(approved: int, rejected: int) -> int | None:
    """Percent of reviewed work approved, rounded down; None when nothing was reviewed."""
    reviewed = approved + rejected
    return approved * 100 // reviewed if reviewed else None


def median(values: list, *, exact=Fraction) -> Fraction | None:
    """The exact median: the middle value, or the mean of the two middle ones for an even count; None for none.
    `values` are sorted as they are (integers sort fast); `exact` turns the middle ones into fractions."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return exact(ordered[middle])
    return (exact(ordered[middle - 1]) + exact(ordered[middle])) / 2


def _floor(value: Fraction | None) -> int | None:
    return None if value is None else math.floor(value)


def _whole_seconds(micros: Fraction | None) -> int | None:
    return None if micros is None else math.floor(micros / MICROS_PER_SECOND)


def _micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def _work_micros(accepted_at: datetime, submitted_at: datetime) -> int:
    """Working time in microseconds, at least a second."""
    return max(MICROS_PER_SECOND, _micros(submitted_at - accepted_at))


def _rate(reward_msat: int, work_micros: int) -> tuple[float, int, int]:
    """Sats per hour of one assignment as (approximately, numerator, denominator): sorted by the float, which is
    fast, and made exact by `_exact_rate` for the median's middle values only."""
    numerator = reward_msat * SATS_PER_HOUR_FROM_MSAT_PER_MICRO
    return numerator / work_micros, numerator, work_micros


def _exact_rate(rate: tuple[float, int, int]) -> Fraction:
    return Fraction(rate[1], rate[2])


def _recent(assignments, *, partition: str, fields: tuple[str, ...]) -> dict[int, list[tuple]]:
    """The newest REPUTATION_WINDOW assignments by review time of each `partition` value, as tuples of `fields`, in
    one query (a window function: PostgreSQL and SQLite alike)."""
    ranked = assignments.annotate(
        rank=Window(RowNumber(), partition_by=[F(partition)], order_by=[F("reviewed_at").desc(), F("pk").desc()])
    ).filter(rank__lte=REPUTATION_WINDOW)
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for key, *values in ranked.values_list(partition, *fields):
        grouped[key].append(tuple(values))
    return grouped


def _chunks(ids: Iterable[int], *, size: int = ID_CHUNK) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


# Reading ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequesterReputation:
    """A job's requester as workers see them on the board, the job page and the API. `new` means fewer than
    REPUTATION_MIN_APPROVED approved: not rated, so the rates (share approved, medians) are None."""

    new: bool
    sats_per_hour: int | None
    sats_per_hour_measured: bool
    approval_percent: int | None
    median_review_seconds: int | None
    median_payment_seconds: int | None
    disputes_lost: int
    active_since: datetime | None
    approved_count: int
    # What the requester's approved work paid per hour across their jobs (measured), shown beside a job whose
    # own rate is not measured yet.
    requester_sats_per_hour: int | None = None


def requester_reputation(job: Job) -> RequesterReputation:
    """The reputation of `job`'s requester, from the stats row the selectors fetched with the job
    (select_related("requester__requester_stats")): no query of its own."""
    try:
        stats = job.requester.requester_stats
    except RequesterStats.DoesNotExist:
        stats = None
    approved = stats.approved_count if stats is not None else 0
    new = stats is None or approved < settings.REPUTATION_MIN_APPROVED
    return RequesterReputation(
        new=new,
        sats_per_hour=job.shown_sats_per_hour,
        sats_per_hour_measured=job.effective_sats_per_hour is not None,
        approval_percent=None if new else stats.approval_percent,
        median_review_seconds=None if new else stats.median_review_seconds,
        median_payment_seconds=None if new else stats.median_payment_seconds,
        disputes_lost=stats.disputes_lost if stats is not None else 0,
        active_since=stats.active_since if stats is not None else None,
        approved_count=approved,
        requester_sats_per_hour=None if new else stats.effective_sats_per_hour,
    )
