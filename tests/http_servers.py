"""HTTP servers on 127.0.0.1 that tests run in the background: a wallet service, a webhook receiver, a site that
records what a template sends it. Each brings its handler; this starts and stops it."""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """`handler` serving on 127.0.0.1 on a free port, from a thread of its own (and one per request), over TLS
    when given a context. Start and stop it, or use it as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, tls_context: ssl.SSLContext | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def host_port(self) -> str:
        """The `host:port` pair to put in LNURL_ALLOWED_INSECURE_HOSTS."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
