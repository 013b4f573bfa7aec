"""Self-dealing (security issue): a user claimed, submitted and approved work on their own job and paid themselves
a bonus, then withdrew it — the only way a requester's balance could leave the platform, for the price of the fee.

Now a requester cannot work on their own jobs nor bonus themselves, and takes unspent balance back out directly
over LNURL-withdraw, like a worker's earnings.
"""

import pytest
from django.urls import reverse

from payments.errors import WithdrawRefused
from payments.ledger import balance_msat, platform_account
from payments.lightning import PaymentOutcome, PaymentResult, get_backend
from payments.models import AccountKind, DevInvoice, Payout, PayoutKind, PayoutSource, PayoutState, WithdrawLink
from payments.payouts import payout_advance
from payments.withdraw import withdraw_claim, withdraw_link_create
from tasks.bonuses import bonus_pay
from tasks.errors import OwnJob
from tasks.models import Assignment
from tasks.services import assignment_claim
from tests.balances import available, earned
from tests.factories import fund, give_earnings, make_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


@pytest.fixture(autouse=True)
def ten_sat_withdrawal_minimum(settings):
    settings.WITHDRAW_MIN_MSAT = 10_000


# No work on your own job, no bonus to yourself --------------------------------------------------------------------


def test_a_requester_cannot_claim_a_task_of_their_own_job(requester):
    job = make_job(requester=requester, tasks=2)

    with pytest.raises(OwnJob, match="your own job"):
        assignment_claim(job=job, worker=requester)

    job.refresh_from_db()
    assert job.open_slot_count == 2
    assert not Assignment.objects.exists()


def test_start_working_on_your_own_job_is_refused_on_the_web(requester_client, requester):
    job = make_job(requester=requester, tasks=1)

    page = requester_client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert "Start working" not in page
    assert reverse("job_manage", args=[job.public_id]) in page

    response = requester_client.post(reverse("job_start", args=[job.public_id]), follow=True)
    assert "your own job" in response.content.decode()
    assert not Assignment.objects.exists()


def test_claiming_your_own_job_over_the_api_is_refused(requester):
    from api.services import api_key_create

    job = make_job(requester=requester, tasks=1)
    _, secret = api_key_create(user=requester, name="script")
    from django.test import Client

    response = Client().post(
        f"/api/v1/jobs/{job.public_id}/claim", HTTP_AUTHORIZATION=f"Bearer {secret}", content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "own_job"
    assert not Assignment.objects.exists()


def test_a_requester_cannot_pay_themselves_a_bonus(requester, worker):
    give_earnings(worker, 10_000, requester=requester)  # real work for this requester exists
    before = available(requester)

    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="bonus to yourself"):
        bonus_pay(requester=requester, worker_id=requester.public_id, amount_msat=5_000, reason="for me")

    assert available(requester) == before
    assert earned(requester) == 0


# Taking unspent balance back out ----------------------------------------------------------------------------------


def test_a_requester_withdraws_unspent_balance_over_lnurl_withdraw(client):
    requester = make_user("carol", funds_sats=50)
    client.force_login(requester)

    wallet_page = client.get(reverse("wallet")).content.decode()
    assert f"{reverse('withdraw')}?from=balance" in wallet_page

    response = client.get(reverse("withdraw"), {"from": "balance"})
    assert response.status_code == 200
    link = response.context["link"]
    assert link.source == PayoutSource.BALANCE
    # The requester pays the routing fee (up to 5% here): the link leaves room for it.
    assert (link.min_withdrawable_msat, link.max_withdrawable_msat) == (10_000, 47_000)
    assert "your unspent balance" in response.content.decode()

    # The requester's wallet scans it and asks for 30 sats.
    request = client.get(reverse("lnurl_withdraw_request", args=[link.k1])).json()
    assert request["maxWithdrawable"] == 47_000
    invoice = get_backend().create_invoice(amount_msat=30_000)
    assert client.get(
        request["callback"].replace("http://testserver", ""), {"k1": link.k1, "pr": invoice.bolt11}
    ).json() == {"status": "OK"}

    payout = Payout.objects.get()
    assert (payout.kind, payout.source, payout.amount_msat) == (PayoutKind.WITHDRAW, PayoutSource.BALANCE, 30_000)
    assert payout.fee_reserve_msat == payout.fee_limit_msat == 1_500
    assert available(requester) == 18_500  # the amount and the fee reserve are held
    assert earned(requester) == 0
    assert payout_advance(payout_id=payout.pk).state == PayoutState.SUCCEEDED
    assert balance_msat(account=platform_account(kind=AccountKind.LIGHTNING_OUT)) == 30_000
    assert available(requester) == 20_000  # the route cost nothing: the whole reserve comes back


def test_a_failed_balance_withdrawal_returns_to_the_balance_not_to_earnings():
    requester = make_user("carol", funds_sats=50)
    link = withdraw_link_create(worker=requester, source=PayoutSource.BALANCE)
    foreign_invoice = get_backend().create_invoice(amount_msat=20_000)
    payout = withdraw_claim(k1=link.k1, invoice=foreign_invoice.bolt11)
    DevInvoice.objects.filter(payment_hash=payout.payment_hash).delete()  # the dev node cannot pay it any more

    payout = payout_advance(payout_id=payout.pk)

    assert payout.state == PayoutState.FAILED
    assert available(requester) == 50_000
    assert earned(requester) == 0


def test_the_balance_and_the_earnings_have_separate_links(worker):
    give_earnings(worker, 12_000)
    # worker also has the 1,000,000 sats every test user is given as requester balance
    earnings = withdraw_link_create(worker=worker)
    balance = withdraw_link_create(worker=worker, source=PayoutSource.BALANCE)

    assert earnings.k1 != balance.k1
    assert earnings.max_withdrawable_msat == 12_000
    assert balance.max_withdrawable_msat == 990_099_000  # with room for a 1% routing fee reserve
    assert WithdrawLink.objects.filter(worker=worker).count() == 2


def test_money_in_escrow_cannot_be_withdrawn(requester):
    make_job(requester=requester, tasks=3)  # 3 × (10 + 1) sats in escrow
    link = withdraw_link_create(worker=requester, source=PayoutSource.BALANCE)
    assert link.max_withdrawable_msat == 990_066_000  # (1,000,000 - 33) sats, less room for the fee reserve

    empty = make_user("empty", funds_sats=0)
    with pytest.raises(WithdrawRefused):
        withdraw_link_create(worker=empty, source=PayoutSource.BALANCE)


class FeeChargingNode:
    """A node whose route costs `fee_msat`: it reports the payment paid, with that fee (the development backend
    pays at no fee, and a dear route is what this test is about)."""

    def __init__(self, fee_msat: int) -> None:
        self.fee_msat = fee_msat
        self.fee_limits: list[int] = []

    def pay_invoice(self, *, bolt11: str, fee_limit_msat: int, timeout_seconds: int = 60) -> PaymentResult:
        self.fee_limits.append(fee_limit_msat)
        get_backend().pay_invoice(bolt11=bolt11, fee_limit_msat=fee_limit_msat)
        preimage = DevInvoice.objects.get(bolt11=bolt11).preimage
        return PaymentResult(
            outcome=PaymentOutcome.PAID, preimage=preimage, fee_msat=min(self.fee_msat, fee_limit_msat)
        )


def test_the_requester_pays_the_routing_fee_of_a_balance_withdrawal_so_cycling_costs_the_platform_nothing(
    monkeypatch,
):
    """Deposits cost the platform nothing and a balance withdrawal pays it no fee: if the platform paid the route, a
    requester owning the last hop could cycle deposit → withdraw and collect the fee limit each time."""
    node = FeeChargingNode(fee_msat=10**12)  # whatever the route asks, up to the limit
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    requester = make_user("carol", funds_sats=0)
    for _ in range(3):
        fund(requester, 200_000)
        link = withdraw_link_create(worker=requester, source=PayoutSource.BALANCE)
        invoice = get_backend().create_invoice(amount_msat=link.max_withdrawable_msat)
        payout = withdraw_claim(k1=link.k1, invoice=invoice.bolt11)
        assert payout_advance(payout_id=payout.pk).state == PayoutState.SUCCEEDED

    assert balance_msat(account=platform_account(kind=AccountKind.ROUTING_FEES)) == 0
    paid_out = balance_msat(account=platform_account(kind=AccountKind.LIGHTNING_OUT))
    assert paid_out + available(requester) == 600_000  # every sat deposited: paid out with its fees, or still here
    assert node.fee_limits == [9_500, 9_500, 9_550]  # 5% of 190, 190 and 191 sats: what fits with its fee


def test_a_route_cheaper_than_the_reserve_returns_the_rest(monkeypatch):
    node = FeeChargingNode(fee_msat=400)
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    requester = make_user("carol", funds_sats=50)
    link = withdraw_link_create(worker=requester, source=PayoutSource.BALANCE)
    payout = withdraw_claim(k1=link.k1, invoice=get_backend().create_invoice(amount_msat=30_000).bolt11)

    payout = payout_advance(payout_id=payout.pk)

    assert (payout.state, payout.fee_msat) == (PayoutState.SUCCEEDED, 400)
    assert available(requester) == 50_000 - 30_000 - 400
    assert balance_msat(account=platform_account(kind=AccountKind.ROUTING_FEES)) == 0


def test_earnings_still_have_their_routing_fee_paid_by_the_platform(monkeypatch):
    node = FeeChargingNode(fee_msat=400)
    monkeypatch.setattr("payments.payouts.get_backend", lambda: node)
    worker = make_user("wendy", funds_sats=0)
    give_earnings(worker, 30_000)
    link = withdraw_link_create(worker=worker)
    assert link.max_withdrawable_msat == 30_000
    payout = withdraw_claim(k1=link.k1, invoice=get_backend().create_invoice(amount_msat=30_000).bolt11)

    payout = payout_advance(payout_id=payout.pk)

    assert (payout.state, payout.fee_reserve_msat, earned(worker)) == (PayoutState.SUCCEEDED, 0, 0)
    assert balance_msat(account=platform_account(kind=AccountKind.ROUTING_FEES)) == -400


def test_the_withdraw_page_tells_a_requester_who_pays_the_routing_fee(client):
    requester = make_user("carol", funds_sats=50)
    client.force_login(requester)

    html = client.get(reverse("withdraw"), {"from": "balance"}).content.decode()

    assert "You pay the Lightning routing fee" in html
    assert "Boltwork pays" not in html
