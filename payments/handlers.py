"""What payments do when domain events happen (subscribed in PaymentsConfig.ready): the payout trigger, and the
notice to a worker whose payout address changed. Each runs after the change commits; the sweepers redo what a
lost message missed."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.events import subscribe
from core.models import ActorKind, Event
from payments import background
from payments.models import Payout, PayoutKind


def _user_pk(public_id: str) -> int | None:
    """Events name people by their public ids (they are the audit log and the webhooks' payload)."""
    return get_user_model().objects.filter(public_id=public_id).values_list("pk", flat=True).first()


def start_payout(event: Event) -> None:
    """Money reached a worker's earnings (an approval, a bonus), or where they want it sent changed: pay out.

    Not for play money: a sandbox approval or bonus says so (`sandbox` in its data) and starts nothing. Whatever
    starts, a payout only ever reads the worker's real earnings (payments.payouts), so sandbox earnings are never
    paid out whichever event arrives."""
    if event.data.get("sandbox"):
        return
    worker_pk = _user_pk(event.data["worker_id"])
    if worker_pk is not None:
        background.enqueue_payout_start(worker_pk)


def send_next_payout(event: Event) -> None:
    """Rewards approved while a payout was under way wait in the balance: send them once it is paid."""
    if event.data["kind"] == PayoutKind.LNURL_PAY:
        worker_pk = _user_pk(event.data["worker_id"])
        if worker_pk is not None:
            background.enqueue_payout_start(worker_pk)


def advance_payout_if_due(event: Event) -> None:
    """A payout that is due now (started, redirected, retried by a moderator) gets its job at once; one that waits
    for its retry time is left to the sweeper."""
    if event.type == "payout.sending" and event.actor_kind != ActorKind.MODERATOR:
        return  # the job that moved it is paying it right now
    due_at = event.data.get("due_at")
    if due_at and datetime.fromisoformat(due_at) <= timezone.now():
        payout_pk = Payout.objects.filter(public_id=event.subject_id).values_list("pk", flat=True).first()
        if payout_pk is not None:
            background.enqueue_payout_advance(payout_pk)


def tell_owner_their_address_changed(event: Event) -> None:
    """A stolen session or API key that redirects payouts must not go unseen: the account's owner is emailed."""
    if not event.data["address_changed"]:
        return
    user = get_user_model().objects.filter(public_id=event.data["worker_id"]).first()
    if user is None or not user.email:
        return
    context = {
        "user": user,
        "old_address": event.data["old_address"],
        "new_address": event.data["new_address"],
        "changed_at": event.created_at,
        "settings_url": settings.SITE_URL + reverse("payout_settings"),
    }
    body = render_to_string("payments/email/payout_destination_changed.txt", context)
    send_mail("Your Boltwork payout address was changed", body, None, [user.email], fail_silently=True)


def connect() -> None:
    for event_type in ("assignment.approved", "bonus.paid", "payout_destination.changed"):
        subscribe(event_type, start_payout)
    subscribe("payout_destination.changed", tell_owner_their_address_changed)
    subscribe("payout.succeeded", send_next_payout)
    for event_type in ("payout.started", "payout.created", "payout.redirected", "payout.sending"):
        subscribe(event_type, advance_payout_if_due)
