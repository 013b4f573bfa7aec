"""The sandbox endpoint: HITs of play money on the sandbox board only, approvals that never pay over Lightning, and
the live endpoint seeing none of it."""

import pytest
from django.urls import reverse

from core.money import MSAT_PER_SAT
from marketplace.models import Job
from notifications.models import Notification
from payments.models import Account, AccountKind, Payout
from tests.balances import available, earned
from tests.factories.users import make_user
from tests.mturk.clients import mturk_client
from tests.mturk.test_api_tier1 import create_hit, work_on

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner(db, settings):
    settings.MTURK_SATS_PER_USD = 1_000
    settings.SANDBOX_BALANCE_USD = 10_000
    return make_user(funds_sats=5_000)


def play_balance(user, kind=AccountKind.SANDBOX_REQUESTER_AVAILABLE) -> int:
    return Account.objects.filter(user=user, kind=kind).values_list("balance_msat", flat=True).first() or 0


def test_a_sandbox_hit_moves_play_money_only_and_is_never_paid_over_lightning(live_server, owner, client):
    sandbox = mturk_client(live_server.url, owner, sandbox=True)
    live = mturk_client(live_server.url, owner)
    assert sandbox.get_account_balance()["AvailableBalance"] == "10000.00"
    assert live.get_account_balance()["AvailableBalance"] == "5.00"

    hit = create_hit(sandbox, MaxAssignments=1)
    job = Job.objects.get(public_id=hit["HITTypeId"])
    assert job.sandbox
    assert play_balance(owner) == (10_000_000 - 55) * MSAT_PER_SAT
    assert available(owner) == 5_000 * MSAT_PER_SAT
    assert live.list_hits()["NumResults"] == 0
    with pytest.raises(live.exceptions.RequestError):
        live.get_hit(HITId=hit["HITId"])

    # On the sandbox board, not the board.
    assert hit["Title"].encode() in client.get(reverse("sandbox_board")).content
    assert hit["Title"].encode() not in client.get(reverse("board")).content

    submitted = work_on(hit["HITId"])
    sandbox.approve_assignment(AssignmentId=submitted.public_id)
    sandbox.send_bonus(
        WorkerId=submitted.worker.public_id, BonusAmount="1.00", AssignmentId=submitted.public_id, Reason="Thanks"
    )
    worker = submitted.worker
    assert play_balance(worker, AccountKind.SANDBOX_WORKER_EARNED) == (50 + 1_000) * MSAT_PER_SAT
    assert earned(worker) == 0
    assert not Payout.objects.exists()
    assert available(owner) == 5_000 * MSAT_PER_SAT
    # The worker is told it was play money.
    told = list(Notification.objects.filter(user=worker).values_list("body", flat=True))
    assert len(told) == 2
    assert all("play money" in body for body in told)
    with pytest.raises(live.exceptions.RequestError):
        live.approve_assignment(AssignmentId=submitted.public_id)


def test_a_live_hit_is_not_seen_by_the_sandbox(live_server, owner):
    live = mturk_client(live_server.url, owner)
    hit = create_hit(live, MaxAssignments=1)
    sandbox = mturk_client(live_server.url, owner, sandbox=True)
    assert sandbox.list_hits()["NumResults"] == 0
    with pytest.raises(sandbox.exceptions.RequestError):
        sandbox.create_hit_with_hit_type(
            HITTypeId=hit["HITTypeId"], MaxAssignments=1, LifetimeInSeconds=600, Question=hit["Question"]
        )
