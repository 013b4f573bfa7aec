"""Outbound HTTP that cannot be turned against our own network (server-side request forgery).

Workers type the addresses we call (their Lightning Address, an LNURL), so every request is treated as hostile:
https only, every address the host resolves to must be public, the connection goes to the very address that was
checked (a DNS answer that changes between the check and the connect cannot swap it), redirects are followed by
hand and re-checked, and the answer's size is capped while it streams in.

Each request has one overall deadline (`Deadline`), shared by its redirect hops and enforced whatever the server's
pacing: the DNS lookup runs in a thread we stop waiting for, and every connect, TLS handshake, read and write is
given only the time that is left, so a server that drips one header byte a second is cut off at the deadline just
like one that never answers. A per-read timeout alone would let such a server hold a web or Celery process for ever.

`host:port` pairs in `settings.LNURL_ALLOWED_INSECURE_HOSTS` may use plain http and private or loopback addresses:
that is for development and tests only.

Every error is an `UnsafeUrl` (refused by policy, nothing was sent) or a `FetchFailed` (network, status, size,
parse); both carry a message that can be shown to a worker as it is. Messages never say what a host name resolves
to: that would map our internal DNS for whoever types the names (the resolved addresses go to the log instead).
"""

import functools
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpcore
import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# Request bodies are written in pieces of this size, each with only the time left, so a server that reads slowly
# cannot stretch one write past the deadline.
WRITE_CHUNK_BYTES = 16 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Boltwork/1.0"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# DNS64 synthesises these for IPv4-only hosts; Python counts the whole range as reserved, so we judge the IPv4
# address inside instead.
NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")


class SafeHttpError(Exception):
    """Base of both errors below. `str(error)` is a sentence a worker can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsafeUrl(SafeHttpError):
    """Refused by policy before anything was sent: scheme, credentials, or an address we must not reach."""


class FetchFailed(SafeHttpError):
    """Nothing usable came back: no answer in time, no connection, a bad status, too large, or not a JSON object.

    On an error status, `payload` holds the answer when it was a JSON object: LNURL services often explain the
    error there (`{"status": "ERROR", "reason": …}`) whatever the status code.
    """

    def __init__(self, message: str, *, status_code: int | None = None, payload: dict | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.payload = payload


@dataclass(frozen=True)
class Deadline:
    """The one time limit of a whole outbound request: DNS, connect, TLS, headers, body and every redirect hop."""

    seconds: float  # the whole budget, for messages
    expires_at: float  # on the `time.monotonic()` clock

    @classmethod
    def starting_now(cls, seconds: float | None = None) -> "Deadline":
        """A deadline `seconds` from now; by default `settings.LNURL_TIMEOUT_SECONDS`."""
        if seconds is None:
            seconds = settings.LNURL_TIMEOUT_SECONDS
        return cls(seconds=seconds, expires_at=time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def clamp(self, timeout: float | None, timeout_error: type[Exception]) -> float:
        """`timeout` cut to the time left; raises `timeout_error` (one of httpcore's) once none is left."""
        remaining = self.remaining()
        if remaining <= 0:
            raise timeout_error("the time limit for this request has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def describe(self) -> str:
        seconds = f"{self.seconds:g}"
        return f"{seconds} second" if seconds == "1" else f"{seconds} seconds"


@dataclass(frozen=True)
class VettedTarget:
    """A URL that passed the policy, with the addresses we may connect to for it."""

    url: httpx.URL
    host: str  # as the connection pool names it: IDNA-encoded, IPv6 without brackets
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def display_host(self) -> str:
        return self.url.host


@dataclass(frozen=True)
class Redirect:
    location: str


def safe_get_json(url: str, *, params: dict | None = None, timeout_seconds: float | None = None) -> dict:
    """GET `url` (with `params` appended to its own query) and return the JSON object it answers.

    Follows at most `MAX_REDIRECTS` redirects, re-checking each target with the same rules. The whole of it,
    redirects included, ends within `timeout_seconds` (default `settings.LNURL_TIMEOUT_SECONDS`). Raises
    `UnsafeUrl` or `FetchFailed`.
    """
    deadline = Deadline.starting_now(timeout_seconds)
    current_url = url_with_params(url, params) if params else url
    for _ in range(MAX_REDIRECTS + 1):
        if deadline.remaining() <= 0:
            # The hops so far used up the time: a redirect chain shares one deadline, it does not multiply it.
            raise FetchFailed(f"the server at {display_host(url)} did not answer within {deadline.describe()}")
        target = vet_url(current_url, deadline=deadline)
        outcome = fetch_json_or_redirect(target, deadline)
        if isinstance(outcome, Redirect):
            current_url = redirect_target(target, outcome.location)
            continue
        return outcome
    raise FetchFailed(f"the server at {display_host(url)} redirected us more than {MAX_REDIRECTS} times")


def safe_post(url: str, *, body: bytes, headers: dict[str, str], timeout_seconds: float | None = None) -> int:
    """POST `body` to a vetted `url` and return the answer's status code (its body is read, capped, and dropped).

    Redirects are not followed: a POST that is redirected was not delivered. The whole of it ends within
    `timeout_seconds` (default `settings.LNURL_TIMEOUT_SECONDS`). Raises `UnsafeUrl` or `FetchFailed`. Used for
    webhooks, under the same request-forgery rules as LNURL.
    """
    deadline = Deadline.starting_now(timeout_seconds)
    target = vet_url(url, deadline=deadline)
    try:
        with (
            httpx.Client(
                transport=PinnedTransport(target, deadline),
                timeout=httpx.Timeout(deadline.seconds),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers},
            ) as client,
            client.stream("POST", target.url, content=body) as response,
        ):
            read_capped_body(response, target, deadline)
            return response.status_code
    except httpx.TimeoutException as error:
        raise FetchFailed(too_slow_message(target, deadline)) from error
    except httpx.HTTPError as error:
        raise FetchFailed(connection_failure_message(target, error)) from error


def url_with_params(url: str, params: dict) -> str:
    """Append `params` to the URL's own query, keeping that query byte for byte.

    httpx 0.28 drops a URL's query when `params=` is given, and LNURL callbacks carry their own (LUD-06: the
    wallet appends `amount` to it). Re-encoding the existing query could also break services that sign it.
    """
    parts = urlsplit(url)
    # %20 rather than "+" for spaces: unambiguous to every server, form decoder or not.
    extra = urlencode({key: str(value) for key, value in params.items()}, quote_via=quote)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def check_url_policy(url: str) -> httpx.URL:
    """The checks that need no network: a valid https URL (or http on an allowlisted `host:port`), no credentials.

    Returns the parsed URL. Raises `UnsafeUrl`.
    """
    try:
        parsed = httpx.URL(url)
        host = parsed.host
    except (httpx.InvalidURL, TypeError, UnicodeError) as error:
        # UnicodeError: reading `.host` decodes an xn-- label, and idna's IDNAError for a malformed one
        # ("https://xn--/") comes through httpx as it is.
        raise UnsafeUrl(f"“{shorten(url)}” is not a valid web address") from error
    if parsed.scheme not in {"https", "http"}:
        raise UnsafeUrl(f"only https web addresses are allowed, not “{shorten(url)}”")
    if not host:
        raise UnsafeUrl(f"“{shorten(url)}” has no host name")
    if parsed.userinfo:
        raise UnsafeUrl("web addresses with a user name or password in them are not allowed")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeUrl(f"“{shorten(url)}” has an invalid port number")
    if parsed.scheme == "http" and not is_insecure_host_allowed(parsed):
        raise UnsafeUrl(f"only https web addresses are allowed; {parsed.host} was given as plain http")
    return parsed


def vet_url(url: str, *, deadline: Deadline | None = None) -> VettedTarget:
    """Check the URL, resolve its host and check every address it resolves to. Raises `UnsafeUrl`, `FetchFailed`.

    The refusal of a host name says only that it is not allowed: naming the address it resolves to, or even its
    kind, would let anyone who can type a URL map our internal DNS. An address typed as such is refused with the
    reason, since that tells nothing the person did not know.
    """
    parsed = check_url_policy(url)
    host = parsed.raw_host.decode("ascii")
    port = effective_port(parsed)
    addresses = resolve_host(host, port, deadline=deadline)
    if not is_insecure_host_allowed(parsed):
        for address in addresses:
            reason = address_refusal(address)
            if reason and is_ip_literal(host):
                raise UnsafeUrl(reason)
            if reason:
                logger.warning("Refused an outbound request to %s: it resolves to %s (%s)", host, address, reason)
                raise UnsafeUrl(not_allowed_message(parsed.host))
    return VettedTarget(url=parsed, host=host, port=port, addresses=addresses)


def not_allowed_message(host: str) -> str:
    return f"the address {host} is not allowed"


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_insecure_host_allowed(url: httpx.URL) -> bool:
    allowed = {entry.strip().lower() for entry in settings.LNURL_ALLOWED_INSECURE_HOSTS}
    return host_port_key(url) in allowed


def host_port_key(url: httpx.URL) -> str:
    """`host:port` as the allowlist spells it; IPv6 hosts in brackets, default ports filled in."""
    host = url.raw_host.decode("ascii").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{effective_port(url)}"


def effective_port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def resolve_host(host: str, port: int, *, deadline: Deadline | None = None) -> tuple[IPAddress, ...]:
    """Every address the host resolves to, in the resolver's order, looked up within the deadline.

    Raises `FetchFailed`, `UnsafeUrl`.
    """
    deadline = deadline or Deadline.starting_now()
    try:
        answers = getaddrinfo_within(host, port, deadline)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchFailed(f"could not find the server {host}: no such host name") from error
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canonname, sockaddr in answers:
        if family not in {socket.AF_INET, socket.AF_INET6}:
            continue
        try:
            address = ipaddress.ip_address(sockaddr[0])
        except ValueError as error:
            logger.warning("Refused an outbound request to %s: it resolves to %r", host, sockaddr[0])
            raise UnsafeUrl(not_allowed_message(host)) from error
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchFailed(f"could not find the server {host}: it has no internet address")
    return tuple(addresses)


def getaddrinfo_within(host: str, port: int, deadline: Deadline) -> list:
    """`socket.getaddrinfo`, waited for at most until the deadline. Raises what it raises, or `FetchFailed`.

    getaddrinfo cannot be interrupted and a hostile name server can keep it waiting, so it runs in a daemon thread
    of its own; past the deadline we stop waiting and leave that thread to end when the resolver gives up.
    """
    outcome: list = []
    done = threading.Event()

    def look_up() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as error:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome.append(error)
        finally:
            done.set()

    threading.Thread(target=look_up, name=f"getaddrinfo {host}", daemon=True).start()
    if not done.wait(max(deadline.remaining(), 0)) or not outcome:
        raise FetchFailed(f"could not look up the server {host} within {deadline.describe()}")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def address_refusal(address: IPAddress) -> str | None:
    """Why we must not connect to `address`, in words for a worker; None when it is a public address."""
    for candidate in addresses_to_judge(address):
        reason = non_public_reason(candidate)
        if reason:
            return reason
    return None


def addresses_to_judge(address: IPAddress) -> list[IPAddress]:
    """The address itself and any IPv4 address it carries inside (mapped, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped:
        # `::ffff:a.b.c.d` is a.b.c.d on a dual-stack socket; the outer form is always "reserved".
        return [address.ipv4_mapped]
    if address in NAT64_NETWORK:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    judged: list[IPAddress] = [address]
    if address.sixtofour:
        judged.append(address.sixtofour)
    if address.teredo:
        judged.extend(address.teredo)
    return judged


def non_public_reason(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "the unspecified address is not allowed"
    if address.is_loopback:
        return "addresses on this server itself (loopback) are not allowed"
    if address.is_link_local:
        return "link-local addresses (such as cloud metadata services) are not allowed"
    if address.is_multicast:
        return "multicast addresses are not allowed"
    if address.is_reserved:
        return "reserved or non-public addresses are not allowed"
    if address.is_private or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        return "addresses on private networks are not allowed"
    if not address.is_global:
        return "reserved or non-public addresses are not allowed"
    return None


def fetch_json_or_redirect(target: VettedTarget, deadline: Deadline) -> dict | Redirect:
    """One GET to the vetted addresses, ending by the deadline. Returns the JSON object, or where a redirect points."""
    headers = {
        "Accept": "application/json",
        # A compressed answer could expand past the size cap inside one decoded chunk: ask for none.
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }
    try:
        with (
            httpx.Client(
                transport=PinnedTransport(target, deadline),
                timeout=httpx.Timeout(deadline.seconds),
                follow_redirects=False,
                trust_env=False,
                headers=headers,
            ) as client,
            client.stream("GET", target.url) as response,
        ):
            location = response.headers.get("location")
            if response.status_code in REDIRECT_STATUSES and location:
                return Redirect(location)
            refuse_encoded_body(response, target)
            body = read_capped_body(response, target, deadline)
            status_code = response.status_code
    except httpx.TimeoutException as error:
        raise FetchFailed(too_slow_message(target, deadline)) from error
    except httpx.HTTPError as error:
        raise FetchFailed(connection_failure_message(target, error)) from error
    return parse_json_object(body, status_code, target)


def redirect_target(target: VettedTarget, location: str) -> str:
    try:
        return str(target.url.join(location))
    except httpx.InvalidURL as error:
        raise FetchFailed(f"the server at {target.display_host} redirected us to an invalid address") from error


def refuse_encoded_body(response: httpx.Response, target: VettedTarget) -> None:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in {"", "identity"}:
        raise FetchFailed(f"the server at {target.display_host} sent a compressed answer we did not ask for")


def read_capped_body(response: httpx.Response, target: VettedTarget, deadline: Deadline) -> bytes:
    """Read the body, stopping as soon as it passes the size cap or the time limit."""
    limit = settings.LNURL_MAX_RESPONSE_BYTES
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchFailed(too_large_message(target, limit))
    chunks: list[bytes] = []
    received = 0
    # iter_raw: the bytes as they arrive, undecoded, so what we count is what we hold.
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > limit:
            raise FetchFailed(too_large_message(target, limit))
        if deadline.remaining() <= 0:
            # The stream's reads already end at the deadline; this catches a last chunk that arrived just after it.
            raise FetchFailed(too_slow_message(target, deadline))
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes, status_code: int, target: VettedTarget) -> dict:
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not 200 <= status_code < 300:
        raise FetchFailed(
            f"the server at {target.display_host} answered with an error (HTTP {status_code})",
            status_code=status_code,
            payload=payload if isinstance(payload, dict) else None,
        )
    if payload is None:
        raise FetchFailed(f"the server at {target.display_host} did not answer with JSON")
    if not isinstance(payload, dict):
        raise FetchFailed(f"the server at {target.display_host} answered with JSON that is not an object")
    return payload


def too_slow_message(target: VettedTarget, deadline: Deadline) -> str:
    return f"the server at {target.display_host} did not answer within {deadline.describe()}"


def too_large_message(target: VettedTarget, limit: int) -> str:
    size = f"{limit // 1024:,} KB" if limit >= 1024 and limit % 1024 == 0 else f"{limit:,} bytes"
    return f"the answer from the server at {target.display_host} is larger than {size}"


def connection_failure_message(target: VettedTarget, error: httpx.HTTPError) -> str:
    if caused_by(error, ssl.SSLCertVerificationError):
        return f"the server at {target.display_host} has an invalid or untrusted TLS certificate"
    if caused_by(error, ssl.SSLError):
        return f"could not set up a secure connection to the server at {target.display_host}"
    if isinstance(error, httpx.ConnectError):
        return f"could not connect to the server at {target.display_host}"
    return f"the connection to the server at {target.display_host} failed"


def caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def display_host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except (httpx.InvalidURL, UnicodeError):  # UnicodeError: see check_url_policy
        return url


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tls_context() -> ssl.SSLContext:
    """Certificates are checked against the host name in the URL (tests swap in their own authority here)."""
    return _public_authorities_context()


@functools.cache
def _public_authorities_context() -> ssl.SSLContext:
    # Built once per process: building one reads certifi's whole bundle (some 30 ms), which was a third of a payout's
    # time when every request built its own (docs/PERFORMANCE.md, "Payouts"). One context serves any number of
    # connections and threads; httpcore only sets the same ALPN protocols on it for each connection.
    return httpx.create_ssl_context(trust_env=False)


class PinnedNetworkBackend(httpcore.SyncBackend):
    """Opens TCP connections to the vetted addresses only, never resolving the host name again, and hands back
    streams that end at the request's deadline.

    httpcore hands us the host from the URL and later uses that same name for TLS (SNI and certificate checks),
    so only the socket's destination changes: a DNS answer that flips to 10.0.0.1 after our check is never asked.
    """

    def __init__(self, host: str, addresses: tuple[IPAddress, ...], deadline: Deadline | None = None) -> None:
        self.host = host
        self.addresses = addresses
        self.deadline = deadline or Deadline.starting_now()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        if host != self.host:
            raise httpcore.ConnectError(f"refusing to connect to {host}: only {self.host} was checked")
        last_error: httpcore.ConnectError | None = None
        for address in self.addresses:
            # Every address gets only what is left: a host with many unreachable addresses cannot multiply it.
            connect_timeout = self.deadline.clamp(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(str(address), port, connect_timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                last_error = error
                continue
            return DeadlineStream(stream, self.deadline)
        raise last_error or httpcore.ConnectError(f"no address to connect to for {host}")


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read, write and TLS handshake is given only the time left before the deadline,
    raising httpcore's own timeout errors once it has passed (httpx turns them into `httpx.TimeoutException`).

    httpcore applies its timeouts to each socket operation: a server sending one header line every few seconds
    never trips a per-read timeout. Clamped like this, the sum of all operations cannot pass the deadline.
    """

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), WRITE_CHUNK_BYTES):
            chunk = buffer[start : start + WRITE_CHUNK_BYTES]
            self.stream.write(chunk, self.deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        handshake_timeout = self.deadline.clamp(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, handshake_timeout), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport (request conversion, exception mapping) over a pool that uses `PinnedNetworkBackend`.

    httpx 0.28 has no public way to give its transport a network backend, so we replace the connection pool it
    built. If a future httpx renames `_pool`, the check below fails loudly instead of silently losing the pin
    (and tests/payments/test_safe_http.py checks the pin end to end).
    """

    def __init__(self, target: VettedTarget, deadline: Deadline | None = None) -> None:
        context = tls_context()
        super().__init__(verify=context, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("httpx's transport changed shape: re-check DNS pinning in payments/safe_http.py")
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=1,
            network_backend=PinnedNetworkBackend(target.host, target.addresses, deadline),
        )
