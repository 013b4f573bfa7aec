"""Log in with a Lightning wallet in Chromium: the log-in page shows the QR code and the lightning: link, a real
signer (tests/lnauth/wallet.py) calls the callback over HTTP as a phone would, and the page logs in by itself."""

import re
import time

import httpx
import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_user
from tests.lnauth.wallet import Wallet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_login_page_logs_in_by_itself_once_the_wallet_signs(new_page, screenshot, live_server, settings):
    settings.SITE_URL = live_server.url  # the LNURL the page shows points at this live server
    wallet = Wallet()
    page = new_page()
    page.goto("/accounts/login/")

    qr = page.locator(".lnauth-qr svg")
    expect(qr).to_be_visible()
    link = page.get_by_role("link", name="Open in a wallet on this device")
    href = link.get_attribute("href")
    assert re.fullmatch(r"lightning:LNURL1[0-9A-Z]+", href)
    expect(page.get_by_role("status").filter(has_text="Waiting for your wallet")).to_be_visible()
    screenshot(page, "wallet-login")

    started = time.monotonic()
    answer = httpx.get(wallet.callback_url(href.removeprefix("lightning:")), timeout=10)
    assert answer.json() == {"status": "OK"}
    assert answer.headers["access-control-allow-origin"] == "*"

    # The poll (every 2 s) sees the signature, and the page submits the finish form itself.
    expect(page.get_by_role("heading", name="How do you want to be paid?")).to_be_visible(timeout=8_000)
    assert time.monotonic() - started < 8
    account = SocialAccount.objects.get(provider="lnurl_auth")
    assert account.uid == wallet.key("127.0.0.1")
    expect(page.locator(".nav-user")).to_contain_text(account.user.username)


def test_the_sign_up_page_shows_the_wallet_log_in_within_a_phone_screen(new_page, live_server, settings):
    settings.SITE_URL = live_server.url
    page = new_page(width=360, height=780)
    page.goto("/accounts/signup/")
    expect(page.locator(".lnauth-qr svg")).to_be_visible()
    page.get_by_text("Show the LNURL to copy").click()
    expect(page.locator(".lnauth-code code")).to_contain_text("LNURL1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_logged_in_user_links_a_wallet_from_the_connections_page(new_page, screenshot, live_server, settings):
    settings.SITE_URL = live_server.url
    user = make_user("lena", funds_sats=0)
    wallet = Wallet()
    page = new_page()
    log_in(page, "lena", PASSWORD)
    page.goto("/accounts/3rdparty/")
    page.get_by_role("link", name="Lightning wallet").click()
    expect(page.get_by_role("heading", name="Link a Lightning wallet")).to_be_visible()
    href = page.get_by_role("link", name="Open in a wallet on this device").get_attribute("href")

    assert httpx.get(wallet.callback_url(href.removeprefix("lightning:")), timeout=10).json() == {"status": "OK"}
    expect(page.get_by_role("heading", name="Account Connections")).to_be_visible(timeout=8_000)
    expect(page.get_by_text(f"Lightning wallet {wallet.key('127.0.0.1')[:8]}")).to_be_visible()
    screenshot(page, "wallet-linked")
    assert SocialAccount.objects.get(provider="lnurl_auth").user == user
