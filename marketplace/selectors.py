"""Read queries for job pages. Each returns a queryset or values with everything the page shows, in a constant
number of queries."""

from django.db.models import BigIntegerField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import NotFound
from core.ids import is_public_id
from core.money import MSAT_PER_SAT
from marketplace.models import Job, JobStatus, User, WorkerBlock

# What lists of jobs never show: the Markdown's source and HTML (the board shows the excerpt) and the answer form.
BIG_FIELDS_NOT_LISTED = (
    "instructions",
    "instructions_html",
    "description_html",
    "prompt",
    "prompt_html",
    "form_fields",
    "html_template",
    "answer_fields",
    "input_columns",
)
# What no step of the work loop reads (a claim, a submit): the job's texts as its pages show them, the largest
# columns of its row. The loop's reads of the job leave them out (docs/PERFORMANCE.md, "Work loop").
JOB_PAGE_TEXTS = (
    "description",
    "description_html",
    "description_excerpt",
    "instructions",
    "instructions_html",
    "prompt_html",
    "hidden_reason",
    "keywords",
)
# Sats per hour as the board shows it (Job.shown_sats_per_hour) in SQL: what approved work earned once the
# reputation sweeper measured it, else the requester's estimate; null (last) for a job with neither.
SHOWN_SATS_PER_HOUR = Coalesce(
    "effective_sats_per_hour",
    ExpressionWrapper(
        F("reward_msat") * 3600 / (F("estimated_seconds_per_task") * MSAT_PER_SAT), output_field=BigIntegerField()
    ),
)
BOARD_SORTS = {
    "newest": ("-published_at", "-id"),
    "reward": ("-reward_msat", "-published_at", "-id"),
    "sats_per_hour": (SHOWN_SATS_PER_HOUR.desc(nulls_last=True), "-published_at", "-id"),
}


def board_jobs(
    *,
    search: str = "",
    tag: str = "",
    min_reward_msat: int | None = None,
    sort: str = "newest",
    viewer=None,
    sandbox: bool = False,
) -> QuerySet[Job]:
    """Published, unexpired jobs with work left that no moderator hid, for the public job board; for a `viewer`,
    none of the requesters who blocked them. With each requester's reputation row (tasks.reputations), in the
    same query. Real jobs only, or, with `sandbox`, only the sandbox's (play money): the two boards never mix."""
    jobs = (
        _not_blocking(Job.objects, viewer)
        .filter(sandbox=sandbox, status=JobStatus.PUBLISHED, open_slot_count__gt=0, hidden_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        # The job's quality rules (tasks' JobQuality), joined: the card says when rules pay within seconds.
        .select_related("requester", "requester__requester_stats", "quality")
        .prefetch_related("tags")
        .defer(*BIG_FIELDS_NOT_LISTED)
    )
    # Every word of the search in the title or the description, in any case and order (as work alerts match).
    for word in search.split():
        jobs = jobs.filter(Q(title__icontains=word) | Q(description__icontains=word))
    if tag:
        jobs = jobs.filter(tags__name=tag.lower())
    if min_reward_msat:
        jobs = jobs.filter(reward_msat__gte=min_reward_msat)
    return jobs.order_by(*BOARD_SORTS.get(sort, BOARD_SORTS["newest"]))


def job_public_get(*, public_id: str, viewer=None) -> Job:
    """A job as anyone may see it: everything but drafts, cancelled jobs and jobs a moderator hid (their requester
    still sees them on their own pages), and, for a `viewer` its requester blocked, none of that requester's."""
    if not is_public_id(public_id):
        raise NotFound("No such job.")
    job = (
        _public_jobs(viewer)
        # The job's quality rules (tasks' JobQuality, one-to-one) with it: the page says how work is judged.
        .select_related("requester", "requester__requester_stats", "quality")
        .prefetch_related("tags")
        .filter(public_id=public_id)
        .first()
    )
    if job is None:
        raise NotFound("No such job.")
    return job


def job_to_claim_get(*, public_id: str, viewer) -> Job:
    """The job a claim names, found as `job_public_get` finds it, without what a job's page shows (its requester,
    their stats, its quality rules, its tags): one query instead of two, and the claim reads the job again under
    its own lock anyway. The work loop's hottest lookup (docs/PERFORMANCE.md, "Work loop")."""
    if not is_public_id(public_id):
        raise NotFound("No such job.")
    job = _public_jobs(viewer).filter(public_id=public_id).defer(*JOB_PAGE_TEXTS).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def _public_jobs(viewer) -> QuerySet[Job]:
    return _not_blocking(Job.objects.exclude(status__in=[JobStatus.DRAFT, JobStatus.CANCELLED]), viewer).filter(
        hidden_at__isnull=True
    )


def job_of_requester_get(*, requester: User, public_id: str) -> Job:
    if not is_public_id(public_id):
        raise NotFound("No such job.")
    job = Job.objects.prefetch_related("tags").filter(public_id=public_id, requester=requester).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def jobs_of_requester(*, requester: User) -> QuerySet[Job]:
    """Every job of the requester, with its tags (for the API's list)."""
    return Job.objects.filter(requester=requester).prefetch_related("tags")


def _not_blocking(jobs: QuerySet[Job], viewer) -> QuerySet[Job]:
    """Jobs whose requester did not block `viewer` (all of them for someone not logged in); no extra query."""
    if viewer is None or not viewer.is_authenticated:
        return jobs
    return jobs.exclude(Exists(WorkerBlock.objects.filter(requester=OuterRef("requester"), worker=viewer)))
