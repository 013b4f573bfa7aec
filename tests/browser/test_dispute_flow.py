"""Issue 10 end to end in a browser: a worker disputes a rejection, the requester answers, a moderator overturns it
in the admin, and the worker's sats arrive in their Lightning wallet (this site's test wallet)."""

import pytest
from playwright.sync_api import expect

from payments.ledger import ledger_check
from payments.models import Payout, PayoutState
from tasks.models import Dispute, DisputeStatus
from tasks.services import assignment_review
from tests.browser.helpers import log_in
from tests.factories import (
    PASSWORD,
    make_job,
    make_moderator,
    make_submitted_assignment,
    make_user,
    set_payout_destination,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_worker_disputes_the_requester_answers_a_moderator_overturns_and_the_sats_arrive(
    new_page, screenshot, live_server, settings
):
    host_port = live_server.url.removeprefix("http://")
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host_port]
    requester, worker = make_user("rhea"), make_user("wes", funds_sats=0)
    set_payout_destination(worker, f"wes@{host_port}")
    moderator = make_moderator("mona")
    job = make_job(requester=requester, tasks=2, instructions="Say how the customer **feels**.")
    assignment = make_submitted_assignment(job=job, worker=worker)
    assignment_review(
        assignment=assignment,
        reviewer=requester,
        approve=False,
        feedback="You did not read the review.",
        rejection_reason="instructions",
    )

    # The worker reads why, and disputes.
    worker_page = new_page()
    log_in(worker_page, worker.username, PASSWORD)
    worker_page.goto(f"/work/assignments/{assignment.public_id}/")
    expect(worker_page.get_by_role("heading", name="Rejected: Did not follow the instructions")).to_be_visible()
    worker_page.get_by_label("Dispute this rejection").fill("I read it: the customer is happy, so Positive.")
    worker_page.get_by_role("button", name="Open a dispute").click()
    expect(worker_page.get_by_text("Dispute opened. The reward is held until it is decided.")).to_be_visible()
    dispute = Dispute.objects.get()

    # The requester answers once.
    requester_page = new_page()
    log_in(requester_page, requester.username, PASSWORD)
    requester_page.goto(f"/disputes/{dispute.public_id}/")
    requester_page.get_by_label("Your answer").fill("The review says 'never again'.")
    requester_page.get_by_role("button", name="Send your answer").click()
    expect(requester_page.get_by_text("Your answer is sent.")).to_be_visible()
    screenshot(requester_page, "dispute")

    # A moderator overturns it in the admin, with a reason.
    moderator_page = new_page()
    log_in(moderator_page, moderator.username, PASSWORD)
    moderator_page.goto("/admin/tasks/dispute/")
    moderator_page.get_by_role("link", name=dispute.public_id).click()
    expect(moderator_page.get_by_text("You did not read the review.")).to_be_visible()
    moderator_page.get_by_label("Reason (both sides see it)").fill("'Never again' is about the courier; Positive.")
    screenshot(moderator_page, "moderator-dispute")
    moderator_page.get_by_role("button", name="Overturn: approve and pay the worker").click()
    expect(moderator_page.get_by_text("Rejection overturned: the worker is paid.")).to_be_visible()

    # The worker sees the decision and the payout to their wallet.
    worker_page.goto(f"/disputes/{dispute.public_id}/")
    expect(worker_page.get_by_text("Rejection overturned: paid").first).to_be_visible()
    worker_page.goto("/wallet/payouts/")
    expect(worker_page.locator(".payout .badge").first).to_have_text("Paid")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OVERTURNED
    assert Payout.objects.get(worker=worker).state == PayoutState.SUCCEEDED
    assert ledger_check() == []
