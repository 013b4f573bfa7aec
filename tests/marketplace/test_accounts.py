"""Accounts through django-allauth: sign up, email verification, log in and out, password reset."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from marketplace.models import User

PASSWORD = "a long and unusual passphrase"


def sign_up(client, username="nina", email="nina@example.com", **extra):
    return client.post(
        "/accounts/signup/",
        {"email": email, "username": username, "password1": PASSWORD, "password2": PASSWORD, **extra},
    )


@pytest.mark.django_db
def test_signup_creates_the_user_with_a_display_name_and_sends_a_verification_email(client):
    response = sign_up(client, display_name="Nina K.")

    assert response.status_code == 302
    user = User.objects.get(username="nina")
    assert user.display_name == "Nina K."
    assert user.public_name == "Nina K."
    assert len(mail.outbox) == 1
    assert "nina@example.com" in mail.outbox[0].to
    assert "/accounts/confirm-email/" in mail.outbox[0].body


@pytest.mark.django_db
def test_signup_errors_are_shown_next_to_the_fields_and_create_nothing(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "not-an-email", "username": "x", "password1": "short", "password2": "other"},
    )

    assert response.status_code == 200
    assert not User.objects.exists()
    assert 'class="errorlist' in response.content.decode()


@pytest.mark.django_db
def test_mandatory_verification_blocks_login_until_the_link_is_followed(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    sign_up(client)
    confirm_path = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)

    client.post("/accounts/login/", {"login": "nina", "password": PASSWORD})
    assert client.get("/work/").status_code == 302  # not logged in: sent to the login page

    client.post(confirm_path)
    assert EmailAddress.objects.get(email="nina@example.com").verified
    client.post("/accounts/login/", {"login": "nina", "password": PASSWORD})
    assert client.get("/work/").status_code == 200


@pytest.mark.django_db
def test_signups_can_be_closed(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUPS = False

    sign_up(client)

    assert not User.objects.exists()


@pytest.mark.django_db
def test_log_in_with_username_or_email_and_log_out(client):
    user = User.objects.create_user(username="omar", email="omar@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)  # verification is mandatory

    client.post("/accounts/login/", {"login": "omar@example.com", "password": PASSWORD})
    assert client.get("/work/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/work/").status_code == 302
    client.post("/accounts/login/", {"login": "omar", "password": PASSWORD})
    assert client.get("/work/").status_code == 200


@pytest.mark.django_db
def test_password_reset_sends_a_working_link(client):
    user = User.objects.create_user(username="omar", email="omar@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)

    client.post("/accounts/password/reset/", {"email": "omar@example.com"})
    reset_path = re.search(r"(/accounts/password/reset/key/[^\s]+)", mail.outbox[-1].body).group(1)
    form_path = client.get(reset_path).url or reset_path
    client.post(form_path, {"password1": "another long passphrase", "password2": "another long passphrase"})

    user.refresh_from_db()
    assert user.check_password("another long passphrase")
