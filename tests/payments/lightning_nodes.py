"""LND and Core Lightning for the backends' tests: their REST APIs served through httpx.MockTransport with
recorded answers (written from LND's REST reference and routerrpc sources, and from lightningd's JSON schemas and
CLNRest's handlers; see test_lightning_lnd.py and test_lightning_cln.py). A fake because neither node can run here.
"""

import json

import httpx

from payments.lightning.cln import ClnBackend
from payments.lightning.lnd import LndBackend

MACAROON = "0201036c6e6402f801030a10"
RUNE = "tU-RLjMiDpY2U0o3W1oFowar36RFGpWloPbW9-RuZdo9MyZpZD0wMjRiOWExZmE4ZTAwNmYxZTM5MzdmNjVm"


class RecordedNode:
    """Serves one recorded answer per route and remembers what was asked. An answer is a response, a function of
    the request that returns one, or an exception to raise (as httpx would for a connection that fails)."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def route(self, request: httpx.Request):
        raise NotImplementedError

    def check(self, request: httpx.Request) -> None:
        """What every request to this node must carry."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.check(request)
        answer = self.routes[self.route(request)]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def body(self, index: int = -1) -> dict:
        return json.loads(self.requests[index].content)


class LndNode(RecordedNode):
    """Routes are (method, path); every request carries the macaroon."""

    def route(self, request: httpx.Request) -> tuple[str, str]:
        return (request.method, request.url.path)

    def check(self, request: httpx.Request) -> None:
        assert request.headers["Grpc-Metadata-macaroon"] == MACAROON


class ClnNode(RecordedNode):
    """Routes are RPC method names (CLNRest's `/v1/<method>`); every request is a POST that carries the rune."""

    def route(self, request: httpx.Request) -> str:
        return request.url.path.removeprefix("/v1/")

    def check(self, request: httpx.Request) -> None:
        assert request.method == "POST"
        assert request.headers["Rune"] == RUNE


def lnd(node, network: str = "regtest") -> LndBackend:
    """The LND backend talking to `node` (any httpx.MockTransport handler)."""
    return LndBackend(
        url="https://lnd.test:8080", macaroon_hex=MACAROON, network=network, transport=httpx.MockTransport(node)
    )


def cln(node, network: str = "regtest") -> ClnBackend:
    """The Core Lightning backend talking to `node` (any httpx.MockTransport handler)."""
    return ClnBackend(url="https://cln.test:3010", rune=RUNE, network=network, transport=httpx.MockTransport(node))


def stream(*messages: dict) -> bytes:
    """LND's streaming answers: newline-delimited JSON."""
    return b"".join(json.dumps(message).encode() + b"\n" for message in messages)


def lnd_payment(invoice, status: str, **fields) -> dict:
    """An lnrpc.Payment as SendPaymentV2 and TrackPaymentV2 stream it (64-bit numbers as strings)."""
    return {
        "payment_hash": invoice.payment_hash,
        "value": "50",
        "creation_date": "1738000000",
        "fee": "0",
        "payment_preimage": "0" * 64,
        "value_sat": "50",
        "value_msat": "50000",
        "payment_request": invoice.bolt11,
        "status": status,
        "fee_sat": "0",
        "fee_msat": "0",
        "creation_time_ns": "1738000000000000000",
        "htlcs": [],
        "payment_index": "12",
        "failure_reason": "FAILURE_REASON_NONE",
        **fields,
    }


def cln_rpc_error(code: int, message: str, status: int = 500) -> httpx.Response:
    """How CLNRest answers an RPC error: the status, and lightningd's error code and message."""
    return httpx.Response(status, json={"code": code, "message": message})
