"""Issue 10: the page allauth answers past its rate limits (templates/429.html), as a person sees it on a phone and a
desktop: the site's own layout, no serious accessibility violation, no sideways scrolling."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1280])
def test_too_many_log_ins_get_a_clear_page(axe_page, screenshot, settings, width):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "1/m/ip"}
    page = axe_page(width, 800)
    for _ in range(2):
        page.goto("/accounts/login/")
        page.locator("#id_login").fill("nobody")
        page.locator("#id_password").fill("not the password")
        page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", name="Too many log-in attempts")).to_be_visible()
    expect(page.get_by_text("Wait a minute, then try again.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert axe_violations(page) == []
    screenshot(page, f"too-many-log-ins-{width}")
    page.get_by_role("link", name="Try again").click()
    expect(page.locator("#id_login")).to_be_visible()
