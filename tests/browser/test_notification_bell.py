"""Issue 10: the notifications bell in a real browser. Its accessible name, on a phone (in the menu, with the count
on the Menu button too) and on a desktop (in the header row), and the way from the bell to the work a notification
is about."""

import re

import pytest
from playwright.sync_api import expect

from notifications.models import NotificationPreference
from tasks.services import assignment_review
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import axe_violations
from tests.factories import PASSWORD, make_job, make_submitted_assignment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def approved_worker():
    """A worker whose work was just approved (the handlers ran when the approval committed)."""
    requester = make_user()
    worker = make_user()
    assignment = make_submitted_assignment(job=make_job(requester=requester, tasks=2), worker=worker)
    assignment_review(assignment=assignment, reviewer=requester, approve=True, feedback="Spot on.")
    return worker, assignment


def test_on_a_phone_the_menu_shows_the_count_and_the_bell_leads_to_the_work(new_page, screenshot, approved_worker):
    worker, assignment = approved_worker
    page = new_page(390, 844)
    log_in(page, worker.username, PASSWORD)

    menu = page.locator(".site-nav summary")
    expect(menu).to_have_accessible_name("Menu, 1 unread notifications")
    expect(menu.locator(".nav-count")).to_have_text("1")
    assert menu.bounding_box()["height"] < 56, "the Menu button stays one line"
    bell = page.get_by_role("link", name="Notifications, 1 unread", exact=True)
    expect(bell).to_be_hidden()
    menu.click()
    expect(bell).to_be_visible()
    bell.click()

    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    title = page.get_by_role("link", name="Unread: Work approved: “Rate a review”")
    expect(title).to_be_visible()
    expect(page.get_by_text("Feedback: Spot on.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "notifications-phone")
    title.click()

    expect(page).to_have_url(re.compile(f"/work/assignments/{assignment.public_id}/$"))
    expect(page.locator(".site-nav summary")).to_have_accessible_name("Menu")
    page.locator(".site-nav summary").click()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

    page.goto("/notifications/settings/")
    expect(page.get_by_label("Job's funds running out: by email")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    table = page.locator(".table-wrap")
    assert table.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth"), "both columns of boxes show"
    screenshot(page, "notification-settings-phone")


def test_on_a_desktop_the_bell_is_in_the_header_row_and_the_settings_save(new_page, screenshot, approved_worker):
    worker, _ = approved_worker
    page = new_page(1280, 800)
    log_in(page, worker.username, PASSWORD)

    bell = page.get_by_role("link", name="Notifications, 1 unread", exact=True)
    expect(bell).to_be_visible()
    wallet = page.get_by_role("link", name="Wallet", exact=True)
    assert abs(bell.bounding_box()["y"] - wallet.bounding_box()["y"]) < 4, "the bell sits in the row of links"
    expect(page.locator(".nav-bell-label")).to_have_css("position", "absolute")  # the word is for screen readers

    bell.click()
    page.get_by_role("link", name="Notification settings").click()
    expect(page.get_by_role("heading", name="Notification settings", level=1)).to_be_visible()
    page.get_by_label("Work approved: by email").uncheck()
    page.get_by_label("Payout sent: in the site").uncheck()
    screenshot(page, "notification-settings-desktop")
    page.get_by_role("button", name="Save settings").click()

    expect(page.get_by_text("Your notification settings are saved.")).to_be_visible()
    expect(page.get_by_label("Work approved: by email")).not_to_be_checked()
    expect(page.get_by_label("Work approved: in the site")).to_be_checked()
    assert set(NotificationPreference.objects.filter(user=worker).values_list("kind", "in_app", "email")) == {
        ("work_approved", True, False),
        ("payout_sent", False, True),
    }

    page.goto("/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("Marked 1 notification read.")).to_be_visible()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_the_bell_with_unread_notifications_passes_axe_with_the_menu_open(axe_page, approved_worker, width, height):
    worker, _ = approved_worker
    page = axe_page(width, height)
    log_in(page, worker.username, PASSWORD)
    if width < 1024:
        page.locator(".site-nav summary").click()
    expect(page.get_by_role("link", name="Notifications, 1 unread", exact=True)).to_be_visible()

    assert axe_violations(page) == []
