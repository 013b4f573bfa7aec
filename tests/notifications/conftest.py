"""Notifications are made by event handlers after the event's transaction commits. The tests here run those
handlers (`django_capture_on_commit_callbacks(execute=True)`, or a transactional test), and background jobs at once,
so an email is in `mail.outbox` (pytest-django's locmem backend) when the change that caused it returns."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.events import Actor, record_event
from notifications.models import Notification, NotificationKind


@pytest.fixture(autouse=True)
def _background_jobs_run_at_once(background_jobs_run_at_once):
    """The email job runs in the handler that enqueues it."""


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what the block records as if its transaction committed: the event handlers."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def notifications_of(user, **filters) -> list[Notification]:
    return list(Notification.objects.filter(user=user, **filters).order_by("pk"))


def make_notifications(user, count: int, *, in_app: bool = True, link: str = "/work/") -> list[Notification]:
    """`count` notifications for `user`, oldest first, one a minute, each from an event of its own (as the handlers
    leave them; how events become notifications has tests of its own)."""
    start = timezone.now() - timedelta(minutes=count)
    made = []
    for number in range(count):
        event = record_event(type="test.happened", actor=Actor.system("a test"), subject=("thing", number))
        notification = Notification.objects.create(
            user=user,
            event=event,
            kind=NotificationKind.BONUS_RECEIVED,
            title=f"Notification number {number}",
            body=f"Body of number {number}.",
            link=link,
            in_app=in_app,
        )
        Notification.objects.filter(pk=notification.pk).update(created_at=start + timedelta(minutes=number))
        made.append(notification)
    return made
