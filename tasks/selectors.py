"""Read queries for assignment and review pages, with a constant number of queries whatever the row count."""

from collections.abc import Iterator

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce

from core.errors import NotFound
from core.ids import is_public_id
from marketplace.models import Job, JobStatus, QualificationGrant, User
from marketplace.selectors import BIG_FIELDS_NOT_LISTED, JOB_PAGE_TEXTS
from tasks.models import (
    DISPUTE_LIVE_STATUSES,
    Assignment,
    AssignmentStatus,
    Dispute,
    DisputeStatus,
    Task,
    TaskKind,
    WorkerJobAccuracy,
)

RESULT_STATUSES = [AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED, AssignmentStatus.REJECTED]


def assignment_of_worker_get(*, worker: User, public_id: str) -> Assignment:
    if not is_public_id(public_id):
        raise NotFound("No such assignment.")
    assignment = (
        Assignment.objects.select_related("task", "job", "job__requester")
        .filter(public_id=public_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignment_to_submit_get(*, worker: User, public_id: str) -> Assignment:
    """One of the worker's assignments with what an answer is checked against (its job's form, its task's
    question), without the job's page texts or requester: the API's submit, which tasks.services.assignment_submit
    reads again under its lock."""
    if not is_public_id(public_id):
        raise NotFound("No such assignment.")
    assignment = (
        Assignment.objects.select_related("task", "job")
        .defer(*(f"job__{name}" for name in JOB_PAGE_TEXTS))
        .filter(public_id=public_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignment_to_review_get(*, reviewer: User, public_id: str) -> Assignment:
    """One assignment of the reviewer's jobs, with its job; tasks.services.assignment_review reads it again under a
    lock."""
    if not is_public_id(public_id):
        raise NotFound("No such assignment.")
    assignments = Assignment.objects.select_related("job", "worker")
    assignment = assignments.filter(public_id=public_id, job__requester=reviewer).first()
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignments_of_worker(*, worker: User, status: str = "") -> QuerySet[Assignment]:
    assignments = (
        Assignment.objects.filter(worker=worker)
        .select_related("job", "task")
        .only(
            "id",
            "public_id",
            "status",
            "accepted_at",
            "deadline_at",
            "submitted_at",
            "reviewed_at",
            "feedback",
            "review_source",
            "job__id",
            "job__title",
            "job__reward_msat",
            "job__sandbox",
            "task__id",
            "task__position",
        )
        .order_by("-accepted_at", "-id")
    )
    if status:
        assignments = assignments.filter(status=status)
    return assignments


REAL, PLAY = Q(job__sandbox=False), Q(job__sandbox=True)


def worker_stats(*, worker: User) -> dict[str, int | float | None]:
    counts = Assignment.objects.filter(worker=worker).aggregate(
        in_progress=Count("id", filter=Q(status=AssignmentStatus.ACCEPTED)),
        submitted=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED)),
        approved=Count("id", filter=Q(status=AssignmentStatus.APPROVED)),
        rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)),
        real_approved=Count("id", filter=Q(REAL, status=AssignmentStatus.APPROVED)),
        real_rejected=Count("id", filter=Q(REAL, status=AssignmentStatus.REJECTED)),
        # What the rewards come to: waiting for review, and earned by approved work (paid or being paid). Real
        # money apart from the sandbox's play money, which is never paid out.
        pending_msat=Coalesce(Sum("job__reward_msat", filter=Q(REAL, status=AssignmentStatus.SUBMITTED)), 0),
        approved_msat=Coalesce(Sum("job__reward_msat", filter=Q(REAL, status=AssignmentStatus.APPROVED)), 0),
        sandbox_pending_msat=Coalesce(Sum("job__reward_msat", filter=Q(PLAY, status=AssignmentStatus.SUBMITTED)), 0),
        sandbox_approved_msat=Coalesce(Sum("job__reward_msat", filter=Q(PLAY, status=AssignmentStatus.APPROVED)), 0),
    )
    # The rate qualifications read (tasks.reputations), so from real work only: sandbox reviews count for nothing.
    approved, rejected = counts.pop("real_approved"), counts.pop("real_rejected")
    counts["approval_rate"] = round(100 * approved / (approved + rejected)) if approved + rejected else None
    return counts


def review_queue(
    *, job: Job, status: str = AssignmentStatus.SUBMITTED, worker_public_id: str = ""
) -> QuerySet[Assignment]:
    """A job's assignments of one status, oldest submission first; only one worker's when `worker_public_id`. Each
    worker comes with their figures (WorkerStats and their accuracy on the job's controls, in the same query) and, in
    `worker.requester_grants`, their grants of the job's requester's own qualification types (one more query for
    the page, whatever its length)."""
    assignments = Assignment.objects.filter(job=job, status=status)
    if worker_public_id:
        assignments = assignments.filter(worker__public_id=worker_public_id)
    grants = QualificationGrant.objects.filter(type__owner_id=job.requester_id).select_related("type")
    accuracy = WorkerJobAccuracy.objects.filter(worker_id=OuterRef("worker_id"), job_id=job.pk)
    return (
        assignments.select_related("task", "worker", "worker__worker_stats")
        # The worker's accuracy on this job's controls (issue 12), in the same query.
        .annotate(
            worker_accuracy_percent=Subquery(accuracy.values("accuracy_percent")[:1]),
            worker_controls_answered=Subquery(accuracy.values("controls_answered")[:1]),
        )
        .prefetch_related(
            Prefetch("worker__qualification_grants", queryset=grants.order_by("type__name"), to_attr="requester_grants")
        )
        .only(
            "id",
            "public_id",
            "status",
            "answer",
            "accepted_at",
            "submitted_at",
            "reviewed_at",
            "feedback",
            "rejection_reason",
            "rejection_held_at",
            "auto_approve_at",
            "flag_reason",
            "task__id",
            "task__position",
            "task__input",
            "worker__id",
            "worker__public_id",
            "worker__username",
            "worker__display_name",
            "worker__worker_stats__approved_count",
            "worker__worker_stats__approval_percent",
        )
        .order_by("submitted_at", "id")
    )


def result_rows(*, job: Job) -> Iterator[dict]:
    """Every reviewed or submitted assignment of a job with its task input and aggregated result, streamed from one
    query."""
    return result_rows_query(job=job).iterator(chunk_size=2_000)


class IsoTimestamp(Func):
    """A timestamp as `datetime.isoformat()` writes it in UTC ("2026-12-01T05:32:32.123456+00:00", without the
    fraction when it is zero), written by PostgreSQL; "" for null. results.csv has three a row, and parsing each
    into Python only to format it again was half of an export's CPU (docs/PERFORMANCE.md, "Export"). Another
    database gets the datetime, which tasks.results formats itself."""

    arity = 1
    output_field = CharField()
    template = (
        "COALESCE(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN mod(extract(microseconds FROM %(expressions)s AT TIME ZONE 'UTC'), 1000000) = 0 THEN ''"
        " ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || '+00:00', '')"
    )

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            return compiler.compile(self.source_expressions[0])
        return super().as_sql(compiler, connection, **extra_context)


def result_rows_query(*, job: Job) -> QuerySet:
    """result_rows' one query, unevaluated (the export benchmark COPYs it as its floor)."""
    return (
        Assignment.objects.filter(job=job, status__in=RESULT_STATUSES)
        .order_by("task__position", "id")
        .values(
            "public_id",
            "worker__public_id",
            "status",
            "feedback",
            "rejection_reason",
            "answer",
            "task__position",
            "task__input",
            # The task's aggregated result (tasks.overlap), joined: still one query.
            "task__result__result",
            "task__result__confidence",
            "task__result__agreement",
            "job__quality__text_aggregation",
            accept_time=IsoTimestamp("accepted_at"),
            submit_time=IsoTimestamp("submitted_at"),
            review_time=IsoTimestamp("reviewed_at"),
        )
    )


# Progress of jobs, counted from their assignments ---------------------------------------------------------------


def jobs_of_requester_with_progress(*, requester: User) -> QuerySet[Job]:
    """The requester's jobs, newest first, with assignment counts by status (one query)."""
    return (
        Job.objects.filter(requester=requester)
        .exclude(status=JobStatus.CANCELLED)
        .annotate(
            in_progress_count=Count("assignments", filter=Q(assignments__status=AssignmentStatus.ACCEPTED)),
            submitted_count=Count("assignments", filter=Q(assignments__status=AssignmentStatus.SUBMITTED)),
            approved_count=Count("assignments", filter=Q(assignments__status=AssignmentStatus.APPROVED)),
            rejected_count=Count("assignments", filter=Q(assignments__status=AssignmentStatus.REJECTED)),
            assignments_wanted=F("task_count") * F("assignments_per_task"),
        )
        .defer(*BIG_FIELDS_NOT_LISTED)
        .order_by("-created_at")
    )


def job_progress(*, job: Job) -> dict[str, int]:
    """Counts of one job's assignments by status, plus what the job still wants."""
    counts = dict(job.assignments.values_list("status").annotate(n=Count("id")).order_by().values_list("status", "n"))
    wanted = job.task_count * job.assignments_per_task
    return {
        "wanted": wanted,
        "in_progress": counts.get(AssignmentStatus.ACCEPTED, 0),
        "submitted": counts.get(AssignmentStatus.SUBMITTED, 0),
        "approved": counts.get(AssignmentStatus.APPROVED, 0),
        "rejected": counts.get(AssignmentStatus.REJECTED, 0),
        "remaining": job.open_slot_count,
    }


def assignments_of_job(*, job: Job, status: str | None = None) -> QuerySet[Assignment]:
    """A job's assignments with their tasks and the tasks' aggregated results (the requester's API list), optionally
    of one status."""
    assignments = Assignment.objects.filter(job=job).select_related("task", "task__result", "worker")
    return assignments.filter(status=status) if status else assignments


def assignments_with_tasks(*, assignment_ids: list[int]) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(pk__in=assignment_ids).select_related("task", "task__result", "worker").order_by("pk")
    )


def jobs_done_by(*, worker: User, job_ids: list[int]) -> set[int]:
    """Of `job_ids`, those where `worker` has done all the tasks they can: no open task is left that they never had
    (a worker gets each task once), and none of theirs is in progress. One query."""
    if not worker.is_authenticated or not job_ids:
        return set()
    theirs = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    takeable = Task.objects.filter(job=OuterRef("pk"), slots_open__gt=0).exclude(Exists(theirs))
    in_progress = Assignment.objects.filter(job=OuterRef("pk"), worker=worker, status=AssignmentStatus.ACCEPTED)
    done = Job.objects.filter(pk__in=job_ids).exclude(Exists(takeable)).exclude(Exists(in_progress))
    return set(done.values_list("pk", flat=True))


def tasks_of_job(*, job: Job) -> QuerySet[Task]:
    """A job's tasks in row order, each marked `claimed` when a worker ever took it (then it cannot change), with
    its kind and known answers (the requester's pages only)."""
    return (
        Task.objects.filter(job=job)
        .only("id", "public_id", "position", "input", "slots_open", "kind", "gold")
        .annotate(claimed=Exists(Assignment.objects.filter(task=OuterRef("pk"))))
        .order_by("position")
    )


def task_of_job_get(*, job: Job, public_id: str) -> Task:
    """One task of a job, marked `claimed` as tasks_of_job marks them."""
    task = tasks_of_job(job=job).filter(public_id=public_id).first() if is_public_id(public_id) else None
    if task is None:
        raise NotFound("No such task in this job.")
    return task


def task_next_to(*, task: Task, before: bool) -> Task | None:
    """The job's task just before or after `task` in row order (removed tasks leave gaps in the positions)."""
    tasks = Task.objects.filter(job_id=task.job_id).only("id", "position")
    if before:
        return tasks.filter(position__lt=task.position).order_by("-position").first()
    return tasks.filter(position__gt=task.position).order_by("position").first()


def task_to_preview(*, job: Job) -> Task | None:
    """The task a worker previews before claiming (Mechanical Turk's "preview HIT"): the first regular one still
    open, or the first regular one when none is. Never a control (a preview would show which task it is) nor a
    training task; a job of controls only shows its first open task."""
    tasks = Task.objects.filter(job=job).only("id", "public_id", "job_id", "position", "input")
    regular = tasks.filter(kind=TaskKind.REGULAR)
    return (
        regular.filter(slots_open__gt=0).order_by("position").first()
        or regular.order_by("position").first()
        or tasks.filter(kind=TaskKind.CONTROL).order_by("position").first()
    )


def is_first_assignment_in_job(*, assignment: Assignment) -> bool:
    """Whether the worker had no assignment in this job before this one: their first task opens the instructions."""
    earlier = Assignment.objects.filter(
        job_id=assignment.job_id, worker_id=assignment.worker_id, accepted_at__lt=assignment.accepted_at
    )
    return not earlier.exists()


def dispute_of_assignment(*, assignment: Assignment) -> Dispute | None:
    """The dispute of a rejected assignment, if its worker opened one (no query for other assignments)."""
    if assignment.status != AssignmentStatus.REJECTED:
        return None
    return Dispute.objects.filter(assignment=assignment).first()


def dispute_get_for(*, user: User, public_id: str, is_moderator: bool) -> Dispute:
    """A dispute its worker, its requester or a moderator may see, with everything its page shows."""
    if not is_public_id(public_id):
        raise NotFound("No such dispute.")
    disputes = Dispute.objects.select_related(
        "assignment__job__requester", "assignment__task", "assignment__worker", "decided_by"
    )
    if not is_moderator:
        disputes = disputes.filter(Q(assignment__worker=user) | Q(assignment__job__requester=user))
    dispute = disputes.filter(public_id=public_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def disputes_of_user(*, user: User) -> QuerySet[Dispute]:
    """The disputes someone is part of, as a worker or a requester, live ones first, oldest first among them."""
    return (
        Dispute.objects.filter(Q(assignment__worker=user) | Q(assignment__job__requester=user))
        .select_related("assignment__job", "assignment__task", "assignment__worker")
        .order_by(_live_first(), "opened_at")
    )


def disputes_for_moderators() -> QuerySet[Dispute]:
    """The moderators' queue: live disputes, those with the moderators first, oldest first."""
    return (
        Dispute.objects.filter(status__in=sorted(DISPUTE_LIVE_STATUSES))
        .select_related("assignment__job", "assignment__task", "assignment__worker")
        .order_by(
            Case(When(status=DisputeStatus.ESCALATED, then=0), default=1, output_field=IntegerField()), "opened_at"
        )
    )


def _live_first():
    return Case(When(status__in=sorted(DISPUTE_LIVE_STATUSES), then=0), default=1, output_field=IntegerField())


def rejections_held() -> QuerySet[Assignment]:
    """Mass rejections waiting for a moderator, oldest first."""
    return (
        Assignment.objects.filter(rejection_held_at__isnull=False)
        .select_related("job", "task", "worker")
        .order_by("rejection_held_at")
    )
