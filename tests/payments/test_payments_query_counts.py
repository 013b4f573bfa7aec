"""Wallet pages run a constant number of queries, however many rows they show (no N+1): each page is measured with
few rows and with more than a page of them, and the counts must be equal (and small)."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.deposits import deposit_create, deposit_refresh
from payments.lightning import get_backend
from payments.models import Payout, PayoutKind, PayoutState
from payments.payouts import payout_advance
from payments.withdraw import withdraw_claim, withdraw_link_create
from tests.factories import fund, give_earnings, make_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]  # these tests only read: no job runs

# Measured on PostgreSQL; the ceilings leave a little room, the equality is the point.
MAX_QUERIES = {"wallet": 12, "payouts": 10, "deposit_detail": 10}


def queries_for(client, url: str) -> int:
    client.get(url)  # warm up: per-process caches (content types, templates) are not the page's cost
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_wallet_page(client):
    user = make_user("carol")
    make_job(requester=user, tasks=2, title="First job")
    client.force_login(user)
    few = queries_for(client, reverse("wallet"))

    for number in range(5):
        make_job(requester=user, tasks=2, title=f"Job {number}")
    for _ in range(40):
        fund(user, 1_000)
    give_earnings(user, 21_000)
    many = queries_for(client, reverse("wallet"))
    second_page = queries_for(client, reverse("wallet") + "?page=2")

    print(f"\nwallet page: {few} queries with 3 entries and 1 escrowed job, {many} with 60+ entries and 6 jobs")
    assert few == many == second_page
    assert many <= MAX_QUERIES["wallet"]


def _paid_payouts(worker, count: int) -> None:
    now = timezone.now()
    Payout.objects.bulk_create(
        Payout(
            worker=worker,
            kind=PayoutKind.LNURL_PAY,
            amount_msat=1_000,
            destination="bob@wallet.example",
            state=PayoutState.SUCCEEDED if number % 3 else PayoutState.FAILED,
            payment_hash=hashlib.sha256(f"{worker.pk}-{number}".encode()).hexdigest(),
            preimage="ab" * 32,
            fee_msat=0,
            settled_at=now,
            last_error="" if number % 3 else "The wallet refused.",
            success_action={"tag": "message", "message": f"Thanks {number}"},
        )
        for number in range(count)
    )


def test_the_payouts_page(client, settings):
    settings.WITHDRAW_MIN_MSAT = 1_000
    worker = make_user("bob", funds_sats=0)
    give_earnings(worker, 21_000)
    payout = withdraw_claim(
        k1=withdraw_link_create(worker=worker).k1, invoice=get_backend().create_invoice(amount_msat=5_000).bolt11
    )
    payout_advance(payout_id=payout.pk)
    client.force_login(worker)
    few = queries_for(client, reverse("payouts"))

    _paid_payouts(worker, 40)
    many = queries_for(client, reverse("payouts"))

    print(f"\npayouts page: {few} queries with 1 payout, {many} with 41 payouts (25 on the page)")
    assert few == many
    assert many <= MAX_QUERIES["payouts"]


@pytest.mark.parametrize("state", ["pending", "paid", "expired"])
def test_the_deposit_page(client, state):
    user = make_user("dave", funds_sats=0)
    deposit = deposit_create(user=user, amount_msat=21_000)
    if state == "paid":
        get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
        deposit_refresh(deposit=deposit)
    elif state == "expired":
        deposit_refresh(deposit=deposit, now=deposit.expires_at + timedelta(seconds=1))
    client.force_login(user)
    url = reverse("deposit_detail", args=[deposit.public_id])
    few = queries_for(client, url)

    for _ in range(30):
        other = deposit_create(user=user, amount_msat=1_000)
        get_backend().pay_invoice(bolt11=other.bolt11, fee_limit_msat=0)
        deposit_refresh(deposit=other)
    many = queries_for(client, url)
    poll = queries_for(client, reverse("deposit_status", args=[deposit.public_id]))

    print(f"\ndeposit page ({state}): {few} queries with 1 deposit, {many} with 31; its htmx poll: {poll}")
    assert few == many
    assert many <= MAX_QUERIES["deposit_detail"]
