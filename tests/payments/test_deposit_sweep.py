"""The deposit sweeper cannot be starved (security issue: 520 unpaid 1-sat deposits from one account kept a
victim's paid deposit uncredited for three sweeps, because the sweeper took the oldest 500 every time).

Now each user may hold a few unpaid invoices at once, and the sweeper visits every pending deposit least recently
checked first, in pages, within a time budget.
"""

import itertools

import pytest
from django.utils import timezone

from payments import deposits
from payments.deposits import deposit_create, deposits_sync
from payments.errors import DepositInvalid
from payments.lightning import get_backend
from payments.models import Deposit, DepositStatus
from tests.balances import available
from tests.concurrency import run_in_threads
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_sat_deposits_ten_unpaid_at_most(settings):
    settings.DEPOSIT_MIN_MSAT = 1_000
    settings.DEPOSIT_MAX_PENDING_PER_USER = 10


def flood(count: int) -> None:
    """`count` unpaid 1-sat deposits, from as many accounts as the per-user cap makes an attacker use."""
    per_account = 10
    for number in range(0, count, per_account):
        attacker = make_user(f"attacker{number}", funds_sats=0)
        for _ in range(min(per_account, count - number)):
            deposit_create(user=attacker, amount_msat=1_000)


def test_a_paid_deposit_behind_520_unpaid_ones_is_credited_on_the_next_sweep():
    flood(520)
    victim = make_user("victim", funds_sats=0)
    deposit = deposit_create(user=victim, amount_msat=21_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)

    now = timezone.now()
    assert deposits_sync(now=now) == 1

    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.PAID
    assert available(victim) == 21_000
    assert not Deposit.objects.exclude(last_checked_at=now).exists()  # every one was looked at


def test_when_time_runs_out_the_next_sweep_goes_on_where_the_last_one_stopped(monkeypatch):
    """A sweep with time for only a few deposits: each look at the clock moves it one second on. The victim's
    deposit, behind 30 unpaid ones, is reached within one round of sweeps, not never."""
    flood(30)
    victim = make_user("victim", funds_sats=0)
    deposit = deposit_create(user=victim, amount_msat=21_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
    clock = itertools.count(start=1_000)
    monkeypatch.setattr(deposits.time, "monotonic", lambda: next(clock))

    sweeps = 0
    while available(victim) == 0:
        sweeps += 1
        before = timezone.now()
        deposits_sync(page_size=5, time_budget=6)
        checked = Deposit.objects.filter(last_checked_at__gte=before).count()
        assert checked >= 1
        assert sweeps <= -(-31 // checked)  # one round: every deposit once

    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PAID


def test_the_sweep_goes_round_every_deposit_in_turn(monkeypatch):
    flood(20)
    clock = itertools.count(start=1_000)
    monkeypatch.setattr(deposits.time, "monotonic", lambda: next(clock))
    seen: set[int] = set()
    for _ in range(5):
        before = set(Deposit.objects.values_list("pk", "last_checked_at"))
        deposits_sync(page_size=4, time_budget=6)
        after = set(Deposit.objects.values_list("pk", "last_checked_at"))
        seen |= {pk for pk, _ in after - before}
    assert seen == set(Deposit.objects.values_list("pk", flat=True))


def test_a_user_may_hold_only_a_few_unpaid_invoices_at_once(settings):
    settings.DEPOSIT_MAX_PENDING_PER_USER = 3
    payer = make_user("payer", funds_sats=0)
    first = [deposit_create(user=payer, amount_msat=1_000) for _ in range(3)]

    with pytest.raises(DepositInvalid, match="You already have 3 unpaid deposit invoices"):
        deposit_create(user=payer, amount_msat=1_000)
    assert Deposit.objects.filter(user=payer).count() == 3

    # Paying one frees a place; so does one expiring.
    get_backend().pay_invoice(bolt11=first[0].bolt11, fee_limit_msat=0)
    deposits.deposit_refresh(deposit=first[0])
    deposit_create(user=payer, amount_msat=1_000)
    Deposit.objects.filter(pk=first[1].pk).update(expires_at=timezone.now())
    deposit_create(user=payer, amount_msat=1_000)
    assert Deposit.objects.filter(user=payer).count() == 5


def test_the_add_funds_page_says_so_and_creates_nothing(settings, client):
    settings.DEPOSIT_MAX_PENDING_PER_USER = 1
    payer = make_user("payer", funds_sats=0)
    deposit_create(user=payer, amount_msat=1_000)
    client.force_login(payer)
    from django.urls import reverse

    response = client.post(reverse("deposit_new"), {"amount_sats": "5"})

    assert response.status_code == 200
    assert "You already have 1 unpaid deposit invoice, the most" in response.content.decode()
    assert Deposit.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_requests_racing_past_the_cap_do_not_all_get_an_invoice(settings):
    settings.DEPOSIT_MAX_PENDING_PER_USER = 5
    payer = make_user("payer", funds_sats=0)

    def ask(_) -> str:
        try:
            deposit_create(user=payer, amount_msat=1_000)
        except DepositInvalid:
            return "refused"
        return "created"

    outcomes = run_in_threads(20, ask, what="a request")

    assert outcomes.count("created") == 5  # was 13 of 20 past a cap of 5
    assert Deposit.objects.filter(user=payer).count() == 5
