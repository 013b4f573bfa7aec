"""Outbound HTTP guarded against server-side request forgery (payments/safe_http.py).

Every request in this module goes to a fake server on 127.0.0.1; `only_local_connections` fails any test whose
code tries to open a connection anywhere else, so the refused-address tests prove the refusal came first.
"""

import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from core import safe_http
from core.safe_http import FetchFailed, UnsafeUrl, address_refusal, check_url_policy, safe_get_json
from tests.payments.lnurl_test_server import (
    FakeLnurlWallet,
    dribbling_answer,
    gzip_answer,
    json_answer,
    raw_answer,
    redirect_to,
    slow_answer,
    stalled_answer,
    streamed_answer,
)

REAL_GETADDRINFO = socket.getaddrinfo


pytestmark = pytest.mark.usefixtures("only_local_connections")


@pytest.fixture
def wallet():
    """The wallet service, not allowlisted: each test allows what it needs with `allow`."""
    with FakeLnurlWallet() as server:
        yield server


@pytest.fixture
def allow(settings):
    """Allow plain http and private addresses for the given `host:port` pairs, as development does."""

    def allow_hosts(*host_ports: str) -> None:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = list(host_ports)

    settings.LNURL_ALLOWED_INSECURE_HOSTS = []
    return allow_hosts


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers chosen names with chosen addresses (a list per call, the last repeating); others resolve as usual."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        lookups.append(host)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]

    def resolve(host: str, *answers_in_order: list[str]) -> list[str]:
        answers[host] = list(answers_in_order)
        return lookups

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return resolve


# The address rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.0.0.5", "private networks"),
        ("172.16.3.4", "private networks"),
        ("192.168.1.1", "private networks"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (a value under test; nothing binds to it)
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("192.0.2.1", "private networks"),  # documentation
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "non-public"),
        ("255.255.255.255", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private networks"),
        ("fec0::1", "private networks"),  # deprecated site-local
        ("ff02::1", "multicast"),
        ("2001:db8::1", "private networks"),
        ("::ffff:10.0.0.1", "private networks"),  # IPv4-mapped
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::1", "private networks"),  # 6to4 around 10.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", "private networks"),  # NAT64 around 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private networks"),  # Teredo
        ("::10.0.0.1", "non-public"),  # the deprecated IPv4-compatible form
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(address, words):
    assert words in address_refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://wallet.example/x", "only https"),
        ("file:///etc/passwd", "only https"),
        ("gopher://wallet.example/", "only https"),
        ("http://wallet.example/x", "only https"),
        ("https://user:secret@wallet.example/x", "user name or password"),
        ("https:///no-host", "no host"),
        ("https://wallet.example:99999/x", "invalid port"),
        ("https://[::1/x", "not a valid web address"),
    ],
)
def test_urls_refused_without_touching_the_network(url, words, allow, only_local_connections):
    with pytest.raises(UnsafeUrl, match=words):
        check_url_policy(url)
    with pytest.raises(UnsafeUrl, match=words):
        safe_get_json(url)
    assert only_local_connections == []


# The allowlist --------------------------------------------------------------------------------------------------


def test_allowlisted_host_may_use_http_on_loopback(wallet, allow):
    allow(wallet.host_port)

    answer = safe_get_json(wallet.pay_url)

    assert answer["tag"] == "payRequest"
    assert wallet.requests[0].headers["Accept-Encoding"] == "identity"


def test_same_url_without_the_allowlist_is_refused_before_connecting(wallet, allow, only_local_connections):
    with pytest.raises(UnsafeUrl, match="only https"):
        safe_get_json(wallet.pay_url)
    with pytest.raises(UnsafeUrl, match="loopback"):
        safe_get_json(wallet.pay_url.replace("http://", "https://"))
    assert only_local_connections == []
    assert wallet.requests == []


def test_allowlist_is_exact_host_and_port(wallet, allow):
    allow(f"127.0.0.1:{wallet.port + 1}", f"localhost:{wallet.port}")

    with pytest.raises(UnsafeUrl):
        safe_get_json(wallet.pay_url)
    assert wallet.requests == []


# DNS: every address is checked, and the connection goes to the checked one ------------------------------------


@pytest.mark.parametrize(
    ("addresses", "words"),
    [
        (["10.0.0.5"], "private networks"),
        (["::1"], "loopback"),
        (["169.254.169.254"], "link-local"),
        (["93.184.216.34", "10.0.0.5"], "private networks"),  # one bad answer among good ones is enough
        (["2606:2800:220:1::1", "fd00::5"], "private networks"),
    ],
)
def test_host_resolving_to_a_private_address_is_refused_before_connecting(
    addresses, words, fake_dns, allow, only_local_connections, caplog
):
    fake_dns("wallet.invalid", addresses)

    with pytest.raises(UnsafeUrl) as refused:
        safe_get_json("https://wallet.invalid/.well-known/lnurlp/alice")

    # The person who typed the name learns only that it is refused, not what our DNS says about it (issue 7.8);
    # the operator's log keeps the address and the reason.
    assert str(refused.value) == "the address wallet.invalid is not allowed"
    assert words in caplog.text
    assert only_local_connections == []


def test_unknown_host_fails_as_a_fetch_error(fake_dns, allow, only_local_connections):
    fake_dns("nowhere.invalid", [])

    with pytest.raises(FetchFailed, match=r"could not find the server nowhere\.invalid"):
        safe_get_json("https://nowhere.invalid/")
    assert only_local_connections == []


def test_connection_is_pinned_to_the_checked_address(wallet, fake_dns, allow, only_local_connections):
    # The name answers 127.0.0.1 once, then "rebinds" to nothing: a second lookup would make the request fail.
    wallet.host_name = "wallet.test"
    allow(wallet.host_port)
    lookups = fake_dns("wallet.test", ["127.0.0.1"], [])

    answer = safe_get_json(wallet.pay_url)

    assert answer["tag"] == "payRequest"
    assert lookups == ["wallet.test"]
    assert only_local_connections == [("127.0.0.1", wallet.port)]
    assert wallet.requests[0].headers["Host"] == wallet.host_port


def test_pinned_backend_refuses_a_host_it_did_not_check():
    backend = safe_http.PinnedNetworkBackend("wallet.test", (ipaddress.ip_address("127.0.0.1"),))

    with pytest.raises(safe_http.httpcore.ConnectError, match=r"only wallet\.test was checked"):
        backend.connect_tcp("other.test", 443)


# Redirects ------------------------------------------------------------------------------------------------------


def test_redirects_are_followed_up_to_three_times(wallet, allow):
    allow(wallet.host_port)
    wallet.route("/r1", redirect_to(wallet.url("/r2")))
    wallet.route("/r2", redirect_to("/r3", status=307))  # relative, resolved against the current URL
    wallet.route("/r3", redirect_to(wallet.url("/ok"), status=301))
    wallet.route("/ok", json_answer({"arrived": True}))

    assert safe_get_json(wallet.url("/r1")) == {"arrived": True}


def test_a_fourth_redirect_and_loops_are_refused(wallet, allow):
    allow(wallet.host_port)
    wallet.route("/loop", redirect_to(wallet.url("/loop")))

    with pytest.raises(FetchFailed, match="redirected us more than 3 times"):
        safe_get_json(wallet.url("/loop"))
    assert len(wallet.requests_to("/loop")) == 4


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://10.0.0.1/internal", "only https"),
        ("https://10.0.0.1/internal", "private networks"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]:8080/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("file:///etc/passwd", "only https"),
    ],
)
def test_redirect_to_a_refused_address_is_refused_before_connecting(
    location, words, wallet, allow, only_local_connections
):
    allow(wallet.host_port)
    wallet.route("/go", redirect_to(location))

    with pytest.raises(UnsafeUrl, match=words):
        safe_get_json(wallet.url("/go"))
    assert only_local_connections == [("127.0.0.1", wallet.port)]


def test_redirect_to_a_host_that_is_not_allowlisted_is_refused(wallet, allow, only_local_connections):
    with FakeLnurlWallet() as other:
        allow(wallet.host_port)
        wallet.route("/go", redirect_to(other.pay_url))

        with pytest.raises(UnsafeUrl, match="only https"):
            safe_get_json(wallet.url("/go"))
        assert other.requests == []


def test_redirect_to_a_name_resolving_to_a_private_address_is_refused(wallet, fake_dns, allow, only_local_connections):
    allow(wallet.host_port)
    fake_dns("rebind.invalid", ["10.0.0.5"])
    wallet.route("/go", redirect_to("https://rebind.invalid/steal"))

    with pytest.raises(UnsafeUrl, match=r"^the address rebind\.invalid is not allowed$"):
        safe_get_json(wallet.url("/go"))
    assert only_local_connections == [("127.0.0.1", wallet.port)]


# Timeouts, size, content ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            slow_answer(5, {"late": True}),
            r"the server at 127\.0\.0\.1 did not answer within 0\.5 seconds",
            id="a-slow-server-times-out-with-a-readable-message",
        ),
        pytest.param(
            # Each byte comes well within the read timeout; the whole answer would take 6 seconds.
            dribbling_answer(byte_count=30, interval_seconds=0.2),
            r"did not answer within 0\.5 seconds",
            id="a-server-dribbling-bytes-is-cut-off-at-the-time-limit",
        ),
    ],
)
def test_a_server_too_slow_is_cut_off_at_the_time_limit(wallet, allow, settings, answer, message):
    allow(wallet.host_port)
    settings.LNURL_TIMEOUT_SECONDS = 0.5
    wallet.route("/slow", answer)

    started = time.monotonic()
    with pytest.raises(FetchFailed, match=message):
        safe_get_json(wallet.url("/slow"))
    assert time.monotonic() - started < 2.5


def test_declared_oversized_answer_is_refused_before_reading(wallet, allow, settings):
    allow(wallet.host_port)
    settings.LNURL_TIMEOUT_SECONDS = 3
    wallet.route("/big", streamed_answer(total_bytes=5 * 1024 * 1024, declare_length=True))
    # Announces 5 MB, then sends nothing more: waiting for the body would end in a timeout instead.
    wallet.route("/stalled", stalled_answer(declared_bytes=5 * 1024 * 1024))

    with pytest.raises(FetchFailed, match="larger than 256 KB"):
        safe_get_json(wallet.url("/big"))
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="larger than 256 KB"):
        safe_get_json(wallet.url("/stalled"))
    assert time.monotonic() - started < 1


def test_undeclared_endless_answer_is_cut_off_while_streaming(wallet, allow):
    allow(wallet.host_port)
    # 512 MB with no Content-Length: reading it all before checking would take far longer than the assertion allows.
    wallet.route("/endless", streamed_answer(total_bytes=512 * 1024 * 1024, declare_length=False))

    started = time.monotonic()
    with pytest.raises(FetchFailed, match="larger than 256 KB"):
        safe_get_json(wallet.url("/endless"))
    assert time.monotonic() - started < 2


def test_answer_exactly_at_the_size_cap_is_accepted(wallet, allow, settings):
    allow(wallet.host_port)
    settings.LNURL_MAX_RESPONSE_BYTES = 1000
    body = b'{"fits": true}'
    wallet.route("/exact", raw_answer(body.ljust(1000), content_type="application/json"))
    wallet.route("/over", raw_answer(body.ljust(1001), content_type="application/json"))

    assert safe_get_json(wallet.url("/exact")) == {"fits": True}
    with pytest.raises(FetchFailed, match="larger than 1,000 bytes"):
        safe_get_json(wallet.url("/over"))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<html><body>Wallet</body></html>", "did not answer with JSON"),
        (b"", "did not answer with JSON"),
        (b'["payRequest"]', "not an object"),
        (b'"payRequest"', "not an object"),
        (b"[" * 100_000, "did not answer with JSON"),  # would blow the parser's recursion limit
    ],
)
def test_answers_that_are_not_a_json_object_are_refused(body, words, wallet, allow):
    allow(wallet.host_port)
    wallet.route("/odd", raw_answer(body, content_type="application/json"))

    with pytest.raises(FetchFailed, match=words):
        safe_get_json(wallet.url("/odd"))


def test_json_is_read_whatever_the_content_type(wallet, allow):
    # LUD-01: headers carry no meaning; many LNURL services answer JSON as text/plain or text/html.
    allow(wallet.host_port)
    wallet.route("/text", raw_answer(b'{"ok": 1}', content_type="text/plain"))

    assert safe_get_json(wallet.url("/text")) == {"ok": 1}


def test_compressed_answer_is_refused(wallet, allow):
    allow(wallet.host_port)
    wallet.route("/gzip", gzip_answer({"ok": 1}))

    with pytest.raises(FetchFailed, match="compressed"):
        safe_get_json(wallet.url("/gzip"))


def test_error_status_keeps_a_json_body_for_the_caller(wallet, allow):
    allow(wallet.host_port)
    wallet.route("/oops", json_answer({"status": "ERROR", "reason": "User not found"}, status=404))
    wallet.route("/boom", raw_answer(b"Internal Server Error", status=500))

    with pytest.raises(FetchFailed, match=r"answered with an error \(HTTP 404\)") as not_found:
        safe_get_json(wallet.url("/oops"))
    assert not_found.value.status_code == 404
    assert not_found.value.payload == {"status": "ERROR", "reason": "User not found"}

    with pytest.raises(FetchFailed, match=r"HTTP 500") as boom:
        safe_get_json(wallet.url("/boom"))
    assert boom.value.payload is None


def test_nothing_listening_is_a_fetch_error(allow):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    allow(f"127.0.0.1:{port}")

    with pytest.raises(FetchFailed, match=r"could not connect to the server at 127\.0\.0\.1"):
        safe_get_json(f"http://127.0.0.1:{port}/")


# Query parameters -----------------------------------------------------------------------------------------------


def test_params_are_added_to_the_urls_own_query(wallet, allow):
    allow(wallet.host_port)
    wallet.route("/cb", json_answer({"ok": True}))

    safe_get_json(wallet.url("/cb?foo=bar&sig=a%2Bb"), params={"amount": 21000, "comment": "thanks & bye +1"})

    assert wallet.requests[0].query == {
        "foo": ["bar"],
        "sig": ["a+b"],
        "amount": ["21000"],
        "comment": ["thanks & bye +1"],
    }


def test_url_with_params_keeps_the_existing_query_byte_for_byte():
    url = safe_http.url_with_params("https://w.example/cb?k1=AbC%2F%3D&x=1#frag", {"amount": 5, "comment": "a b"})

    assert url == "https://w.example/cb?k1=AbC%2F%3D&x=1&amount=5&comment=a%20b"


# TLS: the pinned connection still checks the certificate against the host name ---------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throwaway certificate authority, and certificates it signed for wallet.test and for other.test."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make test certificates")
    folder = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec_key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA")
    for name in ("wallet.test", "other.test"):
        openssl("req", *ec_key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return folder


def tls_wallet(certificates, certificate_name: str, server_names: list) -> FakeLnurlWallet:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / f"{certificate_name}.pem", certificates / f"{certificate_name}.key")
    context.sni_callback = lambda _socket, server_name, _context: server_names.append(server_name)
    return FakeLnurlWallet(host_name="wallet.test", tls_context=context).start()


@pytest.fixture
def trust_test_authority(certificates, monkeypatch):
    def test_context() -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(certificates / "ca.pem"))

    monkeypatch.setattr(safe_http, "tls_context", test_context)


def test_pinned_https_sends_the_host_name_and_verifies_its_certificate(
    certificates, trust_test_authority, fake_dns, allow, only_local_connections
):
    server_names: list = []
    wallet = tls_wallet(certificates, "wallet.test", server_names)
    try:
        allow(wallet.host_port)
        fake_dns("wallet.test", ["127.0.0.1"], [])

        answer = safe_get_json(wallet.pay_url)

        assert answer["tag"] == "payRequest"
        assert server_names == ["wallet.test"]
        assert only_local_connections == [("127.0.0.1", wallet.port)]
    finally:
        wallet.stop()


def test_pinned_https_refuses_a_certificate_for_another_name(
    certificates, trust_test_authority, fake_dns, allow, only_local_connections
):
    wallet = tls_wallet(certificates, "other.test", [])
    try:
        allow(wallet.host_port)
        fake_dns("wallet.test", ["127.0.0.1"])

        with pytest.raises(FetchFailed, match="invalid or untrusted TLS certificate"):
            safe_get_json(wallet.pay_url)
        assert wallet.requests == []
    finally:
        wallet.stop()


def test_https_answer_is_json_checked_like_http(certificates, trust_test_authority, fake_dns, allow):
    wallet = tls_wallet(certificates, "wallet.test", [])
    try:
        allow(wallet.host_port)
        fake_dns("wallet.test", ["127.0.0.1"])
        wallet.route("/list", raw_answer(json.dumps([1, 2]).encode()))

        with pytest.raises(FetchFailed, match="not an object"):
            safe_get_json(wallet.url("/list"))
    finally:
        wallet.stop()
