"""Every change to work alerts: saving and deleting a worker's searches, and matching a published job against them.

Matching runs in a background job after the publication committed (alerts/handlers.py), never in the publish
request. It records one `alert.matched` event per run with the matched workers as its audience, and one AlertMatch
per worker in the same transaction; the notifications app tells each of them from those rows.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify

from alerts.models import (
    MAX_KEYWORD_WORDS,
    MAX_KEYWORDS_CHARS,
    MAX_MIN_SATS_PER_HOUR,
    MAX_SAVED_SEARCHES_PER_WORKER,
    MAX_TAG_CHARS,
    AlertMatch,
    JobAlertScan,
    SavedSearch,
)
from core.errors import InvalidInput, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id
from marketplace.models import MAX_REWARD_MSAT, Job, JobStatus, User, WorkerBlock
from marketplace.qualifications import Access
from marketplace.services import TAG_PUNCTUATION
from marketplace.users import lock_user_not_banned
from tasks.eligibility import job_access

MATCHED_EVENT = "alert.matched"
MATCHING_RULE = "work alerts"


# Saving and deleting ---------------------------------------------------------------------------------------------


def saved_search_create(
    *,
    worker: User,
    keywords: str = "",
    tag: str = "",
    min_reward_msat: int | None = None,
    min_sats_per_hour: int | None = None,
    qualified_only: bool = False,
    email: bool = False,
) -> SavedSearch:
    """Save a board search as a work alert. It alerts about jobs published from now on.

    Keywords are kept as words separated by single spaces; the tag is normalised as jobs' tags are (a slug); a
    minimum of 0 means none. Refuses with InvalidInput, changing nothing: too many or too long keywords, a tag that
    is not a word, amounts out of range, a search that asks nothing, the same search saved twice, and more than
    MAX_SAVED_SEARCHES_PER_WORKER searches (counted under a lock on the worker's row, so two requests at once cannot
    both take the last place; a banned worker is refused under the same lock). Records `saved_search.created`.
    """
    keywords = _clean_keywords(keywords)
    tag = clean_tag(tag)
    min_reward_msat = _clean_minimum(min_reward_msat, maximum=MAX_REWARD_MSAT, what="The minimum reward")
    min_sats_per_hour = _clean_minimum(
        min_sats_per_hour, maximum=MAX_MIN_SATS_PER_HOUR, what="The minimum sats per hour"
    )
    criteria = {
        "keywords": keywords,
        "tag": tag,
        "min_reward_msat": min_reward_msat,
        "min_sats_per_hour": min_sats_per_hour,
        "qualified_only": bool(qualified_only),
    }
    if not (keywords or tag or min_reward_msat or min_sats_per_hour or qualified_only):
        raise InvalidInput(
            "Choose at least one filter to be alerted about: keywords, a tag, a minimum reward, a minimum of sats "
            "per hour, or only jobs you qualify for."
        )
    with transaction.atomic():
        lock_user_not_banned(worker.pk)
        mine = SavedSearch.objects.filter(worker=worker)
        if mine.filter(**criteria).exists():
            raise InvalidInput("You already have an alert for this search.")
        if mine.count() >= MAX_SAVED_SEARCHES_PER_WORKER:
            raise InvalidInput(
                f"You have {MAX_SAVED_SEARCHES_PER_WORKER} work alerts, the most one account may keep. "
                "Delete one first."
            )
        search = SavedSearch.objects.create(worker=worker, email=bool(email), **criteria)
        record_event(
            type="saved_search.created",
            actor=Actor.of(worker),
            subject=("saved_search", search.public_id),
            audience=[worker.pk],
            data={"saved_search_id": search.public_id},
        )
    return search


def saved_search_delete(*, worker: User, saved_search_id: str) -> None:
    """Delete one of the worker's saved searches; someone else's, or one already deleted, is NotFound. Alerts it
    already sent stay. Records `saved_search.deleted`."""
    with transaction.atomic():
        search = None
        if is_public_id(saved_search_id):
            search = SavedSearch.objects.select_for_update().filter(public_id=saved_search_id, worker=worker).first()
        if search is None:
            raise NotFound("No such work alert.")
        search.delete()
        record_event(
            type="saved_search.deleted",
            actor=Actor.of(worker),
            subject=("saved_search", saved_search_id),
            audience=[worker.pk],
            data={"saved_search_id": saved_search_id},
        )


def clean_tag(tag: str) -> str:
    """A tag as jobs store it (marketplace.services: words of letters, digits, spaces, hyphens, made a slug)."""
    tag = (tag or "").strip()
    if not tag:
        return ""
    if len(tag) > MAX_TAG_CHARS or not all(character.isalnum() or character in TAG_PUNCTUATION for character in tag):
        raise InvalidInput(
            f"A tag is a word or two (letters, digits, spaces, hyphens; at most {MAX_TAG_CHARS} characters); "
            f"“{tag[:60]}” is not."
        )
    return slugify(tag)[:MAX_TAG_CHARS]


def _clean_keywords(keywords: str) -> str:
    words = (keywords or "").split()
    cleaned = " ".join(words)
    if len(cleaned) > MAX_KEYWORDS_CHARS:
        raise InvalidInput(f"Keywords are at most {MAX_KEYWORDS_CHARS} characters.")
    if len(words) > MAX_KEYWORD_WORDS:
        raise InvalidInput(f"At most {MAX_KEYWORD_WORDS} keywords: every one must be in a job for it to match.")
    if "\x00" in cleaned:
        raise InvalidInput("Keywords may not contain the NUL character.")
    return cleaned


def _clean_minimum(value: int | None, *, maximum: int, what: str) -> int | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} is a whole number, 0 or more.")
    if value > maximum:
        raise InvalidInput(f"{what} is at most {maximum:,}.")
    return value


# Matching --------------------------------------------------------------------------------------------------------


def job_alerts_match(*, job_id: str, now: datetime | None = None) -> list[int]:
    """Alert the workers whose saved searches match a job on the board: returns their ids (those alerted now).

    A search matches when it was saved before the job was first published and every criterion it gives holds:
    each keyword in the title or description (any case), its tag among the job's, the reward at least its minimum,
    Job.shown_sats_per_hour at least its minimum (a job without a figure meets no minimum), and, for "qualified
    only", the worker may accept the job (tasks.eligibility.job_access). Never the job's requester, a worker the
    requester blocked, a worker a requirement hides the job from, or a banned or inactive account. A job no longer
    on the board (paused, closed, hidden, expired, full) alerts nobody, and neither does a sandbox job.

    Idempotent: each worker is alerted at most once per job (AlertMatch is unique per worker and job, and workers
    already alerted are left out in the query); runs for one job take turns on its JobAlertScan row. The criteria
    are checked in one query, however many searches there are; qualifications, when the job has any, by job_access
    per worker who needs asking.
    """
    now = now or timezone.now()
    job = Job.objects.filter(public_id=job_id).select_related("requester").first() if is_public_id(job_id) else None
    if job is None:
        return []
    if not _on_board(job, now):
        # Scanned all the same, so the sweeper does not queue it again; putting it back on the board publishes it
        # again, which runs the matching anew.
        JobAlertScan.objects.update_or_create(job=job, defaults={"scanned_at": now})
        return []
    tag_names = list(job.tags.values_list("name", flat=True))
    text = f"{job.title}\n{job.description}".lower()
    with transaction.atomic():
        JobAlertScan.objects.update_or_create(job=job, defaults={"scanned_at": now})  # locks its row
        rows = (
            _matching_searches(job, tag_names)
            # Locked, so a search deleted meanwhile cannot leave an AlertMatch pointing at nothing.
            .select_for_update(of=("self",), no_key=True)
            .order_by("worker_id", "pk")
            .values_list("pk", "worker_id", "qualified_only", "email", "keywords")
        )
        # Keywords as the board reads a search: every word in the title or the description, in any case. Compared
        # here rather than in SQL, which would need a function SQLite (make run) does not have.
        candidates = [
            (search_id, worker_id, qualified_only, email)
            for search_id, worker_id, qualified_only, email, keywords in rows
            if all(word in text for word in keywords.lower().split())
        ]
        access = _access_of(job, candidates)
        matched: dict[int, tuple[int, bool]] = {}  # worker → (first search that matched, whether one asks email)
        for search_id, worker_id, qualified_only, email in candidates:
            may = access.get(worker_id)  # None: nothing restricts them
            if may is not None and not (may.may_accept if qualified_only else may.may_discover):
                continue
            first, wants_email = matched.get(worker_id, (search_id, False))
            matched[worker_id] = (first, wants_email or email)
        if not matched:
            return []
        event = record_event(
            type=MATCHED_EVENT,
            actor=Actor.system(MATCHING_RULE),
            subject=("job", job.public_id),
            audience=list(matched),
            data={"job_id": job.public_id, "workers": len(matched)},
        )
        AlertMatch.objects.bulk_create(
            [
                AlertMatch(worker_id=worker_id, job=job, saved_search_id=search_id, event=event, email=email)
                for worker_id, (search_id, email) in matched.items()
            ],
            ignore_conflicts=True,  # a run that committed meanwhile alerted them: its event tells them
        )
    return list(matched)


def _on_board(job: Job, now: datetime) -> bool:
    # A sandbox job is on the sandbox board only: work alerts are for real work.
    return (
        not job.sandbox
        and job.status == JobStatus.PUBLISHED
        and job.hidden_at is None
        and job.open_slot_count > 0
        and job.published_at is not None
        and (job.expires_at is None or job.expires_at > now)
    )


def _matching_searches(job: Job, tag_names: list[str]):
    """The saved searches whose every criterion the job meets, except "qualified only" (checked per worker)."""
    searches = (
        SavedSearch.objects.filter(
            created_at__lte=job.published_at,
            worker__is_active=True,
            worker__banned_at__isnull=True,
        )
        .exclude(worker_id=job.requester_id)
        .filter(Q(tag="") | Q(tag__in=tag_names))
        .filter(Q(min_reward_msat__isnull=True) | Q(min_reward_msat__lte=job.reward_msat))
        .exclude(Exists(WorkerBlock.objects.filter(requester_id=job.requester_id, worker_id=OuterRef("worker_id"))))
        .exclude(Exists(AlertMatch.objects.filter(job_id=job.pk, worker_id=OuterRef("worker_id"))))
    )
    rate = job.shown_sats_per_hour
    if rate is None:
        return searches.filter(min_sats_per_hour__isnull=True)
    return searches.filter(Q(min_sats_per_hour__isnull=True) | Q(min_sats_per_hour__lte=rate))


def _access_of(job: Job, candidates: list[tuple[int, int, bool, bool]]) -> dict[int, Access]:
    """What each candidate who needs asking may do with the job (tasks.eligibility.job_access): those with a
    "qualified only" search must be allowed to accept it, and, for a job that hides from the unqualified, everyone
    must be allowed to see it. Nobody needs asking about a job that restricts nobody (no requirements, exclusions or
    cap): no query then. One query for the workers, then job_access's own for each (a background job's work)."""
    if job.hides_from_unqualified:
        asked = {worker_id for _, worker_id, _, _ in candidates}
    else:
        asked = {worker_id for _, worker_id, qualified_only, _ in candidates if qualified_only}
    if not asked:
        return {}
    restricts = bool(job.qualification_requirements or job.max_tasks_per_worker) or job.excluded_jobs.exists()
    if not restricts:
        return {}
    workers = User.objects.in_bulk(asked)
    return {worker_id: job_access(job=job, worker=worker) for worker_id, worker in workers.items()}
