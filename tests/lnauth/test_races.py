"""A k1 raced by several wallets, and a signed k1 finished twice at once, against the real PostgreSQL."""

import pytest
from django.test import Client

from core.errors import InvalidTransition
from lnauth import services
from lnauth.models import AuthChallenge
from tests.concurrency import raised, run_in_threads
from tests.lnauth.conftest import PANEL, k1_of, shown_lnurl
from tests.lnauth.wallet import Wallet

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_of_many_wallets_racing_for_a_k1_wins():
    k1 = k1_of(shown_lnurl(Client().get(PANEL)))
    wallets = [Wallet() for _ in range(8)]
    signatures = [wallet.sign(k1, "127.0.0.1") for wallet in wallets]

    def call(index: int):
        key, sig = signatures[index]
        return services.challenge_verify(k1=k1, sig=sig, key=key, action="login")

    results = run_in_threads(len(wallets), call, what="a callback")
    refusals = raised(results)
    assert len(refusals) == len(wallets) - 1
    assert all(isinstance(refusal, InvalidTransition) for refusal in refusals)
    winner = next(result for result in results if isinstance(result, AuthChallenge))
    assert AuthChallenge.objects.get(k1=k1).linking_key == winner.linking_key


def test_a_signed_k1_is_finished_once_however_often_it_is_posted():
    browser = Client()
    code = shown_lnurl(browser.get(PANEL))
    k1 = k1_of(code)
    key, sig = Wallet().sign(k1, "127.0.0.1")
    services.challenge_verify(k1=k1, sig=sig, key=key, action="login")
    token = browser.session[services.BROWSER_TOKEN_SESSION_KEY]

    results = run_in_threads(6, lambda _index: services.challenge_finish(k1=k1, browser_token=token), what="a finish")
    assert len(raised(results)) == 5
