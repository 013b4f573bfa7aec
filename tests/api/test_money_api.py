"""Money over the API with the development backend: deposits, bonuses, payouts and where they go."""

import re
from datetime import datetime

import pytest

from payments.deposits import deposit_create
from payments.lightning import LightningError, get_backend
from payments.models import Bonus, Deposit, DepositStatus, PayoutDestination
from payments.payouts import payout_create
from tests.api.conftest import api_client_for, assert_error, short
from tests.balances import available as available_msat
from tests.balances import earned as earned_msat
from tests.factories import give_earnings, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def pay(bolt11: str) -> None:
    """What the payer's wallet does; the development backend pays its own invoices."""
    result = get_backend().pay_invoice(bolt11=bolt11, fee_limit_msat=0)
    assert result.preimage, result


# Deposits ---------------------------------------------------------------------------------------------------------


def test_a_deposit_is_an_invoice_for_exactly_the_amount(broke_api, broke_requester):
    response = broke_api.post("/deposits", {"amount_msat": 21_000})
    assert response.status_code == 201, short(response)
    body = response.json()
    assert body["amount_msat"] == 21_000
    assert body["status"] == "pending"
    assert body["paid_at"] is None
    assert body["bolt11"].startswith("lnbc210n")
    assert re.fullmatch(r"[0-9a-f]{64}", body["payment_hash"])
    assert datetime.fromisoformat(body["expires_at"]).tzinfo is not None
    assert Deposit.objects.get(public_id=body["id"]).user == broke_requester
    assert available_msat(broke_requester) == 0


def test_a_paid_deposit_is_credited_once_however_often_it_is_read(broke_api, broke_requester):
    deposit = broke_api.post("/deposits", {"amount_msat": 50_000}).json()
    assert broke_api.get(f"/deposits/{deposit['id']}").json()["status"] == "pending"
    pay(deposit["bolt11"])
    for _ in range(3):
        body = broke_api.get(f"/deposits/{deposit['id']}").json()
        assert body["status"] == "paid"
        assert datetime.fromisoformat(body["paid_at"]).tzinfo is not None
    assert available_msat(broke_requester) == 50_000
    assert broke_api.get("/me").json()["available_msat"] == 50_000


def test_someone_elses_deposit_is_not_found_and_not_refreshed(stranger_api, broke_requester):
    deposit = deposit_create(user=broke_requester, amount_msat=30_000)
    pay(deposit.bolt11)
    assert_error(stranger_api.get(f"/deposits/{deposit.public_id}"), 404, "not_found")
    assert Deposit.objects.get(pk=deposit.pk).status == DepositStatus.PENDING
    assert available_msat(broke_requester) == 0


@pytest.mark.parametrize("deposit_id", ["999999", "abc", "0"])
def test_an_unknown_deposit_is_not_found(requester_api, deposit_id):
    assert_error(requester_api.get(f"/deposits/{deposit_id}"), 404, "not_found")


@pytest.mark.parametrize("amount_msat", [1_500, 999, 20_000_000_000_000])
def test_a_deposit_the_node_would_not_invoice_is_400_and_creates_nothing(requester_api, requester, amount_msat):
    error = assert_error(requester_api.post("/deposits", {"amount_msat": amount_msat}), 400, "validation_error")
    assert "sats" in error["message"]
    assert not Deposit.objects.exists()


def test_a_deposit_below_the_configured_minimum_is_400(settings, requester_api):
    settings.DEPOSIT_MIN_MSAT = 10_000
    assert_error(requester_api.post("/deposits", {"amount_msat": 5_000}), 400, "validation_error")


class UnreachableNode:
    moves_real_money = False

    def create_invoice(self, **kwargs):
        raise LightningError("connection refused")


def test_when_the_node_does_not_answer_the_deposit_is_503_and_the_key_can_be_retried(
    monkeypatch, broke_api, broke_requester
):
    monkeypatch.setattr("payments.deposits.get_backend", lambda: UnreachableNode())
    headers = {"Idempotency-Key": "deposit-retry"}
    response = broke_api.post("/deposits", {"amount_msat": 21_000}, headers=headers)
    assert_error(response, 503, "lightning_unavailable")
    assert not Deposit.objects.exists()
    monkeypatch.undo()
    retry = broke_api.post("/deposits", {"amount_msat": 21_000}, headers=headers)
    assert retry.status_code == 201, short(retry)  # a server error is not remembered as the key's answer
    assert "Idempotent-Replayed" not in retry
    assert Deposit.objects.count() == 1


# Bonuses ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def done_work(requester, worker):
    """The worker did a task of the requester's (submitted, not yet reviewed)."""
    job = make_job(requester=requester, tasks=2)
    return make_submitted_assignment(job=job, worker=worker)


def test_a_bonus_pays_the_worker_and_the_fee_from_the_balance(requester_api, requester, worker, done_work):
    before = available_msat(requester)
    response = requester_api.post(
        "/bonuses",
        {
            "worker_id": worker.public_id,
            "amount_msat": 50_000,
            "reason": "Great notes",
            "assignment_id": done_work.public_id,
        },
    )
    assert response.status_code == 201, short(response)
    body = response.json()
    assert body["worker_id"] == worker.public_id
    assert body["assignment_id"] == done_work.public_id
    assert (body["amount_msat"], body["fee_msat"], body["reason"]) == (50_000, 5_000, "Great notes")
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert before - available_msat(requester) == 55_000
    assert earned_msat(worker) == 50_000


def test_a_bonus_without_an_assignment(requester_api, worker, done_work):
    response = requester_api.post("/bonuses", {"worker_id": worker.public_id, "amount_msat": 1, "reason": "Thanks"})
    assert response.status_code == 201, short(response)
    assert response.json()["assignment_id"] is None
    assert response.json()["fee_msat"] == 1  # rounded up to the millisatoshi


@pytest.mark.parametrize("worker_id", ["999999", "abc", "", "-1"])
def test_a_bonus_to_an_unknown_worker_is_404(requester_api, requester, done_work, worker_id):
    before = available_msat(requester)
    response = requester_api.post("/bonuses", {"worker_id": worker_id, "amount_msat": 1_000, "reason": "Thanks"})
    assert_error(response, 404, "not_found")
    assert available_msat(requester) == before
    assert not Bonus.objects.exists()


def test_a_bonus_to_someone_who_never_worked_for_me_is_404(requester_api, requester, stranger, done_work):
    before = available_msat(requester)
    response = requester_api.post("/bonuses", {"worker_id": stranger.public_id, "amount_msat": 1_000, "reason": "Hi"})
    assert_error(response, 404, "not_found")
    assert (available_msat(requester), earned_msat(stranger)) == (before, 0)


def test_a_bonus_on_someone_elses_assignment_is_404(stranger_api, stranger, worker, done_work):
    make_submitted_assignment(job=make_job(requester=stranger, tasks=1), worker=worker)  # worked for both
    body = {"worker_id": worker.public_id, "amount_msat": 1_000, "reason": "Hi", "assignment_id": done_work.public_id}
    assert_error(stranger_api.post("/bonuses", body), 404, "not_found")
    assert earned_msat(worker) == 0


def test_a_bonus_beyond_the_balance_is_402_with_the_missing_amount(requester_api, requester, worker, done_work):
    spent = available_msat(requester)
    body = {"worker_id": worker.public_id, "amount_msat": spent, "reason": "Everything I have"}
    response = requester_api.post("/bonuses", body)
    error = assert_error(response, 402, "insufficient_funds")
    assert error["details"]["missing_msat"] == spent // 10  # the 10% fee is what is missing
    assert available_msat(requester) == spent
    assert earned_msat(worker) == 0
    assert not Bonus.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [{"reason": ""}, {"reason": "   "}, {"amount_msat": 0}, {"amount_msat": -1}, {"amount_msat": 10**11},
     {"worker_id": None}, {"reason": "x" * 1_001}],
)  # fmt: skip
def test_an_invalid_bonus_is_400_and_pays_nothing(requester_api, worker, done_work, changes):
    body = {"worker_id": worker.public_id, "amount_msat": 1_000, "reason": "Thanks", **changes}
    assert_error(requester_api.post("/bonuses", body), 400, "validation_error")
    assert earned_msat(worker) == 0


def test_a_nul_in_a_bonus_reason_is_400_not_a_server_error(requester_api, worker, done_work):
    """BUG: the reason goes into a text column as is; PostgreSQL refuses NUL: a 500."""
    body = {"worker_id": worker.public_id, "amount_msat": 1_000, "reason": "Thanks\x00"}
    assert_error(requester_api.post("/bonuses", body), 400, "validation_error")
    assert earned_msat(worker) == 0


# Payouts and where they go --------------------------------------------------------------------------------------


def test_no_payouts_yet(worker_api):
    assert worker_api.get("/payouts").json() == {"items": [], "next": None}


def test_payouts_list_only_my_own(worker_api, worker, stranger):
    give_earnings(worker, 5_000)
    give_earnings(stranger, 7_000)
    mine = payout_create(worker=worker, kind="lnurl_pay", amount_msat=5_000, destination="w@example.com")
    payout_create(worker=stranger, kind="lnurl_pay", amount_msat=7_000, destination="s@example.com")
    items = worker_api.get("/payouts").json()["items"]
    assert [item["id"] for item in items] == [mine.public_id]
    assert items[0]["status"] == "created"
    assert (items[0]["payment_hash"], items[0]["preimage"], items[0]["settled_at"]) == (None, None, None)


def test_a_destination_that_does_not_resolve_is_400_and_not_saved(worker_api, worker):
    response = worker_api.put("/me/payout-destination", {"lightning_address": "bob@nonexistent.invalid"})
    assert_error(response, 400, "invalid_payout_destination")
    assert not PayoutDestination.objects.filter(user=worker).exists()


@pytest.mark.parametrize("address", ["not an address", "bob@", "@example.com", "lnurl1qqqq", "http://example.com/x"])
def test_a_malformed_destination_is_400(worker_api, worker, address):
    assert_error(worker_api.put("/me/payout-destination", {"lightning_address": address}), 400,
                 "invalid_payout_destination")  # fmt: skip
    assert not PayoutDestination.objects.filter(user=worker).exists()


def test_both_an_address_and_an_lnurl_is_400(worker_api, worker):
    body = {"lightning_address": "bob@example.com", "lnurl": "lnurl1dp68gurn8ghj7"}
    assert_error(worker_api.put("/me/payout-destination", body), 400, "validation_error")
    assert not PayoutDestination.objects.filter(user=worker).exists()


def test_no_address_means_withdraw_by_qr_only(worker_api, worker):
    response = worker_api.put("/me/payout-destination", {"auto_payout": False, "minimum_payout_msat": 5_000})
    assert response.status_code == 200, short(response)
    assert response.json() == {"address": "", "wallet_name": "", "auto_payout": False, "minimum_payout_msat": 5_000}
    destination = PayoutDestination.objects.get(user=worker)
    assert (destination.address, destination.minimum_payout_msat) == ("", 5_000)


@pytest.mark.parametrize("minimum", [999, 0, -1, 10**13])
def test_a_minimum_payout_out_of_bounds_is_400(worker_api, minimum):
    assert_error(worker_api.put("/me/payout-destination", {"minimum_payout_msat": minimum}), 400, "validation_error")


def test_me_shows_what_is_in_escrow_and_what_was_earned(requester_api, requester, worker_api, worker):
    make_job(requester=requester, tasks=3)
    give_earnings(worker, 8_000)
    assert requester_api.get("/me").json()["escrow_msat"] == 33_000
    assert worker_api.get("/me").json()["earned_msat"] == 8_000


def test_a_user_with_no_accounts_yet_has_zero_balances(db):
    newcomer = make_user("newcomer", funds_sats=0)
    body = api_client_for(newcomer).get("/me").json()
    assert (body["available_msat"], body["escrow_msat"], body["earned_msat"]) == (0, 0, 0)
