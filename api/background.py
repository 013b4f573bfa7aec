"""Celery jobs of the api app: thin wrappers around api.webhooks and api.services.

Deliveries run on the `webhooks` queue and the sweepers on `sweepers` (settings.CELERY_TASK_ROUTES), so a slow
endpoint delays neither payouts nor sweeps.
"""

from celery import shared_task
from django.conf import settings

from api import services, webhooks
from api.models import DeliveryStatus
from payments.host_limits import come_back_when_due

# One POST, ending by LNURL_TIMEOUT_SECONDS (DNS included), and a little database work. A delivery stopped at the
# soft limit was claimed first (its attempt counted, its retry time set), so the sweeper sends it again then.
DELIVERY_SOFT_TIME_LIMIT = round(settings.LNURL_TIMEOUT_SECONDS) + 30
DELIVERY_TIME_LIMIT = DELIVERY_SOFT_TIME_LIMIT + 30


@shared_task(acks_late=True, soft_time_limit=DELIVERY_SOFT_TIME_LIMIT, time_limit=DELIVERY_TIME_LIMIT)
def deliver_webhook(delivery_id: int) -> None:
    delivery = webhooks.webhook_deliver(delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        # Its endpoint's host was busy with another delivery: come back in a moment rather than at the next sweep.
        come_back_when_due(deliver_webhook, delivery_id, delivery.next_attempt_at)


def enqueue_webhook_delivery(delivery_id: int) -> None:
    """The one way a delivery is sent: called after the transaction that wrote it commits."""
    deliver_webhook.delay(delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Sweeper: retries that are due, and deliveries whose message was lost."""
    due = webhooks.webhook_deliveries_due()
    for delivery_id in due:
        enqueue_webhook_delivery(delivery_id)
    return len(due)


@shared_task
def prune_idempotency_records() -> int:
    """Sweeper: forget Idempotency-Keys older than a day."""
    return services.idempotency_records_prune()


@shared_task
def prune_webhook_deliveries() -> int:
    """Sweeper: delete finished webhook deliveries older than 30 days (their events stay)."""
    return webhooks.webhook_deliveries_prune()
