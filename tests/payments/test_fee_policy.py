"""Routing fees and minimum amounts (security issue: a worker who controls a payout's last hop collected about
10 sats of routing fee, paid by the platform, on every 1-sat payout).

The policy: the platform pays the routing fee, up to max(floor, percentage) but never more than
PAYOUT_FEE_LIMIT_MAX_PERCENT of the amount; payouts and withdrawals have minimums. The nodes enforce the limit we
send them: LND and Core Lightning are served here through httpx.MockTransport with the answers they give for a
route that costs more than the limit (recorded from their APIs, see tests/payments/test_lightning_lnd.py and
test_lightning_cln.py), since neither node can run here.
"""

import json
from types import SimpleNamespace

import bolt11 as bolt11_lib
import httpx
import pytest
from django.urls import reverse

from payments.errors import WithdrawRefused
from payments.models import AccountKind, Payout, PayoutState
from payments.payouts import payout_advance, payout_start_for_worker
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.balances import earned, platform
from tests.factories import give_earnings, make_user, set_payout_destination
from tests.payments.conftest import started_payout
from tests.payments.lightning_nodes import cln, cln_rpc_error, lnd, lnd_payment, stream

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "fee_limits")]


@pytest.fixture(autouse=True)
def ten_sat_minimums(settings):
    settings.PAYOUT_MIN_MSAT = 10_000
    settings.WITHDRAW_MIN_MSAT = 10_000


class RecordedNode:
    """Answers each request with the function given for its path, and remembers the JSON bodies."""

    def __init__(self, answer):
        self.answer = answer
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        return self.answer(request, body)


def use_backend(monkeypatch, backend) -> None:
    monkeypatch.setattr("payments.payouts.get_backend", lambda: backend)


def invoice_of(body: dict, key: str) -> SimpleNamespace:
    text = body[key]
    return SimpleNamespace(bolt11=text, payment_hash=bolt11_lib.decode(text).payment_hash)


# The limit we send ---------------------------------------------------------------------------------------------


def test_lnd_is_asked_for_a_route_within_the_bounded_limit_and_a_dearer_route_fails_the_attempt_only(
    wallet, monkeypatch
):
    # LND answers FAILURE_REASON_NO_ROUTE when every route costs more than fee_limit_msat.
    node = RecordedNode(
        lambda request, body: httpx.Response(
            200,
            content=stream(
                {
                    "result": lnd_payment(
                        invoice_of(body, "payment_request"), "FAILED", failure_reason="FAILURE_REASON_NO_ROUTE"
                    )
                }
            ),
        )
    )
    use_backend(monkeypatch, lnd(node, network="mainnet"))
    payout = started_payout(wallet)

    payout = payout_advance(payout_id=payout.pk)

    assert node.bodies[0]["fee_limit_msat"] == "1050"  # 5% of 21 sats; the 10-sat floor would have been 48%
    assert payout.state == PayoutState.CREATED  # tried again later with a fresh invoice; nothing was lost
    assert "FAILURE_REASON_NO_ROUTE" in payout.last_error
    assert platform(AccountKind.ROUTING_FEES) == 0
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 21_000


def test_lnd_route_within_the_limit_is_paid_and_its_fee_booked(wallet, monkeypatch):
    def succeed(request, body):
        invoice = invoice_of(body, "payment_request")
        preimage = wallet.issued_preimages[invoice.payment_hash]
        result = lnd_payment(invoice, "SUCCEEDED", payment_preimage=preimage, fee_msat="1000", value_msat="21000")
        return httpx.Response(200, content=stream({"result": result}))

    node = RecordedNode(succeed)
    use_backend(monkeypatch, lnd(node, network="mainnet"))

    payout = payout_advance(payout_id=started_payout(wallet).pk)

    assert payout.state == PayoutState.SUCCEEDED
    assert payout.fee_msat == 1_000
    assert platform(AccountKind.ROUTING_FEES) == -1_000
    assert platform(AccountKind.LIGHTNING_OUT) == 22_000


def test_core_lightning_is_asked_for_a_route_within_the_bounded_limit_and_refuses_a_dearer_one(wallet, monkeypatch):
    # lightningd's `pay` answers error 206 when the cheapest route costs more than `maxfee`.
    node = RecordedNode(
        lambda request, body: cln_rpc_error(206, "Fee exceeds our fee budget: 10000msat > 1050msat, discarding route")
    )
    use_backend(monkeypatch, cln(node, network="mainnet"))

    payout = payout_advance(payout_id=started_payout(wallet).pk)

    assert node.bodies[0]["maxfee"] == 1_050
    assert payout.state == PayoutState.CREATED
    assert "206" in payout.last_error
    assert platform(AccountKind.ROUTING_FEES) == 0
    assert platform(AccountKind.PAYOUTS_IN_FLIGHT) == 21_000


def test_a_withdrawal_at_the_minimum_is_paid_with_a_fee_limit_of_a_few_percent_of_it(monkeypatch):
    node = RecordedNode(
        lambda request, body: cln_rpc_error(206, "Fee exceeds our fee budget: 10000msat > 500msat, discarding route")
    )
    use_backend(monkeypatch, cln(node, network="mainnet"))
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 10_000)
    from payments.lightning import get_backend  # the development backend makes the wallet's invoice

    invoice = get_backend().create_invoice(amount_msat=10_000)
    payout = withdraw_claim(k1=withdraw_link_create(worker=worker).k1, invoice=invoice.bolt11)

    payout = payout_advance(payout_id=payout.pk)

    assert node.bodies[0]["maxfee"] == 500  # was 10,000: the whole withdrawal again, as fee
    assert payout.state == PayoutState.FAILED  # a withdrawal has one invoice: it fails and the money returns
    assert earned(worker) == 10_000


# Minimums ------------------------------------------------------------------------------------------------------


def test_no_automatic_payout_starts_under_the_minimum_even_if_the_worker_asked_for_less(wallet):
    worker = make_user("alice", funds_sats=0)
    give_earnings(worker, 9_000)
    set_payout_destination(worker, wallet.address, minimum_payout_msat=1_000)

    assert payout_start_for_worker(worker_id=worker.pk) is None
    assert not Payout.objects.exists()

    give_earnings(worker, 1_000)
    assert payout_start_for_worker(worker_id=worker.pk).amount_msat == 10_000


def test_the_workers_own_minimum_counts_when_it_is_higher(wallet):
    worker = make_user("alice", funds_sats=0)
    give_earnings(worker, 15_000)
    set_payout_destination(worker, wallet.address, minimum_payout_msat=20_000)

    assert payout_start_for_worker(worker_id=worker.pk) is None


def test_the_sweeper_leaves_balances_under_the_minimum_alone(wallet):
    from payments.payouts import workers_waiting_for_payout

    small, enough = make_user("small", funds_sats=0), make_user("enough", funds_sats=0)
    give_earnings(small, 9_000)
    give_earnings(enough, 10_000)
    for worker in (small, enough):
        set_payout_destination(worker, wallet.address, minimum_payout_msat=1_000)

    assert workers_waiting_for_payout() == [enough.pk]


def test_no_withdraw_link_under_the_minimum_and_none_below_it_in_the_link():
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 9_000)
    with pytest.raises(WithdrawRefused, match="Withdrawals start at 10 sats; this balance is 9 sats"):
        withdraw_link_create(worker=worker)

    give_earnings(worker, 12_000)
    link = withdraw_link_create(worker=worker)
    assert (link.min_withdrawable_msat, link.max_withdrawable_msat) == (10_000, 21_000)


def test_a_wallet_invoice_under_the_minimum_is_refused_with_an_lnurl_error(client):
    from payments.lightning import get_backend

    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 21_000)
    link = withdraw_link_create(worker=worker)
    invoice = get_backend().create_invoice(amount_msat=1_000)

    answer = client.get(reverse("lnurl_withdraw_callback"), {"k1": link.k1, "pr": invoice.bolt11}).json()

    assert answer["status"] == "ERROR"
    assert "10000 to 21000 msat" in answer["reason"]
    assert not Payout.objects.exists()
    assert earned(worker) == 21_000


# What workers are told -----------------------------------------------------------------------------------------


def test_the_payouts_page_says_who_pays_the_routing_fee_and_the_minimums(client):
    worker = make_user("bob", funds_sats=0)
    client.force_login(worker)

    html = client.get(reverse("payouts")).content.decode()

    assert "Boltwork pays the Lightning routing fee" in html
    assert "capped at 5% of the amount" in html
    assert "start at 10 sats" in html


def test_the_withdraw_page_says_it_too(client):
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 21_000)
    client.force_login(worker)

    html = client.get(reverse("withdraw")).content.decode()

    assert "Boltwork pays the Lightning routing fee" in html
    assert "from 10 to 21 sats" in html
