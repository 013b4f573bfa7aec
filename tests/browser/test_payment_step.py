"""The payment step in a browser, in development: "Use this test address" fills in the test wallet's Lightning
Address that this very site serves, and saving it makes it where payouts go."""

import pytest
from playwright.sync_api import expect

from payments.models import PayoutDestination
from tests.browser.helpers import sign_up
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_a_newcomer_uses_the_test_address_with_one_click(new_page, screenshot, live_server, settings, width, height):
    host_port = live_server.url.removeprefix("http://")
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host_port]  # as `make run` sets it for its own test wallet
    page = new_page(width=width, height=height)

    sign_up(page, "nina", PASSWORD)
    expect(page.locator("#test-address")).to_have_text(f"nina@{host_port}")
    page.get_by_role("button", name="Use this test address").click()
    expect(page.get_by_label("Your Lightning Address")).to_have_value(f"nina@{host_port}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    if width > 600:
        screenshot(page, "payment-step")
    page.get_by_role("button", name="Save this address and continue").click()

    expect(page.get_by_text("Saved. Payouts go to Test wallet of nina")).to_be_visible()
    expect(page.get_by_role("heading", name="Find work")).to_be_visible()
    assert PayoutDestination.objects.get(user__username="nina").address == f"nina@{host_port}"
