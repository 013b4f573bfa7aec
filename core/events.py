"""Domain events: services record what happened; handlers do the rest once it is committed.

A service calls `record_event` inside its own transaction, so the event exists exactly when the change does. The
handlers subscribed to its type (webhooks, the payout trigger, notifications, …) run after that transaction
commits, each on its own: one that fails is logged and does not undo the change or stop the others. Handlers are
subscribed by the app that owns them, in its `AppConfig.ready()`, so a service never imports what reacts to it.
Work a handler starts must survive a lost message: the database stays the queue of record, and the sweepers
redo what a handler missed.

    record_event(type="assignment.approved", actor=Actor.of(reviewer), subject=("assignment", assignment.public_id),
                 audience=[job.requester_id, assignment.worker_id], data={...})
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.db import transaction

from core.models import ActorKind, Event, EventAudience

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
_recorders: dict[str, list[Handler]] = defaultdict(list)


@dataclass(frozen=True)
class Actor:
    """Who made something happen: a user, a moderator acting as one, or the system by one of its rules."""

    kind: str
    user_id: int | None = None
    rule: str = ""

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(kind=ActorKind.USER, user_id=user.pk)

    @classmethod
    def user_or_system(cls, user, *, rule: str) -> "Actor":
        """The user who acted, or, when there is none, the system by `rule` (services take `actor=None` for that)."""
        return cls.of(user) if user is not None else cls.system(rule)

    @classmethod
    def moderator(cls, user) -> "Actor":
        return cls(kind=ActorKind.MODERATOR, user_id=user.pk)

    @classmethod
    def system(cls, rule: str) -> "Actor":
        return cls(kind=ActorKind.SYSTEM, rule=rule)


def subscribe(event_type: str, handler: Handler) -> None:
    """Run `handler(event)` after each committed event of `event_type`. Call from an `AppConfig.ready()`."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def subscribe_recorder(event_type: str, recorder: Handler) -> None:
    """Run `recorder(event)` inside the event's own transaction, for a consumer that writes rows which must exist
    exactly when the event does (webhook deliveries: a crash after the commit must not lose them). Its failure
    undoes the change, so a recorder only writes rows; anything slow or outside happens after the commit."""
    if recorder not in _recorders[event_type]:
        _recorders[event_type].append(recorder)


def record_event(
    *,
    type: str,
    actor: Actor,
    subject: tuple[str, object],
    audience: Iterable[int | None] = (),
    data: dict | None = None,
) -> Event:
    """Write the event (and who may read it) in the caller's transaction; its handlers run once that commits."""
    subject_type, subject_id = subject
    event = Event.objects.create(
        type=type,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        rule=actor.rule,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=data or {},
    )
    readers = sorted({user_id for user_id in audience if user_id is not None})
    EventAudience.objects.bulk_create(EventAudience(event=event, user_id=user_id) for user_id in readers)
    for recorder in _recorders.get(type, ()):
        recorder(event)
    for handler in _handlers.get(type, ()):
        transaction.on_commit(partial(_run, handler, event))
    return event


def _run(handler: Handler, event: Event) -> None:
    try:
        handler(event)
    except Exception:
        logger.exception("Handler %s failed for event %s (%s)", getattr(handler, "__name__", handler), event.pk, event)
