"""Celery jobs of the notifications app: thin wrappers that take primary keys and call notifications.services.

Emails go on Celery's default queue: the mail server is the platform's own, not an address users type, so it needs
no queue of its own (settings.CELERY_TASK_ROUTES). The sweeper sends what a lost message or a refusing mail server
left pending.
"""

from celery import shared_task

from notifications import services

# One SMTP conversation and two small queries.
EMAIL_SOFT_TIME_LIMIT = 60
EMAIL_TIME_LIMIT = 90


@shared_task(acks_late=True, soft_time_limit=EMAIL_SOFT_TIME_LIMIT, time_limit=EMAIL_TIME_LIMIT)
def send_notification_email(notification_id: int) -> None:
    services.notification_email_send(notification_id=notification_id)


def enqueue_notification_email(notification_id: int) -> None:
    """The one way a notification's email is sent: by the event handler, once the notification exists."""
    send_notification_email.delay(notification_id)


@shared_task
def send_due_notification_emails() -> int:
    """Sweeper: emails still pending a while after their notification was made."""
    due = services.notification_emails_due()
    for notification_id in due:
        enqueue_notification_email(notification_id)
    return len(due)
