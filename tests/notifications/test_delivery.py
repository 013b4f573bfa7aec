"""How notifications are delivered: after the commit only, once per event, as each user chose, and by email through
a background job that the sweeper backs up."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from core.models import Event
from notifications import background, handlers, services
from notifications.models import EmailState, Notification, NotificationKind, NotificationPreference
from tasks.services import assignment_review
from tests.factories import make_job, make_submitted_assignment
from tests.notifications.conftest import notifications_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(requester, worker):
    return make_submitted_assignment(job=make_job(requester=requester, tasks=2), worker=worker)


def approve(assignment, requester):
    return assignment_review(assignment=assignment, reviewer=requester, approve=True)


def approve_then_fail(assignment, requester) -> None:
    with transaction.atomic():
        approve(assignment, requester)
        raise RuntimeError("something later in the same transaction failed")


# After the commit, once ------------------------------------------------------------------------------------------


def test_nothing_is_told_or_emailed_before_the_change_commits(committed, submitted, requester, worker):
    with committed(), transaction.atomic():
        approve(submitted, requester)
        assert notifications_of(worker) == []
        assert mail.outbox == []

    assert len(notifications_of(worker)) == 1
    assert [email.to for email in mail.outbox] == [[worker.email]]


def test_nothing_is_told_or_emailed_when_the_change_rolls_back(committed, submitted, requester, worker):
    with committed(), pytest.raises(RuntimeError, match="later in the same transaction"):
        approve_then_fail(submitted, requester)

    assert notifications_of(worker) == []
    assert mail.outbox == []


def test_a_handler_run_again_for_the_same_event_tells_nobody_twice(committed, submitted, requester, worker):
    with committed():
        approve(submitted, requester)
    event = Event.objects.get(type="assignment.approved")

    handlers.notify(event)  # a second delivery of the same event

    assert len(notifications_of(worker)) == 1
    assert len(mail.outbox) == 1


def test_the_database_refuses_a_second_notification_for_the_same_event(committed, submitted, requester, worker):
    with committed():
        approve(submitted, requester)
    first = Notification.objects.get(user=worker)
    first.pk = None
    first.public_id = "X" * 30

    with pytest.raises(Exception, match="notification_once_per_event"), transaction.atomic():
        first.save()


# Preferences -----------------------------------------------------------------------------------------------------


def test_a_kind_switched_off_in_the_site_is_still_emailed_but_never_shown(committed, submitted, requester, worker):
    services.notification_preferences_set(user=worker, choices={NotificationKind.WORK_APPROVED: (False, True)})

    with committed():
        approve(submitted, requester)

    [notification] = notifications_of(worker)
    assert notification.in_app is False
    assert notification.email_state == EmailState.SENT
    assert len(mail.outbox) == 1


def test_a_kind_switched_off_by_email_is_shown_but_not_emailed(committed, submitted, requester, worker):
    services.notification_preferences_set(user=worker, choices={NotificationKind.WORK_APPROVED: (True, False)})

    with committed():
        approve(submitted, requester)

    [notification] = notifications_of(worker)
    assert notification.in_app is True
    assert notification.email_state == EmailState.NOT_WANTED
    assert mail.outbox == []


def test_a_kind_switched_off_everywhere_makes_nothing_and_other_kinds_still_come(committed, requester, worker):
    services.notification_preferences_set(user=worker, choices={NotificationKind.WORK_APPROVED: (False, False)})
    job = make_job(requester=requester, tasks=3)
    approved, rejected = (make_submitted_assignment(job=job, worker=None) for _ in range(2))
    mine = make_submitted_assignment(job=job, worker=worker)

    with committed():
        approve(mine, requester)
        approve(approved, requester)
        assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="No.")

    assert notifications_of(worker) == []
    assert worker.email not in [address for email in mail.outbox for address in email.to]
    assert Notification.objects.filter(kind=NotificationKind.WORK_REJECTED).count() == 1


def test_preferences_equal_to_the_default_keep_no_row(worker):
    services.notification_preferences_set(user=worker, choices={NotificationKind.BONUS_RECEIVED: (True, False)})
    assert NotificationPreference.objects.filter(user=worker).count() == 1

    services.notification_preferences_set(user=worker, choices={NotificationKind.BONUS_RECEIVED: (True, True)})

    assert NotificationPreference.objects.filter(user=worker).count() == 0


def test_a_user_without_an_email_address_is_told_in_the_site_only(committed, submitted, requester, worker):
    worker.email = ""
    worker.save(update_fields=["email"])

    with committed():
        approve(submitted, requester)

    [notification] = notifications_of(worker)
    assert notification.email_state == EmailState.NOT_WANTED
    assert mail.outbox == []


# Email: the job, the sweeper, a mail server that refuses ---------------------------------------------------------


@pytest.fixture
def pending_email(committed, submitted, requester, worker, background_jobs_run_at_once, monkeypatch):
    """A notification whose email job was enqueued but never ran (its message was lost)."""
    monkeypatch.setattr(background, "enqueue_notification_email", lambda notification_id: None)
    with committed():
        approve(submitted, requester)
    monkeypatch.undo()
    [notification] = notifications_of(worker)
    assert notification.email_state == EmailState.PENDING
    return notification


def test_the_sweeper_sends_an_email_whose_job_was_lost_once_it_is_due(pending_email, worker):
    assert background.send_due_notification_emails() == 0  # not due yet: its job may still be on its way
    assert mail.outbox == []
    Notification.objects.filter(pk=pending_email.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    assert background.send_due_notification_emails() == 1

    assert [email.to for email in mail.outbox] == [[worker.email]]
    pending_email.refresh_from_db()
    assert pending_email.email_state == EmailState.SENT
    assert pending_email.emailed_at is not None
    assert background.send_due_notification_emails() == 0
    services.notification_email_send(notification_id=pending_email.pk)  # a job delivered twice
    assert len(mail.outbox) == 1


@pytest.fixture
def refusing_mail_server(settings):
    """Django's real SMTP backend, pointed at a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 5


def test_an_email_the_mail_server_refuses_is_tried_again_then_given_up(pending_email, refusing_mail_server):
    for attempt in range(1, services.MAX_EMAIL_ATTEMPTS):
        services.notification_email_send(notification_id=pending_email.pk)
        pending_email.refresh_from_db()
        assert (pending_email.email_state, pending_email.email_attempts) == (EmailState.PENDING, attempt)

    services.notification_email_send(notification_id=pending_email.pk)

    pending_email.refresh_from_db()
    assert pending_email.email_state == EmailState.FAILED
    assert pending_email.email_attempts == services.MAX_EMAIL_ATTEMPTS
    later = timezone.now() + timedelta(hours=1)
    assert services.notification_emails_due(now=later) == []
