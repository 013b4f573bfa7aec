import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from lnurl import url_decode

from tests.lnauth.wallet import Wallet

PANEL = reverse("lnurl_auth_panel")
LNURL = re.compile(r'href="lightning:(LNURL1[0-9A-Z]+)"')


def shown_lnurl(response) -> str:
    """The LNURL1… a page shows (its QR code's content and its lightning: link)."""
    assert response.status_code == 200, response.content
    return LNURL.search(response.content.decode()).group(1)


def k1_of(bech32: str) -> str:
    return re.search(r"k1=([0-9a-f]{64})", str(url_decode(bech32))).group(1)


def local(url: str) -> str:
    """A URL on SITE_URL as the test client asks for it (path and query)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def wallet_calls(url: str):
    """The wallet's GET, from another device: a client with no session of the browser's."""
    return Client().get(local(url))


def status(client, k1: str, **extra):
    return client.get(reverse("lnurl_auth_status"), {"k1": k1, **extra})


def finish(client, k1: str, **extra):
    return client.post(reverse("lnurl_auth_finish"), {"k1": k1, **extra})


@pytest.fixture
def wallet():
    return Wallet()


@pytest.fixture
def logged_in_by_wallet():
    """Show the QR in `client`, let `wallet` sign it, finish in `client`: the finish response."""

    def run(client, wallet):
        code = shown_lnurl(client.get(PANEL))
        answer = wallet_calls(wallet.callback_url(code))
        assert answer.json() == {"status": "OK"}
        return finish(client, k1_of(code))

    return run
