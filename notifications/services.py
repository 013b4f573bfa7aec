"""Every change to notifications: telling people (from events, after they committed), marking read, preferences,
and sending the emails."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from smtplib import SMTPException

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.ids import is_public_id
from core.models import Event
from notifications.messages import Draft
from notifications.models import EmailState, Notification, NotificationKind, NotificationPreference
from notifications.selectors import preferences_of_users

logger = logging.getLogger(__name__)

# An email is tried this many times (its job, then the sweeper) before it is given up as failed.
MAX_EMAIL_ATTEMPTS = 5
# The sweeper sends emails still pending this long after they were made: their job's message was lost, or the
# mail server refused them for a while.
EMAIL_RETRY_AFTER = timedelta(minutes=5)


# Telling people --------------------------------------------------------------------------------------------------


def notifications_deliver(*, event: Event, drafts: Iterable[Draft]) -> list[Notification]:
    """Make the notifications an event's drafts describe, as each recipient's preferences say, and return the new
    ones (whose emails the caller enqueues).

    Idempotent: one notification per event and recipient (and one "funds running out" per job), refused by the
    database's unique constraints, so a handler run twice tells nobody twice. A recipient who switched the kind off
    both in the site and by email gets no row at all; a draft that may not be emailed (`Draft.email`) is not,
    whatever the settings say. Call after the event's transaction committed: never inside
    a service's transaction.
    """
    drafts = list(drafts)
    if not drafts:
        return []
    user_ids = {draft.user_id for draft in drafts}
    choices = preferences_of_users(user_ids)
    emails = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "email"))
    created = []
    for draft in drafts:
        in_app, email = choices[draft.user_id][draft.kind]
        email = email and draft.email and bool(emails.get(draft.user_id))
        if not (in_app or email):
            continue
        notification = Notification(
            user_id=draft.user_id,
            event=event,
            kind=draft.kind,
            subject_id=draft.subject_id,
            title=draft.title[:300],
            body=draft.body,
            link=draft.link,
            in_app=in_app,
            email_state=EmailState.PENDING if email else EmailState.NOT_WANTED,
        )
        try:
            with transaction.atomic():
                notification.save()
        except IntegrityError:
            continue  # told already (the same event handled again, or this job's funds were said to run low)
        created.append(notification)
    return created


# Reading ---------------------------------------------------------------------------------------------------------


def notification_mark_read(*, user: AbstractUser, notification_id: str, now: datetime | None = None) -> Notification:
    """Mark one of the user's notifications read. Idempotent: the first reading time stays."""
    notification = None
    if is_public_id(notification_id):
        notification = Notification.objects.filter(public_id=notification_id, user=user, in_app=True).first()
    if notification is None:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        now = now or timezone.now()
        # Conditional, so two tabs opening it at once keep one reading time.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: AbstractUser, now: datetime | None = None) -> int:
    """Mark every unread notification of the user read; returns how many were unread."""
    return Notification.objects.filter(user=user, in_app=True, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


# Preferences -----------------------------------------------------------------------------------------------------


def notification_preferences_set(*, user: AbstractUser, choices: dict[str, tuple[bool, bool]]) -> None:
    """Save the user's (in the site, by email) choice for each kind given. A choice equal to the default (both on)
    keeps no row: no row means the default, so a kind added later starts on for everyone."""
    unknown = set(choices) - set(NotificationKind.values)
    if unknown:
        raise InvalidInput("Unknown kinds of notification: " + ", ".join(sorted(unknown)) + ".")
    with transaction.atomic():
        defaults = [kind for kind, (in_app, email) in choices.items() if in_app and email]
        NotificationPreference.objects.filter(user=user, kind__in=defaults).delete()
        for kind, (in_app, email) in sorted(choices.items()):
            if kind not in defaults:
                NotificationPreference.objects.update_or_create(
                    user=user, kind=kind, defaults={"in_app": in_app, "email": email}
                )


# Email -----------------------------------------------------------------------------------------------------------


def notification_email_send(*, notification_id: int) -> Notification | None:
    """Send a notification's email if it is still pending. No transaction is open while the mail server is called.

    At least once: the email is marked sent after the server accepted it, so a process that dies in between sends it
    again later. A refusal of the server counts an attempt; after MAX_EMAIL_ATTEMPTS it is given up as failed.
    """
    notification = (
        Notification.objects.select_related("user").filter(pk=notification_id, email_state=EmailState.PENDING).first()
    )
    if notification is None:
        return None  # sent already, or never wanted
    user = notification.user
    if not user.email:
        Notification.objects.filter(pk=notification.pk).update(email_state=EmailState.NOT_WANTED)
        return notification
    context = {
        "notification": notification,
        "user": user,
        "link_url": settings.SITE_URL + notification.link,
        "settings_url": settings.SITE_URL + reverse("notification_settings"),
        "kind_label": NotificationKind(notification.kind).label,
    }
    body = render_to_string("notifications/email.txt", context)
    try:
        send_mail(f"Boltwork: {notification.title}", body, None, [user.email])
    except (SMTPException, OSError) as error:
        attempts = notification.email_attempts + 1
        state = EmailState.FAILED if attempts >= MAX_EMAIL_ATTEMPTS else EmailState.PENDING
        Notification.objects.filter(pk=notification.pk, email_state=EmailState.PENDING).update(
            email_attempts=attempts, email_state=state
        )
        logger.warning("Email of notification %s failed (attempt %s): %s", notification.pk, attempts, error)
        return notification
    Notification.objects.filter(pk=notification.pk, email_state=EmailState.PENDING).update(
        email_state=EmailState.SENT, emailed_at=timezone.now(), email_attempts=notification.email_attempts + 1
    )
    return notification


def notification_emails_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Emails still pending a while after they were made (a lost job, a mail server that refused): for the
    sweeper."""
    cutoff = (now or timezone.now()) - EMAIL_RETRY_AFTER
    due = Notification.objects.filter(email_state=EmailState.PENDING, created_at__lte=cutoff).order_by("created_at")
    return list(due.values_list("pk", flat=True)[:limit])
