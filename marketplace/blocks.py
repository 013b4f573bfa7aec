"""A requester blocks a worker from their jobs, and unblocks them (issue 11). Every change goes through here.

A blocked worker does not see the requester's jobs on the board or their pages, and cannot claim their tasks (the
claim checks it under the worker's lock, in the same query). Work already submitted is still reviewed and paid.
"""

from django.db import IntegrityError, transaction

from core.errors import InvalidInput
from core.events import Actor, record_event
from marketplace.models import User, WorkerBlock
from marketplace.users import worker_get

MAX_REASON_CHARS = 1_000


def worker_block(*, requester: User, worker_id: str, reason: str) -> WorkerBlock:
    """Block the worker with this worker id from the requester's jobs, with a reason (kept for moderators). Blocking
    again changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why you block this worker (moderators see it; the worker does not).")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"A reason is limited to {MAX_REASON_CHARS:,} characters.")
    if "\x00" in reason:
        raise InvalidInput("The reason holds a character that is not text.")
    worker = worker_get(worker_id=worker_id)
    if worker.pk == requester.pk:
        raise InvalidInput("You cannot block yourself.")
    with transaction.atomic():
        existing = WorkerBlock.objects.filter(requester=requester, worker=worker).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                block = WorkerBlock.objects.create(requester=requester, worker=worker, reason=reason)
        except IntegrityError:  # blocked by a concurrent request
            return WorkerBlock.objects.get(requester=requester, worker=worker)
        # The worker is told that a requester blocked them, not which one: the event's readers are the requester's.
        record_event(
            type="worker.blocked",
            actor=Actor.of(requester),
            subject=("worker", worker.public_id),
            audience=[requester.pk],
            data={"worker_id": worker.public_id, "reason": reason},
        )
    return block


def worker_unblock(*, requester: User, worker_id: str) -> None:
    worker = worker_get(worker_id=worker_id)
    with transaction.atomic():
        deleted, _ = WorkerBlock.objects.filter(requester=requester, worker=worker).delete()
        if deleted:
            record_event(
                type="worker.unblocked",
                actor=Actor.of(requester),
                subject=("worker", worker.public_id),
                audience=[requester.pk],
                data={"worker_id": worker.public_id},
            )
