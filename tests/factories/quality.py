"""Jobs with quality control (issue 12): controls with known answers among regular tasks, and the job's rules set by
tasks.quality.job_quality_set; a worker's submission checked by the quality pipeline, as on commit of a submit."""

from datetime import datetime, timedelta

from django.utils import timezone

from marketplace import services
from marketplace.models import Job, User
from tasks import quality
from tasks.models import Assignment
from tasks.services import assignment_claim, assignment_submit, tasks_add_from_csv
from tests.factories.assignments import answer_data
from tests.factories.jobs import make_job
from tests.factories.users import make_user


def quality_csv(
    *, regular: int = 0, controls: int = 0, gold: str = "Positive", start: int = 1, rows: list | None = None
) -> str:
    """A CSV of `regular` tasks and `controls` controls (known sentiment `gold`), regular ones first, their reviews
    alike ("Review number 7"); or of `rows`, (review, known sentiment or "") each."""
    if rows is None:
        rows = [(f"Review number {n}", "") for n in range(start, start + regular)]
        rows += [(f"Review number {n}", gold) for n in range(start + regular, start + regular + controls)]
    lines = ["review,Gold.sentiment"] + [f'"{review}",{known}' for review, known in rows]
    return "\n".join(lines) + "\n"


def make_quality_job(
    *,
    requester: User | None = None,
    regular: int = 0,
    controls: int = 0,
    gold: str = "Positive",
    assignments_per_task: int = 1,
    terms: dict | None = None,
    rows: list[tuple[str, str]] | None = None,
    publish: bool = True,
    **settings,
) -> Job:
    """A job rating reviews (tests.factories.SENTIMENT_FIELDS) with `regular` tasks then `controls` controls whose
    known sentiment is `gold` (or the `rows` of quality_csv), its quality control set to `settings`, published
    unless told so."""
    requester = requester or make_user()
    job = make_job(
        requester=requester, tasks=0, publish=False, assignments_per_task=assignments_per_task, **(terms or {})
    )
    if regular or controls or rows:
        csv_text = quality_csv(regular=regular, controls=controls, gold=gold, rows=rows)
        tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text)
    if settings:
        quality.job_quality_set(job=job, actor=requester, **settings)
    if publish:
        services.job_publish(job=job, actor=requester)
    return Job.objects.select_related("quality").get(pk=job.pk)


def add_tasks(job: Job, *, regular: int = 0, controls: int = 0, gold: str = "Positive") -> None:
    """More tasks on a published job (their escrow funded from the requester's balance)."""
    start = job.tasks.count() + 1
    csv_text = quality_csv(regular=regular, controls=controls, gold=gold, start=start)
    tasks_add_from_csv(job=job, actor=job.requester, csv_text=csv_text)


def work_and_check(
    job: Job,
    worker: User | None = None,
    *,
    sentiment: str = "Positive",
    seconds: float = 30,
    now: datetime | None = None,
) -> Assignment:
    """A worker claims a task of `job`, answers `sentiment` `seconds` later, and the quality pipeline checks it (as
    the submission's handler does once it commits). Returns the assignment as it is then."""
    worker = worker or make_user()
    submitted_at = now or timezone.now()
    claimed_at = submitted_at - timedelta(seconds=seconds)
    assignment = assignment_claim(job=job, worker=worker, now=claimed_at)
    assignment_submit(assignment=assignment, worker=worker, data=answer_data(sentiment), now=submitted_at)
    quality.submission_checked(assignment_id=assignment.pk)
    return Assignment.objects.select_related("task", "job").get(pk=assignment.pk)
