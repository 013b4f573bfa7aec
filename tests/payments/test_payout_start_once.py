"""A burst of approvals enqueues one payout start per worker, not one per approval (payments.background): a start
already waiting in the queue reads every reward committed before it runs. Marked in the real Redis of the tests."""

import pytest

from payments import background
from tasks.services import assignments_review_bulk
from tests.factories import make_job, make_submitted_assignment, make_user
from tests.payments.conftest import run_background_jobs


@pytest.fixture
def redis_url(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (make test sets it)")
    return settings.REDIS_URL


@pytest.mark.django_db
def test_a_start_waiting_in_the_queue_is_not_enqueued_again(redis_url, enqueued):
    worker = make_user("alice")
    for _ in range(3):
        background.enqueue_payout_start(worker.pk)
    assert enqueued == [("pay_out_worker", worker.pk)]


@pytest.mark.django_db
def test_once_the_start_runs_the_next_approval_enqueues_one_again(redis_url, enqueued):
    worker = make_user("alice")
    background.enqueue_payout_start(worker.pk)
    run_background_jobs(enqueued)
    background.enqueue_payout_start(worker.pk)
    assert enqueued == [("pay_out_worker", worker.pk)]


@pytest.mark.django_db
def test_each_worker_has_their_own_start(redis_url, enqueued):
    alice, bob = make_user("alice"), make_user("bob")
    for worker in (alice, bob, alice, bob):
        background.enqueue_payout_start(worker.pk)
    assert enqueued == [("pay_out_worker", alice.pk), ("pay_out_worker", bob.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_review_of_many_approvals_starts_one_payout_per_worker(redis_url, enqueued, requester):
    job = make_job(requester=requester, tasks=6)
    alice, bob = make_user("alice"), make_user("bob")
    approved = [make_submitted_assignment(job=job, worker=worker) for worker in (alice, bob, alice, bob, alice)]
    enqueued.clear()

    assignments_review_bulk(
        job=job, reviewer=requester, approve_ids=[assignment.public_id for assignment in approved], reject={}
    )

    assert sorted(enqueued) == sorted([("pay_out_worker", alice.pk), ("pay_out_worker", bob.pk)])


@pytest.mark.django_db
def test_without_redis_every_start_is_enqueued(settings, enqueued):
    settings.REDIS_URL = ""
    worker = make_user("alice")
    background.enqueue_payout_start(worker.pk)
    background.enqueue_payout_start(worker.pk)
    assert enqueued == [("pay_out_worker", worker.pk)] * 2


@pytest.mark.django_db
def test_when_redis_cannot_be_reached_the_start_is_enqueued_anyway(settings, enqueued):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    worker = make_user("alice")
    background.enqueue_payout_start(worker.pk)
    background.enqueue_payout_start(worker.pk)
    assert enqueued == [("pay_out_worker", worker.pk)] * 2


@pytest.mark.django_db
def test_the_sweeper_enqueues_a_start_whose_job_was_lost(redis_url, enqueued):
    worker = make_user("alice")
    background.enqueue_payout_start(worker.pk)
    enqueued.clear()  # the job is lost (a broker restarted): its mark stays until it expires

    background.enqueue_payout_start(worker.pk, even_if_queued=True)

    assert enqueued == [("pay_out_worker", worker.pk)]
