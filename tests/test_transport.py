"""The transport and its HTTP/1.1 client: keep-alive, framing, redirects, proxies, TLS policy.

Real registries where they can show it (connection reuse, TLS), scripted fake servers for what a real
server will not send (odd framing, redirects to other hosts, CONNECT proxies).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from regauth.credentials import Credentials
from regauth.errors import TransportError
from regauth.registry.flow import login_flow
from regauth.registry.messages import HttpRequest
from regauth.transport.connection import Connection, HttpError
from regauth.transport.proxy import Proxy, proxy_for
from regauth.transport.session import (
    Endpoint,
    Session,
    TransportOptions,
    endpoints_for,
    open_session,
    run_flow,
    send,
    try_endpoints,
)
from tests.reliability.fakes import FakeServer, tls_context
from tests.reliability.fakes import reply as fake_reply
from tests.support.registry import RegistryStack

Handler = Callable[[socket.socket, bytes], bool]  # returns False to close the connection


@contextmanager
def fake_server(handler: Handler) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server calling ``handler(conn, request_bytes)`` per request; records requests."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            buf = b""
            while not stop.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                while len(buf) < length:
                    buf += conn.recv(65536)
                request, buf = head + b"\r\n\r\n" + buf[:length], buf[length:]
                seen.append(request)
                if not handler(conn, request):
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def reply(raw: bytes, keep: bool = True) -> Handler:
    def handler(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(raw)
        return keep

    return handler


OPTIONS = TransportOptions(timeout=2.0)
OK_2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HTTP = Endpoint("http://127.0.0.1", False, "127.0.0.1")


def get(url: str, headers: tuple[tuple[str, str], ...] = ()) -> object:
    with open_session(HTTP, OPTIONS) as session:
        return send(session, HttpRequest("GET", url, headers), OPTIONS)


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\nT: 1\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", b"until close"),
    ],
)
def test_framing(raw: bytes, body: bytes) -> None:
    with fake_server(reply(raw, keep=b"HTTP/1.0" not in raw)) as (port, _):
        response = get(f"http://127.0.0.1:{port}/v2/")
    assert response.status == 200  # type: ignore[attr-defined]
    assert response.body == body  # type: ignore[attr-defined]


def test_repeated_headers_are_all_kept() -> None:
    raw = (
        b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="a"\r\n'
        b'Www-Authenticate: Bearer realm="b"\r\nContent-Length: 0\r\n\r\n'
    )
    with fake_server(reply(raw)) as (port, _):
        response = get(f"http://127.0.0.1:{port}/v2/")
    assert response.header_values("www-authenticate") == ['Basic realm="a"', 'Bearer realm="b"']  # type: ignore[attr-defined]


def test_keep_alive_reuses_one_connection_and_survives_a_dropped_idle_socket() -> None:
    connections: list[int] = []

    def handler(conn: socket.socket, request: bytes) -> bool:
        connections.append(conn.fileno())
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        return len(connections) != 2  # the server drops the socket after the 2nd request

    with fake_server(handler) as (port, seen):
        conn = Connection("127.0.0.1", port, context=None, timeout=2)
        for _ in range(3):
            deadline = time.monotonic() + 4
            assert conn.request("GET", "/v2/", [("Host", "x")], b"", deadline=deadline).status == 200
        conn.close()
    assert len(seen) == 3
    assert conn.connects == 2  # one reconnect, after the server closed the kept-alive socket


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"garbage\r\n\r\n", "malformed HTTP status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9999999\r\n\r\n", "larger than 1 MiB"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed by server"),
        (b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n", "malformed response header"),
        # under http.client's caps (64 KiB a line, 100 headers) but over 1 MiB in all
        (
            b"HTTP/1.1 200 OK\r\n" + b"X-Pad: %s\r\n" % (b"p" * 60_000) * 20 + b"\r\n",
            "headers larger than 1 MiB",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n" * 60_000 + OK_2, "headers larger than 1 MiB"),  # interim ones count
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", "more than 100 response headers"),
    ],
)
def test_bad_responses_are_transport_errors(raw: bytes, message: str) -> None:
    """One-line errors; the header caps are counted while reading (linear, never the whole block)."""
    with fake_server(reply(raw, keep=False)) as (port, _), pytest.raises(TransportError, match=message):
        get(f"http://127.0.0.1:{port}/v2/")


def test_trickling_server_hits_the_deadline() -> None:
    def trickle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):
            time.sleep(0.2)
            try:
                conn.sendall(b"X-A: b\r\n")
            except OSError:
                return False
        return False

    options = TransportOptions(timeout=1.5)
    with fake_server(trickle) as (port, _):
        started = time.monotonic()
        with (
            open_session(HTTP, options) as session,
            pytest.raises(TransportError, match=r"timed out after 1\.5s"),
        ):
            send(session, HttpRequest("GET", f"http://127.0.0.1:{port}/v2/"), options)
    assert time.monotonic() - started < 2.9  # --timeout is the whole request's deadline, not twice that


def test_redirects_share_the_request_deadline() -> None:
    """Each hop answers in 0.3 s; eight hops do not fit in one request's 1 s."""

    def slow_redirect(conn: socket.socket, request: bytes) -> bool:
        time.sleep(0.3)
        hop = int(request.split(b" ")[1].rsplit(b"/", 1)[1] or b"0")
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /v2/%d\r\nContent-Length: 0\r\n\r\n" % (hop + 1))
        return True

    options = TransportOptions(timeout=1.0)
    with fake_server(slow_redirect) as (port, seen):
        started = time.monotonic()
        with (
            open_session(HTTP, options) as session,
            pytest.raises(TransportError, match="timed out after 1s"),
        ):
            send(session, HttpRequest("GET", f"http://127.0.0.1:{port}/v2/0"), options)
    assert time.monotonic() - started < 2.5
    assert len(seen) < 6


def test_redirect_to_another_host_drops_authorization() -> None:
    with fake_server(reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) as (other, other_seen):
        target = f"http://localhost:{other}/elsewhere"
        redirect = f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
        with fake_server(reply(redirect.encode())) as (port, seen):
            response = get(f"http://127.0.0.1:{port}/v2/", (("Authorization", "Basic c2VjcmV0"),))
    assert response.status == 200  # type: ignore[attr-defined]
    assert b"authorization" in seen[0].lower()
    assert b"authorization" not in other_seen[0].lower()


def test_redirect_loop_and_downgrade_are_refused() -> None:
    with (
        fake_server(reply(b"HTTP/1.1 302 Found\r\nLocation: /v2/\r\nContent-Length: 0\r\n\r\n")) as (
            port,
            _,
        ),
        pytest.raises(TransportError, match="redirect loop"),
    ):
        get(f"http://127.0.0.1:{port}/v2/")


def test_proxy_rules() -> None:
    """Go's ProxyFromEnvironment: loopback never proxied; NO_PROXY names, suffixes, ports and CIDRs."""
    env = {
        "HTTPS_PROXY": "http://user:pw@proxy.example:3128",
        "NO_PROXY": "skip.example,.corp,10.0.0.0/8,x.io:444",
    }
    proxy = proxy_for("https", "reg.example", 443, env)
    assert proxy is not None and (proxy.host, proxy.port) == ("proxy.example", 3128)
    assert proxy.authorization.startswith("Basic ")
    assert "pw" not in repr(proxy)
    for host, port in [("127.0.0.1", 5000), ("localhost", 1), ("skip.example", 443), ("a.corp", 443),
                       ("10.1.2.3", 443), ("x.io", 444)]:  # fmt: skip
        assert proxy_for("https", host, port, env) is None, host
    assert proxy_for("https", "x.io", 443, env) is not None
    assert proxy_for("http", "reg.example", 80, env) is None  # only HTTPS_PROXY set


def test_proxy_refusal_is_reported() -> None:
    with fake_server(reply(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")) as (
        port,
        _,
    ):
        conn = Connection("reg.example", 443, context=__import__("ssl").create_default_context(),
                          timeout=2, proxy=Proxy("127.0.0.1", port))  # fmt: skip
        with pytest.raises(HttpError, match="refused CONNECT"):
            conn.request("GET", "/v2/", [], b"", deadline=time.monotonic() + 3)


@pytest.mark.parametrize(
    ("name", "connections"),
    [("registry_basic_https", 1), ("registry_token_https", 2), ("registry_token_http", 2)],
)
def test_one_connection_per_host_per_login(
    name: str, connections: int, request: pytest.FixtureRequest
) -> None:
    """Docker opens a connection per request; we reuse one per host: ping, token, verify."""
    stack: RegistryStack = request.getfixturevalue(name)
    endpoint = endpoints_for(stack.host, OPTIONS)[0 if stack.tls else 1]
    creds = Credentials(stack.username, stack.password, server=stack.host)
    with open_session(endpoint, OPTIONS) as session:
        result = run_flow(session, login_flow(endpoint.url, creds), OPTIONS)
        assert result.verified
        assert session.connects == connections


def test_verified_tls_uses_system_and_certs_d(registry_basic_https: RegistryStack, tmp_path: Path) -> None:
    assert registry_basic_https.cert_dir is not None
    verified = TransportOptions(tls_verify=True, cert_dirs=(tmp_path,), timeout=3)
    endpoint = endpoints_for(registry_basic_https.host, verified)[0]
    assert endpoint.verify
    ping = HttpRequest("GET", f"{endpoint.url}/v2/")
    with open_session(endpoint, verified) as session, pytest.raises(TransportError, match="certificate"):
        send(session, ping, verified)
    (tmp_path / registry_basic_https.host).mkdir()
    (tmp_path / registry_basic_https.host / "ca.crt").write_bytes(
        (registry_basic_https.cert_dir / "ca.crt").read_bytes()
    )
    with open_session(endpoint, verified) as session:
        assert send(session, ping, verified).status == 401


def test_plain_http_only_when_the_server_speaks_no_tls(tmp_path: Path) -> None:
    """try_endpoints: a plain server (it answers the ClientHello in HTTP, as Go's does) is retried
    over plain HTTP; a TLS server whose answer is refused (a redirect to http://) is not."""
    key_of = "127.0.0.1:{}".format
    used: list[str] = []

    def ping(session: Session) -> int:
        used.append(session.endpoint.url.split(":")[0])
        return send(session, HttpRequest("GET", f"{session.endpoint.url}/v2/"), OPTIONS).status

    with FakeServer(lambda req, fake: fake_reply(req, 200, b"{}")) as plain:
        assert try_endpoints(key_of(plain.port), OPTIONS, ping) == 200
    assert used == ["https", "http"]
    used.clear()

    def downgrade(req: Any, fake: FakeServer) -> None:
        fake_reply(req, 302, b"", [("Location", f"http://127.0.0.1:{fake.port}/v2/")])

    with FakeServer(downgrade, tls=tls_context(tmp_path)) as tls, pytest.raises(TransportError) as info:
        try_endpoints(key_of(tls.port), OPTIONS, ping)
    assert used == ["https"]
    assert "refusing redirect from HTTPS to plain HTTP" in str(info.value)
    assert [seen.path for seen in tls.seen] == ["/v2/"]
