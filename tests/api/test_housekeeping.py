"""What a long-running API keeps, and for how long: Idempotency-Keys for 24 hours, a key whose request crashed
until the in-progress timeout, finished webhook deliveries for 30 days."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from api import background
from api.models import DeliveryStatus, IdempotencyRecord, WebhookDelivery, WebhookEndpoint
from api.services import (
    IdempotencyConflict,
    IdempotencyInProgress,
    api_key_create,
    idempotency_begin,
    idempotency_finish,
    idempotency_records_prune,
    request_fingerprint,
)
from api.webhooks import webhook_deliveries_prune
from core.models import Event
from payments.models import Deposit
from tests.api.conftest import ApiClient, short
from tests.concurrency import run_in_threads
from tests.factories import make_job, make_submitted_assignment, make_user

DEPOSIT = {"amount_msat": 21_000}
DEPOSIT_BODY = b'{"amount_msat": 21000}'


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def age(record_filter: dict, by: timedelta) -> None:
    """Move records back in time, as if their first request had come `by` ago."""
    assert IdempotencyRecord.objects.filter(**record_filter).update(created_at=timezone.now() - by)


def crashed_claim(user, key_value: str, *, ago: timedelta) -> IdempotencyRecord:
    """What a web process killed mid-request leaves: a claim on a deposit key that never got its answer."""
    fingerprint = request_fingerprint(method="POST", path="/api/v1/deposits", body=DEPOSIT_BODY)
    record = IdempotencyRecord.objects.create(user=user, key=key_value, request_fingerprint=fingerprint)
    age({"pk": record.pk}, ago)
    return record


# Keys are remembered for 24 hours ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_older_than_a_day_is_forgotten_and_the_repeat_acts_again(requester_api, requester):
    first = requester_api.post("/deposits", DEPOSIT, headers=key("daily"))
    assert first.status_code == 201, short(first)
    age({"user": requester, "key": "daily"}, timedelta(hours=24, seconds=1))

    repeat = requester_api.post("/deposits", DEPOSIT, headers=key("daily"))

    assert repeat.status_code == 201, short(repeat)
    assert "Idempotent-Replayed" not in repeat
    assert repeat.json()["id"] != first.json()["id"]
    assert Deposit.objects.filter(user=requester).count() == 2
    # The repeat's own answer is what the key remembers now.
    again = requester_api.post("/deposits", DEPOSIT, headers=key("daily"))
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == repeat.json()


@pytest.mark.django_db
def test_a_key_younger_than_a_day_still_replays(requester_api, requester):
    first = requester_api.post("/deposits", DEPOSIT, headers=key("recent"))
    age({"user": requester, "key": "recent"}, timedelta(hours=23, minutes=59))

    repeat = requester_api.post("/deposits", DEPOSIT, headers=key("recent"))

    assert repeat["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    assert Deposit.objects.filter(user=requester).count() == 1


@pytest.mark.django_db
def test_a_forgotten_key_may_be_used_for_another_request(requester_api, requester):
    requester_api.post("/deposits", DEPOSIT, headers=key("reused"))
    age({"user": requester, "key": "reused"}, timedelta(days=2))

    other = requester_api.post("/deposits", {"amount_msat": 42_000}, headers=key("reused"))

    assert other.status_code == 201, short(other)  # not 409 idempotency_key_reused: the key was forgotten
    assert sorted(Deposit.objects.values_list("amount_msat", flat=True)) == [21_000, 42_000]


# A request that crashed does not hold its key for ever ------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_left_in_progress_by_a_crash_is_recovered_after_the_timeout(settings, requester_api, requester):
    settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = 600
    crashed_claim(requester, "crashed", ago=timedelta(seconds=601))

    retry = requester_api.post("/deposits", DEPOSIT, headers=key("crashed"))

    assert retry.status_code == 201, short(retry)
    assert "Idempotent-Replayed" not in retry
    assert Deposit.objects.filter(user=requester).count() == 1
    record = IdempotencyRecord.objects.get(user=requester, key="crashed")
    assert record.response_status == 201  # the retry's answer, remembered for the next repeat


@pytest.mark.django_db
def test_a_claim_younger_than_the_timeout_is_still_in_progress(settings, requester_api, requester):
    settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = 600
    crashed_claim(requester, "running", ago=timedelta(seconds=590))

    response = requester_api.post("/deposits", DEPOSIT, headers=key("running"))

    assert response.status_code == 409, short(response)
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not Deposit.objects.exists()


@pytest.mark.django_db
def test_a_stale_claim_for_another_request_is_recovered_too():
    user = make_user(funds_sats=0)
    crashed_claim(user, "k", ago=timedelta(hours=1))

    claim = idempotency_begin(user=user, key="k", fingerprint="another request")

    assert not claim.answered
    assert claim.request_fingerprint == "another request"


@pytest.mark.django_db
def test_a_slow_request_finishing_after_its_claim_was_recovered_leaves_the_new_claim_alone(settings):
    """The timeout is chosen so this never happens; if a request outlives it anyway, its late answer and its late
    release must not land on the claim of the repeat that took the key over."""
    settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = 600
    user = make_user(funds_sats=0)
    slow = idempotency_begin(user=user, key="k", fingerprint="f")
    later = timezone.now() + timedelta(seconds=601)
    taken_over = idempotency_begin(user=user, key="k", fingerprint="f", now=later)
    assert taken_over.pk != slow.pk

    idempotency_finish(record=slow, status=201, body={"late": True})

    current = IdempotencyRecord.objects.get(user=user, key="k")
    assert current.pk == taken_over.pk
    assert not current.answered
    idempotency_finish(record=taken_over, status=201, body={"id": "2"})
    assert idempotency_begin(user=user, key="k", fingerprint="f").response_body == '{"id": "2"}'
    with pytest.raises(IdempotencyConflict):
        idempotency_begin(user=user, key="k", fingerprint="other")


@pytest.mark.django_db(transaction=True)
def test_repeats_arriving_together_after_a_crash_act_once():
    """Eight clients (or one client's eight retries) repeat a crashed deposit at once, each on its own database
    connection as separate web processes would be: one makes the deposit, the others are told it is in progress or
    get its answer."""
    requester = make_user("requester")
    _, secret = api_key_create(user=requester, name="retries")
    clients = [ApiClient(secret) for _ in range(8)]  # a test client is not shared between threads
    timeout = timedelta(seconds=django_settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS + 1)
    crashed_claim(requester, "stampede", ago=timeout)

    responses = run_in_threads(
        8, lambda index: clients[index].post("/deposits", DEPOSIT, headers=key("stampede")), what="a request"
    )

    errors = [response for response in responses if isinstance(response, Exception)]
    assert not errors, errors
    statuses = sorted(response.status_code for response in responses)
    acted = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(acted) == 1, statuses
    assert Deposit.objects.filter(user=requester).count() == 1
    for response in responses:
        if response is acted[0]:
            continue
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "idempotency_key_in_progress"
        else:
            assert response["Idempotent-Replayed"] == "true"
            assert response.json() == acted[0].json()


@pytest.mark.django_db(transaction=True)
def test_claims_racing_on_a_stale_record_admit_exactly_one():
    """The same race on the service alone, many rounds: a stale record, sixteen claimants at once."""
    user = make_user(funds_sats=0)
    for round_number in range(5):
        crashed_claim(user, f"race-{round_number}", ago=timedelta(hours=1))

        def claim(index: int, key_value: str = f"race-{round_number}") -> IdempotencyRecord:
            return idempotency_begin(user=user, key=key_value, fingerprint=f"{key_value}-fingerprint")

        results = run_in_threads(16, claim, what="a request")

        claims = [result for result in results if isinstance(result, IdempotencyRecord)]
        others = [result for result in results if not isinstance(result, IdempotencyRecord)]
        assert len(claims) == 1, results
        assert all(isinstance(other, IdempotencyInProgress) for other in others), others
        assert IdempotencyRecord.objects.get(key=f"race-{round_number}").pk == claims[0].pk


# Pruning --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweeper_deletes_keys_older_than_a_day_and_only_those():
    user = make_user(funds_sats=0)
    for number in range(5):
        idempotency_begin(user=user, key=f"old-{number}", fingerprint="f")
    age({"key__startswith": "old-"}, timedelta(hours=24, seconds=1))
    fresh = idempotency_begin(user=user, key="fresh", fingerprint="f")
    almost = idempotency_begin(user=user, key="almost", fingerprint="f")
    age({"pk": almost.pk}, timedelta(hours=23))

    assert idempotency_records_prune(batch_size=2) == 5  # three batches: 2, 2, 1

    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == {fresh.pk, almost.pk}
    assert background.prune_idempotency_records() == 0


@pytest.fixture
def endpoint(db):
    job = make_job(tasks=6)
    hook = WebhookEndpoint.objects.create(user=job.requester, url="https://hooks.example/boltwork", secret="s")
    return job, hook


@pytest.mark.django_db
def test_finished_deliveries_older_than_30_days_are_deleted_and_their_events_stay(endpoint):
    job, hook = endpoint
    for _ in range(6):
        make_submitted_assignment(job=job)  # each records assignment.submitted: one delivery to the endpoint
    deliveries = list(WebhookDelivery.objects.filter(endpoint=hook).order_by("pk"))
    assert len(deliveries) == 6
    now = timezone.now()
    plan = [
        (DeliveryStatus.DELIVERED, timedelta(days=31)),
        (DeliveryStatus.FAILED, timedelta(days=31)),
        (DeliveryStatus.CANCELLED, timedelta(days=31)),
        (DeliveryStatus.PENDING, timedelta(days=90)),  # never deleted, however old
        (DeliveryStatus.DELIVERED, timedelta(days=29)),
        (DeliveryStatus.FAILED, timedelta(days=29, hours=23)),
    ]
    for delivery, (status, ago) in zip(deliveries, plan, strict=True):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, created_at=now - ago)
    events_before = Event.objects.count()

    assert webhook_deliveries_prune(batch_size=2) == 3

    kept = list(WebhookDelivery.objects.filter(endpoint=hook).order_by("pk").values_list("pk", "status"))
    assert kept == [(delivery.pk, status) for delivery, (status, _) in list(zip(deliveries, plan, strict=True))[3:]]
    assert Event.objects.count() == events_before
    assert background.prune_webhook_deliveries() == 0


def test_both_prunes_are_scheduled_on_the_sweepers_queue():
    scheduled = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    for job in (background.prune_idempotency_records, background.prune_webhook_deliveries):
        assert scheduled[job.name] == 3600.0
        assert django_settings.CELERY_TASK_ROUTES[job.name] == {"queue": "sweepers"}
