"""Issue 14: an account that logs in with a Lightning wallet has no password, so a fresh wallet log-in, not a
password, confirms a change of where it is paid; after 15 minutes it logs in with the wallet again."""

import time

import pytest
from django.urls import reverse

from payments.models import PayoutDestination
from tests.factories import make_user
from web.adapters import AUTHENTICATED_AT_SESSION_KEY

pytestmark = pytest.mark.django_db

ADDRESS = "wallet@127.0.0.1:9"


@pytest.fixture
def wallet_user(settings):
    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["127.0.0.1:9"]
    user = make_user("wallet-abcdef12", funds_sats=0)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def logged_in(client, user, *, seconds_ago: float):
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_SESSION_KEY] = time.time() - seconds_ago
    session.save()
    return client


@pytest.mark.parametrize("page", ["payout_settings", "payment_step"])
def test_a_stale_wallet_session_is_asked_to_log_in_with_the_wallet_again(client, wallet_user, page):
    logged_in(client, wallet_user, seconds_ago=3600)
    form = client.get(reverse(page)).content.decode()
    assert 'type="password"' not in form  # there is no password to ask for
    data = {"address": ADDRESS, "minimum_payout_sats": 1, "auto_payout": "on", "choice": "address"}
    response = client.post(reverse(page), data)
    assert "log in with your wallet again" in response.content.decode()
    assert not PayoutDestination.objects.filter(user=wallet_user).exclude(address="").exists()


def test_a_fresh_wallet_log_in_needs_no_password_on_the_payout_settings(client, wallet_user):
    logged_in(client, wallet_user, seconds_ago=60)
    assert 'type="password"' not in client.get(reverse("payout_settings")).content.decode()
