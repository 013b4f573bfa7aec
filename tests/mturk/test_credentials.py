"""Mechanical Turk credentials: made with an AWS-shaped key pair whose secret is shown once and stored only
encrypted, capped per account, refused to banned and deactivated accounts, revoked by their owner only; the
`create_mturk_credentials` command prints a working pair and nothing else."""

import re
from io import StringIO

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from core.errors import InvalidInput, NotFound
from marketplace.users import AccountBanned
from moderation.services import user_ban
from mturk.credentials import (
    MAX_LIVE_CREDENTIALS,
    AccountInactive,
    credential_create,
    credential_find,
    credential_revoke,
    credential_secret,
)
from mturk.models import MturkCredential
from mturk.signing import INVALID_TOKEN, SignatureRefused, verify_signature
from tests.factories import make_moderator, make_user
from tests.mturk.sigv4 import signed_request

ACCESS_KEY = re.compile(r"AKIA[A-Z0-9]{16}")
SECRET = re.compile(r"[A-Za-z0-9/+]{40}")


@pytest.mark.django_db
def test_a_pair_is_shaped_like_aws_and_the_secret_is_stored_only_encrypted(requester):
    credential, secret = credential_create(user=requester, currency="sat")
    assert ACCESS_KEY.fullmatch(credential.access_key_id)
    assert SECRET.fullmatch(secret)
    assert credential.currency == "sat"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mturk_mturkcredential WHERE id = %s", [credential.pk])
        row = cursor.fetchone()
    assert not any(secret in str(column) for column in row)
    assert secret not in repr(credential)
    assert secret not in str(credential)
    assert credential_secret(MturkCredential.objects.get(pk=credential.pk)) == secret


@pytest.mark.django_db
def test_each_pair_is_new(requester):
    pairs = [credential_create(user=requester, currency="usd") for _ in range(3)]
    assert len({credential.access_key_id for credential, _ in pairs}) == 3
    assert len({secret for _, secret in pairs}) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["", "eur", "USD", "btc"])
def test_an_unknown_currency_is_refused_and_nothing_is_made(requester, currency):
    with pytest.raises(InvalidInput, match=r"choose usd .* or sat"):
        credential_create(user=requester, currency=currency)
    assert not MturkCredential.objects.exists()


@pytest.mark.django_db
def test_a_banned_or_deactivated_account_gets_no_credentials(requester, worker):
    user_ban(moderator=make_moderator(), user=requester, reason="Fraud")
    with pytest.raises(AccountBanned):
        credential_create(user=requester, currency="usd")
    worker.is_active = False
    worker.save(update_fields=["is_active"])
    with pytest.raises(AccountInactive):
        credential_create(user=worker, currency="usd")
    assert not MturkCredential.objects.exists()


@pytest.mark.django_db
def test_an_account_holds_at_most_ten_working_pairs(requester):
    made = [credential_create(user=requester, currency="usd")[0] for _ in range(MAX_LIVE_CREDENTIALS)]
    with pytest.raises(InvalidInput, match="revoke one you no longer use first"):
        credential_create(user=requester, currency="usd")
    assert MturkCredential.objects.filter(user=requester).count() == MAX_LIVE_CREDENTIALS

    credential_revoke(user=requester, access_key_id=made[0].access_key_id)
    credential_create(user=requester, currency="usd")
    # Another account's pairs are its own.
    credential_create(user=make_user(), currency="usd")


@pytest.mark.django_db
def test_revoking_is_idempotent_and_only_the_owner_can(requester, stranger, mturk_pair):
    credential, secret = mturk_pair
    with pytest.raises(NotFound):
        credential_revoke(user=stranger, access_key_id=credential.access_key_id)
    with pytest.raises(NotFound):
        credential_revoke(user=requester, access_key_id="AKIA" + "0" * 16)
    credential.refresh_from_db()
    assert credential.revoked_at is None
    assert verify_signature(signed_request(key=credential.access_key_id, secret=secret)) == credential

    credential_revoke(user=requester, access_key_id=credential.access_key_id)
    credential.refresh_from_db()
    first_revocation = credential.revoked_at
    assert first_revocation is not None
    credential_revoke(user=requester, access_key_id=credential.access_key_id)
    credential.refresh_from_db()
    assert credential.revoked_at == first_revocation
    with pytest.raises(SignatureRefused, match=re.escape(INVALID_TOKEN)):
        verify_signature(signed_request(key=credential.access_key_id, secret=secret))


@pytest.mark.django_db
def test_find_returns_only_working_credentials_with_their_user_in_one_query(
    requester, mturk_pair, django_assert_num_queries
):
    credential, _ = mturk_pair
    with django_assert_num_queries(1):
        found = credential_find(credential.access_key_id)
        assert found.user.username == requester.username
    assert credential_find("AKIA" + "0" * 16) is None
    assert credential_find("") is None
    assert credential_find("x" * 500) is None

    requester.is_active = False
    requester.save(update_fields=["is_active"])
    assert credential_find(credential.access_key_id) is None
    requester.is_active = True
    requester.save(update_fields=["is_active"])
    credential_revoke(user=requester, access_key_id=credential.access_key_id)
    assert credential_find(credential.access_key_id) is None


@pytest.mark.django_db
def test_rotating_secret_key_the_django_way_keeps_credentials_working(requester, settings):
    settings.SECRET_KEY = "the old secret key " * 3
    settings.SECRET_KEY_FALLBACKS = []
    old, old_secret = credential_create(user=requester, currency="usd")

    settings.SECRET_KEY = "the new secret key " * 3
    settings.SECRET_KEY_FALLBACKS = ["the old secret key " * 3]
    assert verify_signature(signed_request(key=old.access_key_id, secret=old_secret)) == old
    new, new_secret = credential_create(user=requester, currency="usd")
    assert verify_signature(signed_request(key=new.access_key_id, secret=new_secret)) == new

    # Dropping the old key from the fallbacks loses what it encrypted: refused as an unknown key, never a crash.
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(InvalidToken):
        credential_secret(MturkCredential.objects.get(pk=old.pk))
    with pytest.raises(SignatureRefused, match=re.escape(INVALID_TOKEN)):
        verify_signature(signed_request(key=old.access_key_id, secret=old_secret))
    assert verify_signature(signed_request(key=new.access_key_id, secret=new_secret)) == new


@pytest.mark.django_db
def test_the_command_prints_exactly_two_lines_that_work(requester, caplog):
    caplog.set_level("DEBUG")
    out, err = StringIO(), StringIO()
    call_command("create_mturk_credentials", requester.username, "--currency", "sat", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, out.getvalue()
    key_line, secret_line = lines
    key = re.fullmatch(r"aws_access_key_id = (AKIA[A-Z0-9]{16})", key_line).group(1)
    secret = re.fullmatch(r"aws_secret_access_key = ([A-Za-z0-9/+]{40})", secret_line).group(1)
    assert err.getvalue() == ""
    assert secret not in caplog.text

    credential = verify_signature(signed_request(key=key, secret=secret))
    assert (credential.user, credential.currency) == (requester, "sat")


@pytest.mark.django_db
def test_the_command_makes_usd_pairs_unless_told(requester):
    out = StringIO()
    call_command("create_mturk_credentials", requester.username, stdout=out)
    key = out.getvalue().split()[2]
    assert MturkCredential.objects.get(access_key_id=key).currency == "usd"


@pytest.mark.django_db
def test_the_command_refuses_clearly(requester):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_mturk_credentials", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_mturk_credentials", requester.username, "--currency", "eur", stdout=StringIO())
    user_ban(moderator=make_moderator(), user=requester, reason="Fraud")
    with pytest.raises(CommandError, match="banned"):
        call_command("create_mturk_credentials", requester.username, stdout=StringIO())
    assert not MturkCredential.objects.exists()


@pytest.mark.django_db
def test_the_admin_shows_credentials_without_their_secret(client, mturk_pair, django_user_model):
    credential, secret = mturk_pair
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    listing = client.get(reverse("admin:mturk_mturkcredential_changelist"))
    assert listing.status_code == 200
    assert credential.access_key_id in listing.content.decode()
    page = client.get(reverse("admin:mturk_mturkcredential_change", args=[credential.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert credential.access_key_id in html
    assert secret not in html
    assert credential.secret_encrypted not in html
    # Read-only for everyone: no change is accepted.
    response = client.post(reverse("admin:mturk_mturkcredential_change", args=[credential.pk]), {"currency": "sat"})
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.currency == "usd"
