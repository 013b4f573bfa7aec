"""The payout settings page (security issue 7, item 7.3 and the web part of item 11's overflow): changing where a
worker is paid asks for the password again, wrong passwords are rate-limited and change nothing; the other settings
need no password; a minimum too large for the database is a form error, not a 500."""

import pytest
from django.urls import reverse

from payments.models import PayoutDestination
from tests.factories import PASSWORD, set_payout_destination
from web.wallet_forms import MAX_MINIMUM_PAYOUT_SATS
from web.wallet_views import PAYOUT_PASSWORD_FAILURES_ALLOWED

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_to_alice(worker):
    return set_payout_destination(worker, "alice@wallet.example", auto_payout=True, minimum_payout_msat=1_000)


def post(client, **data):
    return client.post(reverse("payout_settings"), {"auto_payout": "on", "minimum_payout_sats": "1", **data})


def address_of(worker) -> str:
    return PayoutDestination.objects.get(user=worker).address


def test_changing_the_address_without_the_password_is_a_form_error_and_changes_nothing(
    worker_client, worker, paid_to_alice
):
    response = post(worker_client, address="")

    assert response.status_code == 200
    assert response.context["form"].errors["password"] == ["Enter your password to change where you are paid."]
    assert address_of(worker) == "alice@wallet.example"


def test_a_wrong_password_is_an_error_next_to_the_field_and_changes_nothing(worker_client, worker, paid_to_alice):
    response = post(worker_client, address="", password="letmein")

    assert response.context["form"].errors["password"] == ["That is not your password."]
    html = response.content.decode()
    assert "That is not your password." in html
    assert "letmein" not in html  # never echoed back
    assert address_of(worker) == "alice@wallet.example"


def test_the_right_password_changes_the_address(worker_client, worker, paid_to_alice):
    response = post(worker_client, address="", password=PASSWORD)

    assert response.status_code == 302
    assert address_of(worker) == ""


def test_changing_only_the_other_settings_needs_no_password(worker_client, worker):
    set_payout_destination(worker, "", auto_payout=True, minimum_payout_msat=1_000)

    response = worker_client.post(reverse("payout_settings"), {"address": "  ", "minimum_payout_sats": "500"})

    assert response.status_code == 302
    destination = PayoutDestination.objects.get(user=worker)
    assert (destination.address, destination.auto_payout, destination.minimum_payout_msat) == ("", False, 500_000)


def test_keeping_the_address_as_it_is_needs_no_password(worker_client, worker, paid_to_alice):
    """Surrounding spaces are no change; the address is still checked with the wallet as before (unreachable here,
    which is the service's error next to the address, not a request for the password)."""
    response = post(worker_client, address="  alice@wallet.example ", minimum_payout_sats="500")

    assert "password" not in response.context["form"].errors
    assert response.context["form"].errors["address"][0].startswith("That address did not work")


def test_too_many_wrong_passwords_lock_the_change_even_with_the_right_one(worker_client, worker, paid_to_alice):
    for _ in range(PAYOUT_PASSWORD_FAILURES_ALLOWED):
        assert post(worker_client, address="", password="guess").context["form"].errors["password"] == [
            "That is not your password."
        ]

    response = post(worker_client, address="", password=PASSWORD)

    assert response.status_code == 200
    assert response.context["form"].errors["password"][0].startswith("Too many wrong passwords")
    assert address_of(worker) == "alice@wallet.example"


def test_the_wrong_password_limit_is_per_user(worker_client, client, worker, stranger, paid_to_alice):
    for _ in range(PAYOUT_PASSWORD_FAILURES_ALLOWED):
        post(worker_client, address="", password="guess")
    set_payout_destination(stranger, "stranger@wallet.example")
    client.force_login(stranger)

    assert post(client, address="", password=PASSWORD).status_code == 302
    assert address_of(stranger) == ""


def test_the_password_field_is_labelled_and_asks_for_the_current_password(worker_client):
    html = worker_client.get(reverse("payout_settings")).content.decode()

    assert '<label class="field-label" for="id_password">Your password</label>' in html
    assert 'type="password"' in html
    assert 'autocomplete="current-password"' in html
    assert 'aria-describedby="id_password_helptext"' in html


@pytest.mark.parametrize("sats", ["9223372036854776", str(MAX_MINIMUM_PAYOUT_SATS + 1), "9" * 30])
def test_a_minimum_too_large_for_the_database_is_a_form_error_not_a_500(worker_client, worker, sats):
    """BUG: 9223372036854776 sats × 1000 overflows a 64-bit integer: PostgreSQL refused the save, a 500."""
    response = worker_client.post(reverse("payout_settings"), {"address": "", "minimum_payout_sats": sats})

    assert response.status_code == 200
    assert response.context["form"].errors["minimum_payout_sats"]
    assert not PayoutDestination.objects.filter(user=worker).exists()


def test_the_largest_minimum_is_accepted(worker_client, worker):
    response = worker_client.post(
        reverse("payout_settings"), {"address": "", "minimum_payout_sats": str(MAX_MINIMUM_PAYOUT_SATS)}
    )

    assert response.status_code == 302
    assert PayoutDestination.objects.get(user=worker).minimum_payout_msat == MAX_MINIMUM_PAYOUT_SATS * 1000
