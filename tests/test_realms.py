"""The token-server cache and the background connect (what makes a login over a slow link shorter).

A token login needs two hosts.  With the token server remembered from the last login, its TCP + TLS
handshakes overlap the registry ping; credentials still go only where this login's challenge says.
Real registries and token servers here; plain TCP listeners stand in for a host that must never be
sent anything.
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import regauth
import regauth.transport.realms as _realms
from regauth.credentials import Credentials
from regauth.registry.flow import login_flow
from regauth.transport.connection import Connection, HttpError
from regauth.transport.session import Endpoint, TransportOptions, endpoint_origin, open_session, run_flow
from tests.support.registry import RegistryStack

OPTIONS = TransportOptions(timeout=5.0)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("REGAUTH_CACHE_DIR", str(directory))
    return directory


@contextmanager
def silent_listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server that accepts, records every byte it receives and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        clients = []
        while not stop.is_set():
            try:
                client, _ = listener.accept()
                client.settimeout(0.05)
                clients.append(client)
            except TimeoutError:
                pass
            for client in clients:
                try:
                    data = client.recv(65536)
                except (TimeoutError, OSError):
                    continue
                if data:
                    received.append(data)
        for client in clients:
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# --------------------------------------------------------------------------- the cache file


def test_cache_path_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGAUTH_CACHE_DIR", str(tmp_path / "c"))
    assert _realms.cache_path() == str(tmp_path / "c" / "realms.json")
    monkeypatch.setenv("REGAUTH_CACHE_DIR", "")
    assert _realms.cache_path() is None
    _realms.remember("https://r:443", "https://t:443")  # off: nothing written, no error
    assert _realms.remembered("https://r:443") is None
    monkeypatch.delenv("REGAUTH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert _realms.cache_path() == str(tmp_path / "xdg" / "regauth" / "realms.json")
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert _realms.cache_path() == str(tmp_path / "home" / ".cache" / "regauth" / "realms.json")


def test_remember_round_trip_cap_and_forget(cache_dir: Path) -> None:
    assert _realms.remembered("https://r0:443") is None  # no file yet
    for i in range(_realms.MAX_ENTRIES + 5):
        _realms.remember(f"https://r{i}:443", f"https://auth{i}:443")
    path = cache_dir / "realms.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _realms.remembered("https://r0:443") is None  # the oldest went first
    assert (
        _realms.remembered(f"https://r{_realms.MAX_ENTRIES + 4}:443")
        == f"https://auth{_realms.MAX_ENTRIES + 4}:443"
    )
    _realms.remember("https://r10:443", None)
    assert _realms.remembered("https://r10:443") is None
    before = path.stat().st_mtime_ns
    time.sleep(0.01)
    _realms.remember("https://r11:443", "https://auth11:443")  # unchanged: not rewritten
    assert path.stat().st_mtime_ns == before
    assert not [p for p in cache_dir.iterdir() if p.name != "realms.json"]  # no temp file left


@pytest.mark.parametrize("content", [b"", b"{", b"[1]", b'{"a": 1, "a": 2}', b"\xff\xfe", b'{"r": 5}'])
def test_a_broken_cache_is_ignored_then_replaced(cache_dir: Path, content: bytes) -> None:
    cache_dir.mkdir()
    (cache_dir / "realms.json").write_bytes(content)
    assert _realms.remembered("r") is None
    _realms.remember("r", "https://t:443")
    assert _realms.remembered("r") == "https://t:443"


# --------------------------------------------------------------------------- the background connect


def test_preconnect_is_used_by_the_next_request_and_sends_nothing_before(
    registry_basic_http: RegistryStack,
) -> None:
    host, port = registry_basic_http.host.rsplit(":", 1)
    conn = Connection(host, int(port), context=None, timeout=5.0)
    conn.preconnect()
    conn.preconnect()  # a second call while the first runs changes nothing
    raw = conn.request(
        "GET", "/v2/", [("Host", registry_basic_http.host)], b"", deadline=time.monotonic() + 5
    )
    assert raw.status == 401 and conn.preconnected and conn.connects == 1
    conn.close()


def test_a_failed_preconnect_is_reported_once_by_the_request() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plain = Connection("127.0.0.1", port, context=None, timeout=2.0)
    with pytest.raises(HttpError) as direct:
        plain.request("GET", "/", [], b"", deadline=time.monotonic() + 2)
    early = Connection("127.0.0.1", port, context=None, timeout=2.0)
    early.preconnect()
    with pytest.raises(HttpError) as background:
        early.request("GET", "/", [], b"", deadline=time.monotonic() + 2)
    assert str(background.value) == str(direct.value)
    assert not early.preconnected


def test_close_does_not_wait_for_a_hanging_handshake() -> None:
    """A TLS handshake with a server that never answers: close() returns at once."""
    with silent_listener() as (port, _received):
        ctx = ssl.create_default_context()
        conn = Connection("127.0.0.1", port, context=ctx, timeout=30.0)
        conn.preconnect()
        time.sleep(0.1)
        started = time.monotonic()
        conn.close()
        assert time.monotonic() - started < 5  # not the 30 s handshake timeout


def test_a_failed_tls_preconnect_leaves_no_socket_open() -> None:
    """The handshake times out in the background thread: its socket is closed, the error reported."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counts open descriptors through /proc")
    with socket.socket() as listener:  # the kernel completes the TCP handshake; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        before = set(os.listdir("/proc/self/fd"))
        conn = Connection("127.0.0.1", port, context=ssl.create_default_context(), timeout=0.3)
        conn.preconnect()
        with pytest.raises(HttpError, match=r"TLS handshake with 127\.0\.0\.1:\d+: timed out"):
            conn.request("GET", "/", [("Host", "x")], b"", deadline=time.monotonic() + 2)
        assert not conn.preconnected and conn.connects == 1
        # Other threads of the test process may close descriptors meanwhile; none may be added.
        assert set(os.listdir("/proc/self/fd")) - before == set()


# --------------------------------------------------------------------------- logins


def test_token_login_remembers_the_token_server_and_preconnects_it_next_time(
    registry_token_https: RegistryStack, isolated_env: object, cache_dir: Path
) -> None:
    stack = registry_token_https
    assert stack.token_server is not None
    regauth.login(stack.host, stack.username, stack.password)
    registry_origin = endpoint_origin(f"https://{stack.host}")
    token_origin = _realms.remembered(registry_origin)
    assert token_origin is not None and token_origin != registry_origin
    assert endpoint_origin(stack.token_server.url) == token_origin  # type: ignore[union-attr]

    endpoint = Endpoint(f"https://{stack.host}", False, stack.host)
    creds = Credentials(username=stack.username, password=stack.password, server=stack.host)
    with open_session(endpoint, OPTIONS) as session:
        session.preconnect(token_origin)
        result = run_flow(session, login_flow(endpoint.url, creds), OPTIONS)
        token_conn = session.connection(*_split(token_origin), used=False)
        assert result.verified and token_conn.preconnected
        assert session.connects == 2  # one registry connection, one token server connection


def _split(origin: str) -> tuple[str, str, int]:
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.rpartition(":")
    return scheme, host, int(port)


def test_a_stale_token_server_only_sees_a_connect(
    registry_token_http: RegistryStack, isolated_env: object, cache_dir: Path
) -> None:
    """The cache names a host the challenge no longer names: it gets no byte; the cache is fixed."""
    stack = registry_token_http
    registry_origin = endpoint_origin(f"http://{stack.host}")
    with silent_listener() as (port, received):
        stale = f"http://127.0.0.1:{port}"
        _realms.remember(registry_origin, stale)
        outcome = regauth.login(stack.host, stack.username, stack.password)
        time.sleep(0.2)
        assert outcome.verified and received == []
    assert _realms.remembered(registry_origin) not in (None, stale)


def test_basic_login_forgets_a_token_server(
    registry_basic_https: RegistryStack, isolated_env: object, cache_dir: Path
) -> None:
    stack = registry_basic_https
    registry_origin = endpoint_origin(f"https://{stack.host}")
    _realms.remember(registry_origin, "https://127.0.0.1:9")
    regauth.login(stack.host, stack.username, stack.password)
    assert _realms.remembered(registry_origin) is None
