"""The LNURL-pay client (payments/lnurl_client.py) against a fake wallet service on 127.0.0.1.

`only_local_connections` fails any test whose code tries to connect anywhere but 127.0.0.1.
"""

import hashlib
import json
import logging
import socket
import sys
from base64 import b64encode
from datetime import UTC, datetime, timedelta

import bolt11
import lnurl
import pytest
from Cryptodome.Cipher import AES
from Cryptodome.Util.Padding import pad

from core.safe_http import FetchFailed, UnsafeUrl
from payments.lnurl_client import (
    AmountlessInvoice,
    AmountOutOfRange,
    InvalidDestination,
    InvalidPayRequest,
    InvoiceExpired,
    InvoiceRefused,
    LnurlError,
    LnurlFailure,
    PayRequest,
    SuccessActionUndecryptable,
    UndecodableInvoice,
    WrongAmount,
    WrongNetwork,
    decrypt_aes_success_action,
    fetch_pay_request,
    parse_pay_destination,
    request_invoice,
    verify_invoice,
)
from tests.payments.lnurl_test_server import FakeLnurlWallet, json_answer, make_invoice, raw_answer

REAL_GETADDRINFO = socket.getaddrinfo
METADATA = json.dumps([["text/plain", "Pay alice"], ["text/identifier", "alice@wallet.example"]])


pytestmark = pytest.mark.usefixtures("only_local_connections", "no_allowlisted_hosts")


@pytest.fixture
def pay_request(wallet):
    return fetch_pay_request(wallet.pay_url)


def a_pay_request(**changes) -> PayRequest:
    fields = {
        "callback": "https://wallet.example/cb",
        "min_sendable_msat": 1_000,
        "max_sendable_msat": 100_000,
        "metadata": METADATA,
        "comment_allowed": 0,
        "description": "Pay alice",
        "wallet_name": "alice@wallet.example",
    }
    return PayRequest(**(fields | changes))


# Destinations ---------------------------------------------------------------------------------------------------


def test_lightning_address_maps_to_its_well_known_https_url():
    assert parse_pay_destination("alice@wallet.example") == "https://wallet.example/.well-known/lnurlp/alice"
    assert parse_pay_destination("  Alice@Wallet.Example ") == "https://wallet.example/.well-known/lnurlp/alice"
    assert parse_pay_destination("lightning:bob+tips@w.example") == "https://w.example/.well-known/lnurlp/bob+tips"


def test_lightning_address_on_an_allowlisted_host_port_uses_http(settings):
    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["127.0.0.1:5000"]

    assert parse_pay_destination("alice@127.0.0.1:5000") == "http://127.0.0.1:5000/.well-known/lnurlp/alice"
    assert parse_pay_destination("alice@127.0.0.1:5001") == "https://127.0.0.1:5001/.well-known/lnurlp/alice"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "alice", "alice@", "@wallet.example", "al ice@wallet.example", "a@b@wallet.example",
     "alice@wallet.example/path", "..@wallet.example", "alice@wallet.example:99999", "alice@[::1"],
)  # fmt: skip
def test_invalid_destinations_are_refused(text):
    with pytest.raises(InvalidDestination):
        parse_pay_destination(text)


def test_bech32_lnurl_decodes_in_any_case_and_with_the_lightning_prefix():
    url = "https://wallet.example/lnurlp/abc?q=1"
    encoded = lnurl.url_encode(url)  # upper case, as in QR codes

    assert parse_pay_destination(encoded) == url
    assert parse_pay_destination(encoded.lower()) == url
    assert parse_pay_destination(f"lightning:{encoded}") == url
    assert parse_pay_destination(f"LIGHTNING:{encoded}") == url
    assert parse_pay_destination(f"https://shop.example/pay?lightning={encoded}") == url  # LUD-01 fallback


def test_damaged_or_mixed_case_bech32_is_refused():
    encoded = lnurl.url_encode("https://wallet.example/lnurlp/abc")
    damaged = encoded[:-1] + ("Q" if encoded[-1] != "Q" else "P")
    mixed = encoded[:10] + encoded[10:].lower()

    for text in (damaged, mixed, "lnurl1", "lnurl1qqqqq"):
        with pytest.raises(InvalidDestination, match="damaged"):
            parse_pay_destination(text)


def test_bech32_lnurl_to_plain_http_is_refused_unless_allowlisted(settings):
    encoded = lnurl.url_encode("http://127.0.0.1:5000/lnurlp/abc")

    with pytest.raises(InvalidDestination, match="only https"):
        parse_pay_destination(encoded)
    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["127.0.0.1:5000"]
    assert parse_pay_destination(encoded) == "http://127.0.0.1:5000/lnurlp/abc"


def test_lnurlp_scheme_becomes_https_or_allowlisted_http(settings):
    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["127.0.0.1:5000"]

    assert parse_pay_destination("lnurlp://wallet.example/lnurlp/abc?x=1") == "https://wallet.example/lnurlp/abc?x=1"
    assert parse_pay_destination("LNURLP://127.0.0.1:5000/p") == "http://127.0.0.1:5000/p"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lnurlw://wallet.example/w", "withdraw link"),
        ("keyauth://wallet.example/a?k1=00", "login link"),
        ("bitcoin://bc1qxyz", "not payment links"),
        ("alice@wallet3zbgpcbhyphen.onion", "Tor"),
        ("https://wallet.example/auth?tag=login&k1=00", "login"),
        ("http://wallet.example/p", "only https"),
    ],
)
def test_links_that_are_not_pay_links_are_refused_with_a_reason(text, words):
    with pytest.raises(InvalidDestination, match=words):
        parse_pay_destination(text)


# The pay request ------------------------------------------------------------------------------------------------


def test_pay_request_is_read_from_a_lightning_address(wallet):
    wallet.comment_allowed = 50

    pay_request = fetch_pay_request(parse_pay_destination(wallet.address))

    assert pay_request == PayRequest(
        callback=wallet.callback_url,
        min_sendable_msat=1_000,
        max_sendable_msat=1_000_000_000,
        metadata=wallet.metadata,
        comment_allowed=50,
        description="Pay alice on the fake wallet",
        wallet_name="alice@fake.test",
    )


def test_wallet_name_falls_back_to_the_description_then_the_host(wallet):
    wallet.metadata = json.dumps([["text/plain", "Alice's tips"]])
    assert fetch_pay_request(wallet.pay_url).wallet_name == "Alice's tips"

    wallet.metadata = json.dumps([["image/png;base64", "iVBORw0KGgo="]])
    pay_request = fetch_pay_request(wallet.pay_url)
    assert pay_request.wallet_name == "127.0.0.1"
    assert pay_request.description == ""


def test_error_status_becomes_lnurl_error_with_the_wallets_reason(wallet):
    wallet.route(wallet.pay_url.split(wallet.host_port)[1], json_answer({"status": "ERROR", "reason": "No user"}))

    with pytest.raises(LnurlError, match="the wallet refused: No user") as refused:
        fetch_pay_request(wallet.pay_url)
    assert refused.value.reason == "No user"


def test_error_status_with_an_http_error_code_still_gives_the_reason(wallet):
    wallet.route("/gone", json_answer({"status": "ERROR", "reason": "Address disabled"}, status=400))

    with pytest.raises(LnurlError, match="Address disabled"):
        fetch_pay_request(wallet.url("/gone"))


def test_http_error_without_an_lnurl_reason_stays_a_fetch_error(wallet):
    wallet.route("/broken", raw_answer(b"Bad Gateway", status=502))

    with pytest.raises(FetchFailed, match="HTTP 502"):
        fetch_pay_request(wallet.url("/broken"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"tag": "withdrawRequest"}, "not a payment link"),
        ({"tag": None}, "not an LNURL-pay request"),
        ({"minSendable": 5_000, "maxSendable": 4_000}, "minimum amount is above its maximum"),
        ({"minSendable": "1000"}, "minSendable is not a whole number"),
        ({"maxSendable": 1000.5}, "maxSendable is not a whole number"),
        ({"minSendable": True}, "minSendable is not a whole number"),
        ({"minSendable": 0}, "minSendable is not a whole number"),
        ({"maxSendable": None}, "maxSendable is not a whole number"),
        ({"metadata": None}, "metadata"),
        ({"metadata": "not json"}, "metadata"),
        ({"metadata": json.dumps({"text/plain": "x"})}, "metadata"),
        ({"metadata": json.dumps(["text/plain", "x"])}, "metadata"),
        ({"callback": None}, "no callback"),
    ],
)
def test_malformed_pay_requests_are_refused(changes, words, wallet):
    wallet.route("/bad", json_answer(wallet.pay_request() | changes))

    with pytest.raises(InvalidPayRequest, match=words):
        fetch_pay_request(wallet.url("/bad"))


def test_whole_float_amounts_and_odd_comment_allowed_are_tolerated(wallet):
    wallet.route("/lenient", json_answer(wallet.pay_request() | {"minSendable": 1000.0, "commentAllowed": "lots"}))

    pay_request = fetch_pay_request(wallet.url("/lenient"))

    assert pay_request.min_sendable_msat == 1000
    assert pay_request.comment_allowed == 0


@pytest.mark.parametrize(
    "callback",
    ["http://wallet.example/cb", "ftp://wallet.example/cb", "https://user:pw@wallet.example/cb"],
)
def test_callback_must_pass_the_url_policy(callback, wallet):
    wallet.route("/evil", json_answer(wallet.pay_request() | {"callback": callback}))

    with pytest.raises(UnsafeUrl, match="callback address is refused"):
        fetch_pay_request(wallet.url("/evil"))


def test_callback_resolving_to_a_private_address_is_refused_before_connecting(
    wallet, monkeypatch, only_local_connections
):
    def getaddrinfo(host, port, *args, **kwargs):
        if host == "callback.invalid":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.5", port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    wallet.route("/p", json_answer(wallet.pay_request() | {"callback": "https://callback.invalid/cb"}))
    pay_request = fetch_pay_request(wallet.url("/p"))

    with pytest.raises(UnsafeUrl, match=r"^the address callback\.invalid is not allowed$"):
        request_invoice(pay_request, amount_msat=10_000)
    assert only_local_connections == [("127.0.0.1", wallet.port)]


def test_lightning_address_resolving_to_a_private_address_is_refused(settings, monkeypatch, only_local_connections):
    def getaddrinfo(host, port, *args, **kwargs):
        if host == "wallet.invalid":
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("::1", port, 0, 0))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    with pytest.raises(UnsafeUrl, match=r"^the address wallet\.invalid is not allowed$"):
        fetch_pay_request(parse_pay_destination("alice@wallet.invalid"))
    assert only_local_connections == []


def test_same_address_is_refused_when_its_host_is_not_allowlisted(settings, only_local_connections):
    with FakeLnurlWallet() as server:
        url = parse_pay_destination(server.address)  # https, since it is not allowlisted

        with pytest.raises(UnsafeUrl, match="loopback"):
            fetch_pay_request(url)
        assert server.requests == []
        assert only_local_connections == []


# The invoice ----------------------------------------------------------------------------------------------------


def test_invoice_for_exactly_the_amount_is_verified(wallet, pay_request):
    before = datetime.now(tz=UTC)

    offer = request_invoice(pay_request, amount_msat=21_000)

    decoded = bolt11.decode(offer.bolt11)
    assert decoded.amount_msat == 21_000
    assert offer.amount_msat == 21_000
    assert offer.payment_hash == decoded.payment_hash
    assert offer.payment_hash in wallet.issued_preimages
    assert offer.description_hash_matches is True
    assert offer.success_action is None
    assert before + timedelta(seconds=590) < offer.expires_at <= before + timedelta(seconds=601)


def test_callback_keeps_its_own_query_and_gets_the_amount(wallet, pay_request):
    request_invoice(pay_request, amount_msat=21_000, comment="ignored: the wallet takes no comments")

    (callback_request,) = wallet.requests_to(wallet.callback_path)
    assert callback_request.query == {"foo": ["bar"], "amount": ["21000"]}


def test_comment_is_sent_cut_to_the_allowed_length(wallet):
    wallet.comment_allowed = 12
    pay_request = fetch_pay_request(wallet.pay_url)

    request_invoice(pay_request, amount_msat=21_000, comment="Thanks & good luck + more words")

    (callback_request,) = wallet.requests_to(wallet.callback_path)
    assert callback_request.query == {"foo": ["bar"], "amount": ["21000"], "comment": ["Thanks & goo"]}


def test_empty_comment_is_not_sent(wallet):
    wallet.comment_allowed = 100
    request_invoice(fetch_pay_request(wallet.pay_url), amount_msat=21_000)

    assert "comment" not in wallet.requests_to(wallet.callback_path)[0].query


@pytest.mark.parametrize("amount_msat", [999, 1_000_000_001, 0])
def test_amount_outside_the_wallets_bounds_asks_for_no_invoice(amount_msat, wallet, pay_request):
    with pytest.raises(AmountOutOfRange, match="the wallet accepts between 1 sat and 1,000,000 sats") as refused:
        request_invoice(pay_request, amount_msat=amount_msat)

    assert refused.value.amount_msat == amount_msat
    assert wallet.requests_to(wallet.callback_path) == []


def test_min_sendable_above_the_amount_is_refused_before_the_callback(wallet):
    wallet.min_sendable_msat = 50_000
    pay_request = fetch_pay_request(wallet.pay_url)

    with pytest.raises(AmountOutOfRange, match="not 21 sats"):
        request_invoice(pay_request, amount_msat=21_000)
    assert wallet.requests_to(wallet.callback_path) == []


def test_callback_error_status_becomes_lnurl_error(wallet, pay_request):
    wallet.route(wallet.callback_path, json_answer({"status": "ERROR", "reason": "Wallet is over its limit"}))

    with pytest.raises(LnurlError, match="Wallet is over its limit"):
        request_invoice(pay_request, amount_msat=21_000)


@pytest.mark.parametrize("answer", [{"routes": []}, {"pr": ""}, {"pr": 12}])
def test_callback_without_an_invoice_is_refused(answer, wallet, pay_request):
    wallet.route(wallet.callback_path, json_answer(answer))

    with pytest.raises(InvalidPayRequest, match="did not send an invoice"):
        request_invoice(pay_request, amount_msat=21_000)


def test_invoice_for_another_amount_is_refused(wallet, pay_request):
    wallet.invoice.amount_msat = 22_000

    with pytest.raises(WrongAmount, match="asks for 22 sats, but we asked it for 21 sats"):
        request_invoice(pay_request, amount_msat=21_000)


def test_amountless_invoice_is_refused(wallet, pay_request):
    wallet.invoice.amountless = True

    with pytest.raises(AmountlessInvoice, match="without an amount"):
        request_invoice(pay_request, amount_msat=21_000)


def test_expired_invoice_is_refused(wallet, pay_request):
    wallet.invoice.age_seconds = 3_600
    wallet.invoice.expiry_seconds = 600

    with pytest.raises(InvoiceExpired, match="expired"):
        request_invoice(pay_request, amount_msat=21_000)


def test_invoice_about_to_expire_is_refused(wallet, pay_request):
    wallet.invoice.expiry_seconds = 10

    with pytest.raises(InvoiceExpired):
        request_invoice(pay_request, amount_msat=21_000)


def test_invoice_for_another_network_is_refused(wallet, pay_request):
    wallet.invoice.currency = "tb"

    with pytest.raises(WrongNetwork, match="for bitcoin testnet, but Boltwork pays on bitcoin mainnet"):
        request_invoice(pay_request, amount_msat=21_000)


@pytest.mark.parametrize(("network", "currency"), [("testnet", "tb"), ("signet", "tbs"), ("regtest", "bcrt")])
def test_each_network_accepts_its_own_invoices_only(network, currency, settings):
    settings.BITCOIN_NETWORK = network
    own, _ = make_invoice(amount_msat=5_000, currency=currency, description_hash=sha256_hex(METADATA))
    mainnet_invoice, _ = make_invoice(amount_msat=5_000, currency="bc")

    assert verify_invoice(own, amount_msat=5_000, metadata=METADATA).description_hash_matches
    with pytest.raises(WrongNetwork):
        verify_invoice(mainnet_invoice, amount_msat=5_000, metadata=METADATA)


def test_description_hash_mismatch_is_logged_not_fatal(wallet, pay_request, caplog):
    wallet.invoice.description_hash = sha256_hex("something else")

    with caplog.at_level(logging.WARNING, logger="payments.lnurl_client"):
        offer = request_invoice(pay_request, amount_msat=21_000)

    assert offer.description_hash_matches is False
    assert f"LNURL invoice {offer.payment_hash}: description hash does not match" in caplog.text


def test_plain_description_instead_of_a_hash_is_reported_not_fatal(wallet, pay_request):
    wallet.invoice.plain_description = "Pay alice"

    assert request_invoice(pay_request, amount_msat=21_000).description_hash_matches is False


@pytest.mark.parametrize(
    "text",
    [
        "lnbc1notaninvoice",
        "hello",
        lnurl.url_encode("https://wallet.example/"),
        "lnbc10u1" + "q" * 120,  # valid characters, nonsense inside
    ],
)
def test_garbage_invoices_are_refused(text):
    with pytest.raises(UndecodableInvoice, match="not a valid Lightning invoice"):
        verify_invoice(text, amount_msat=1_000_000, metadata=METADATA)


def test_invoice_with_a_fraction_of_a_millisatoshi_is_refused(monkeypatch):
    # bolt11 can only write whole msat amounts: make it write "15p" (1.5 msat), which its decoder rounds to 1.
    monkeypatch.setattr(sys.modules["bolt11.encode"], "msat_to_amount", lambda _msat: "15p")
    text, _ = make_invoice(amount_msat=1, description_hash=sha256_hex(METADATA))
    monkeypatch.undo()
    assert text.startswith("lnbc15p1")
    assert bolt11.decode(text).amount_msat == 1

    with pytest.raises(UndecodableInvoice, match="whole number of millisatoshis"):
        verify_invoice(text, amount_msat=1, metadata=METADATA)


def test_every_error_shares_one_base_for_callers_to_catch():
    for refusal in (UndecodableInvoice, WrongNetwork, AmountlessInvoice, WrongAmount, InvoiceExpired):
        assert issubclass(refusal, InvoiceRefused)
    for error in (InvalidDestination, LnurlError, InvalidPayRequest, AmountOutOfRange, InvoiceRefused,
                  SuccessActionUndecryptable):  # fmt: skip
        assert issubclass(error, LnurlFailure)


def test_invoice_with_an_absurd_expiry_does_not_crash():
    text, _ = make_invoice(amount_msat=1_000, expiry_seconds=2**40, description_hash=sha256_hex(METADATA))

    verified = verify_invoice(text, amount_msat=1_000, metadata=METADATA)

    assert verified.expires_at.year == 9999


# Success actions ------------------------------------------------------------------------------------------------


def test_message_success_action_is_kept(wallet, pay_request):
    wallet.success_action = {"tag": "message", "message": "Thanks!", "extra": "dropped"}

    assert request_invoice(pay_request, amount_msat=21_000).success_action == {"tag": "message", "message": "Thanks!"}


def test_url_success_action_is_kept_only_when_https_on_the_callbacks_host(wallet, pay_request):
    good = {"tag": "url", "description": "Your receipt", "url": f"https://127.0.0.1:{wallet.port}/receipt/1"}
    wallet.success_action = good
    assert request_invoice(pay_request, amount_msat=21_000).success_action == good

    for url in (f"http://127.0.0.1:{wallet.port}/receipt/1", "https://elsewhere.example/r", "javascript:alert(1)"):
        wallet.success_action = good | {"url": url}
        assert request_invoice(pay_request, amount_msat=21_000).success_action is None


@pytest.mark.parametrize(
    "action",
    [{"tag": "unknown", "data": 1}, {"tag": "message", "message": 5}, "a string", [], {"tag": "aes", "iv": "x"}],
)
def test_unknown_or_broken_success_actions_are_dropped_with_a_warning(action, wallet, pay_request, caplog):
    wallet.success_action = action

    with caplog.at_level(logging.WARNING, logger="payments.lnurl_client"):
        offer = request_invoice(pay_request, amount_msat=21_000)

    assert offer.success_action is None
    assert "success action dropped" in caplog.text


def test_aes_success_action_decrypts_with_the_payment_preimage(wallet, pay_request):
    preimage = bytes(range(32))
    ciphertext, iv = lnurl.aes_encrypt(preimage, "Your code: 1234")  # interoperates with the lnurl package
    wallet.success_action = {"tag": "aes", "description": "Redeem code", "ciphertext": ciphertext, "iv": iv}

    action = request_invoice(pay_request, amount_msat=21_000).success_action

    assert action == {"tag": "aes", "description": "Redeem code", "ciphertext": ciphertext, "iv": iv}
    assert decrypt_aes_success_action(action, preimage.hex()) == "Your code: 1234"


def test_aes_success_action_with_non_ascii_text():
    preimage, iv = bytes(range(32)), bytes(16)
    ciphertext = AES.new(preimage, AES.MODE_CBC, iv).encrypt(pad("Grüße, 🎉".encode(), AES.block_size))
    action = {
        "tag": "aes",
        "description": "d",
        "ciphertext": b64encode(ciphertext).decode(),
        "iv": b64encode(iv).decode(),
    }

    assert decrypt_aes_success_action(action, preimage.hex()) == "Grüße, 🎉"


def test_aes_success_action_with_the_wrong_preimage_is_refused():
    ciphertext, iv = lnurl.aes_encrypt(bytes(range(32)), "Your code: 1234")
    action = {"tag": "aes", "description": "d", "ciphertext": ciphertext, "iv": iv}

    for preimage_hex in ("ff" * 32, "not hex", "00" * 16):
        with pytest.raises(SuccessActionUndecryptable):
            decrypt_aes_success_action(action, preimage_hex)
    with pytest.raises(SuccessActionUndecryptable):
        decrypt_aes_success_action({"tag": "aes", "ciphertext": ciphertext}, "00" * 32)


# Whole flow -----------------------------------------------------------------------------------------------------


def test_whole_payout_flow_from_a_lightning_address(wallet):
    wallet.comment_allowed = 140
    wallet.success_action = {"tag": "message", "message": "Received, thanks"}

    pay_request = fetch_pay_request(parse_pay_destination(wallet.address))
    offer = request_invoice(pay_request, amount_msat=150_000, comment="Boltwork payout for job 7")

    assert bolt11.decode(offer.bolt11).amount_msat == 150_000
    assert offer.description_hash_matches
    assert offer.success_action == {"tag": "message", "message": "Received, thanks"}
    assert wallet.requests_to(wallet.callback_path)[0].query["comment"] == ["Boltwork payout for job 7"]
    assert [request.path for request in wallet.requests] == ["/.well-known/lnurlp/alice", "/lnurlp/callback"]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
