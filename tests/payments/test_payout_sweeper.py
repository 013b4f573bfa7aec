"""The sweeper starts payouts for balances that wait without one (a lost message), but not for broken wallets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payout, PayoutDestination, PayoutKind, PayoutState
from payments.payouts import _fail, payout_create, workers_waiting_for_payout
from tasks import services as task_services
from tests.factories import make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def approved_worker(*, address: str = "worker@wallet.example", auto_payout: bool = True, minimum_msat: int = 1_000):
    job = make_job(tasks=1, reward_msat=10_000)
    worker = make_user(funds_sats=0)
    PayoutDestination.objects.create(
        user=worker, address=address, auto_payout=auto_payout, minimum_payout_msat=minimum_msat
    )
    submitted = make_submitted_assignment(job=job, worker=worker)
    task_services.assignment_review(assignment=submitted, reviewer=job.requester, approve=True)
    return worker


def test_a_worker_with_a_balance_and_no_payout_under_way_is_picked_up():
    worker = approved_worker()

    assert workers_waiting_for_payout() == [worker.pk]


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param({"auto_payout": False}, id="auto-payout-off"),
        pytest.param({"address": ""}, id="withdraw-only"),
        pytest.param({"minimum_msat": 20_000}, id="under-the-minimum"),
    ],
)
def test_workers_who_do_not_want_a_payout_now_are_left_alone(setup):
    approved_worker(**setup)

    assert workers_waiting_for_payout() == []


def test_a_worker_with_a_payout_under_way_is_left_alone():
    worker = approved_worker()
    payout_create(worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=5_000, destination="worker@wallet.example")

    assert workers_waiting_for_payout() == []


def test_a_recent_definite_failure_pauses_automatic_payouts_for_an_hour():
    worker = approved_worker()
    payout = payout_create(worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=5_000, destination="x@y.example")
    _fail(payout_id=payout.pk, from_states={PayoutState.CREATED}, reason="The wallet does not exist.")

    assert Payout.objects.get(pk=payout.pk).state == PayoutState.FAILED
    assert workers_waiting_for_payout() == []
    assert workers_waiting_for_payout(now=timezone.now() + timedelta(hours=2)) == [worker.pk]
