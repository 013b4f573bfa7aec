"""HIT types: a job's terms, made through the Mechanical Turk API. Making the same terms again gives the same HIT
type (as Mechanical Turk does), so a thousand CreateHIT calls with one title and reward are one job on the board
with a thousand tasks."""

from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from core.errors import InvalidInput
from core.locks import lock_user
from marketplace import qualifications
from marketplace.models import MAX_AUTO_APPROVE_SECONDS, FormKind, Job, JobStatus, User
from marketplace.services import job_create, job_set_worker_rules

DEFAULT_AUTO_APPROVE_SECONDS = 3 * 24 * 3600
MAX_TITLE_CHARS = 128
MAX_DESCRIPTION_CHARS = 2_000
MAX_KEYWORDS_CHARS = 1_000
MAX_TAGS = 10
OPEN_STATUSES = (JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED)


@dataclass(frozen=True)
class HitTypeTerms:
    title: str
    description: str
    keywords: str
    reward_msat: int
    sats_per_usd: int | None
    assignment_duration_seconds: int
    auto_approval_delay_seconds: int
    requirements: list[dict]


def hit_type_get_or_create(*, requester: User, sandbox: bool, terms: HitTypeTerms) -> Job:
    """The requester's open HIT type with exactly these terms, or a new one (a draft job of form_kind "per_task",
    published with its first HIT). Refuses terms Boltwork cannot keep with a message naming the parameter."""
    _check_terms(terms)
    requirements = qualifications.requirements_clean(owner=requester, requirements=terms.requirements)
    with transaction.atomic():
        # One requester's calls with the same new terms at once (a script's thread pool) make one HIT type.
        lock_user(requester.pk)
        found = _same_terms(requester=requester, sandbox=sandbox, terms=terms, requirements=requirements)
        if found is not None:
            return found
        job = job_create(
            requester=requester,
            title=terms.title,
            description=terms.description,
            reward_msat=terms.reward_msat,
            time_limit_seconds=terms.assignment_duration_seconds,
            auto_approve_seconds=terms.auto_approval_delay_seconds,
            tags=_tags(terms.keywords),
        )
        # What only a HIT type has, set in the transaction that made the draft, before any money can move.
        Job.objects.filter(pk=job.pk).update(
            form_kind=FormKind.PER_TASK, sandbox=sandbox, sats_per_usd=terms.sats_per_usd, keywords=terms.keywords
        )
        job.refresh_from_db()
        if requirements:
            job = job_set_worker_rules(job=job, actor=requester, requirements=requirements)
    return job


def _same_terms(*, requester: User, sandbox: bool, terms: HitTypeTerms, requirements: list[dict]) -> Job | None:
    candidates = Job.objects.filter(
        requester=requester,
        sandbox=sandbox,
        form_kind=FormKind.PER_TASK,
        status__in=OPEN_STATUSES,
        hidden_at__isnull=True,
        title=terms.title.strip(),
        description=terms.description.strip(),
        keywords=terms.keywords,
        reward_msat=terms.reward_msat,
        sats_per_usd=terms.sats_per_usd,
        time_limit_seconds=terms.assignment_duration_seconds,
        auto_approve_seconds=terms.auto_approval_delay_seconds,
    ).order_by("-pk")
    for job in candidates[:20]:
        if job.qualification_requirements == requirements:
            return job
    return None


def _check_terms(terms: HitTypeTerms) -> None:
    if len(terms.title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"Title must be at most {MAX_TITLE_CHARS} characters long.")
    if len(terms.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"Description must be at most {MAX_DESCRIPTION_CHARS:,} characters long.")
    if len(terms.keywords) > MAX_KEYWORDS_CHARS:
        raise InvalidInput(f"Keywords must be at most {MAX_KEYWORDS_CHARS:,} characters long.")
    if terms.auto_approval_delay_seconds > MAX_AUTO_APPROVE_SECONDS:
        raise InvalidInput(
            f"AutoApprovalDelayInSeconds is at most {MAX_AUTO_APPROVE_SECONDS:,} (14 days) on Boltwork: workers are "
            "paid within two weeks whatever happens."
        )


def _tags(keywords: str) -> list[str]:
    """Board tags from Mechanical Turk's comma-separated keywords: lower-case slugs, the first few."""
    tags: list[str] = []
    for keyword in keywords.split(","):
        tag = slugify(keyword)[:40].strip("-")
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]
