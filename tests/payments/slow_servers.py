"""Servers on 127.0.0.1 that are slow on purpose, for the tests of outbound deadlines (payments/safe_http.py).

They misbehave below the level `http.server` lets a handler reach: a status line and then one header line every
few seconds, a connection accepted and never answered, a redirect that comes just inside each read timeout. So
they speak HTTP/1.1 by hand over raw sockets. A fake because a hostile server on the internet cannot be made to
misbehave on cue; what it exercises (our client's sockets and deadlines) is real.
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# behaviour(connection, path, stopping): write whatever answer, as slowly as it likes; return to hang up.
Behaviour = Callable[[socket.socket, str, threading.Event], None]


@dataclass
class SlowServer:
    behaviour: Behaviour
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path), as they arrived
    stopping: threading.Event = field(default_factory=threading.Event)
    connections: list[socket.socket] = field(default_factory=list)

    def start(self) -> "SlowServer":
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)  # the accept loop looks at `stopping` this often
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop, hanging up on every client still waiting (so a client sees the connection close at once)."""
        self.stopping.set()
        self.listener.close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.thread.join(timeout=5)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def host_port(self, host: str = "127.0.0.1") -> str:
        return f"{host}:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{self.host_port(host)}{path}"

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            method, path = read_request(connection)
            self.requests.append((method, path))
            self.behaviour(connection, path, self.stopping)
        except OSError:
            pass  # the client hung up (its deadline), or we are stopping
        finally:
            connection.close()


def read_request(connection: socket.socket) -> tuple[str, str]:
    """Read one request's head and its body (by Content-Length); return its method and path."""
    connection.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionResetError("the client hung up before its request was complete")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return method, path


def json_response(payload: object, *, status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps(payload).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


# Behaviours ------------------------------------------------------------------------------------------------------


def drip_headers(*, interval_seconds: float, lines: int = 1000, payload: object = None) -> Behaviour:
    """A status line at once, then one header line per interval (each read is quick; the head never ends), and
    finally a JSON answer if the client is still there."""

    def behave(connection: socket.socket, path: str, stopping: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        for number in range(lines):
            if stopping.wait(interval_seconds):
                return
            connection.sendall(f"X-Drip-{number}: {'.' * 20}\r\n".encode())
        connection.sendall(json_response(payload if payload is not None else {"dripped": True}).split(b"\r\n", 1)[1])

    return behave


def never_answer() -> Behaviour:
    """Reads the request, then says nothing until the server stops."""

    def behave(connection: socket.socket, path: str, stopping: threading.Event) -> None:
        stopping.wait()

    return behave


def answer_after(seconds: float, payload: object) -> Behaviour:
    """Says nothing for `seconds`, then answers `payload` all at once."""

    def behave(connection: socket.socket, path: str, stopping: threading.Event) -> None:
        if not stopping.wait(seconds):
            connection.sendall(json_response(payload))

    return behave


def redirect_after(seconds: float, location: str) -> Behaviour:
    """Says nothing for `seconds`, then redirects to `location`."""

    def behave(connection: socket.socket, path: str, stopping: threading.Event) -> None:
        if not stopping.wait(seconds):
            connection.sendall(json_response({}, status="302 Found", headers={"Location": location}))

    return behave


def by_path(routes: dict[str, Behaviour]) -> Behaviour:
    """A different behaviour per path; other paths answer 404."""

    def behave(connection: socket.socket, path: str, stopping: threading.Event) -> None:
        behaviour = routes.get(path.split("?", 1)[0])
        if behaviour is None:
            connection.sendall(json_response({"status": "ERROR", "reason": "no such path"}, status="404 Not Found"))
            return
        behaviour(connection, path, stopping)

    return behave


def elapsed_since(started: float) -> float:
    return time.monotonic() - started
