"""Read queries for the work alerts page, the API and the sweeper."""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from alerts.models import JobAlertScan, SavedSearch
from core.errors import NotFound
from core.ids import is_public_id
from marketplace.models import Job, JobStatus, User

# The sweeper looks for jobs published this long ago or more (their own background job had its chance)…
UNSCANNED_GRACE = timedelta(minutes=2)
# …and this recently or less: an alert a day late is no longer news.
UNSCANNED_WINDOW = timedelta(days=1)


def saved_searches_of_worker(*, worker: User) -> QuerySet[SavedSearch]:
    """The worker's saved searches, newest first (at most MAX_SAVED_SEARCHES_PER_WORKER): one query."""
    return SavedSearch.objects.filter(worker=worker).order_by("-created_at", "-id")


def saved_search_of_worker_get(*, worker: User, public_id: str) -> SavedSearch:
    search = SavedSearch.objects.filter(public_id=public_id, worker=worker).first() if is_public_id(public_id) else None
    if search is None:
        raise NotFound("No such work alert.")
    return search


def jobs_not_matched_to_alerts(*, now: datetime | None = None, limit: int = 200) -> list[str]:
    """Public ids of jobs published recently whose matching never ran (its background job was lost)."""
    now = now or timezone.now()
    jobs = (
        Job.objects.filter(
            sandbox=False,  # never matched (alerts.services._on_board)
            status=JobStatus.PUBLISHED,
            published_at__gte=now - UNSCANNED_WINDOW,
            published_at__lte=now - UNSCANNED_GRACE,
        )
        .exclude(Exists(JobAlertScan.objects.filter(job=OuterRef("pk"))))
        .order_by("published_at")
    )
    return list(jobs.values_list("public_id", flat=True)[:limit])
