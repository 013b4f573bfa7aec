"""Issue 9: "What it costs" follows the terms as a requester types them, and the expiry is typed in the browser's
own time zone and stored in UTC (on a phone and on a desktop)."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from marketplace.models import Job
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_the_cost_follows_the_terms_and_the_expiry_is_in_the_browsers_time_zone(
    chromium, live_server, settings, screenshot, width, height
):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000
    requester = make_user()
    context = chromium.new_context(
        viewport={"width": width, "height": height}, base_url=live_server.url, timezone_id="Asia/Tokyo"
    )
    try:
        page = context.new_page()
        log_in(page, requester.username, PASSWORD)
        page.goto("/requester/jobs/new/")
        # The first page sets the time zone cookie; the form read on the next one names the zone.
        page.reload()
        expect(page.get_by_label("Expires (optional, Asia/Tokyo time)")).to_be_visible()
        summary = page.locator(".cost-summary")
        page.get_by_label("Title").fill("Label photos")
        page.get_by_label("Description").fill("Say what is in a photo.")
        page.get_by_label("Reward per assignment (sats)").fill("20")
        page.get_by_label("Assignments per task").fill("3")
        page.get_by_label("Estimated time per task (seconds)").fill("30")
        expect(summary.locator('[data-cost="fee"]')).to_have_text("2")
        expect(summary.locator('[data-cost="per-task"]')).to_have_text("66")
        expect(summary.locator('[data-cost="per-hundred"]')).to_have_text("6,600")
        expect(summary.locator('[data-cost="per-hour"]')).to_have_text("2,400")
        page.get_by_label("Reward per assignment (sats)").fill("15")
        # Fractions of a sat are rounded up, as everything a requester pays is shown (1.5 and 49.5 sats).
        expect(summary.locator('[data-cost="fee"]')).to_have_text("2")
        expect(summary.locator('[data-cost="per-task"]')).to_have_text("50")
        expect(summary.locator('[data-cost="per-hundred"]')).to_have_text("4,950")
        page.get_by_label("Reward per assignment (sats)").fill("5")
        expect(summary.locator('[data-cost="fee"]')).to_have_text("1")
        expect(summary.locator('[data-cost-unit="fee"]')).to_have_text("sat")
        page.get_by_label("Reward per assignment (sats)").fill("15")
        if width > 600:
            screenshot(page, "post-a-job")
        page.get_by_label("Expires (optional, Asia/Tokyo time)").fill("2031-01-01T09:00")
        page.get_by_role("button", name="Save draft and continue").click()
        expect(page.get_by_role("heading", name="Answer form")).to_be_visible()
        job = Job.objects.get(requester=requester)
        assert job.expires_at == datetime(2031, 1, 1, 0, 0, tzinfo=UTC)
        assert job.estimated_seconds_per_task == 30
    finally:
        context.close()
