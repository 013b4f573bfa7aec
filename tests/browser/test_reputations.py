"""Reputations on the board, the job page and the review screen, at 390 px and 1280 px: the figures show, nothing is
wider than the screen, and axe finds no serious violation."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from marketplace.qualifications import qualification_grant, qualification_type_create
from tasks.reputations import reputations_refresh
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_phone_layout import OVERFLOWING
from tests.factories import PASSWORD, approved_work, make_job, make_submitted_assignment, make_user, paid_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def three_approved_make_a_rating(settings):
    settings.REPUTATION_MIN_APPROVED = 3
    settings.REPUTATION_MIN_WORKERS = 1
    settings.LIGHTNING_BACKEND = "dev"


@pytest.fixture
def reputations():
    day_ago = timezone.now() - timedelta(days=1)
    rated = make_job(
        requester=make_user("trusted", display_name="Trusted Lab"),
        title="Transcribe receipts",
        tasks=8,
        estimated_seconds_per_task=600,
    )
    [first, *_] = approved_work(rated, 4, seconds=45, accepted_at=day_ago)
    paid_out(first.worker, created_at=first.reviewed_at, settled_at=first.reviewed_at + timedelta(seconds=40))
    fresh = make_job(
        requester=make_user("newlab", display_name="New Lab"),
        title="Label cat photos",
        tasks=3,
        estimated_seconds_per_task=90,
    )
    german = qualification_type_create(owner=rated.requester, name="Fluent German")
    qualification_grant(qualification=german, actor=rated.requester, worker_id=first.worker.public_id, value=90)
    waiting = make_submitted_assignment(job=rated, worker=first.worker)
    reputations_refresh()
    return {"rated": rated, "fresh": fresh, "waiting": waiting}


@pytest.mark.parametrize(("width", "height", "name"), [(390, 844, "phone"), (1280, 800, "desktop")])
def test_reputations_on_the_board_job_page_and_review_screen(axe_page, screenshot, reputations, width, height, name):
    page = axe_page(width, height)
    page.goto(reverse("board"))
    rated_card = page.locator(".job-card", has_text="Transcribe receipts")
    expect(rated_card).to_contain_text("100% approved")
    expect(rated_card).to_contain_text("800 sats/hour measured")  # 10 sats in 45 s
    expect(rated_card).to_contain_text("sats arrive under a minute after approval")
    expect(page.locator(".job-card", has_text="Label cat photos")).to_contain_text(
        "New requester · 400 sats/hour (requester's estimate)"
    )
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, f"board-reputations-{name}")

    page.goto(reverse("job_detail", args=[reputations["rated"].public_id]))
    section = page.get_by_role("region", name="The requester, Trusted Lab")
    expect(section).to_contain_text("Work approved")
    expect(section).to_contain_text("sats arrive under a minute after approval (median)")
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, f"job-reputation-{name}")

    log_in(page, "trusted", PASSWORD)
    page.goto(reverse("review_queue", args=[reputations["rated"].public_id]))
    item = page.locator(f"#review-{reputations['waiting'].public_id}")
    expect(item).to_contain_text("100% of reviewed work approved · 1 approved · your qualifications: Fluent German 90")
    assert page.evaluate(OVERFLOWING) == []
    assert axe_violations(page) == []
    screenshot(page, f"review-worker-figures-{name}")
