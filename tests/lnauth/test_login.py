"""Log in with a Lightning wallet through the pages and the wallet's callback, with a real signer (tests/lnauth/
wallet.py): a browser is a test Client, the wallet calls from another Client (another device, no session)."""

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from lnurl import url_decode

from lnauth.models import AuthChallenge
from marketplace.models import User
from tests.factories import PASSWORD, make_user
from tests.lnauth.conftest import PANEL, finish, k1_of, local, shown_lnurl, status, wallet_calls
from tests.lnauth.wallet import Wallet

pytestmark = pytest.mark.django_db


def logged_in_user(client):
    return client.get(reverse("board")).wsgi_request.user


def test_a_new_wallet_makes_an_account_with_no_email_or_password_and_goes_to_the_payment_step(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    k1 = k1_of(code)
    assert 'hx-trigger="every 2s"' in status(browser, k1).content.decode()

    assert wallet_calls(wallet.callback_url(code)).json() == {"status": "OK"}
    signed = status(browser, k1).content.decode()
    assert "data-lnauth-autosubmit" in signed
    assert f'value="{k1}"' in signed
    response = finish(browser, k1)

    assert response.status_code == 302
    assert response.url.startswith(reverse("payment_step"))
    account = SocialAccount.objects.get(provider="lnurl_auth")
    user = account.user
    assert account.uid == wallet.key("127.0.0.1") == AuthChallenge.objects.get(k1=k1).linking_key
    assert user.username == f"wallet-{account.uid[:8]}"
    assert user.email == ""
    assert not user.has_usable_password()
    assert logged_in_user(browser) == user


def test_the_same_key_logs_the_same_account_back_in(wallet, logged_in_by_wallet):
    logged_in_by_wallet(Client(), wallet)
    user = User.objects.get(socialaccount__provider="lnurl_auth")

    again = Client()
    response = logged_in_by_wallet(again, wallet)
    assert response.status_code == 302
    assert response.url == reverse("board")
    assert logged_in_user(again) == user
    assert User.objects.filter(socialaccount__provider="lnurl_auth").count() == 1
    # Another wallet is another account.
    logged_in_by_wallet(Client(), Wallet())
    assert User.objects.filter(socialaccount__provider="lnurl_auth").count() == 2


def test_a_wallet_whose_username_is_taken_gets_another():
    other = Wallet()
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    key, _sig = other.sign(k1_of(code), "127.0.0.1")
    # The new account's name is made from its own key; make it collide with an existing one.
    User.objects.create_user(username=f"wallet-{key[:8]}", password=None)
    assert wallet_calls(other.callback_url(code)).json() == {"status": "OK"}
    finish(browser, k1_of(code))
    new_user = logged_in_user(browser)
    assert new_user.is_authenticated
    assert new_user.username.startswith(f"wallet-{key[:8]}")
    assert new_user.username != f"wallet-{key[:8]}"


def test_a_bad_signature_is_refused_and_changes_nothing(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    good = wallet.callback_url(code)
    _key, other_sig = wallet.sign("11" * 32, "127.0.0.1")
    bad = good.rsplit("&sig=", 1)[0] + f"&sig={other_sig}&key={wallet.key('127.0.0.1')}"

    answer = wallet_calls(bad).json()
    assert answer["status"] == "ERROR"
    assert "signature" in answer["reason"]
    assert AuthChallenge.objects.get(k1=k1_of(code)).verified_at is None
    assert "every 2s" in status(browser, k1_of(code)).content.decode()
    assert wallet_calls(good).json() == {"status": "OK"}


def test_a_signature_with_another_key_is_refused(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    url = wallet.callback_url(code)
    wrong_key = Wallet().key("127.0.0.1")
    answer = wallet_calls(url.rsplit("&key=", 1)[0] + f"&key={wrong_key}").json()
    assert answer["status"] == "ERROR"
    assert "signature" in answer["reason"]
    assert AuthChallenge.objects.get(k1=k1_of(code)).verified_at is None


def test_a_k1_works_once(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    assert wallet_calls(wallet.callback_url(code)).json() == {"status": "OK"}
    replay = wallet_calls(Wallet().callback_url(code)).json()
    assert replay == {"status": "ERROR", "reason": "This k1 was already used."}
    # The first signer's key stays the one that logs in.
    assert AuthChallenge.objects.get(k1=k1_of(code)).linking_key == wallet.key("127.0.0.1")

    assert finish(browser, k1_of(code)).status_code == 302
    assert logged_in_user(browser).is_authenticated
    # Finishing again in the same browser does nothing more.
    browser.logout()
    finish(browser, k1_of(code))
    assert not logged_in_user(browser).is_authenticated


def test_an_expired_k1_is_refused(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    AuthChallenge.objects.filter(k1=k1_of(code)).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = wallet_calls(wallet.callback_url(code)).json()
    assert answer["status"] == "ERROR"
    assert "expired" in answer["reason"]
    assert AuthChallenge.objects.get(k1=k1_of(code)).verified_at is None
    assert "expired" in status(browser, k1_of(code)).content.decode()


def test_a_signed_k1_cannot_be_finished_late(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    wallet_calls(wallet.callback_url(code))
    AuthChallenge.objects.filter(k1=k1_of(code)).update(verified_at=timezone.now() - timedelta(minutes=6))
    finish(browser, k1_of(code))
    assert not logged_in_user(browser).is_authenticated
    assert not SocialAccount.objects.exists()


def test_a_k1_signed_for_one_browser_cannot_be_finished_from_another(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    k1 = k1_of(code)
    assert wallet_calls(wallet.callback_url(code)).json() == {"status": "OK"}

    stranger = Client()  # no session at all
    assert status(stranger, k1).status_code == 404
    finish(stranger, k1)
    assert not logged_in_user(stranger).is_authenticated

    attacker = Client()
    attacker.get(PANEL)  # a session of its own, with its own browser token
    assert status(attacker, k1).status_code == 404
    finish(attacker, k1)
    assert not logged_in_user(attacker).is_authenticated
    assert AuthChallenge.objects.get(k1=k1).finished_at is None

    finish(browser, k1)
    assert logged_in_user(browser).is_authenticated


def test_a_k1_of_another_action_is_refused(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    url = wallet.callback_url(code).replace("action=login", "action=link")
    answer = wallet_calls(url).json()
    assert answer == {"status": "ERROR", "reason": "This k1 is for login, not link."}
    assert AuthChallenge.objects.get(k1=k1_of(code)).verified_at is None


def test_the_callback_answers_json_to_any_origin():
    ok_shapes = Client().get(local("http://x/accounts/lnurl-auth/callback?tag=login&k1=00&sig=00&key=00&action=login"))
    assert ok_shapes["Access-Control-Allow-Origin"] == "*"
    assert ok_shapes["Content-Type"] == "application/json"
    assert ok_shapes.json()["status"] == "ERROR"
    assert ok_shapes.json()["reason"]
    assert Client().get("/accounts/lnurl-auth/callback?tag=withdrawRequest").json()["status"] == "ERROR"
    unknown = Client().get(
        "/accounts/lnurl-auth/callback",
        {"tag": "login", "k1": "ab" * 32, "sig": "30" * 8, "key": "02" + "ab" * 32, "action": "login"},
    )
    assert unknown.json() == {"status": "ERROR", "reason": "Unknown k1: scan the QR code again."}


def test_the_callback_is_not_under_csrf(wallet):
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    wallet_device = Client(enforce_csrf_checks=True)
    assert wallet_device.get(local(wallet.callback_url(code))).json() == {"status": "OK"}


def test_the_callback_is_rate_limited_per_address(settings, wallet):
    settings.LNURL_AUTH_CALLBACKS_PER_MINUTE = 2
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    bad = "/accounts/lnurl-auth/callback?tag=login&k1=00&sig=00&key=00&action=login"
    assert Client().get(bad).status_code == 200
    assert Client().get(bad).status_code == 200
    limited = Client().get(local(wallet.callback_url(code)))
    assert limited.status_code == 429
    assert limited.json()["status"] == "ERROR"
    assert limited["Access-Control-Allow-Origin"] == "*"
    assert AuthChallenge.objects.get(k1=k1_of(code)).verified_at is None
    # Another address is counted apart.
    other = Client(REMOTE_ADDR="10.0.0.9").get(local(wallet.callback_url(code)))
    assert other.json() == {"status": "OK"}


def test_a_rate_limit_of_zero_is_no_limit(settings, wallet):
    settings.LNURL_AUTH_CALLBACKS_PER_MINUTE = 0
    for _ in range(5):
        assert Client().get("/accounts/lnurl-auth/callback?tag=login").status_code == 200


def test_the_login_and_signup_pages_show_the_wallet_qr_code_and_lightning_link_as_served():
    for page in (reverse("account_login"), reverse("account_signup")):
        html = Client().get(page).content.decode()
        assert "<svg" in html
        assert 'href="lightning:LNURL1' in html
        assert "?tag=login&k1=" in str(url_decode(html.split('href="lightning:')[1].split('"')[0]))
        assert 'hx-trigger="every 2s"' in html  # then the page polls
        assert "js/lnauth" in html


def test_the_panel_shows_a_qr_code_of_the_lnurl_and_a_fresh_k1_each_time():
    browser = Client()
    first = browser.get(PANEL)
    html = first.content.decode()
    assert "<svg" in html
    assert "lightning:LNURL1" in html
    code = shown_lnurl(first)
    assert f"k1={k1_of(code)}&action=login" in str(url_decode(code))
    assert k1_of(shown_lnurl(browser.get(PANEL))) != k1_of(code)


def test_a_next_url_is_followed_after_a_known_wallet_logs_in(wallet, logged_in_by_wallet):
    logged_in_by_wallet(Client(), wallet)
    browser = Client()
    target = reverse("wallet")
    code = shown_lnurl(browser.get(PANEL, {"next": target}))
    wallet_calls(wallet.callback_url(code))
    assert f'name="next" value="{target}"' in status(browser, k1_of(code), next=target).content.decode()
    response = finish(browser, k1_of(code), next=target)
    assert response.url == target


def test_link_a_wallet_to_an_account_and_unlink_it(wallet):
    user = make_user("lena", funds_sats=0)
    browser = Client()
    browser.force_login(user)
    # allauth's connections page offers the wallet through our provider's page.
    connections = browser.get(reverse("socialaccount_connections")).content.decode()
    assert f'href="{reverse("lnurl_auth_login")}?process=connect"' in connections
    page = browser.get(reverse("lnurl_auth_login"), {"process": "connect"})
    code = shown_lnurl(page)
    assert "action=link" in str(url_decode(code))
    assert wallet_calls(wallet.callback_url(code)).json() == {"status": "OK"}
    response = finish(browser, k1_of(code))
    assert response.status_code == 302
    assert response.url == reverse("socialaccount_connections")
    account = SocialAccount.objects.get(provider="lnurl_auth")
    assert account.user == user
    assert account.uid == wallet.key("127.0.0.1")

    # The wallet now logs in to Lena's account.
    other_browser = Client()
    code = shown_lnurl(other_browser.get(PANEL))
    wallet_calls(wallet.callback_url(code))
    finish(other_browser, k1_of(code))
    assert logged_in_user(other_browser) == user

    # She has a password and a verified email: the wallet can go.
    connections = browser.get(reverse("socialaccount_connections")).content.decode()
    assert "Lightning wallet" in connections
    browser.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert not SocialAccount.objects.exists()


def test_the_only_way_into_a_wallet_account_cannot_be_unlinked(wallet, logged_in_by_wallet):
    browser = Client()
    logged_in_by_wallet(browser, wallet)
    account = SocialAccount.objects.get(provider="lnurl_auth")
    response = browser.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert response.status_code == 200
    assert "no password" in response.content.decode()
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_a_wallet_of_another_account_cannot_be_linked(wallet, logged_in_by_wallet):
    logged_in_by_wallet(Client(), wallet)
    user = make_user("omar", funds_sats=0)
    browser = Client()
    browser.force_login(user)
    code = shown_lnurl(browser.get(reverse("lnurl_auth_login"), {"process": "connect"}))
    answer = wallet_calls(wallet.callback_url(code).replace("action=login", "action=link")).json()
    assert answer == {"status": "ERROR", "reason": "This wallet is already linked to another Boltwork account."}
    assert not SocialAccount.objects.filter(user=user).exists()


def test_a_link_asked_for_by_one_account_cannot_be_finished_by_another(wallet):
    lena, omar = make_user("lena2", funds_sats=0), make_user("omar2", funds_sats=0)
    browser = Client()
    browser.force_login(lena)
    code = shown_lnurl(browser.get(reverse("lnurl_auth_login"), {"process": "connect"}))
    wallet_calls(wallet.callback_url(code))
    # The same browser, now logged in as someone else (the browser token stays in the session).
    session_token = browser.session["lnauth_browser_token"]
    browser.force_login(omar)
    session = browser.session
    session["lnauth_browser_token"] = session_token
    session.save()
    finish(browser, k1_of(code))
    assert not SocialAccount.objects.exists()


def test_linking_needs_a_logged_in_user():
    response = Client().get(reverse("lnurl_auth_login"), {"process": "connect"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not AuthChallenge.objects.exists()


def test_a_refusal_htmx_asked_for_is_shown_and_ends_the_polling(settings):
    settings.LNURL_AUTH_CHALLENGES_PER_MINUTE = 1
    browser = Client()
    shown_lnurl(browser.get(PANEL))
    limited = browser.get(PANEL, headers={"HX-Request": "true"})
    assert limited.status_code == 200
    assert "Too many wallet log-in codes" in limited.content.decode()
    assert browser.get(PANEL).status_code == 429
    stranger = Client().get(reverse("lnurl_auth_status"), {"k1": "ab" * 32}, headers={"HX-Request": "true"})
    assert stranger.status_code == 200
    assert "hx-trigger" not in stranger.content.decode()


def test_a_wallet_user_adds_an_email_later_and_may_then_unlink_after_setting_a_password(wallet, logged_in_by_wallet):
    browser = Client()
    logged_in_by_wallet(browser, wallet)
    user = User.objects.get(socialaccount__provider="lnurl_auth")
    browser.post(reverse("account_email"), {"email": "wally@example.com", "action_add": ""})
    assert EmailAddress.objects.filter(user=user, email="wally@example.com", verified=False).exists()
    confirm_path = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    browser.post(confirm_path)
    assert EmailAddress.objects.get(user=user, email="wally@example.com").verified

    browser.post(reverse("account_set_password"), {"password1": PASSWORD, "password2": PASSWORD})
    user.refresh_from_db()
    assert user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    browser.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert not SocialAccount.objects.filter(user=user).exists()
