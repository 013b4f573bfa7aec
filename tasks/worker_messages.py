"""A requester's message to workers who did work for them (Mechanical Turk's NotifyWorkers, issue 13).

The message is an event ("requester.message") that the notifications app turns into one notification per worker, in
the site and by email as each worker's settings say. Only workers who took at least one of the requester's tasks can
be reached, as on Mechanical Turk: a requester cannot write to the whole worker base.
"""

from django.db import transaction

from core.errors import InvalidInput
from core.events import Actor, record_event
from core.ids import is_worker_id
from marketplace.models import User
from tasks.models import Assignment

MAX_WORKERS = 100  # Mechanical Turk's limit per call
MAX_SUBJECT_CHARS = 200
MAX_MESSAGE_CHARS = 4_096
NOT_A_WORKER_OF_YOURS = "No worker with this id has worked on your tasks."


def workers_message(*, requester: User, worker_ids: list[str], subject: str, message: str) -> dict[str, str]:
    """Send `subject` and `message` to each worker of `worker_ids` who has taken a task of the requester's (live
    or sandbox). Returns the workers not reached, by worker id, with the reason; the others are told once the
    transaction commits. Raises InvalidInput, sending nothing, when the subject, the message or the list is wrong."""
    subject, message = (subject or "").strip(), (message or "").strip()
    if not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidInput(f"The subject must be 1 to {MAX_SUBJECT_CHARS} characters.")
    if not message or len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"The message must be 1 to {MAX_MESSAGE_CHARS:,} characters.")
    if "\x00" in subject + message:
        raise InvalidInput("The subject or message holds a character that is not text.")
    unique_ids = list(dict.fromkeys(worker_ids))
    if not unique_ids or len(unique_ids) > MAX_WORKERS:
        raise InvalidInput(f"Name 1 to {MAX_WORKERS} workers.")
    # Only ids of a worker's shape are looked up: anything else (a NUL, half a surrogate pair) cannot be one.
    candidates = [worker_id for worker_id in unique_ids if is_worker_id(worker_id)]
    known = dict(User.objects.filter(public_id__in=candidates).values_list("public_id", "pk"))
    worked = set(
        Assignment.objects.filter(job__requester=requester, worker_id__in=list(known.values()))
        .values_list("worker_id", flat=True)
        .distinct()
    )
    reached = [worker_id for worker_id in unique_ids if known.get(worker_id) in worked]
    failures = {worker_id: NOT_A_WORKER_OF_YOURS for worker_id in unique_ids if worker_id not in reached}
    if reached:
        with transaction.atomic():
            record_event(
                type="requester.message",
                actor=Actor.of(requester),
                subject=("user", requester.public_id),
                audience=[requester.pk, *(known[worker_id] for worker_id in reached)],
                data={"subject": subject, "message": message, "worker_ids": reached},
            )
    return failures
