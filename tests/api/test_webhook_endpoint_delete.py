"""Deleting a webhook endpoint stops every delivery to it: the pending ones are cancelled, and a delivery already
queued (or emitted while the endpoint was being deleted) is checked again under its row lock and never POSTed."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from api import background
from api.models import DeliveryStatus, WebhookDelivery
from api.webhooks import (
    webhook_deliver,
    webhook_deliveries_due,
    webhook_endpoint_create,
    webhook_endpoint_delete,
)
from core.events import Actor, record_event
from tests.api.conftest import deliver_all
from tests.factories import make_job, make_submitted_assignment

TIMEOUT_SECONDS = 30


@pytest.mark.django_db
def test_deleting_an_endpoint_cancels_its_pending_deliveries(receiver, requester_client, requester):
    job = make_job(requester=requester, tasks=2)
    endpoint = webhook_endpoint_create(user=requester, url=receiver.url)
    make_submitted_assignment(job=job)
    (delivered,) = deliver_all()
    receiver.status = 500
    make_submitted_assignment(job=job)
    (failing,) = deliver_all()
    assert (delivered.status, failing.status, len(receiver.requests)) == ("delivered", "pending", 2)

    response = requester_client.post(reverse("webhook_endpoint_delete", args=[endpoint.pk]))
    assert response.status_code == 302

    # Not at the next retry, nor any later one in the day: the worker's answer never goes to the removed URL again.
    later = timezone.now() + timedelta(hours=2)
    assert webhook_deliveries_due(now=later) == []
    assert webhook_deliver(delivery_id=failing.pk, now=later).status == DeliveryStatus.CANCELLED
    assert len(receiver.requests) == 2
    delivered.refresh_from_db()
    assert delivered.status == DeliveryStatus.DELIVERED  # what was already delivered keeps its record

    page = requester_client.get(reverse("api_settings")).content.decode()
    assert '<span class="badge badge-cancelled">Cancelled</span>' in page


@pytest.mark.django_db(transaction=True)
def test_a_delivery_emitted_while_its_endpoint_is_deleted_is_never_sent(receiver, requester, monkeypatch):
    """An event committed just after the delete (its row was invisible to the delete's cancelling UPDATE) is still
    queued for delivery; the queued job must find the endpoint deleted and send nothing."""
    queued: list[int] = []
    monkeypatch.setattr(background.deliver_webhook, "delay", queued.append)  # the Celery job, run by hand below
    job = make_job(requester=requester, tasks=1)
    endpoint = webhook_endpoint_create(user=requester, url=receiver.url)
    emitted, deleted = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def emit_in_an_open_transaction() -> None:
        try:
            with transaction.atomic():
                record_event(
                    type="job.completed",
                    actor=Actor.system("test"),
                    subject=("job", job.pk),
                    audience=[requester.pk],
                    data={"job_id": job.public_id},
                )
                emitted.set()
                assert deleted.wait(TIMEOUT_SECONDS)
        except Exception as error:  # noqa: BLE001 - handed back to the test, which asserts on it
            failures.append(error)
            emitted.set()
        finally:
            connection.close()

    thread = threading.Thread(target=emit_in_an_open_transaction)
    thread.start()
    assert emitted.wait(TIMEOUT_SECONDS)
    webhook_endpoint_delete(user=requester, endpoint_id=endpoint.pk)
    deleted.set()
    thread.join(TIMEOUT_SECONDS)
    assert not thread.is_alive()
    assert failures == []

    assert len(queued) == 1
    delivery = webhook_deliver(delivery_id=queued[0])

    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.CANCELLED
    assert WebhookDelivery.objects.get(pk=queued[0]).status == DeliveryStatus.CANCELLED
    assert webhook_deliveries_due(now=timezone.now() + timedelta(hours=2)) == []
