"""Sign-up and password reset never tell a visitor whether an email address already has an account.

A sign-up with a taken address answers exactly like one with a fresh address (same status, redirect and page) and
makes nothing; the address's owner is mailed that someone tried. A taken *username* says so, since it has to.
"""

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client

from marketplace.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unusual passphrase"
CSRF_TOKEN_RE = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')  # differs per browser


@pytest.fixture
def owner(db):
    user = User.objects.create_user(username="omar", email="omar@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def sign_up(email: str, username: str) -> dict:
    """Sign up in a fresh browser; return what the visitor can observe: status, redirect, the page it leads to."""
    client = Client()
    response = client.post(
        "/accounts/signup/", {"email": email, "username": username, "password1": PASSWORD, "password2": PASSWORD}
    )
    observed = {"status": response.status_code, "location": response.get("Location")}
    page = client.get(response["Location"]) if response.status_code == 302 else response
    observed["page_status"] = page.status_code
    content = CSRF_TOKEN_RE.sub(r"\1", page.content.decode())
    observed["page"] = re.sub(re.escape(email), "EMAIL", content, flags=re.IGNORECASE).replace(username, "NAME")
    return observed


@pytest.mark.parametrize("taken", ["omar@example.com", "Omar@Example.COM"])
def test_a_taken_email_signs_up_exactly_like_a_fresh_one_and_makes_nothing(owner, taken):
    fresh = sign_up("nina@example.com", "nina")
    mail.outbox.clear()

    probe = sign_up(taken, "mallory")

    assert probe == fresh
    assert probe["location"] == "/accounts/confirm-email/"
    assert "already" not in probe["page"]
    assert not User.objects.filter(username="mallory").exists()
    assert list(EmailAddress.objects.filter(email__iexact="omar@example.com").values_list("user", flat=True)) == [
        owner.pk
    ]


def test_the_owner_of_a_taken_email_is_told_someone_tried_to_sign_up(owner):
    sign_up("omar@example.com", "mallory")

    (message,) = mail.outbox
    assert message.to == ["omar@example.com"]
    assert "Account Already Exists" in message.subject
    assert "tried to signup" in message.body
    assert "/accounts/password/reset/" in message.body  # the way back in, if they forgot


def test_a_taken_email_in_its_mail_cooldown_still_answers_like_a_fresh_one(owner):
    """allauth sends at most one verification mail per address in a few minutes and flashes "Confirmation email
    sent" only when it sent one; a second probe of a taken address must not show that it was skipped."""
    fresh = sign_up("nina@example.com", "nina")
    sign_up("omar@example.com", "mallory")

    second_probe = sign_up("omar@example.com", "mallet")

    assert second_probe == fresh


def test_a_taken_email_costs_the_same_password_hash_as_a_fresh_one(owner, monkeypatch):
    """A real sign-up hashes the password; without a hash of its own the probe would answer measurably sooner."""
    hashes = []
    original_encode = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher, "encode", lambda self, *args: hashes.append(1) or original_encode(self, *args)
    )

    sign_up("nina@example.com", "nina")
    fresh_hashes, hashes[:] = len(hashes), []
    sign_up("omar@example.com", "mallory")

    assert fresh_hashes == len(hashes) == 1


@pytest.mark.parametrize("email", ["omar@example.com", "someone.new@example.com"])
def test_a_taken_username_says_so_whatever_the_email(owner, email):
    observed = sign_up(email, "omar")

    assert observed["status"] == 200
    assert "A user with that username already exists." in observed["page"]
    assert "already registered" not in observed["page"]
    assert User.objects.count() == 1


def test_a_normal_sign_up_is_logged_in_by_following_the_emailed_link(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "nina@example.com", "username": "nina", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response["Location"] == "/accounts/confirm-email/"
    assert client.get("/work/").status_code == 302  # not in yet

    confirm_path = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    response = client.post(confirm_path)

    assert response.status_code == 302
    assert client.get("/work/").status_code == 200
    assert EmailAddress.objects.get(email="nina@example.com").verified


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(owner):
    answers = []
    for email in ("omar@example.com", "nobody@example.com"):
        response = Client().post("/accounts/password/reset/", {"email": email})
        answers.append((response.status_code, response.get("Location")))

    assert answers[0] == answers[1] == (302, "/accounts/password/reset/done/")
    assert [message.to for message in mail.outbox] == [["omar@example.com"], ["nobody@example.com"]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    assert "/accounts/password/reset/key/" not in mail.outbox[1].body
