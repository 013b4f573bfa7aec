"""What the notifications app does when domain events happen (subscribed in NotificationsConfig.ready): tell the
people concerned, in the site and, through a background job, by email. Each runs after the event's transaction
committed, never inside it."""

from core.events import subscribe
from core.models import Event
from notifications import background, services
from notifications.messages import MESSAGES, drafts_for
from notifications.models import EmailState


def notify(event: Event) -> None:
    for notification in services.notifications_deliver(event=event, drafts=drafts_for(event)):
        if notification.email_state == EmailState.PENDING:
            background.enqueue_notification_email(notification.pk)


def connect() -> None:
    for event_type in MESSAGES:
        subscribe(event_type, notify)
