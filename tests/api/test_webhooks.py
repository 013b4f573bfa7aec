"""Webhooks: signed POSTs of events to a requester's endpoints, retried with backoff, under the SSRF guard."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import DeliveryStatus, WebhookDelivery
from api.webhooks import webhook_deliver, webhook_deliveries_due, webhook_endpoint_create, webhook_endpoint_delete
from core.errors import InvalidInput
from payments import deposits
from payments.lightning import get_backend
from tasks import services as task_services
from tests.api.conftest import deliver_all
from tests.factories import make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def test_an_approval_is_delivered_signed_with_the_endpoints_secret(receiver):
    job = make_job(tasks=2)
    endpoint = webhook_endpoint_create(user=job.requester, url=receiver.url)
    submitted = make_submitted_assignment(job=job)
    task_services.assignment_review(assignment=submitted, reviewer=job.requester, approve=True)

    delivered = deliver_all()

    assert [delivery.event.type for delivery in delivered] == ["assignment.submitted", "assignment.approved"]
    assert all(delivery.status == DeliveryStatus.DELIVERED for delivery in delivered)
    request = receiver.requests[-1]
    payload = json.loads(request["body"])
    assert payload["type"] == "assignment.approved"
    assert payload["data"]["assignment_id"] == submitted.public_id
    timestamp, signature = (part.split("=", 1)[1] for part in request["headers"]["Boltwork-Signature"].split(","))
    expected = hmac.new(endpoint.secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256)
    assert hmac.compare_digest(signature, expected.hexdigest())


def test_job_completed_and_rejected_events(receiver):
    job = make_job(tasks=1)
    webhook_endpoint_create(user=job.requester, url=receiver.url)
    first = make_submitted_assignment(job=job)
    task_services.assignment_review(assignment=first, reviewer=job.requester, approve=False, feedback="No.")
    second = make_submitted_assignment(job=job)
    task_services.assignment_review(assignment=second, reviewer=job.requester, approve=True)

    deliver_all()

    events = [json.loads(request["body"])["type"] for request in receiver.requests]
    assert events == [
        "assignment.submitted",
        "assignment.rejected",
        "assignment.submitted",
        "assignment.approved",
        "job.completed",
    ]


def test_a_paid_deposit_is_an_event(receiver):
    requester = make_user()
    webhook_endpoint_create(user=requester, url=receiver.url)
    deposit = deposits.deposit_create(user=requester, amount_msat=21_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
    deposits.deposit_refresh(deposit=deposit)

    deliver_all()

    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "deposit.paid"
    assert payload["data"]["amount_msat"] == 21_000


def test_failures_are_retried_with_backoff_and_given_up_after_a_day(receiver):
    job = make_job(tasks=1)
    webhook_endpoint_create(user=job.requester, url=receiver.url)
    make_submitted_assignment(job=job)
    receiver.status = 500

    (delivery,) = deliver_all()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert webhook_deliveries_due() == []  # not due again until the backoff passes

    retried = webhook_deliver(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=2))
    assert (retried.status, retried.attempts) == (DeliveryStatus.PENDING, 2)

    receiver.status = 204
    later = webhook_deliver(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=10))
    assert later.status == DeliveryStatus.DELIVERED

    receiver.status = 500
    make_submitted_assignment(job=make_job(requester=job.requester, tasks=1))
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    (given_up,) = deliver_all()
    assert given_up.status == DeliveryStatus.FAILED


def test_only_the_jobs_endpoints_and_live_ones_get_events(receiver):
    requester = make_user()
    watched, other = make_job(requester=requester, tasks=1), make_job(requester=requester, tasks=1)
    webhook_endpoint_create(user=requester, url=receiver.url, job=watched)
    removed = webhook_endpoint_create(user=requester, url=receiver.url + "/removed")
    webhook_endpoint_delete(user=requester, endpoint_id=removed.pk)

    make_submitted_assignment(job=other)
    make_submitted_assignment(job=watched)
    deliver_all()

    assert [json.loads(request["body"])["data"]["job_id"] for request in receiver.requests] == [watched.public_id]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://hooks.example.com/x", id="plain-http"),
        pytest.param("ftp://hooks.example.com/x", id="not-web"),
        pytest.param("https://user:pass@hooks.example.com/x", id="credentials"),
        pytest.param("not a url", id="garbage"),
    ],
)
def test_unsafe_endpoint_urls_are_refused(url):
    with pytest.raises(InvalidInput):
        webhook_endpoint_create(user=make_user(), url=url)


def test_an_endpoint_resolving_to_a_private_address_is_never_called(monkeypatch):
    import socket

    def resolve_to_private(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    job = make_job(tasks=1)
    webhook_endpoint_create(user=job.requester, url="https://hooks.internal.example/x")
    make_submitted_assignment(job=job)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_to_private)

    (delivery,) = deliver_all()

    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code is None
    # Refused, without telling the requester what our DNS says about the name (issue 7.8).
    assert delivery.last_error == "the address hooks.internal.example is not allowed"
