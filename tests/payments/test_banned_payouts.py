"""Issue 10: a banned worker's payout does not go out automatically; their earnings stay theirs."""

import pytest

from moderation.services import user_ban
from payments.errors import WithdrawRefused
from payments.models import Payout
from payments.payouts import payout_start_for_worker, workers_waiting_for_payout
from payments.withdraw import withdraw_link_create, withdraw_link_usable
from tests.balances import earned
from tests.factories import give_earnings, make_moderator, make_user, set_payout_destination

pytestmark = pytest.mark.django_db


def test_a_banned_workers_earnings_are_not_paid_out_automatically():
    worker = make_user(funds_sats=0)
    set_payout_destination(worker, "worker@wallet.example")
    give_earnings(worker, 50_000)
    assert worker.pk in workers_waiting_for_payout()  # the sweeper would start one before the ban

    moderator = make_moderator()
    user_ban(user=worker, moderator=moderator, reason="Copied answers from another account.")

    assert workers_waiting_for_payout() == []
    assert payout_start_for_worker(worker_id=worker.pk) is None
    assert not Payout.objects.filter(worker=worker).exists()
    assert earned(worker) == 50_000


def test_a_withdraw_link_made_before_the_ban_no_longer_works():
    worker = make_user(funds_sats=0)
    give_earnings(worker, 50_000)
    link = withdraw_link_create(worker=worker)
    user_ban(user=worker, moderator=make_moderator(), reason="Sold accounts.")
    with pytest.raises(WithdrawRefused, match="suspended"):
        withdraw_link_usable(k1=link.k1)
    assert earned(worker) == 50_000
