"""Work alerts in Chromium: a worker saves a board search from the board, finds it on Work alerts (from My work),
and when a matching job is published the bell says so and its notification opens the job; at 390 and 1280 px."""

import re

import pytest
from playwright.sync_api import expect

from marketplace import services as job_services
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 800}])
def test_a_worker_saves_a_board_search_and_is_alerted_to_a_matching_job(new_page, screenshot, viewport):
    worker, requester = make_user(), make_user()
    page = new_page(**viewport)
    log_in(page, worker.username, PASSWORD)

    page.goto("/?q=bicycles&min_reward=20")
    page.get_by_label("Email me too").check()
    page.get_by_role("button", name="Save this search as an alert").click()

    expect(page.get_by_role("heading", name="Work alerts", level=1)).to_be_visible()
    expect(page.get_by_text("Alert saved: you will be told")).to_be_visible()
    alerts = page.get_by_role("region", name="Your alerts")
    expect(alerts).to_contain_text("“bicycles”")
    expect(alerts).to_contain_text("at least 20 sats a task")
    expect(alerts).to_contain_text("in the site and by email")
    screenshot(page, f"work-alerts-{viewport['width']}")

    draft = make_job(requester=requester, publish=False, title="Count bicycles", reward_msat=21_000)
    job_services.job_publish(job=draft, actor=requester)  # a committed transaction: its handlers run, at once here
    make_job(requester=requester, title="Count cars", reward_msat=21_000)  # matches no alert

    page.goto("/work/")
    page.get_by_role("link", name="Work alerts").click()
    expect(page.get_by_role("heading", name="Work alerts", level=1)).to_be_visible()
    page.goto("/notifications/")
    alert = page.get_by_role("link", name=re.compile("New work: “Count bicycles”"))
    expect(alert).to_be_visible()
    expect(page.get_by_text("Count cars")).to_have_count(0)
    alert.click()
    expect(page.get_by_role("heading", name="Count bicycles")).to_be_visible()

    page.goto("/work/alerts/")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Alert deleted.")).to_be_visible()
    expect(page.get_by_text("You have no work alerts.")).to_be_visible()
