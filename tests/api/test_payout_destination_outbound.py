"""PUT /api/v1/me/payout-destination against wallets that stall or point inside our network (security issue 7,
items 2 and 8): the answer comes within a few seconds whatever the wallet's pacing, and never says what a name
resolves to."""

import re
import socket
import time

import pytest

from payments.models import PayoutDestination
from tests.api.conftest import assert_error
from tests.payments.slow_servers import SlowServer, drip_headers

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo
IP_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\b", re.IGNORECASE)


@pytest.fixture
def dripping_wallet(settings):
    """A Lightning Address whose server sends one header line every 0.3 s and never finishes in time."""
    server = SlowServer(drip_headers(interval_seconds=0.3)).start()
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [server.host_port()]
    yield server
    server.stop()


def test_a_dripping_wallet_gets_a_clear_400_within_the_destination_check_time(
    worker_api, worker, settings, dripping_wallet
):
    settings.LNURL_TIMEOUT_SECONDS = 30  # what a background payout would allow; a person waits much less
    settings.LNURL_DESTINATION_CHECK_SECONDS = 1

    started = time.monotonic()
    response = worker_api.put("/me/payout-destination", {"lightning_address": f"alice@{dripping_wallet.host_port()}"})
    elapsed = time.monotonic() - started

    error = assert_error(response, 400, "invalid_payout_destination")
    assert error["message"] == "That address did not work: the server at 127.0.0.1 did not answer within 1 second"
    assert elapsed < 1 + 1.5, f"answered after {elapsed:.2f} s"
    assert dripping_wallet.requests == [("GET", "/.well-known/lnurlp/alice")]
    assert not PayoutDestination.objects.filter(user=worker).exists()


@pytest.mark.parametrize("resolved", ["10.1.2.3", "169.254.169.254", "fd00::7"])
def test_a_name_resolving_to_a_private_address_is_refused_without_saying_what_it_resolves_to(
    worker_api, worker, monkeypatch, resolved
):
    def getaddrinfo(host, port, *args, **kwargs):
        if host == "wallet.corp.test":
            family = socket.AF_INET6 if ":" in resolved else socket.AF_INET
            sockaddr = (resolved, port, 0, 0) if ":" in resolved else (resolved, port)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    response = worker_api.put("/me/payout-destination", {"lightning_address": "alice@wallet.corp.test"})

    error = assert_error(response, 400, "invalid_payout_destination")
    assert error["message"] == "That address did not work: the address wallet.corp.test is not allowed"
    body = response.content.decode()
    assert resolved not in body
    assert not IP_ADDRESS.search(body), body
    for kind in ("private", "link-local", "loopback", "points to"):
        assert kind not in body
    assert not PayoutDestination.objects.filter(user=worker).exists()


def test_localhost_is_refused_without_saying_what_it_resolves_to(worker_api):
    # The finding's own example: this said "localhost points to 127.0.0.1".
    response = worker_api.put("/me/payout-destination", {"lightning_address": "alice@localhost"})

    error = assert_error(response, 400, "invalid_payout_destination")
    assert error["message"] == "That address did not work: the address localhost is not allowed"
    assert not IP_ADDRESS.search(response.content.decode())
