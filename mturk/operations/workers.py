"""Workers: CreateWorkerBlock, DeleteWorkerBlock, ListWorkerBlocks, NotifyWorkers.

Blocks are Boltwork's own (marketplace.blocks), the same the requester makes on a worker's page: a blocked worker
sees none of the requester's jobs, live or sandbox. NotifyWorkers tells each worker in the site and by email
(tasks.worker_messages and the notifications app), only workers who took a task of the caller's.
"""

from marketplace.blocks import worker_block, worker_unblock
from marketplace.models import WorkerBlock
from mturk.protocol import Caller, RequestError, after_key, listing, page, page_size, text
from tasks import worker_messages

MAX_REASON_CHARS = 1_000


def _worker_id(params: dict) -> str:
    return text(params, "WorkerId", required=True, max_length=64)


def create_worker_block(caller: Caller, params: dict) -> dict:
    """Block a worker from the caller's jobs, with a reason (required, as on Mechanical Turk). Blocking again changes
    nothing (the first reason stays)."""
    worker_block(
        requester=caller.user,
        worker_id=_worker_id(params),
        reason=text(params, "Reason", required=True, max_length=MAX_REASON_CHARS),
    )
    return {}


def delete_worker_block(caller: Caller, params: dict) -> dict:
    """Unblock a worker; a worker who was not blocked stays so, and the call succeeds as on Mechanical Turk."""
    text(params, "Reason", max_length=MAX_REASON_CHARS)  # Mechanical Turk keeps it for the requester only
    worker_unblock(requester=caller.user, worker_id=_worker_id(params))
    return {}


def list_worker_blocks(caller: Caller, params: dict) -> dict:
    blocks = WorkerBlock.objects.filter(requester=caller.user).select_related("worker")
    scope = "ListWorkerBlocks"
    size = page_size(params)
    after = after_key(params, scope=scope)
    if after is not None:
        blocks = blocks.filter(pk__gt=after)
    rows, next_token = page(blocks.order_by("pk")[: size + 1], size=size, scope=scope, key=lambda block: block.pk)
    items = [{"WorkerId": block.worker.public_id, "Reason": block.reason} for block in rows]
    return listing(items, name="WorkerBlocks", next_token=next_token)


def notify_workers(caller: Caller, params: dict) -> dict:
    """Message up to 100 workers. A worker who cannot be reached (unknown, or never took a task of the caller's) is
    a HardFailure in the answer, as Mechanical Turk reports it; the others are told."""
    subject = text(params, "Subject", required=True, max_length=worker_messages.MAX_SUBJECT_CHARS)
    message = text(params, "MessageText", required=True, max_length=worker_messages.MAX_MESSAGE_CHARS)
    worker_ids = params.get("WorkerIds")
    if worker_ids is None:
        raise RequestError("Value null at 'WorkerIds' failed to satisfy constraint: Member must not be null")
    if not isinstance(worker_ids, list) or not all(isinstance(worker_id, str) for worker_id in worker_ids):
        raise RequestError("WorkerIds must be a list of worker ids.")
    if not 1 <= len(worker_ids) <= worker_messages.MAX_WORKERS:
        raise RequestError(f"WorkerIds must name 1 to {worker_messages.MAX_WORKERS} workers.")
    failures = worker_messages.workers_message(
        requester=caller.user, worker_ids=worker_ids, subject=subject, message=message
    )
    return {
        "NotifyWorkersFailureStatuses": [
            {"NotifyWorkersFailureCode": "HardFailure", "NotifyWorkersFailureMessage": reason, "WorkerId": worker_id}
            for worker_id, reason in failures.items()
        ]
    }


OPERATIONS = {
    "CreateWorkerBlock": create_worker_block,
    "DeleteWorkerBlock": delete_worker_block,
    "ListWorkerBlocks": list_worker_blocks,
    "NotifyWorkers": notify_workers,
}
