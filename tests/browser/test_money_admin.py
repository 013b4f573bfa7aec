"""Issue 10: a moderator, in the admin, finds a payout waiting for them, reads its attempts, cancels it with the
money back in the worker's earnings, and checks the ledger against the Lightning wallet (the development backend)."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from payments.deposits import deposit_create, deposit_refresh
from payments.lightning import get_backend
from payments.models import Payout, PayoutKind, PayoutState
from payments.payouts import payout_create
from tests.balances import earned
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, give_earnings, make_moderator, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_payout_waiting_for_a_moderator() -> Payout:
    """A requester's real deposit (paid by the development test wallet) pays a worker's task; the worker's payout
    ran out of attempts."""
    requester, worker = make_user("ria", funds_sats=0), make_user("wes", funds_sats=0)
    deposit = deposit_create(user=requester, amount_msat=100_000)
    get_backend().pay_invoice(bolt11=deposit.bolt11, fee_limit_msat=0)
    deposit_refresh(deposit=deposit)
    give_earnings(worker, 21_000, requester=requester)
    with transaction.atomic():  # waiting before it commits: the payout job started on commit leaves it alone
        payout = payout_create(
            worker=worker, kind=PayoutKind.LNURL_PAY, amount_msat=21_000, destination="wes@gone.example"
        )
        Payout.objects.filter(pk=payout.pk).update(
            state=PayoutState.NEEDS_MODERATOR, attempts=6, last_error="Could not reach gone.example: name not known."
        )
    return payout


def assert_no_sideways_scrolling(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [390, 1280])
def test_a_moderator_cancels_a_waiting_payout_and_reconciles_the_ledger(new_page, screenshot, settings, width):
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "regtest"
    payout = a_payout_waiting_for_a_moderator()
    make_moderator("mod")
    page = new_page(width=width, height=900)
    log_in(page, "mod", PASSWORD)

    page.goto("/admin/payments/payout/")
    page.get_by_role("link", name="Waiting for a moderator: 1").click()
    expect(page.get_by_text("Could not reach gone.example: name not known.")).to_be_visible()
    assert_no_sideways_scrolling(page, width)
    screenshot(page, f"admin-payouts-waiting-{width}")
    page.get_by_role("link", name=payout.public_id).click()

    expect(page.get_by_role("heading", name="Attempt history")).to_be_visible()
    expect(page.get_by_role("heading", name="This payout waits for a moderator")).to_be_visible()
    page.get_by_label("Reason for cancelling (the worker sees it)").fill("The address's domain no longer exists.")
    assert_no_sideways_scrolling(page, width)
    screenshot(page, f"admin-payout-waiting-{width}")
    page.get_by_role("button", name="Cancel the payout and return the money").click()

    expect(page.get_by_text("cancelled: its amount is back in the balance it came from")).to_be_visible()
    assert Payout.objects.get(pk=payout.pk).state == PayoutState.FAILED
    assert earned(payout.worker) == 21_000
    expect(page.get_by_role("cell", name="payout.failed")).to_be_visible()

    page.goto("/admin/payments/account/")
    page.get_by_role("link", name="Reconcile with the Lightning wallet").click()
    expect(page.get_by_text("Balanced: the wallet holds exactly what the ledger says it should.")).to_be_visible()
    assert_no_sideways_scrolling(page, width)
    screenshot(page, f"admin-reconciliation-{width}")
