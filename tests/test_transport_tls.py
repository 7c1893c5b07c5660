"""TLS over ``_socket``/``_ssl`` directly (issue 6) and its ``ssl``-module fallback.

Every TLS test runs twice, through the direct path and through the fallback (forced with
``regauth.transport.connection._DIRECT_TLS = False``), against the real registry fixtures where they can show it
and against a scripted TLS server for what a registry will not do (ragged EOF, client certificates,
a hostname mismatch, a silent handshake).  The helpers that replaced stdlib parsers (IDNA host
encoding, URL splitting, ``pathlib`` suffixes) are compared with the stdlib as oracle.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import example, given, settings
from hypothesis import strategies as st

import regauth.transport.connection as _http1
import regauth.transport.session as _transport
from regauth.credentials import Credentials
from regauth.errors import TransportError
from regauth.registry.flow import login_flow
from regauth.registry.messages import HttpRequest, _split_plain, split_url
from regauth.transport.connection import Connection, HttpError, Proxy, client_context, direct_tls, encode_host
from regauth.transport.session import (
    Endpoint,
    TransportOptions,
    default_cert_dirs,
    endpoints_for,
    open_session,
    run_flow,
    send,
)
from tests.reliability.fakes import tls_context
from tests.support.budget import SLOW_MODULES
from tests.support.certs import CA, make_ca
from tests.support.registry import RegistryStack
from tests.test_transport import fake_server

FORBIDDEN = SLOW_MODULES  # issue 6: never loaded by a plain login
OPTIONS = TransportOptions(timeout=3.0)


@pytest.fixture(params=["direct", "fallback"])
def tls_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through ``_ssl`` directly, then through the ``ssl`` module."""
    if request.param == "fallback":
        monkeypatch.setattr(_http1, "_DIRECT_TLS", False)
    else:
        assert direct_tls() is (sys.implementation.name == "cpython")
    return str(request.param)


def _streams(session: _transport.Session) -> set[str]:
    """Class names of the open connections' streams."""
    return {type(conn._sock).__name__ for conn in session._conns.values() if conn._sock is not None}


def _expected_stream(tls_path: str) -> str:
    return "_TlsStream" if tls_path == "direct" else "SSLSocket"


def _certs_d(root: Path, host: str, stack: RegistryStack) -> Path:
    assert stack.cert_dir is not None
    (root / host).mkdir(parents=True, exist_ok=True)
    (root / host / "ca.crt").write_bytes((stack.cert_dir / "ca.crt").read_bytes())
    return root


def test_direct_tls_is_detected_on_cpython() -> None:
    if sys.implementation.name != "cpython":
        return  # elsewhere whatever direct_tls() says is fine: the fallback is tested below
    assert direct_tls()
    assert type(client_context()).__module__ == "_ssl"


# --------------------------------------------------------------------------- real registries


@pytest.mark.parametrize("name", ["registry_basic_https", "registry_token_https"])
@pytest.mark.parametrize("verify", [False, True])
def test_login_over_https(
    name: str, verify: bool, tls_path: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A whole login: loopback without verification (Docker's default), or verified via certs.d."""
    stack: RegistryStack = request.getfixturevalue(name)
    options = OPTIONS
    if verify:
        options = TransportOptions(tls_verify=True, cert_dirs=(str(_certs_d(tmp_path, stack.host, stack)),))
    endpoint = endpoints_for(stack.host, options)[0]
    assert endpoint.url.startswith("https://") and endpoint.verify is verify
    with open_session(endpoint, options) as session:
        creds = Credentials(stack.username, stack.password)
        assert run_flow(session, login_flow(endpoint.url, creds), options).verified
        assert _streams(session) == {_expected_stream(tls_path)}
    assert _streams(session) == set()  # closed by the with block


@pytest.mark.parametrize("as_str", [True, False])
def test_cert_dir_accepts_str_and_pathlike(
    registry_basic_https: RegistryStack, tls_path: str, as_str: bool
) -> None:
    assert registry_basic_https.cert_dir is not None
    cert_dir = str(registry_basic_https.cert_dir) if as_str else registry_basic_https.cert_dir
    options = TransportOptions(tls_verify=True, cert_dir=cert_dir, timeout=3)
    endpoint = endpoints_for(registry_basic_https.host, options)[0]
    with open_session(endpoint, options) as session:
        assert send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options).status == 401
    missing = TransportOptions(tls_verify=True, cert_dir=os.path.join(str(cert_dir), "nope"))
    with open_session(endpoint, missing) as session, pytest.raises(TransportError, match="not a directory"):
        send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), missing)


def _verify_failure(stack: RegistryStack, tmp_path: Path) -> str:
    options = TransportOptions(tls_verify=True, cert_dirs=(tmp_path,), timeout=3)
    endpoint = endpoints_for(stack.host, options)[0]
    with open_session(endpoint, options) as session, pytest.raises(TransportError) as info:
        send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options)
    return str(info.value)


def test_verify_failure_reads_the_same_on_both_paths(
    registry_basic_https: RegistryStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _verify_failure(registry_basic_https, tmp_path)
    monkeypatch.setattr(_http1, "_DIRECT_TLS", False)
    fallback = _verify_failure(registry_basic_https, tmp_path)
    assert direct == fallback
    assert f"TLS handshake with 127.0.0.1:{registry_basic_https.host.split(':')[1]}: " in direct
    assert direct.endswith(": unable to get local issuer certificate")


def test_https_through_a_connect_proxy(registry_basic_https: RegistryStack, tls_path: str) -> None:
    """CONNECT tunnel to the real registry, TLS (direct or not) inside it."""

    def connect_proxy(client: socket.socket, request: bytes) -> bool:
        host, port = request.split(b" ")[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                dst.close()

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)
        return False

    ctx = client_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    host, port = registry_basic_https.host.split(":")
    with fake_server(connect_proxy) as (proxy_port, seen):
        conn = Connection(host, int(port), context=ctx, timeout=3, proxy=Proxy("127.0.0.1", proxy_port))
        for _ in range(2):  # kept alive through the tunnel
            response = conn.request("GET", "/v2/", [("Host", registry_basic_https.host)], b"",
                                    deadline=time.monotonic() + 5)  # fmt: skip
            assert response.status == 401
        assert type(conn._sock).__name__ == _expected_stream(tls_path)
        conn.close()
    assert conn.connects == 1 and len(seen) == 1
    assert seen[0].split(b"\r\n", 1)[0] == f"CONNECT {registry_basic_https.host} HTTP/1.1".encode()


# --------------------------------------------------------------------------- a scripted TLS server

TlsHandler = Callable[[ssl.SSLSocket, bytes], None]


@contextmanager
def tls_server(ctx: ssl.SSLContext, handler: TlsHandler) -> Iterator[int]:
    """A loopback TLS server: one thread per connection, ``handler(tls, request_head)`` once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(raw: socket.socket) -> None:
        raw.settimeout(5)
        try:
            tls = ctx.wrap_socket(raw, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                head += chunk
            handler(tls, head)
        except OSError:
            pass
        finally:
            raw.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _get(port: int, options: TransportOptions = OPTIONS, verify: bool = False) -> object:
    endpoint = Endpoint(f"https://127.0.0.1:{port}", verify, f"127.0.0.1:{port}")
    with open_session(endpoint, options) as session:
        return send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options)


@pytest.mark.parametrize(
    ("raw", "close_notify", "outcome"),
    [
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", True, b"until close"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", False, b"until close"),  # ragged EOF, as ssl.py
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True, "in the middle of the body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", False, "in the middle of the body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", False, b"ok"),
    ],
)
def test_tls_end_of_stream(
    raw: bytes, close_notify: bool, outcome: bytes | str, tls_path: str, tmp_path: Path
) -> None:
    def handler(tls: ssl.SSLSocket, _head: bytes) -> None:
        tls.sendall(raw)
        if close_notify:
            tls.unwrap()

    with tls_server(tls_context(tmp_path), handler) as port:
        if isinstance(outcome, bytes):
            assert _get(port).body == outcome  # type: ignore[attr-defined]
        else:
            with pytest.raises(TransportError, match=outcome):
                _get(port)


def test_large_tls_exchange(tls_path: str, tmp_path: Path) -> None:
    """A body of many TLS records, and a request body larger than one record."""
    body = os.urandom(300_000).hex()[:900_000].encode()

    def handler(tls: ssl.SSLSocket, head: bytes) -> None:
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        got = head.split(b"\r\n\r\n", 1)[1]
        while len(got) < length:
            got += tls.recv(65536)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(got) + got)

    with tls_server(tls_context(tmp_path), handler) as port:
        endpoint = Endpoint(f"https://127.0.0.1:{port}", False, "x")
        with open_session(endpoint, OPTIONS) as session:
            response = send(session, HttpRequest("POST", f"{endpoint.url}/token", (), body), OPTIONS)
    assert response.body == body


def test_silent_tls_server_times_out(tls_path: str) -> None:
    """A server that accepts and never answers the ClientHello: the socket timeout applies."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        options = TransportOptions(timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"TLS handshake with 127\.0\.0\.1:.*timed out"):
            _get(listener.getsockname()[1], options)
        assert time.monotonic() - started < 3
    finally:
        listener.close()


def test_hostname_mismatch_reads_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = tls_context(tmp_path, names=("other.example",))
    certs = tmp_path / "certs.d"
    messages = []
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with tls_server(ctx, lambda tls, _h: tls.sendall(ok)) as port:
        (certs / f"127.0.0.1:{port}").mkdir(parents=True)
        (certs / f"127.0.0.1:{port}" / "ca.crt").write_bytes((tmp_path / "ca.crt").read_bytes())
        options = TransportOptions(tls_verify=True, cert_dirs=(str(certs),), timeout=3)
        for direct in (True, False):
            monkeypatch.setattr(_http1, "_DIRECT_TLS", direct)
            with pytest.raises(TransportError) as info:
                _get(port, options, verify=True)
            messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "mismatch" in messages[0] and "127.0.0.1" in messages[0]


# --------------------------------------------------------------------------- client certificates


def _client_cert(ca: CA, directory: Path, stem: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regauth client")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    (directory / f"{stem}.cert").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


@pytest.mark.parametrize("verify", [True, False])
def test_client_certificate_from_certs_d(verify: bool, tls_path: str, tmp_path: Path) -> None:
    """certs.d ``client.cert``/``client.key`` are presented, verified endpoint or not."""
    server_ctx = tls_context(tmp_path / "server")
    client_ca = make_ca(tmp_path / "client-ca", "client CA")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(client_ca.cert_path))

    def handler(tls: ssl.SSLSocket, _head: bytes) -> None:
        subject = dict(x[0] for x in tls.getpeercert()["subject"])  # type: ignore[index, misc]
        body = json.dumps(subject).encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with tls_server(server_ctx, handler) as port:
        host_dir = tmp_path / "certs.d" / f"127.0.0.1:{port}"
        host_dir.mkdir(parents=True)
        (host_dir / "ca.crt").write_bytes((tmp_path / "server" / "ca.crt").read_bytes())
        _client_cert(client_ca, host_dir, "client")
        options = TransportOptions(cert_dirs=(tmp_path / "certs.d",), timeout=3)
        response = _get(port, options, verify=verify)
    assert json.loads(response.body) == {"commonName": "regauth client"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["client.cert"], "missing key client.key for client certificate {dir}/client.cert. "
                          "CA certificates must use the extension .crt"),
        (["client.key"], "missing client certificate client.cert for key {dir}/client.key"),
        ([".cert"], "missing key .cert.key for client certificate {dir}/.cert. "),
        (["a.b.key"], "missing client certificate a.b.cert for key {dir}/a.b.key"),
        (["bad.crt"], "cannot load {dir}/bad.crt: "),
        (["bad.cert", "bad.key"], "cannot load {dir}/bad.cert: "),
    ],
)  # fmt: skip
def test_certs_d_errors(files: list[str], message: str, tmp_path: Path) -> None:
    host_dir = tmp_path / "reg.example:5000"
    host_dir.mkdir()
    for name in files:
        (host_dir / name).write_text("not PEM\n")
    options = TransportOptions(cert_dirs=(tmp_path,), tls_verify=True)
    endpoint = endpoints_for("reg.example:5000", options)[0]
    with pytest.raises(TransportError) as info:
        _transport._ssl_context(endpoint, options)
    assert str(info.value).startswith(message.format(dir=host_dir))


def test_unreadable_certs_d_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        return  # root reads anything
    host_dir = tmp_path / "reg.example"
    host_dir.mkdir(mode=0o300)
    try:
        options = TransportOptions(cert_dirs=(tmp_path,))
        with pytest.raises(TransportError, match=f"cannot read certificate directory {host_dir}: "):
            _transport._ssl_context(endpoints_for("reg.example", options)[0], options)
    finally:
        host_dir.chmod(0o700)


def test_default_cert_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_cert_dirs() == ("/etc/docker/certs.d", f"{tmp_path}/docker/certs.d")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_cert_dirs() == ("/etc/docker/certs.d", "/home/someone/.config/docker/certs.d")


@given(st.text(alphabet="ab.-", max_size=8), st.sampled_from([".cert", ".key"]))
@example("", ".cert")
@example(".", ".cert")
def test_with_suffix_is_pathlib(stem: str, suffix: str) -> None:
    name = stem + suffix
    other = ".key" if suffix == ".cert" else ".cert"
    assert _transport._with_suffix(name, suffix, other) == PurePath(name).with_suffix(other).name


# --------------------------------------------------------------------------- IDNA, URLs


@settings(max_examples=400)
@given(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet="ab.-é", max_size=80),
        st.lists(st.text(alphabet="abc", max_size=70), max_size=4).map(".".join),
    )
)
@example("")
@example("a..b")
@example("." + "a" * 63)
@example("a" * 64)
@example("a" * 63 + ".")
@example("bücher.example")
@example("::1")
def test_encode_host_is_the_idna_codec(host: str) -> None:
    try:
        expected: bytes | str = host.encode("idna")
    except UnicodeError as exc:
        expected = f"{type(exc).__name__}: {exc}"
    try:
        got: bytes | str = encode_host(host)
    except UnicodeError as exc:
        got = f"{type(exc).__name__}: {exc}"
    assert got == expected


def _urlsplit_view(url: str) -> tuple[object, ...] | str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"ValueError: {exc}" if str(exc).startswith("Port") else "ValueError"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.netloc, parts.hostname, port, target)


def _split_view(url: str) -> tuple[object, ...] | str:
    """What the transport takes from ``_http.split_url``: its request target included."""
    try:
        parts = split_url(url)
    except ValueError as exc:
        return f"ValueError: {exc}" if str(exc).startswith("Port") else "ValueError"
    return (parts.scheme, parts.netloc, parts.hostname, parts.port, _transport._target(parts))


URLS = st.builds(
    lambda scheme, sep, host, port, tail: f"{scheme}{sep}{host}{port}{tail}",
    st.sampled_from(["http", "https", "https", "HTTPS", "ftp", "", " https"]),
    st.sampled_from(["://", "://", "://", ":/", ":"]),
    st.one_of(
        st.sampled_from(["127.0.0.1", "reg.example", "Reg.Example", "[::1]", "u:p@h", "", "h_1", "[::1"]),
        st.text(alphabet="aZ09.-_@[]:%é \t", max_size=12),
    ),
    st.one_of(st.just(""), st.text(alphabet="0123456789x+ :", max_size=7).map(lambda p: ":" + p)),
    st.one_of(
        st.sampled_from(["", "/", "/v2/", "/token?service=a&scope=x:y:pull", "?q", "#f", "/a?b#c?d"]),
        st.text(alphabet="/?#&=:%aé \t\n\x00", max_size=15),
        st.text(max_size=15),
    ),
)


@settings(max_examples=1000)
@given(URLS)
@example("https://127.0.0.1:5000/v2/")
@example("http://h:/x")
@example("http://h:0/x")
@example("http://h:99999/x")
@example("https://auth.example/token?scope=a%20b&service=x#frag")
@example("https://h?x")
@example("https://h#x?y")
@example("https://h/a\tb")
@example("https://[::1]:5000/v2/")
def test_split_url_is_urlsplit(url: str) -> None:
    assert _split_view(url) == _urlsplit_view(url)


def test_common_urls_need_no_urllib() -> None:
    for url in ("https://127.0.0.1:5000/v2/", "http://localhost:5000/v2/",
                "https://auth.docker.io/token?account=u&scope=repository%3Ax%3Apull&service=registry.docker.io",
                "https://registry-1.docker.io/v2/", "https://my_reg.internal/v2/?"):  # fmt: skip
        assert _split_plain(url) is not None, url  # the hand-written path, not urllib.parse


def test_bad_redirect_location_is_a_transport_error() -> None:
    raw = b"HTTP/1.1 302 Found\r\nLocation: http://[oops/\r\nContent-Length: 0\r\n\r\n"
    with fake_server(lambda conn, _r: conn.sendall(raw) is None) as (port, _):
        endpoint = Endpoint(f"http://127.0.0.1:{port}", False, "x")
        with (
            open_session(endpoint, OPTIONS) as session,
            pytest.raises(TransportError, match="redirect to a malformed URL"),
        ):
            send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), OPTIONS)


def test_connection_error_messages(tls_path: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    conn = Connection("127.0.0.1", port, context=None, timeout=2)
    with pytest.raises(HttpError, match=f"dial tcp 127.0.0.1:{port}: Connection refused"):
        conn.request("GET", "/", [], b"", deadline=time.monotonic() + 3)
    conn = Connection("name.invalid", 443, context=None, timeout=2)
    with pytest.raises(HttpError, match=r"lookup name\.invalid: "):
        conn.request("GET", "/", [], b"", deadline=time.monotonic() + 3)


# --------------------------------------------------------------------------- import budget

_BUDGET = r"""
import sys

FORBIDDEN = set(sys.argv[1].split())
OURS = ("/regauth/transport/session.py", "/regauth/transport/connection.py", "/regauth/registry/address.py")
blamed = {}


class Blame:
    # Record which regauth module (innermost frame) first imported each module.

    def find_spec(self, name, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and "/regauth/" not in frame.f_code.co_filename:
            frame = frame.f_back
        if frame is not None:
            blamed.setdefault(name, frame.f_code.co_filename)
        return None


sys.meta_path.insert(0, Blame())
import regauth.registry.address, regauth.transport.connection, regauth.transport.session

report = {"import": sorted(FORBIDDEN & set(sys.modules))}
import json

from regauth.registry.flow import login_flow
from regauth.transport.session import TransportOptions, endpoints_for, open_session, run_flow
from regauth.credentials import Credentials

blamed.clear()
for case in json.loads(sys.argv[2]):
    options = TransportOptions(tls_verify=case["verify"], cert_dirs=tuple(case["cert_dirs"]), timeout=5)
    endpoint = endpoints_for(case["host"], options)[0]
    with open_session(endpoint, options) as session:
        creds = Credentials(case["user"], case["password"])
        assert run_flow(session, login_flow(endpoint.url, creds), options).verified, case
report["login"] = sorted(name for name, by in blamed.items() if name in FORBIDDEN and by.endswith(OURS))
print(json.dumps(report))
"""


def test_https_login_imports_nothing_forbidden(
    registry_basic_https: RegistryStack, registry_token_https: RegistryStack, tmp_path: Path
) -> None:
    """issue 6: in a fresh interpreter, importing the transport loads nothing forbidden, and HTTPS
    logins (unverified loopback, then verified via certs.d) make it import nothing forbidden either
    (what the flows import is theirs, told apart by the importing frame)."""
    cases = []
    for stack in (registry_basic_https, registry_token_https):
        certs = str(_certs_d(tmp_path / stack.host.replace(":", "_"), stack.host, stack))
        for verify in (None, True):
            cases.append({"host": stack.host, "verify": verify, "cert_dirs": [certs],
                          "user": stack.username, "password": stack.password})  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", _BUDGET, " ".join(sorted(FORBIDDEN)), json.dumps(cases)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"import": [], "login": []}


def test_import_blame_catches_a_lazy_import(registry_basic_https: RegistryStack) -> None:
    """The check above is not vacuous: the ssl fallback is blamed on the transport."""
    script = _BUDGET.replace("blamed.clear()", "blamed.clear(); regauth.transport.connection._DIRECT_TLS = False")
    case = {"host": registry_basic_https.host, "verify": None, "cert_dirs": [],
            "user": registry_basic_https.username, "password": registry_basic_https.password}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", script, " ".join(sorted(FORBIDDEN)), json.dumps([case])],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ssl" in json.loads(proc.stdout)["login"]
