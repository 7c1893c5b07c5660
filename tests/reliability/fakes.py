"""Tiny in-process HTTP(S) servers for the reliability suite.  Rule: loopback only, every request recorded.

:class:`FakeServer` answers with a handler function; :func:`basic_registry` is a cheap registry that
accepts one username/password on ``/v2/``; :func:`tls_context` makes a server context from a CA
(``tests/support/certs.py``).  The hostile behaviours live in ``test_hostile.py``.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.ports import LOOPBACK

__all__ = [
    "FakeServer",
    "Handler",
    "Seen",
    "basic_registry",
    "reply",
    "tls_context",
]

Handler = Callable[["_Request", "FakeServer"], None]


@dataclass(frozen=True)
class Seen:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]


class _Request(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        fake = self.server.fake
        fake.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        with contextlib.suppress(OSError):  # clients hang up on purpose (SSLError is an OSError)
            fake.handler(self, fake)

    do_GET = do_POST = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, fake: FakeServer) -> None:
        self.fake = fake
        super().__init__((LOOPBACK, 0), _Request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        ctx = self.fake.tls
        if ctx is not None:
            try:
                request.settimeout(10)
                request = ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        else:
            try:  # a TLS ClientHello on plain HTTP: answer at once, as Go's server does
                request.settimeout(10)
                if request.recv(1, socket.MSG_PEEK) == b"\x16":
                    request.sendall(
                        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
                    )
                    return
            except OSError:
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients hang up on purpose here; no tracebacks on stderr


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 (HTTPS with ``tls``); ``seen`` lists every request."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.seen: list[Seen] = []
        self.state: dict[str, Any] = {}
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (the registry key)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reply(
    req: _Request,
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    content_type: str = "application/json",
) -> None:
    """Send a complete response (Content-Length set, connection closed)."""
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        req.send_header(name, value)
    req.end_headers()
    if body and req.command != "HEAD":
        req.wfile.write(body)


def basic_header(username: str, password: str) -> str:
    """``Basic base64(user:password)``."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def basic_registry(username: str, password: str) -> Handler:
    """A registry that accepts ``username``/``password`` with HTTP Basic on ``/v2/``."""
    good = basic_header(username, password)

    def handle(req: _Request, fake: FakeServer) -> None:
        if not req.path.startswith("/v2/"):
            reply(req, 404, b"{}")
        elif req.headers.get("Authorization") == good:
            reply(req, 200, b"{}", [("Docker-Distribution-API-Version", "registry/2.0")])
        else:
            reply(
                req,
                401,
                b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                [
                    ("WWW-Authenticate", 'Basic realm="fake"'),
                    ("Docker-Distribution-API-Version", "registry/2.0"),
                ],
            )

    return handle


def tls_context(ca_dir: Path, names: Iterable[str] = ("127.0.0.1", "localhost")) -> ssl.SSLContext:
    """A server TLS context with a certificate for ``names`` issued by a fresh CA in ``ca_dir``."""
    from tests.support.certs import make_ca

    ca = make_ca(ca_dir)
    cert, key = ca.issue_server_cert(ca_dir / "server", names)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def port_is_open(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:``port``."""
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0
