"""Tiny in-process HTTP(S) servers for the reliability suite.  Rule: loopback only, every request recorded.

:class:`FakeServer` answers with a handler function; :func:`basic_registry` is a cheap registry that
accepts one username/password on ``/v2/``; :func:`tls_context` makes a server context from a CA
(``tests/support/certs.py``).  :class:`RawServer` hands the bare socket (TLS or plain, or both on
one port) to a handler, for what ``http.server`` will not do: tiny TLS records, silence, trickling.
The hostile behaviours live in ``test_hostile.py`` and ``test_timeouts.py``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.cliutil import venv_path
from tests.reliability.procs import regauth_exe
from tests.support.ports import LOOPBACK

__all__ = [
    "FakeServer",
    "Handler",
    "RawHandler",
    "RawServer",
    "Run",
    "Seen",
    "basic_registry",
    "docker_login",
    "read_head",
    "regauth_login",
    "reply",
    "run_measured",
    "send_in_records",
    "shown",
    "tls_context",
    "trickle",
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


RawHandler = Callable[[socket.socket, bytes], None]


def read_head(sock: socket.socket, limit: int = 1 << 16) -> bytes:
    """Bytes up to the end of a request's headers (or EOF, or ``limit``); on a plain socket, the
    first bytes of a TLS ClientHello, which never end that way (a server answers them at once)."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < limit and not head.startswith(b"\x16"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


class RawServer:
    """A TCP server on 127.0.0.1 calling ``handler(sock, request_head)`` on each connection.

    With ``tls``, a connection that opens with a TLS ClientHello is wrapped and given to
    ``handler``; any other goes to ``plain`` (None: closed).  Without ``tls`` every connection is
    plain.  ``handler=None`` accepts and stays silent until :meth:`stop`.  ``received`` holds, per
    connection, ``("tls" | "plain", head)``: what a client sent on each side.
    """

    def __init__(
        self,
        handler: RawHandler | None,
        *,
        tls: ssl.SSLContext | None = None,
        plain: RawHandler | None = None,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.plain = plain if tls is not None else handler
        self.received: list[tuple[str, bytes]] = []
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self._listener.getsockname()[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (the registry key)."""
        return f"{LOOPBACK}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(30)
            if self.handler is None and self.plain is None:
                self._stop.wait()  # silent: hold the connection open, say nothing
                return
            hello = self.tls is not None and raw.recv(1, socket.MSG_PEEK) == b"\x16"
            if hello and self.handler is not None:
                assert self.tls is not None
                sock: socket.socket = self.tls.wrap_socket(raw, server_side=True)
                side, handler = "tls", self.handler
            elif not hello and self.plain is not None:
                sock, side, handler = raw, "plain", self.plain
            else:
                return
            head = read_head(sock)
            self.received.append((side, head))
            handler(sock, head)
        except OSError:  # clients hang up on purpose (SSLError is an OSError)
            pass
        finally:
            raw.close()

    def stop(self) -> None:
        """Stop accepting; silent connections are released."""
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def send_in_records(sock: socket.socket, data: bytes, size: int = 16) -> None:
    """``data`` in writes of ``size`` bytes: on a TLS socket, one TLS record each."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        sock.sendall(view[start : start + size])


def trickle(sock: socket.socket, data: bytes, delay: float = 0.2, limit: float = 30.0) -> None:
    """``data`` one byte every ``delay`` seconds, for ``limit`` seconds at most."""
    end = time.monotonic() + limit
    for byte in data:
        if time.monotonic() > end:
            return
        sock.sendall(bytes([byte]))
        time.sleep(delay)


# --------------------------------------------------------------------------- run a login, measured


@dataclass(frozen=True)
class Run:
    """How one CLI run ended: exit code, output, wall and CPU seconds (None: killed at the limit)."""

    code: int | None
    out: str
    wall: float
    cpu: float


def run_measured(argv: list[str], stdin: str, env: dict[str, str], limit: float) -> Run:
    """Run ``argv`` with ``stdin``; its CPU time from ``os.wait4``; killed by pid after ``limit`` s."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env)
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > limit and not killed:
                proc.kill()
                killed = True
            time.sleep(0.02)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Run(None if killed else proc.returncode, text, wall, usage.ru_utime + usage.ru_stime)


def regauth_login(host: str, user: str, password: str, timeout: float, *extra: str, limit: float = 60) -> Run:
    """``regauth login HOST --timeout T`` with the password on stdin."""
    argv = [regauth_exe(), "login", host, "-u", user, "--password-stdin", "--timeout", f"{timeout:g}", *extra]
    return run_measured(argv, password, dict(os.environ, PATH=venv_path()), limit)


def docker_login(docker_dir: str, host: str, config: Path, user: str, password: str, limit: float) -> Run:
    """``docker login HOST`` (Docker CLI, file store in ``config``) with the password on stdin."""
    env = dict(os.environ, PATH=docker_dir, DOCKER_CONFIG=str(config))
    argv = [os.path.join(docker_dir, "docker"), "login", "-u", user, "--password-stdin", host]
    return run_measured(argv, password, env, limit)


def shown(run: Run) -> str:
    """One line for a report note: how it ended, wall and CPU time, its last line of output."""
    lines = [line for line in run.out.splitlines() if line.strip() and not line.startswith("WARNING")]
    ending = "killed (still running)" if run.code is None else f"exit {run.code}"
    return f"{ending} after {run.wall:.1f} s wall, {run.cpu:.2f} s CPU: {(lines or [''])[-1][:160]}"
