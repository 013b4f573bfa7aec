"""Read queries for the moderators' screens and the report pages, each in a fixed number of queries."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from core.errors import NotFound
from core.ids import is_worker_id
from core.models import Event
from marketplace.models import Job, User
from moderation.models import Report
from payments.models import Account
from tasks.models import Assignment, AssignmentStatus, Dispute

# How many of each kind of row the user's page shows; the rest are a link to the filtered list away.
OVERVIEW_ROWS = 10


def reportable_user_get(*, public_id: str) -> User:
    """A user someone may report, by their public (worker) id."""
    user = User.objects.filter(public_id=public_id, is_active=True).first() if is_worker_id(public_id) else None
    if user is None:
        raise NotFound("No such user.")
    return user


@dataclass(frozen=True)
class UserOverview:
    jobs: list[Job]
    job_count: int
    assignments: list[Assignment]
    assignment_counts: dict[str, int]
    accounts: list[Account]
    reports: list[Report]
    report_count: int
    reports_filed_count: int
    disputes: list[Dispute]
    moderation_events: list[Event]


def user_overview(*, user: User) -> UserOverview:
    """What a moderator sees of one user: their latest jobs and assignments with counts, their balances, the reports
    about them or their jobs, their disputes as worker or requester, and the moderators' decisions about them."""
    jobs = (
        Job.objects.filter(requester=user)
        .order_by("-created_at")
        .only("id", "public_id", "title", "status", "hidden_at", "created_at", "requester_id")
    )
    assignments = (
        Assignment.objects.filter(worker=user)
        .select_related("job")
        .only("id", "public_id", "status", "accepted_at", "job__id", "job__title", "job__public_id")
        .order_by("-accepted_at")
    )
    by_status = dict(
        Assignment.objects.filter(worker=user).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    reports = reports_about_user(user=user)
    return UserOverview(
        jobs=list(jobs[:OVERVIEW_ROWS]),
        job_count=jobs.count(),
        assignments=list(assignments[:OVERVIEW_ROWS]),
        assignment_counts={status.label: by_status.get(status.value, 0) for status in AssignmentStatus},
        accounts=list(Account.objects.filter(user=user).order_by("kind")),
        reports=list(reports[:OVERVIEW_ROWS]),
        report_count=reports.count(),
        reports_filed_count=Report.objects.filter(reporter=user).count(),
        disputes=_disputes_of(user),
        moderation_events=list(
            Event.objects.filter(subject_type="user", subject_id=user.public_id)
            .select_related("actor")
            .order_by("-id")[:OVERVIEW_ROWS]
        ),
    )


def reports_about_user(*, user: User) -> QuerySet[Report]:
    """Reports of the user and of any of their jobs, newest first."""
    return (
        Report.objects.filter(Q(user=user) | Q(job__requester=user))
        .select_related("reporter", "job", "user")
        .order_by("-created_at")
    )


def _disputes_of(user: User) -> list[Dispute]:
    """Their disputes as the worker or as the requester, newest first."""
    disputes = (
        Dispute.objects.filter(Q(assignment__worker=user) | Q(assignment__job__requester=user))
        .select_related("assignment__job", "assignment__worker")
        .order_by("-opened_at")
    )
    return list(disputes[:OVERVIEW_ROWS])


@dataclass(frozen=True)
class FlaggedRequester:
    user_id: int
    username: str
    public_id: str
    reviewed: int
    rejected: int

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.reviewed


def requesters_flagged_for_rejections(*, now: datetime | None = None, limit: int = 50) -> list[FlaggedRequester]:
    """Requesters whose share of rejections among the work reviewed (approved or rejected, by them or by the
    auto-approve rule) over the last MODERATION_FLAG_WINDOW_DAYS is at least MODERATION_FLAG_REJECTION_RATE, with at
    least MODERATION_FLAG_MIN_REVIEWS reviews; highest rate first. One query."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.MODERATION_FLAG_WINDOW_DAYS)
    rows = (
        Assignment.objects.filter(
            reviewed_at__gte=since, status__in=[AssignmentStatus.APPROVED, AssignmentStatus.REJECTED]
        )
        .values("job__requester_id", "job__requester__username", "job__requester__public_id")
        .annotate(reviewed=Count("id"), rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)))
        .filter(reviewed__gte=settings.MODERATION_FLAG_MIN_REVIEWS)
        .annotate(rate=Cast(F("rejected"), FloatField()) / Cast(F("reviewed"), FloatField()))
        .filter(rate__gte=settings.MODERATION_FLAG_REJECTION_RATE)
        .order_by("-rate", "-reviewed", "job__requester_id")[:limit]
    )
    return [
        FlaggedRequester(
            user_id=row["job__requester_id"],
            username=row["job__requester__username"],
            public_id=row["job__requester__public_id"],
            reviewed=row["reviewed"],
            rejected=row["rejected"],
        )
        for row in rows
    ]
