"""Webhooks: events POSTed to a requester's https endpoints, signed, retried with backoff for a day.

Webhooks are a consumer of the domain events (core.events): for each event of a webhook type, one delivery row per
matching endpoint is written in the same transaction as the change (`webhook_deliveries_record`), and sent by a
Celery job after that commits (api/handlers.py); the sweeper re-sends what is due, so a lost message only delays it.
Signature header: `Boltwork-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
"""

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from api.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from core.errors import InvalidInput, NotFound
from core.faults import kill_point
from core.models import Event
from core.safe_http import FetchFailed, UnsafeUrl, check_url_policy, safe_post
from marketplace.models import Job, User
from payments.host_limits import webhook_host_slot
from payments.models import Deposit

MAX_ENDPOINTS_PER_USER = 20
GIVE_UP_AFTER = timedelta(days=1)
# Finished deliveries (delivered, given up, cancelled) are kept this long after their event, then deleted; the
# events themselves stay, in the audit log.
DELIVERY_RETENTION = timedelta(days=30)
FINISHED_DELIVERY_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
PRUNE_BATCH_SIZE = 5_000


def webhook_endpoint_create(*, user: User, url: str, job: Job | None = None) -> WebhookEndpoint:
    """Register an https URL for events of one job (or all the user's jobs). The secret is returned on the row."""
    url = url.strip()
    try:
        check_url_policy(url)
    except UnsafeUrl as error:
        raise InvalidInput(f"That URL cannot receive webhooks: {error}") from None
    if job is not None and job.requester_id != user.pk:
        raise NotFound("No such job.")
    if WebhookEndpoint.objects.filter(user=user, deleted_at__isnull=True).count() >= MAX_ENDPOINTS_PER_USER:
        raise InvalidInput(f"At most {MAX_ENDPOINTS_PER_USER} webhook endpoints.")
    return WebhookEndpoint.objects.create(user=user, job=job, url=url, secret=secrets.token_hex(32))


def webhook_endpoint_delete(*, user: User, endpoint_id: int) -> None:
    """Remove an endpoint and cancel its undelivered events, which carry workers' answers: nothing more is sent to
    its URL. A delivery queued or emitted concurrently is caught by webhook_deliver's check under its row lock."""
    with transaction.atomic():
        updated = WebhookEndpoint.objects.filter(pk=endpoint_id, user=user, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        if not updated:
            raise NotFound("No such webhook endpoint.")
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED
        )


def webhook_deliveries_record(event: Event) -> None:
    """The webhook consumer of events (subscribed in ApiConfig.ready as a recorder): one delivery per live endpoint
    of the subject's owner that covers its job, written in the event's transaction and sent after it commits."""
    if event.type == WebhookEvent.DEPOSIT_PAID:
        payer = Deposit.objects.filter(public_id=event.data["deposit_id"]).values("user_id")
        endpoints = WebhookEndpoint.objects.filter(user_id=Subquery(payer), job__isnull=True)
    else:
        job_public_id = event.data["job_id"]
        requester = Job.objects.filter(public_id=job_public_id).values("requester_id")
        endpoints = WebhookEndpoint.objects.filter(user_id=Subquery(requester)).filter(
            Q(job__isnull=True) | Q(job__public_id=job_public_id)
        )
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=now)
        for endpoint in endpoints.filter(deleted_at__isnull=True)
    )


def webhook_deliveries_of(event: Event) -> list[int]:
    return list(WebhookDelivery.objects.filter(event=event, status=DeliveryStatus.PENDING).values_list("pk", flat=True))


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int) -> timedelta:
    """1 min, 2, 4, … capped at an hour: about 28 tries in a day."""
    return timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Send one delivery if it is due. A 2xx answer delivers it; anything else is retried with backoff until a day
    after the event, then given up. Safe to run twice: the row is claimed under a lock before the POST."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(no_key=True, of=("self", "endpoint"))
            .select_related("endpoint", "event")
            .get(pk=delivery_id)
        )
        if delivery.status == DeliveryStatus.PENDING and delivery.endpoint.deleted_at is not None:
            # Deleted after this was queued (or while it was emitted): answers never go to a removed URL.
            delivery.status = DeliveryStatus.CANCELLED
            delivery.save(update_fields=["status"])
            return delivery
        if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
            return delivery
        slot = webhook_host_slot(delivery.endpoint.url)
        if slot is None:
            # Another delivery to this host is under way (it may be slow): try shortly, spending no attempt.
            delivery.next_attempt_at = now + timedelta(seconds=settings.LNURL_HOST_BUSY_RETRY_SECONDS)
            delivery.save(update_fields=["next_attempt_at"])
            return delivery
        delivery.attempts += 1
        # Claim this attempt: a concurrent run sees it not due until the retry time.
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    body = json.dumps(delivery.body(), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Boltwork-Event": delivery.event.type,
        "Boltwork-Delivery": str(delivery.pk),
        "Boltwork-Signature": signature_header(
            secret=delivery.endpoint.secret, body=body, timestamp=int(now.timestamp())
        ),
    }
    status_code, error = None, ""
    try:
        with slot:
            kill_point("webhook.sending")  # the attempt is claimed and counted, and nothing was sent
            status_code = safe_post(delivery.endpoint.url, body=body, headers=headers)
            kill_point("webhook.answered_not_recorded")  # the endpoint answered, and nothing here knows it
    except (UnsafeUrl, FetchFailed) as failure:
        error = str(failure)
    return _record_attempt(delivery_id=delivery.pk, status_code=status_code, error=error, now=now)


def _record_attempt(*, delivery_id: int, status_code: int | None, error: str, now: datetime) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery_id)
        delivery.last_status_code = status_code
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = ""
        else:
            delivery.last_error = error or f"The endpoint answered HTTP {status_code}."
            if delivery.status == DeliveryStatus.PENDING and delivery.created_at + GIVE_UP_AFTER <= now:
                delivery.status = DeliveryStatus.FAILED
        delivery.save()
    return delivery


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def webhook_deliveries_prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete finished deliveries (delivered, failed, cancelled) created more than DELIVERY_RETENTION ago; pending
    ones are never deleted, however old (no status leads back to pending). Only the delivery rows go: the events
    they pointed at are the audit log. One short statement per batch, so it may be stopped anywhere; safe to run
    twice at once. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - DELIVERY_RETENTION
    old = WebhookDelivery.objects.filter(status__in=FINISHED_DELIVERY_STATUSES, created_at__lt=cutoff)
    deleted = 0
    while True:
        batch = Subquery(old.order_by().values("pk")[:batch_size])
        count, _ = old.filter(pk__in=batch).delete()
        deleted += count
        if count < batch_size:
            return deleted
