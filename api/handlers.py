"""What the api app does when domain events happen: it is the webhook consumer (subscribed in ApiConfig.ready)."""

from api import background, webhooks
from api.models import WebhookEvent
from core.events import subscribe, subscribe_recorder
from core.models import Event


def send_webhook_deliveries(event: Event) -> None:
    for delivery_id in webhooks.webhook_deliveries_of(event):
        background.enqueue_webhook_delivery(delivery_id)


def connect() -> None:
    for event_type in WebhookEvent.values:
        subscribe_recorder(event_type, webhooks.webhook_deliveries_record)
        subscribe(event_type, send_webhook_deliveries)
