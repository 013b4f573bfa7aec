"""Celery jobs for webhooks: thin wrappers around api.webhooks."""

from celery import shared_task

from api import webhooks


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> None:
    webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Sweeper: retries that are due, and deliveries whose message was lost."""
    due = webhooks.webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
