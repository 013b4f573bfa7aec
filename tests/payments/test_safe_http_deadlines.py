"""One overall deadline per outbound request (security issue 7, item 2): DNS, connect, TLS, headers, body and every
redirect hop share it, whatever the server's pacing.

Before, httpx's timeouts applied to each socket operation and only the body was checked against a total: a server
sending one header line every few seconds, a slow DNS answer or a chain of slow redirects held a web or Celery
process for as long as it liked. Each test here cuts such a server off at about the deadline; the bounds are upper
bounds (the cut came in time), with a margin for a loaded machine, never tight lower bounds.
"""

import socket
import time

import pytest

from core import safe_http
from core.safe_http import Deadline, FetchFailed, safe_get_json, safe_post
from tests.payments.slow_servers import (
    SlowServer,
    answer_after,
    by_path,
    drip_headers,
    never_answer,
    redirect_after,
)

DEADLINE = 1.0
MARGIN = 1.5  # seconds past the deadline a cut may take on a loaded test machine
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def short_deadline(settings):
    settings.LNURL_TIMEOUT_SECONDS = DEADLINE
    settings.LNURL_ALLOWED_INSECURE_HOSTS = []


@pytest.fixture
def serve(settings):
    """Start a `SlowServer` with a behaviour, allowlisted for plain http on loopback; every one is stopped after."""
    servers: list[SlowServer] = []

    def start(behaviour, *, host: str = "127.0.0.1") -> SlowServer:
        server = SlowServer(behaviour).start()
        servers.append(server)
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [*settings.LNURL_ALLOWED_INSECURE_HOSTS, server.host_port(host)]
        return server

    yield start
    for server in servers:
        server.stop()


def cut_off_in_time(call, *, match: str, deadline: float = DEADLINE) -> FetchFailed:
    started = time.monotonic()
    with pytest.raises(FetchFailed, match=match) as failed:
        call()
    elapsed = time.monotonic() - started
    assert elapsed < deadline + MARGIN, f"cut off after {elapsed:.2f} s, deadline {deadline} s"
    return failed.value


# Headers and bodies at any pace ---------------------------------------------------------------------------------


def test_a_server_dripping_header_lines_is_cut_off_at_the_deadline(serve):
    # One header line every 0.3 s: each read is far inside any per-read timeout; the head would take 5 minutes.
    server = serve(drip_headers(interval_seconds=0.3))

    cut_off_in_time(
        lambda: safe_get_json(server.url("/.well-known/lnurlp/alice")),
        match=r"^the server at 127\.0\.0\.1 did not answer within 1 second$",
    )


def test_a_webhook_post_to_a_dripping_server_is_cut_off_at_the_deadline(serve):
    server = serve(drip_headers(interval_seconds=0.3))

    cut_off_in_time(
        lambda: safe_post(server.url("/hook"), body=b'{"type": "test"}', headers={"Content-Type": "application/json"}),
        match=r"did not answer within 1 second",
    )
    assert server.requests == [("POST", "/hook")]


def test_a_server_that_accepts_and_never_answers_is_cut_off_at_the_deadline(serve):
    server = serve(never_answer())

    cut_off_in_time(lambda: safe_get_json(server.url("/")), match="did not answer within 1 second")


def test_a_server_that_answers_after_the_deadline_is_cut_off_at_the_deadline(serve):
    server = serve(answer_after(DEADLINE + 3, {"tag": "payRequest"}))

    cut_off_in_time(lambda: safe_get_json(server.url("/")), match="did not answer within 1 second")


def test_a_tls_handshake_that_never_completes_is_cut_off_at_the_deadline(serve):
    # The server takes the connection and never says a word of TLS: the handshake gets only the time left.
    server = serve(never_answer())

    cut_off_in_time(lambda: safe_get_json(f"https://{server.host_port()}/"), match="did not answer within 1 second")


def test_a_timely_answer_still_arrives(serve):
    server = serve(answer_after(0.1, {"tag": "payRequest"}))

    assert safe_get_json(server.url("/")) == {"tag": "payRequest"}


def test_the_deadline_is_the_callers_when_given(serve, settings):
    settings.LNURL_TIMEOUT_SECONDS = 30
    server = serve(drip_headers(interval_seconds=0.3))

    cut_off_in_time(
        lambda: safe_get_json(server.url("/"), timeout_seconds=0.5), match="within 0.5 seconds", deadline=0.5
    )


# DNS ------------------------------------------------------------------------------------------------------------


def test_a_slow_dns_answer_is_cut_off_at_the_deadline(serve, monkeypatch):
    server = serve(answer_after(0, {"tag": "payRequest"}), host="slow-dns.test")

    def slow_getaddrinfo(host, port, *args, **kwargs):
        if host == "slow-dns.test":
            time.sleep(DEADLINE + 4)  # a name server that takes its time; then a valid answer
            return REAL_GETADDRINFO("127.0.0.1", port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)

    cut_off_in_time(
        lambda: safe_get_json(server.url("/", host="slow-dns.test")),
        match=r"^could not look up the server slow-dns\.test within 1 second$",
    )
    assert server.requests == []


def test_dns_and_the_request_share_one_deadline(serve, monkeypatch):
    # DNS takes 0.7 s of the 1 s; the server then answers after 0.6 s, which fits a fresh deadline but not the rest.
    server = serve(answer_after(0.6, {"late": True}), host="half-slow-dns.test")

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "half-slow-dns.test":
            time.sleep(0.7)
            return REAL_GETADDRINFO("127.0.0.1", port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    cut_off_in_time(lambda: safe_get_json(server.url("/", host="half-slow-dns.test")), match="did not answer within")


# Redirects ------------------------------------------------------------------------------------------------------


def test_a_redirect_chain_shares_one_deadline(serve):
    # Each hop answers after 0.6 s, inside the per-hop time; four hops take 2.4 s, more than the one deadline.
    routes = {}
    server = serve(by_path(routes))
    routes["/r1"] = redirect_after(0.6, server.url("/r2"))
    routes["/r2"] = redirect_after(0.6, server.url("/r3"))
    routes["/r3"] = redirect_after(0.6, server.url("/ok"))
    routes["/ok"] = answer_after(0.6, {"arrived": True})

    cut_off_in_time(lambda: safe_get_json(server.url("/r1")), match="did not answer within 1 second")
    assert ("GET", "/ok") not in server.requests


def test_a_quick_redirect_chain_still_arrives(serve):
    routes = {}
    server = serve(by_path(routes))
    routes["/r1"] = redirect_after(0, server.url("/r2"))
    routes["/r2"] = redirect_after(0, server.url("/ok"))
    routes["/ok"] = answer_after(0, {"arrived": True})

    assert safe_get_json(server.url("/r1")) == {"arrived": True}


# The pieces -----------------------------------------------------------------------------------------------------


def test_a_deadline_clamps_every_timeout_to_the_time_left_and_then_refuses():
    deadline = Deadline.starting_now(0.2)

    assert deadline.clamp(None, safe_http.httpcore.ReadTimeout) <= 0.2
    assert deadline.clamp(0.05, safe_http.httpcore.ReadTimeout) == 0.05
    time.sleep(0.25)
    with pytest.raises(safe_http.httpcore.ReadTimeout):
        deadline.clamp(5, safe_http.httpcore.ReadTimeout)


def test_the_pinned_backend_refuses_to_connect_once_the_deadline_has_passed(serve):
    server = serve(never_answer())
    backend = safe_http.PinnedNetworkBackend(
        "127.0.0.1", (safe_http.ipaddress.ip_address("127.0.0.1"),), Deadline.starting_now(0)
    )

    with pytest.raises(safe_http.httpcore.ConnectTimeout):
        backend.connect_tcp("127.0.0.1", server.port)
    assert server.requests == []
