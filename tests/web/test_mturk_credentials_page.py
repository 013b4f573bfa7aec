"""The API settings page's Mechanical Turk section: a requester makes a key pair (the secret shown once, in the two
lines an AWS credentials file takes), sees their pairs and when each was last used, and revokes them; the page
says where to point a script, in which currency, and how to try it."""

import re
from html import unescape

import pytest
from django.urls import reverse

from mturk.credentials import MAX_LIVE_CREDENTIALS, credential_create
from mturk.models import MturkCredential
from mturk.signing import SignatureRefused, verify_signature
from tests.html_parsing import visible_text
from tests.mturk.sigv4 import signed_request

pytestmark = pytest.mark.django_db

PAGE = reverse("api_settings")


def create(client, currency: str = "usd"):
    return client.post(PAGE, {"mturk-currency": currency, "create_mturk_credential": "1"})


def test_the_page_says_where_to_point_a_script_and_at_what_rate(requester_client, settings):
    settings.SITE_URL = "https://boltwork.example"
    settings.MTURK_SATS_PER_USD = 1_234
    text = visible_text(requester_client.get(PAGE).content.decode())
    assert "Mechanical Turk credentials" in text
    assert "https://boltwork.example/mturk" in text
    assert "https://boltwork.example/sandbox/mturk" in text
    assert "1234 sats per dollar" in text.replace(",", "")
    assert 'boto3.client("mturk", region_name="us-east-1", endpoint_url="https://boltwork.example/sandbox/mturk")' in (
        text
    )
    assert "The same pair works on both endpoints" in text


def test_a_pair_made_on_the_page_is_shown_once_and_works(requester_client, requester):
    page = create(requester_client, "sat").content.decode()
    credential = MturkCredential.objects.get(user=requester)
    assert credential.currency == "sat"
    shown = re.search(
        r"aws_access_key_id = (AKIA[A-Z0-9]{16})\naws_secret_access_key = ([A-Za-z0-9/+]{40})", unescape(page)
    )
    assert shown.group(1) == credential.access_key_id
    secret = shown.group(2)
    assert verify_signature(signed_request(key=credential.access_key_id, secret=secret)) == credential

    again = requester_client.get(PAGE).content.decode()
    assert secret not in unescape(again)
    listed = visible_text(again)
    assert credential.access_key_id in listed
    assert "SAT" in listed
    assert "never" in listed  # not used yet


def test_a_bad_currency_is_refused_next_to_the_field_and_makes_nothing(requester_client):
    response = create(requester_client, "eur")
    assert response.status_code == 200
    assert "Select a valid choice" in visible_text(response.content.decode())
    assert not MturkCredential.objects.exists()


def test_the_cap_is_explained_on_the_page(requester_client, requester):
    for _ in range(MAX_LIVE_CREDENTIALS):
        credential_create(user=requester, currency="usd")
    text = visible_text(create(requester_client).content.decode())
    assert "revoke one you no longer use first" in text
    assert MturkCredential.objects.filter(user=requester).count() == MAX_LIVE_CREDENTIALS


def test_revoking_asks_first_then_stops_the_pair(requester_client, requester):
    credential, secret = credential_create(user=requester, currency="usd")
    page = requester_client.get(PAGE).content.decode()
    revoke_url = reverse("mturk_credential_revoke", args=[credential.access_key_id])
    form = re.search(rf'<form method="post" action="{re.escape(revoke_url)}">.*?</form>', page, re.S).group(0)
    assert "data-confirm=" in form

    response = requester_client.post(revoke_url, follow=True)
    assert "revoked" in visible_text(response.content.decode())
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    assert "Revoked" in visible_text(requester_client.get(PAGE).content.decode())
    assert revoke_url not in requester_client.get(PAGE).content.decode()
    with pytest.raises(SignatureRefused):
        verify_signature(signed_request(key=credential.access_key_id, secret=secret))


def test_nobody_revokes_another_requesters_pair(client, stranger, requester):
    credential, _ = credential_create(user=requester, currency="usd")
    client.force_login(stranger)
    response = client.post(reverse("mturk_credential_revoke", args=[credential.access_key_id]))
    assert response.status_code == 404
    credential.refresh_from_db()
    assert credential.revoked_at is None
    assert credential.access_key_id not in client.get(PAGE).content.decode()


def test_revoking_needs_a_post_and_a_login(client, requester):
    credential, _ = credential_create(user=requester, currency="usd")
    url = reverse("mturk_credential_revoke", args=[credential.access_key_id])
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(requester)
    assert client.get(url).status_code == 405
    credential.refresh_from_db()
    assert credential.revoked_at is None
