"""Issue 9, a worker's first hour: right after sign-up, one page asks how they want to be paid (a Lightning Address,
or withdrawing by QR code, or skip for now) and then continues to where they were going. In development it shows
the test wallet's address that works on this very site."""

import re
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from core.models import Event
from payments.models import PayoutDestination
from tests.factories import PASSWORD, set_payout_destination
from tests.pages import messages_of
from web import once

pytestmark = pytest.mark.django_db

STEP = reverse("payment_step")
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CONFIRM_PATH = re.compile(r"(/accounts/confirm-email/[^\s]+)")


def sign_up(client, username="nina", next_url=None):
    """allauth's own sign-up form, as a browser sends it (with `?next=` when the visitor came to go somewhere)."""
    url = "/accounts/signup/" + (f"?next={quote(next_url)}" if next_url else "")
    data = {"email": f"{username}@example.com", "username": username, "password1": PASSWORD, "password2": PASSWORD}
    return client.post(url, data)


def follow_email_link(client):
    """Confirm the address with the link allauth mailed (verification is mandatory)."""
    return client.post(CONFIRM_PATH.search(mail.outbox[-1].body).group(1))


def signed_up(client, username="nina"):
    """A newcomer who has just signed up and followed the email link in the same browser: logged in."""
    sign_up(client, username)
    assert follow_email_link(client)["Location"] == STEP
    return client


def token_of(page) -> str:
    return TOKEN.search(page.content.decode()).group(1)


def send(client, url=STEP, **data):
    """The step's form sent with the token of a fresh rendering of the page (as a browser does)."""
    return client.post(url, {once.FORM_TOKEN_FIELD: token_of(client.get(url)), **data})


def said(client) -> list[str]:
    """The messages the next page shows (any page shows them: the payout settings here)."""
    return messages_of(client.get(reverse("payout_settings")))


def destination_of(username):
    return PayoutDestination.objects.filter(user__username=username).first()


# After sign-up -------------------------------------------------------------------------------------------------


def test_following_the_email_link_after_sign_up_leads_to_the_payment_step(client):
    response = sign_up(client)
    assert response.status_code == 302  # "check your email": verification is mandatory

    confirmed = follow_email_link(client)

    assert confirmed.status_code == 302
    assert confirmed["Location"] == STEP
    page = client.get(STEP)
    assert page.status_code == 200
    assert "<h1>How do you want to be paid?</h1>" in page.content.decode()


def test_a_destination_given_at_sign_up_is_kept_for_after_the_step(client):
    sign_up(client, next_url="/work/?status=approved")

    confirmed = follow_email_link(client)

    assert confirmed["Location"] == f"{STEP}?next=%2Fwork%2F%3Fstatus%3Dapproved"
    page = client.get(confirmed["Location"])
    assert 'href="/work/?status=approved">Skip for now</a>' in page.content.decode()
    chosen = send(client, confirmed["Location"], choice="withdraw")
    assert chosen["Location"] == "/work/?status=approved"


def test_without_email_verification_sign_up_goes_straight_to_the_step(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"

    assert sign_up(client)["Location"] == STEP
    assert sign_up(Client(), "omar", next_url="/work/")["Location"] == f"{STEP}?next=%2Fwork%2F"


def test_the_email_link_followed_in_another_browser_leads_to_log_in_and_then_the_step(client):
    sign_up(client)
    other_browser = Client()

    confirmed = follow_email_link(other_browser)

    assert confirmed["Location"] == f"/accounts/login/?next={quote(STEP, safe='')}"
    logged_in = other_browser.post(confirmed["Location"], {"login": "nina", "password": PASSWORD})
    assert logged_in["Location"] == STEP


def test_an_everyday_log_in_does_not_pass_through_the_step(client, worker):
    logged_in = client.post("/accounts/login/", {"login": worker.username, "password": PASSWORD})

    assert logged_in["Location"] == reverse("board")


# The choices ---------------------------------------------------------------------------------------------------


@pytest.fixture
def test_wallet(live_server, settings):
    """The site's own development test wallet (`/.well-known/lnurlp/<name>`), served by the live server at the
    `host:port` that outbound LNURL requests may reach over plain http, as `make run` sets up."""
    host_port = live_server.url.removeprefix("http://")
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host_port]
    return host_port


def test_saving_the_test_address_shown_in_development_makes_it_where_payouts_go(client, test_wallet):
    signed_up(client)
    page = client.get(STEP, HTTP_HOST=test_wallet)  # the page as `make run` serves it, at 127.0.0.1:<port>
    html = page.content.decode()
    assert f'<code id="test-address">nina@{test_wallet}</code>' in html
    assert f'data-fill-address="nina@{test_wallet}"' in html

    saved = client.post(
        STEP, {once.FORM_TOKEN_FIELD: token_of(page), "choice": "address", "address": f"nina@{test_wallet}"}
    )

    assert saved.status_code == 302
    assert saved["Location"] == reverse("board")
    destination = destination_of("nina")
    assert destination.address == f"nina@{test_wallet}"
    assert destination.verified_at is not None
    assert destination.auto_payout  # paid the moment work is approved
    assert destination.minimum_payout_msat == 1_000
    assert said(client) == ["Saved. Payouts go to Test wallet of nina (development, no real money)."]
    settings_page = client.get(reverse("payout_settings")).content.decode()
    assert f'value="nina@{test_wallet}"' in settings_page


def test_the_test_address_is_built_from_the_host_the_page_was_asked_at_only_when_that_host_works(
    client, settings, test_wallet
):
    """Asked at `localhost:<port>` (not one outbound requests may reach), the address uses SITE_URL's host."""
    settings.SITE_URL = f"http://{test_wallet}"
    signed_up(client)
    port = test_wallet.rsplit(":", 1)[1]

    html = client.get(STEP, HTTP_HOST=f"localhost:{port}").content.decode()

    assert f'<code id="test-address">nina@{test_wallet}</code>' in html


def test_an_invalid_address_is_an_error_next_to_the_field_and_stores_nothing(client):
    signed_up(client)

    response = send(client, choice="address", address="nina at my wallet")

    assert response.status_code == 200
    [error] = response.context["form"].errors["address"]
    assert error.startswith("That address did not work: this is neither a Lightning Address")
    assert error in response.content.decode()
    assert destination_of("nina") is None


def test_choosing_an_address_without_typing_one_is_an_error_and_stores_nothing(client):
    signed_up(client)

    response = send(client, choice="address", address="  ")

    assert response.context["form"].errors["address"] == [
        "Enter your Lightning Address, or choose to withdraw with a QR code."
    ]
    assert destination_of("nina") is None


def test_choosing_the_qr_code_keeps_earnings_in_the_wallet_and_continues(client):
    signed_up(client)

    response = send(client, choice="withdraw")

    assert response["Location"] == reverse("board")
    destination = destination_of("nina")
    assert destination is not None
    assert destination.address == ""  # withdrawn by QR code, never paid out automatically
    assert said(client) == ["Saved. Your earnings collect in your wallet: withdraw them with a QR code."]


def test_skip_for_now_continues_and_stores_nothing(client):
    signed_up(client)

    html = client.get(f"{STEP}?next=/jobs/").content.decode()

    assert 'href="/jobs/">Skip for now</a>' in html
    assert destination_of("nina") is None


def test_a_next_on_another_site_is_not_followed(client):
    signed_up(client)

    html = client.get(f"{STEP}?next=https://phish.example/").content.decode()

    assert f'href="{reverse("board")}">Skip for now</a>' in html
    assert send(client, f"{STEP}?next=https://phish.example/", choice="withdraw")["Location"] == reverse("board")


def test_a_double_sent_choice_acts_once(client):
    signed_up(client)
    token = token_of(client.get(STEP))

    first = client.post(STEP, {once.FORM_TOKEN_FIELD: token, "choice": "withdraw"})
    second = client.post(STEP, {once.FORM_TOKEN_FIELD: token, "choice": "withdraw"})

    assert first["Location"] == second["Location"] == reverse("board")
    assert Event.objects.filter(type="payout_destination.changed").count() == 1


# Development only ----------------------------------------------------------------------------------------------


def test_no_test_address_is_offered_when_real_money_moves(client, settings):
    signed_up(client)
    assert 'id="test-address"' in client.get(STEP).content.decode()

    settings.LIGHTNING_BACKEND = "lnbits"
    settings.LNBITS_URL = "http://127.0.0.1:9"  # never called: the page only asks which backend is on
    settings.LNBITS_ADMIN_KEY = "unused"
    html = client.get(STEP).content.decode()

    assert "test-address" not in html
    assert "data-fill-address" not in html
    assert "nina@" not in html


# Coming back later ---------------------------------------------------------------------------------------------


def test_coming_back_in_a_session_that_did_not_just_log_in_asks_for_the_password_to_change_where_money_goes(
    client, worker
):
    set_payout_destination(worker, "alice@wallet.example", auto_payout=True, minimum_payout_msat=5_000)
    client.force_login(worker)  # a session left open, not a fresh log-in

    refused = send(client, choice="withdraw")
    wrong = send(client, choice="withdraw", password="guess")
    assert refused.context["form"].errors["password"] == ["Enter your password to change where you are paid."]
    assert wrong.context["form"].errors["password"] == ["That is not your password."]
    assert destination_of(worker.username).address == "alice@wallet.example"

    changed = send(client, choice="withdraw", password=PASSWORD)

    assert changed.status_code == 302
    destination = destination_of(worker.username)
    assert (destination.address, destination.auto_payout, destination.minimum_payout_msat) == ("", True, 5_000)


def test_the_payout_settings_link_to_the_step_which_says_what_is_chosen_now_and_comes_back(client, worker):
    set_payout_destination(worker, "alice@wallet.example", auto_payout=True, minimum_payout_msat=1_000)
    client.force_login(worker)

    settings_page = client.get(reverse("payout_settings")).content.decode()
    step_page = client.get(f"{STEP}?next=%2Fwallet%2Fpayouts%2F").content.decode()

    assert f'href="{STEP}?next=%2Fwallet%2Fpayouts%2F"' in settings_page
    assert "Now: payouts go to <strong>alice@wallet.example</strong>" in step_page
    assert 'href="/wallet/payouts/">Skip for now</a>' in step_page
