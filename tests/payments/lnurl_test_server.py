"""A tiny LNURL-pay wallet service on 127.0.0.1 for tests: real signed invoices, and misbehaviour on demand.

It plays what a worker's wallet provider does (LUD-06/16): `/.well-known/lnurlp/alice` answers a payRequest and
the callback answers a BOLT 11 invoice signed with a throwaway key. Tests change its attributes to make it
misbehave, or give any path a responder of their own with `route()`: the responders below cover redirects, slow
and endless answers, non-JSON, error statuses.

A fake because the real thing (a stranger's wallet server on the internet) is outside our control and, for the
misbehaviours, could not be made to misbehave on cue.
"""

import gzip
import hashlib
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import bolt11
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags

from tests.http_servers import LoopbackServer

Responder = Callable[["WalletRequestHandler"], None]


def make_invoice(
    *,
    amount_msat: int | None,
    currency: str = "bc",
    description_hash: str | None = None,
    description: str | None = None,
    created_at: float | None = None,
    expiry_seconds: int = 600,
    private_key: str | None = None,
) -> tuple[str, str]:
    """A signed BOLT 11 invoice and its preimage (hex). Give a description hash or a plain description."""
    preimage = secrets.token_bytes(32)
    tags = Tags()
    tags.add(TagChar.payment_hash, hashlib.sha256(preimage).hexdigest())
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    if description is not None:
        tags.add(TagChar.description, description)
    else:
        tags.add(TagChar.description_hash, description_hash or hashlib.sha256(b"").hexdigest())
    tags.add(TagChar.expire_time, expiry_seconds)
    tags.add(TagChar.min_final_cltv_expiry, 18)
    invoice = Bolt11(
        currency=currency,
        date=int(time.time() if created_at is None else created_at),
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat) if amount_msat is not None else None,
    )
    return bolt11.encode(invoice, private_key=private_key or secrets.token_hex(32)), preimage.hex()


@dataclass
class InvoiceBehaviour:
    """How the callback's invoice differs from a correct one."""

    amount_msat: int | None = None  # None: exactly the amount asked
    amountless: bool = False
    currency: str = "bc"
    age_seconds: int = 0  # how long ago it was created
    expiry_seconds: int = 600
    description_hash: str | None = None  # None: sha256(metadata), as LUD-06 asks
    plain_description: str | None = None  # a `d` tag instead of the hash


@dataclass
class ReceivedRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeLnurlWallet:
    name: str = "alice"
    min_sendable_msat: int = 1_000
    max_sendable_msat: int = 1_000_000_000
    comment_allowed: int = 0
    metadata: str = json.dumps([["text/plain", "Pay alice on the fake wallet"], ["text/identifier", "alice@fake.test"]])
    callback_path: str = "/lnurlp/callback"
    callback_query: str = "foo=bar"  # the callback's own query, which our client must keep
    invoice: InvoiceBehaviour = field(default_factory=InvoiceBehaviour)
    success_action: dict | None = None
    host_name: str = "127.0.0.1"  # how URLs name the server (tests may resolve another name to 127.0.0.1)
    tls_context: ssl.SSLContext | None = None
    private_key: str = field(default_factory=lambda: secrets.token_hex(32))
    requests: list[ReceivedRequest] = field(default_factory=list)
    issued_preimages: dict[str, str] = field(default_factory=dict)  # payment hash -> preimage
    routes: dict[str, Responder] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "FakeLnurlWallet":
        self.http = LoopbackServer(WalletRequestHandler, tls_context=self.tls_context)
        self.http.server.wallet = self
        self.http.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # first, so that slow responders give up at once
        self.http.stop()

    def __enter__(self) -> "FakeLnurlWallet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def host_port(self) -> str:
        """The `host:port` pair to put in LNURL_ALLOWED_INSECURE_HOSTS."""
        return f"{self.host_name}:{self.port}"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls_context else "http"
        return f"{scheme}://{self.host_port}"

    @property
    def pay_url(self) -> str:
        return f"{self.base_url}/.well-known/lnurlp/{self.name}"

    @property
    def address(self) -> str:
        return f"{self.name}@{self.host_port}"

    @property
    def callback_url(self) -> str:
        query = f"?{self.callback_query}" if self.callback_query else ""
        return f"{self.base_url}{self.callback_path}{query}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def route(self, path: str, responder: Responder) -> None:
        self.routes[path] = responder

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.path == path]

    def pay_request(self) -> dict:
        return {
            "tag": "payRequest",
            "callback": self.callback_url,
            "minSendable": self.min_sendable_msat,
            "maxSendable": self.max_sendable_msat,
            "metadata": self.metadata,
            "commentAllowed": self.comment_allowed,
        }

    def invoice_answer(self, query: dict[str, list[str]]) -> dict:
        asked_msat = int(query["amount"][0])
        behaviour = self.invoice
        amount_msat = None if behaviour.amountless else (behaviour.amount_msat or asked_msat)
        bolt11_text, preimage = make_invoice(
            amount_msat=amount_msat,
            currency=behaviour.currency,
            description_hash=behaviour.description_hash or hashlib.sha256(self.metadata.encode()).hexdigest(),
            description=behaviour.plain_description,
            created_at=time.time() - behaviour.age_seconds,
            expiry_seconds=behaviour.expiry_seconds,
            private_key=self.private_key,
        )
        self.issued_preimages[bolt11.decode(bolt11_text).payment_hash] = preimage
        answer: dict = {"pr": bolt11_text, "routes": []}
        if self.success_action is not None:
            answer["successAction"] = self.success_action
        return answer


class WalletRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.0: every answer closes its connection, so a body without Content-Length simply runs until the close.
    protocol_version = "HTTP/1.0"

    @property
    def wallet(self) -> FakeLnurlWallet:
        return self.server.wallet

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self.wallet.requests.append(ReceivedRequest(parts.path, query, dict(self.headers.items())))
        responder = self.wallet.routes.get(parts.path)
        try:
            if responder:
                responder(self)
            elif parts.path == f"/.well-known/lnurlp/{self.wallet.name}":
                self.send_json(self.wallet.pay_request())
            elif parts.path == self.wallet.callback_path:
                self.send_json(self.wallet.invoice_answer(query))
            else:
                self.send_json({"status": "ERROR", "reason": "no such path"}, status=404)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client hung up on purpose (size cap, timeout)

    def send_json(self, payload: object, *, status: int = 200) -> None:
        self.send_body(json.dumps(payload).encode(), content_type="application/json", status=status)

    def send_body(self, body: bytes, *, content_type: str, status: int = 200, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


# Responders for `FakeLnurlWallet.route()` -------------------------------------------------------------------------


def json_answer(payload: object, *, status: int = 200) -> Responder:
    return lambda handler: handler.send_json(payload, status=status)


def raw_answer(body: bytes, *, content_type: str = "text/html", status: int = 200) -> Responder:
    return lambda handler: handler.send_body(body, content_type=content_type, status=status)


def redirect_to(location: str, *, status: int = 302) -> Responder:
    def respond(handler: WalletRequestHandler) -> None:
        handler.send_body(b"", content_type="text/plain", status=status, headers={"Location": location})

    return respond


def gzip_answer(payload: object) -> Responder:
    body = gzip.compress(json.dumps(payload).encode())
    return lambda handler: handler.send_body(
        body, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )


def slow_answer(seconds: float, payload: object) -> Responder:
    """Answers only after `seconds` (or when the server stops)."""

    def respond(handler: WalletRequestHandler) -> None:
        handler.wallet.stopping.wait(seconds)
        handler.send_json(payload)

    return respond


def dribbling_answer(*, byte_count: int, interval_seconds: float) -> Responder:
    """Headers at once, then one byte per interval: each read is quick, the whole answer is not."""

    def respond(handler: WalletRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(byte_count))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(byte_count):
            if handler.wallet.stopping.wait(interval_seconds):
                return
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return respond


def stalled_answer(*, declared_bytes: int) -> Responder:
    """Declares a large body, sends a few bytes of it, then waits: only a client that trusts the header stops early."""

    def respond(handler: WalletRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(declared_bytes))
        handler.end_headers()
        handler.wfile.write(b"{}        ")
        handler.wfile.flush()
        handler.wallet.stopping.wait(10)

    return respond


def streamed_answer(*, total_bytes: int, declare_length: bool) -> Responder:
    """A body of `total_bytes` written in 64 KB chunks, with or without an honest Content-Length."""

    def respond(handler: WalletRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(total_bytes))
        handler.end_headers()
        chunk = b" " * 65536
        written = 0
        while written < total_bytes and not handler.wallet.stopping.is_set():
            handler.wfile.write(chunk)
            written += len(chunk)

    return respond
