"""The domain event record: written in the service's transaction, handlers after the commit, append-only in the
database, readable by the people whose objects it is about."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from core import events
from core.events import Actor, record_event
from core.models import ActorKind, Event, EventAudience
from payments.models import Payout, PayoutKind, PayoutState
from payments.payouts import payout_create, payout_retry_by_moderator
from tasks import services as task_services
from tests.factories import give_earnings, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_handlers(monkeypatch):
    """Subscriptions made by a test only."""
    monkeypatch.setattr(events, "_handlers", events.defaultdict(list))
    monkeypatch.setattr(events, "_recorders", events.defaultdict(list))


def some_event(**overrides) -> Event:
    arguments = {
        "type": "thing.happened",
        "actor": Actor.system("a test"),
        "subject": ("thing", 7),
        "audience": [],
        "data": {"n": 1},
    }
    arguments.update(overrides)
    return record_event(**arguments)


# Recording and handling -------------------------------------------------------------------------------------------


def test_an_event_records_who_did_what_to_what_and_who_may_read_it(requester, worker):
    event = some_event(actor=Actor.of(requester), audience=[requester.pk, worker.pk, None, worker.pk])

    event.refresh_from_db()
    assert (event.type, event.actor_kind, event.actor, event.subject_type, event.subject_id) == (
        "thing.happened",
        ActorKind.USER,
        requester,
        "thing",
        "7",
    )
    assert sorted(EventAudience.objects.filter(event=event).values_list("user_id", flat=True)) == sorted(
        [requester.pk, worker.pk]
    )


def test_handlers_run_after_the_commit_and_never_for_a_rolled_back_change(
    clean_handlers, django_capture_on_commit_callbacks
):
    seen: list[str] = []
    events.subscribe("thing.happened", lambda event: seen.append(event.subject_id))

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        some_event(subject=("thing", 1))
        assert seen == []  # not before the commit
    with django_capture_on_commit_callbacks(execute=True):
        fail_after_recording()

    assert seen == ["1"]
    assert not Event.objects.filter(subject_id="2").exists()


def fail_after_recording() -> None:
    with pytest.raises(RuntimeError):
        record_in_a_failing_change()


@transaction.atomic
def record_in_a_failing_change() -> None:
    some_event(subject=("thing", 2))
    raise RuntimeError("the change fails")


def test_a_failing_handler_is_logged_and_the_others_still_run(
    clean_handlers, django_capture_on_commit_callbacks, caplog
):
    seen: list[str] = []

    def broken(event):
        raise ValueError("boom")

    events.subscribe("thing.happened", broken)
    events.subscribe("thing.happened", lambda event: seen.append("second"))

    with django_capture_on_commit_callbacks(execute=True):
        some_event()

    assert seen == ["second"]
    assert "Handler broken failed" in caplog.text


def test_a_recorder_writes_in_the_events_transaction_and_its_failure_undoes_the_change(clean_handlers):
    def refuse(event):
        raise ValueError("the consumer could not record")

    events.subscribe_recorder("thing.happened", refuse)

    with pytest.raises(ValueError, match="could not record"), transaction.atomic():
        some_event()

    assert not Event.objects.exists()


# Append-only ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda: Event.objects.update(type="rewritten"),
        lambda: Event.objects.filter(audience__isnull=True).delete(),
        lambda: EventAudience.objects.all().delete(),
        lambda: EventAudience.objects.update(user=None),
    ],
    ids=["update", "delete", "delete-audience", "update-audience"],
)
def test_the_database_refuses_to_change_or_delete_events(requester, change):
    some_event(audience=[requester.pk])
    some_event()  # one without readers: deleting it meets no protected foreign key, only the database's refusal

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        change()

    assert set(Event.objects.values_list("type", flat=True)) == {"thing.happened"}
    assert Event.objects.count() == 2


def test_not_even_raw_sql_changes_an_event():
    event = some_event()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE core_event SET data = '{}' WHERE id = %s", [event.pk])


# What the services record ----------------------------------------------------------------------------------------


def types_of(subject_type: str, subject_id) -> list[str]:
    return list(
        Event.objects.filter(subject_type=subject_type, subject_id=str(subject_id))
        .values_list("type", flat=True)
        .order_by("id")
    )


def test_the_life_of_an_assignment_is_recorded_with_its_actors(requester, worker):
    job = make_job(requester=requester, tasks=2)
    assignment = make_submitted_assignment(job=job, worker=worker)
    task_services.assignment_review(assignment=assignment, reviewer=requester, approve=True)

    assert types_of("assignment", assignment.public_id) == [
        "assignment.accepted",
        "assignment.submitted",
        "assignment.approved",
    ]
    approved = Event.objects.get(type="assignment.approved")
    assert (approved.actor_kind, approved.actor) == (ActorKind.USER, requester)
    assert set(approved.audience.values_list("user_id", flat=True)) == {requester.pk, worker.pk}
    assert types_of("job", job.public_id)[:2] == ["job.created", "job.published"]


def test_the_auto_approve_rule_is_recorded_as_the_system_acting(worker):
    job = make_job(tasks=1, auto_approve_seconds=60)
    assignment = make_submitted_assignment(job=job, worker=worker)

    task_services.assignments_auto_approve_due(now=timezone.now() + timedelta(hours=1))

    approved = Event.objects.get(type="assignment.approved", subject_id=assignment.public_id)
    assert (approved.actor_kind, approved.actor, approved.rule) == (
        ActorKind.SYSTEM,
        None,
        "auto-approve after the review period",
    )


def test_a_moderators_action_is_recorded_as_a_moderators(worker):
    moderator = make_user("mod", is_staff=True)
    give_earnings(worker, 21_000)
    with transaction.atomic():
        payout = payout_create(worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=21_000, destination="a@b.example")
    Payout.objects.filter(pk=payout.pk).update(state=PayoutState.NEEDS_MODERATOR)

    payout_retry_by_moderator(payout=payout, moderator=moderator)

    retried = Event.objects.filter(subject_type="payout", subject_id=payout.public_id).latest("id")
    assert (retried.type, retried.actor_kind, retried.actor) == ("payout.created", ActorKind.MODERATOR, moderator)
    assert retried.actor_label == "A moderator"


def test_webhook_deliveries_point_at_the_event_instead_of_copying_it(requester, worker):
    from api.models import WebhookDelivery
    from api.webhooks import webhook_endpoint_create

    webhook_endpoint_create(user=requester, url="https://hooks.example/boltwork")
    assignment = make_submitted_assignment(job=make_job(requester=requester, tasks=1), worker=worker)

    delivery = WebhookDelivery.objects.get()
    assert delivery.event == Event.objects.get(type="assignment.submitted", subject_id=assignment.public_id)
    assert delivery.body()["data"]["assignment_id"] == assignment.public_id
    assert not hasattr(delivery, "payload")


# Reading ---------------------------------------------------------------------------------------------------------


def test_each_user_reads_the_events_of_their_own_objects_only(client, requester, worker, stranger):
    job = make_job(requester=requester, tasks=1)
    make_submitted_assignment(job=job, worker=worker)

    client.force_login(worker)
    mine = client.get(reverse("activity")).content.decode()
    client.force_login(stranger)
    theirs = client.get(reverse("activity")).content.decode()

    assert "assignment.submitted" in mine
    assert "job.published" not in mine  # the requester's job is not the worker's object
    assert "assignment.submitted" not in theirs
    assert "Nothing has happened yet" in theirs
