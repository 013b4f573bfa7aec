"""Who may work on a job (issue 11): its qualification requirements (marketplace.qualifications), its exclusions
(nobody who took any of the listed jobs) and its cap on tasks per worker, besides bans and blocks; and (issue 12,
tasks.controls) a worker stopped on the job for their accuracy on its controls, or who has not passed its training.

The claim asks `check_worker_for_claim` once it holds the worker's row lock: one query reads everything it needs
(the one that also finds the worker's open assignment), so a job with five requirements costs the claim no more
queries than a job with none. Pages ask `job_access` (the job page, the preview) or `board_access` (a page of the
board, from values read once).
"""

from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainError
from marketplace import qualifications
from marketplace.models import Job, User, WorkerBlock
from marketplace.qualifications import Access
from marketplace.users import BANNED_MESSAGE, BLOCKED_MESSAGE, AccountBanned, WorkerBlocked
from tasks import controls
from tasks.models import Assignment, AssignmentStatus

# An assignment the worker returned or let expire did not use up a task of the cap.
STATUSES_COUNTED_BY_CAP = [
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.SUBMITTED,
    AssignmentStatus.APPROVED,
    AssignmentStatus.REJECTED,
]
EXCLUDED_MESSAGE = "you took part in an earlier job this one excludes"


class NotQualified(DomainError):
    code = "not_qualified"
    status = 403


@dataclass(frozen=True)
class JobAccess(Access):
    """A worker's access on the job page: with `training_due` when their next step is the job's training."""

    training_due: bool = False


def _cap_message(cap: int) -> str:
    return f"you already did the {cap} task{'s' if cap != 1 else ''} this job allows each worker"


def check_worker_for_claim(*, worker: User, job: Job, now: datetime) -> int | None:
    """For a claim that holds the worker's row lock: the id of the worker's open assignment in the job, if they have
    one (a double click claims once); else refuse them, in this one query, when they are banned, blocked by the job's
    requester, miss a qualification requirement, took a job this one excludes, reached the job's cap, were stopped
    on it for their accuracy, or have not passed its training. `job` carries its requirements, cap and quality rules
    (the claim reads them under the lock).

    The query runs after the lock is held, so it reads what committed before: a claim that waited for the worker's
    other claim sees that claim's assignment (an exclusion or cap it completes holds), and a grant or a change of
    the job's rules that committed meanwhile counts."""
    requirements = job.qualification_requirements or []
    type_ids = [requirement["qualification_type_id"] for requirement in requirements]
    quality = controls.quality_of(job)
    open_assignment = Assignment.objects.filter(
        job_id=job.pk, worker_id=OuterRef("pk"), status=AssignmentStatus.ACCEPTED, deadline_at__gt=now
    ).order_by("accepted_at")
    annotations = {
        "open_assignment_id": Subquery(open_assignment.values("pk")[:1]),
        "blocked": Exists(WorkerBlock.objects.filter(requester_id=job.requester_id, worker_id=OuterRef("pk"))),
        "excluded": _took_an_excluded_job(job),
        **(qualifications.value_annotations(type_ids) if requirements else {}),
        **controls.claim_annotations(job, quality),
    }
    if job.max_tasks_per_worker:
        annotations["tasks_taken"] = _tasks_taken_in(job)
    row = User.objects.filter(pk=worker.pk).annotate(**annotations).get()
    if row.banned_at is not None:
        raise AccountBanned(BANNED_MESSAGE)
    if row.open_assignment_id is not None:
        return row.open_assignment_id
    if row.blocked:
        raise WorkerBlocked(BLOCKED_MESSAGE)
    access = _access(job, row, type_ids=type_ids, now=now, with_names=False)
    if not access.may_accept:
        # The reasons name custom types: read their names only now that the claim is refused.
        if requirements:
            access = _access(job, row, type_ids=type_ids, now=now, with_names=True)
        raise NotQualified(f"You cannot take this job: {'; '.join(access.reasons)}.")
    refusal = controls.claim_refusal(row, quality)
    if refusal is not None:
        raise refusal
    return None


def job_access(*, job: Job, worker: User | None, now: datetime | None = None) -> Access:
    """What `worker` may do with `job` (discover, preview, accept) and why not, for the job page and the preview:
    one query for a logged-in worker (two when a requirement they miss names a custom type), which also reads their
    stop and training on the job (issue 12); requirements alone, on no values, for a visitor who is not logged in."""
    now = now or timezone.now()
    requirements = job.qualification_requirements or []
    if worker is None or not worker.is_authenticated:
        return qualifications.requirements_access(
            requirements, {}, type_names=qualifications.type_names_of([requirements])
        )
    if worker.pk == job.requester_id:
        return qualifications.EVERYTHING
    type_ids = [requirement["qualification_type_id"] for requirement in requirements]
    annotations = {
        "excluded": _took_an_excluded_job(job),
        **qualifications.value_annotations(type_ids),
        **controls.page_annotations(job),
    }
    if job.max_tasks_per_worker:
        annotations["tasks_taken"] = _tasks_taken_in(job)
    row = User.objects.filter(pk=worker.pk).annotate(**annotations).get()
    access = _access(job, row, type_ids=type_ids, now=now, with_names=True)
    quality = controls.quality_from_row(row)
    reasons = controls.access_reasons(row, quality)
    fields = {name: getattr(access, name) for name in ("may_discover", "may_preview", "may_accept", "reasons")}
    if reasons:
        fields.update(may_accept=False, reasons=access.reasons + tuple(reasons))
    return JobAccess(**fields, training_due=controls.training_due(row, quality))


def _access(job: Job, row: User, *, type_ids: list[str], now: datetime, with_names: bool) -> Access:
    requirements = job.qualification_requirements or []
    values = qualifications.values_from_row(row, type_ids, now=now) if requirements else {}
    names = qualifications.type_names_of([requirements]) if with_names else {}
    access = qualifications.requirements_access(requirements, values, type_names=names)
    return _with_exclusion_and_cap(access, job, excluded=row.excluded, tasks_taken=getattr(row, "tasks_taken", 0))


def _with_exclusion_and_cap(access: Access, job: Job, *, excluded: bool, tasks_taken: int | None) -> Access:
    """`access`, less accepting when the worker took a job this one excludes or reached its cap."""
    extra = []
    if excluded:
        extra.append(EXCLUDED_MESSAGE)
    if job.max_tasks_per_worker and (tasks_taken or 0) >= job.max_tasks_per_worker:
        extra.append(_cap_message(job.max_tasks_per_worker))
    if not extra:
        return access
    return replace(access, may_accept=False, reasons=access.reasons + tuple(extra))


def _took_an_excluded_job(job: Job) -> Exists:
    excluded_ids = Job.excluded_jobs.through.objects.filter(from_job_id=job.pk).values("to_job_id")
    return Exists(Assignment.objects.filter(worker_id=OuterRef("pk"), job_id__in=excluded_ids))


def _tasks_taken_in(job: Job) -> Subquery:
    taken = (
        Assignment.objects.filter(worker_id=OuterRef("pk"), job_id=job.pk, status__in=STATUSES_COUNTED_BY_CAP)
        .values("worker_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Subquery(taken[:1])


# The board ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardViewer:
    """What the board needs to know about who looks at it, read once per page (two queries when logged in)."""

    user: User | None
    values: dict[str, int]

    @classmethod
    def of(cls, user) -> "BoardViewer":
        if user is None or not user.is_authenticated:
            return cls(user=None, values={})
        return cls(user=user, values=qualifications.worker_values(user))


def board_jobs_for(jobs: QuerySet[Job], viewer: BoardViewer, *, qualified_only: bool) -> QuerySet[Job]:
    """The board's jobs as `viewer` may see them: without the jobs a requirement hides from them and, with
    `qualified_only`, without any job they cannot take. A visitor who is not logged in has no qualifications: every
    job that hides from the unqualified is left off, in the board's own query."""
    if viewer.user is None:
        return jobs.exclude(hides_from_unqualified=True)
    hiding = board_hiding_requirements(jobs, viewer, qualified_only=qualified_only)
    if hiding:
        # A requester always sees their own jobs.
        jobs = jobs.exclude(Q(qualification_requirements__in=hiding) & ~Q(requester_id=viewer.user.pk))
    jobs = _annotate_exclusion_and_cap(jobs, viewer.user)
    if qualified_only:
        jobs = jobs.exclude(viewer_excluded=True).exclude(
            Q(max_tasks_per_worker__isnull=False) & Q(max_tasks_per_worker__lte=F("viewer_tasks_taken"))
        )
    return jobs


def board_hiding_requirements(jobs: QuerySet[Job], viewer: BoardViewer, *, qualified_only: bool) -> list[list[dict]]:
    """The requirement lists among `jobs` that leave a job off the board for `viewer`: those hiding it from workers
    who miss them (DiscoverPreviewAndAccept), and with `qualified_only`, every list they miss. One query for the
    distinct lists, each checked once in Python: jobs share a few lists (a requester reuses theirs), so the work does
    not grow with the number of jobs, as checking each job did (benchmarks/board.py)."""
    with_requirements = jobs.exclude(qualification_requirements=[])
    if not qualified_only:
        with_requirements = with_requirements.filter(hides_from_unqualified=True)
    lists = with_requirements.order_by().values_list("qualification_requirements", flat=True).distinct()
    hiding = []
    for requirements in lists:
        access = qualifications.requirements_access(requirements, viewer.values)
        if not access.may_discover or (qualified_only and not access.may_accept):
            hiding.append(requirements)
    return hiding


def _annotate_exclusion_and_cap(jobs: QuerySet[Job], user: User) -> QuerySet[Job]:
    """Whether `user` took a job each job excludes, and how many of its tasks they took (in the board's query)."""
    # From each job's exclusions (almost always none) to the worker's work in them: asked the other way round, from
    # the worker's assignments, PostgreSQL ran the exclusion subquery once per job and assignment (benchmarks/board.py).
    took_an_excluded_job = Job.excluded_jobs.through.objects.filter(
        from_job_id=OuterRef("pk"), to_job__assignments__worker_id=user.pk
    )
    taken = (
        Assignment.objects.filter(worker_id=user.pk, job_id=OuterRef("pk"), status__in=STATUSES_COUNTED_BY_CAP)
        .values("job_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return jobs.annotate(
        viewer_excluded=Exists(took_an_excluded_job),
        viewer_tasks_taken=Coalesce(Subquery(taken[:1]), 0),
    )


def board_access(jobs: list[Job], viewer: BoardViewer) -> dict[int, Access]:
    """Each listed job's access for `viewer`, by job id, from the values read once (no query but one for the names
    of custom types that the viewer misses)."""
    if viewer.user is None:
        return {}
    missed = [
        job
        for job in jobs
        if job.requester_id != viewer.user.pk
        and not qualifications.requirements_access(job.qualification_requirements, viewer.values).may_accept
    ]
    names = qualifications.type_names_of([job.qualification_requirements for job in missed]) if missed else {}
    return {
        job.pk: _with_exclusion_and_cap(
            qualifications.requirements_access(job.qualification_requirements, viewer.values, type_names=names),
            job,
            excluded=getattr(job, "viewer_excluded", False),
            tasks_taken=getattr(job, "viewer_tasks_taken", 0),
        )
        for job in jobs
        if job.requester_id != viewer.user.pk
    }
