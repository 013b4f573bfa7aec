"""The payout settings page against wallets that stall or point inside our network (security issue 7, items 2 and
8): the page answers within a few seconds whatever the wallet's pacing, and its error never says what a host name
resolves to (that would let anyone map our internal DNS one typed name at a time)."""

import re
import socket
import time

import pytest
from django.urls import reverse

from payments.errors import PayoutDestinationInvalid
from payments.models import PayoutDestination
from payments.services import payout_destination_set
from tests.factories import PASSWORD
from tests.payments.slow_servers import SlowServer, drip_headers

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo
IP_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b", re.IGNORECASE)


@pytest.fixture
def corp_dns(monkeypatch):
    """`wallet.corp.test` resolves to a private address, as an internal name would."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "wallet.corp.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.20.30.40", port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def post_address(client, address: str):
    data = {"address": address, "auto_payout": "on", "minimum_payout_sats": "50", "password": PASSWORD}
    return client.post(reverse("payout_settings"), data)


@pytest.mark.parametrize(
    ("address", "host"), [("alice@wallet.corp.test", "wallet.corp.test"), ("alice@localhost", "localhost")]
)
def test_the_settings_page_refuses_an_internal_name_without_saying_what_it_resolves_to(
    worker_client, corp_dns, address, host
):
    response = post_address(worker_client, address)

    assert response.status_code == 200
    errors = response.context["form"].errors["address"]
    assert errors == [f"That address did not work: the address {host} is not allowed"]
    html = response.content.decode()
    assert errors[0] in html
    assert "10.20.30.40" not in html
    assert not IP_ADDRESS.search(errors[0])
    assert not PayoutDestination.objects.exists()


def test_the_service_message_names_no_address_or_kind_of_address(worker, corp_dns):
    with pytest.raises(PayoutDestinationInvalid) as refused:
        payout_destination_set(
            user=worker, address="alice@wallet.corp.test", auto_payout=True, minimum_payout_msat=50_000
        )

    assert not IP_ADDRESS.search(refused.value.message)
    assert "private" not in refused.value.message
    assert "points to" not in refused.value.message


def test_the_settings_page_answers_a_dripping_wallet_within_the_destination_check_time(worker_client, settings):
    server = SlowServer(drip_headers(interval_seconds=0.3)).start()
    try:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [server.host_port()]
        settings.LNURL_TIMEOUT_SECONDS = 30
        settings.LNURL_DESTINATION_CHECK_SECONDS = 1

        started = time.monotonic()
        response = post_address(worker_client, f"alice@{server.host_port()}")
        elapsed = time.monotonic() - started
    finally:
        server.stop()

    assert response.context["form"].errors["address"] == [
        "That address did not work: the server at 127.0.0.1 did not answer within 1 second"
    ]
    assert elapsed < 1 + 1.5, f"answered after {elapsed:.2f} s"
    assert not PayoutDestination.objects.exists()
