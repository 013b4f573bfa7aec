"""A worker's profile as a requester sees it (read only): their figures from the reputation sweeper, the requester's
qualifications they hold, the work they did for that requester, and whether the requester blocked them."""

from dataclasses import dataclass

from django.db.models import Count, Q

from core.errors import NotFound
from marketplace.models import QualificationGrant, User, WorkerBlock, WorkerStats
from marketplace.users import worker_get
from tasks.models import Assignment, AssignmentStatus


@dataclass(frozen=True)
class WorkerProfile:
    worker: User
    stats: WorkerStats | None
    grants: list[QualificationGrant]
    block: WorkerBlock | None
    submitted_to_viewer: int
    approved_by_viewer: int
    rejected_by_viewer: int


def worker_profile_get(*, viewer: User, worker_id: str) -> WorkerProfile:
    """Five queries, however much the worker did. A worker who did no work for `viewer`, holds none of their
    qualifications and is not blocked by them is not found: their figures are for the requesters they work for."""
    worker = worker_get(worker_id=worker_id)
    work = Assignment.objects.filter(worker=worker, job__requester=viewer).aggregate(
        submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        approved=Count("pk", filter=Q(status=AssignmentStatus.APPROVED)),
        rejected=Count("pk", filter=Q(status=AssignmentStatus.REJECTED)),
    )
    grants = list(
        QualificationGrant.objects.filter(worker=worker, type__owner=viewer)
        .select_related("type")
        .order_by("type__name")
    )
    block = WorkerBlock.objects.filter(requester=viewer, worker=worker).first()
    if not (work["submitted"] or grants or block):
        # Only a requester who has something to do with the worker sees their figures.
        raise NotFound("No such worker.")
    return WorkerProfile(
        worker=worker,
        stats=WorkerStats.objects.filter(worker=worker).first(),
        grants=grants,
        block=block,
        submitted_to_viewer=work["submitted"],
        approved_by_viewer=work["approved"],
        rejected_by_viewer=work["rejected"],
    )
