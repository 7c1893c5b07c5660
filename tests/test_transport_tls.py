"""TLS through the ``ssl`` module: trust (system store, SSL_CERT_FILE/SSL_CERT_DIR, certs.d), refusals.

Real registries where they can show it (logins, ``--cert-dir``, a CONNECT proxy), and TLS servers
started here on 127.0.0.1 with certificates from ``tests/support/certs.py`` for what a registry will
not do: an expired or mismatched certificate, an unknown CA, TLS 1.1 only, client certificates,
ragged EOFs, a silent handshake.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import regauth.transport.session as _session
from regauth.credentials import Credentials
from regauth.errors import TransportError
from regauth.registry.flow import login_flow
from regauth.registry.messages import HttpRequest
from regauth.transport.connection import Connection, HttpError
from regauth.transport.proxy import Proxy
from regauth.transport.session import Endpoint, TransportOptions, endpoints_for, open_session, run_flow, send
from regauth.transport.tls import client_context, default_cert_dirs
from tests.cliutil import venv_path
from tests.reliability.fakes import tls_context
from tests.reliability.procs import regauth_exe
from tests.support.certs import CA, make_ca
from tests.support.registry import RegistryStack
from tests.test_transport import fake_server

OPTIONS = TransportOptions(timeout=3.0)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def _certs_d(root: Path, host: str, ca_file: Path) -> Path:
    (root / host).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_file, root / host / "ca.crt")
    return root


# --------------------------------------------------------------------------- real registries


@pytest.mark.parametrize("name", ["registry_basic_https", "registry_token_https"])
@pytest.mark.parametrize("verify", [False, True])
def test_login_over_https(name: str, verify: bool, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A whole login: loopback without verification (Docker's default), or verified via certs.d."""
    stack: RegistryStack = request.getfixturevalue(name)
    assert stack.cert_dir is not None
    options = OPTIONS
    if verify:
        certs = _certs_d(tmp_path, stack.host, stack.cert_dir / "ca.crt")
        options = TransportOptions(tls_verify=True, cert_dirs=(str(certs),))
    endpoint = endpoints_for(stack.host, options)[0]
    assert endpoint.url.startswith("https://") and endpoint.verify is verify
    with open_session(endpoint, options) as session:
        creds = Credentials(stack.username, stack.password)
        assert run_flow(session, login_flow(endpoint.url, creds), options).verified


@pytest.mark.parametrize("as_str", [True, False])
def test_cert_dir_accepts_str_and_pathlike(registry_basic_https: RegistryStack, as_str: bool) -> None:
    assert registry_basic_https.cert_dir is not None
    cert_dir = str(registry_basic_https.cert_dir) if as_str else registry_basic_https.cert_dir
    options = TransportOptions(tls_verify=True, cert_dir=cert_dir, timeout=3)
    endpoint = endpoints_for(registry_basic_https.host, options)[0]
    with open_session(endpoint, options) as session:
        assert send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options).status == 401
    missing = TransportOptions(tls_verify=True, cert_dir=os.path.join(str(cert_dir), "nope"))
    with open_session(endpoint, missing) as session, pytest.raises(TransportError, match="not a directory"):
        send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), missing)


def test_unknown_ca_of_a_real_registry(registry_basic_https: RegistryStack, tmp_path: Path) -> None:
    options = TransportOptions(tls_verify=True, cert_dirs=(tmp_path,), timeout=3)
    endpoint = endpoints_for(registry_basic_https.host, options)[0]
    with open_session(endpoint, options) as session, pytest.raises(TransportError) as info:
        send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options)
    port = registry_basic_https.host.split(":")[1]
    assert f"TLS handshake with 127.0.0.1:{port}: " in str(info.value)
    assert str(info.value).endswith(": unable to get local issuer certificate")


def test_https_through_a_connect_proxy(registry_basic_https: RegistryStack) -> None:
    """CONNECT tunnel to the real registry, TLS inside it, the tunnel kept alive."""

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

    ctx = client_context(False, [])
    host, port = registry_basic_https.host.split(":")
    with fake_server(connect_proxy) as (proxy_port, seen):
        conn = Connection(host, int(port), context=ctx, timeout=3, proxy=Proxy("127.0.0.1", proxy_port))
        for _ in range(2):  # kept alive through the tunnel
            response = conn.request("GET", "/v2/", [("Host", registry_basic_https.host)], b"",
                                    deadline=time.monotonic() + 5)  # fmt: skip
            assert response.status == 401
        conn.close()
    assert conn.connects == 1 and len(seen) == 1
    assert seen[0].split(b"\r\n", 1)[0] == f"CONNECT {registry_basic_https.host} HTTP/1.1".encode()


# --------------------------------------------------------------------------- TLS servers started here

TlsHandler = Callable[[ssl.SSLSocket, bytes], None]


@contextmanager
def tls_server(ctx: ssl.SSLContext, handler: TlsHandler) -> Iterator[int]:
    """A TLS server on 127.0.0.1: one thread per connection, ``handler(tls, request_head)`` once."""
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


def _server_context(ca: CA, directory: Path, names: Iterable[str], expired: bool = False) -> ssl.SSLContext:
    """A server context with a certificate for ``names`` from ``ca``, valid now or expired."""
    if expired:
        cert_path, key_path = _expired_cert(ca, directory, tuple(names))
    else:
        cert_path, key_path = ca.issue_server_cert(directory, names)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


def _expired_cert(ca: CA, directory: Path, names: tuple[str, ...]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    san = [x509.DNSName(name) for name in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(  # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a CA reference is required
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = directory / "expired.crt", directory / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _get(host: str, port: int, options: TransportOptions = OPTIONS, verify: bool = False) -> object:
    endpoint = Endpoint(f"https://{host}:{port}", verify, f"{host}:{port}")
    with open_session(endpoint, options) as session:
        return send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), options)


def test_sni_names_the_registry(tmp_path: Path) -> None:
    """The server name goes out in the ClientHello (SNI), and the certificate is checked against it."""
    ca = make_ca(tmp_path / "ca")
    ctx = _server_context(ca, tmp_path / "server", ["localhost"])
    names: list[str | None] = []
    ctx.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    with tls_server(ctx, lambda tls, _head: tls.sendall(OK)) as port:
        certs = _certs_d(tmp_path / "certs.d", f"localhost:{port}", ca.cert_path)
        options = TransportOptions(cert_dirs=(certs,), timeout=3)
        assert _get("localhost", port, options, verify=True).status == 200  # type: ignore[attr-defined]
    assert names == ["localhost"]


REFUSALS = {
    # case: (host the client asks for, names in the certificate, expired, CA trusted, expected reason)
    "dns_mismatch": ("localhost", ["other.example"], False, True, "Hostname mismatch"),
    "ip_mismatch": ("127.0.0.1", ["localhost"], False, True, "IP address mismatch"),
    "expired": ("localhost", ["localhost"], True, True, "certificate has expired"),
    "untrusted_ca": ("localhost", ["localhost"], False, False, "unable to get local issuer certificate"),
}


@contextmanager
def _refusing_server(
    case: str, tmp_path: Path, seen: list[bytes] | None = None
) -> Iterator[tuple[str, int, Path, str]]:
    """The server of one refusal case: (host, port, certs.d root, expected reason); every request
    that reaches it is appended to ``seen``."""
    ca = make_ca(tmp_path / "ca")
    if case == "tls1_1_only":
        host, reason = "localhost", "the server offers no TLS 1.2 or later"
        ctx = _server_context(ca, tmp_path / "server", ["localhost"])
        with warnings.catch_warnings():  # the point of the test: these versions are deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.1 at the default level
        trusted = True
    else:
        host, names, expired, trusted, reason = REFUSALS[case]  # type: ignore[assignment]
        ctx = _server_context(ca, tmp_path / "server", names, expired=expired)  # type: ignore[has-type]

    def answer(tls: ssl.SSLSocket, head: bytes) -> None:
        if seen is not None:
            seen.append(head)
        tls.sendall(OK)

    with tls_server(ctx, answer) as port:
        certs = tmp_path / "certs.d"
        certs.mkdir()
        _certs_d(certs, f"{host}:{port}", ca.cert_path if trusted else make_ca(tmp_path / "other").cert_path)
        yield host, port, certs, reason


CASES = [*REFUSALS, "tls1_1_only"]


@pytest.mark.parametrize("case", CASES)
def test_bad_certificates_and_old_tls_are_refused(case: str, tmp_path: Path) -> None:
    """One line naming the host and the reason; the request never reaches the server."""
    with _refusing_server(case, tmp_path) as (host, port, certs, reason):
        options = TransportOptions(cert_dirs=(certs,), timeout=3)
        with pytest.raises(TransportError) as info:
            _get(host, port, options, verify=True)
    message = str(info.value)
    assert "\n" not in message
    assert f"TLS handshake with {host}:{port}: " in message
    assert reason in message


@pytest.mark.parametrize("case", ["expired", "tls1_1_only"])
def test_cli_refusal_is_one_line(case: str, tmp_path: Path) -> None:
    """Through ``regauth login``: one line on stderr, exit 1, no traceback, nothing written."""
    config = tmp_path / "config"
    with _refusing_server(case, tmp_path) as (host, port, certs, reason):
        proc = subprocess.run(
            [regauth_exe(), "--config", str(config), "login", f"{host}:{port}", "-u", "u", "--password-stdin",
             "--tls-verify=true", "--cert-dir", str(certs / f"{host}:{port}"), "--timeout", "3"],
            input="p", capture_output=True, text=True, timeout=60, env=dict(os.environ, PATH=venv_path()),
        )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{host}:{port}" in lines[0] and reason in lines[0]
    assert not config.exists() or not (config / "config.json").exists()


def _login(host: str, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [regauth_exe(), "login", host, "-u", "u", "--password-stdin", "--timeout", "3", *flags],
        input="p4ssw0rd", capture_output=True, text=True, timeout=60,
        env=dict(env or os.environ, PATH=venv_path()),
    )  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize("where", ["cert_dir", "certs_d"])
def test_supplied_ca_is_checked_on_loopback(
    case: str, where: str, tmp_path: Path, isolated_env: object, docker_config_dir: Path
) -> None:
    """A CA in --cert-dir or the registry's certs.d turns verification on for a loopback registry
    (insecure by default): a certificate it does not vouch for is refused, nothing is sent."""
    seen: list[bytes] = []
    with _refusing_server(case, tmp_path, seen) as (host, port, certs, reason):
        if where == "cert_dir":
            proc = _login(f"{host}:{port}", "--cert-dir", str(certs / f"{host}:{port}"))
        else:
            docker_certs = Path(os.environ["XDG_CONFIG_HOME"]) / "docker"
            docker_certs.mkdir(parents=True)
            shutil.copytree(certs, docker_certs / "certs.d")
            proc = _login(f"{host}:{port}")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "http://" not in proc.stderr  # no plain-HTTP retry after a refused certificate
    assert seen == []
    assert not (docker_config_dir / "config.json").exists()


def test_wrong_ca_for_a_real_loopback_registry(
    registry_basic_https: RegistryStack, tmp_path: Path, isolated_env: object, docker_config_dir: Path
) -> None:
    """--cert-dir with another CA: the real registry is refused before any request; its own CA works."""
    before = len(registry_basic_https.registry.access_log())
    wrong = make_ca(tmp_path / "wrong")
    _certs_d(tmp_path / "certs", "wrong", wrong.cert_path)
    creds = ("-u", registry_basic_https.username, "--password-stdin")
    argv = [regauth_exe(), "login", registry_basic_https.host, *creds, "--timeout", "3", "--cert-dir"]
    env = dict(os.environ, PATH=venv_path())
    refused = subprocess.run([*argv, str(tmp_path / "certs" / "wrong")], input=registry_basic_https.password,
                             capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "unable to get local issuer certificate" in refused.stderr, refused.stderr
    assert len(registry_basic_https.registry.access_log()) == before  # no request, no password
    assert not (docker_config_dir / "config.json").exists()
    assert registry_basic_https.cert_dir is not None
    good = subprocess.run([*argv, str(registry_basic_https.cert_dir)], input=registry_basic_https.password,
                          capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert "Login Succeeded" in good.stdout


def test_endpoints_with_supplied_cas(tmp_path: Path) -> None:
    """Loopback: a *.crt in certs.d or --cert-dir → verified HTTPS only; a client pair alone, or
    --tls-verify=false, keeps Docker's insecure pair (unverified HTTPS, then plain HTTP)."""
    host = "127.0.0.1:5999"
    ca = make_ca(tmp_path / "ca")
    roots = tmp_path / "certs.d"
    (roots / host).mkdir(parents=True)
    _client_cert(ca, roots / host, "client")
    insecure = [("https://127.0.0.1:5999", False), ("http://127.0.0.1:5999", False)]
    pairs = [(e.url, e.verify) for e in endpoints_for(host, TransportOptions(cert_dirs=(roots,)))]
    assert pairs == insecure
    _certs_d(roots, host, ca.cert_path)
    for options in (TransportOptions(cert_dirs=(roots,)), TransportOptions(cert_dir=roots / host)):
        assert [(e.url, e.verify) for e in endpoints_for(host, options)] == [("https://127.0.0.1:5999", True)]
    off = TransportOptions(tls_verify=False, cert_dirs=(roots,))
    assert [(e.url, e.verify) for e in endpoints_for(host, off)] == insecure


@pytest.mark.parametrize(
    ("raw", "close_notify", "outcome"),
    [
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", True, b"until close"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil close", False, b"until close"),  # ragged EOF, as ssl.py allows
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True, "in the middle of the body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", False, "in the middle of the body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", False, b"ok"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nok", False, "in the middle of the body"),
    ],
)
def test_tls_end_of_stream(raw: bytes, close_notify: bool, outcome: bytes | str, tmp_path: Path) -> None:
    def handler(tls: ssl.SSLSocket, _head: bytes) -> None:
        tls.sendall(raw)
        if close_notify:
            tls.unwrap()

    with tls_server(tls_context(tmp_path), handler) as port:
        if isinstance(outcome, bytes):
            assert _get("127.0.0.1", port).body == outcome  # type: ignore[attr-defined]
        else:
            with pytest.raises(TransportError, match=outcome):
                _get("127.0.0.1", port)


def test_large_tls_exchange(tmp_path: Path) -> None:
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


def test_silent_tls_server_times_out() -> None:
    """A server that accepts and never answers the ClientHello: the timeout applies."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        options = TransportOptions(timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"TLS handshake with 127\.0\.0\.1:.*timed out"):
            _get("127.0.0.1", listener.getsockname()[1], options)
        assert time.monotonic() - started < 3
    finally:
        listener.close()


# --------------------------------------------------------------------------- system trust


def _bundle_size(path: str | None) -> int:
    if not path or not os.path.isfile(path):
        return 0
    return Path(path).read_text(errors="replace").count("-----BEGIN CERTIFICATE-----")


def _hashed_dir(directory: Path, ca: CA) -> Path:
    """``directory`` holding ``ca`` in OpenSSL's hashed layout (``openssl rehash``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed (needed to hash a CA directory)")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca.cert_path, directory / "extra-ca.pem")
    subprocess.run([openssl, "rehash", str(directory)], check=True, capture_output=True, timeout=30)
    assert any(name.endswith(".0") for name in os.listdir(directory))
    return directory


def test_ssl_cert_dir_adds_to_the_system_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SSL_CERT_DIR adds a CA directory; the system bundle (OpenSSL's default file) stays trusted."""
    bundle = _bundle_size(ssl.get_default_verify_paths().openssl_cafile)
    if not bundle:
        pytest.skip("no system CA bundle file on this machine")
    ca = make_ca(tmp_path / "extra-ca", "extra CA")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(_hashed_dir(tmp_path / "hashed", ca)))
    ctx = client_context(True, [])
    assert len(ctx.get_ca_certs()) >= bundle  # the bundle file is loaded whole, the directory lazily
    server = _server_context(ca, tmp_path / "server", ["localhost"])
    with tls_server(server, lambda t, _h: t.sendall(OK)) as port:
        empty = TransportOptions(cert_dirs=(), timeout=3)
        assert _get("localhost", port, empty, verify=True).status == 200  # type: ignore[attr-defined]


def test_ssl_cert_file_and_dir_both_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With both variables set, a CA from the file and one from the directory are both trusted."""
    in_file = make_ca(tmp_path / "file-ca", "CA in SSL_CERT_FILE")
    in_dir = make_ca(tmp_path / "dir-ca", "CA in SSL_CERT_DIR")
    monkeypatch.setenv("SSL_CERT_FILE", str(in_file.cert_path))
    monkeypatch.setenv("SSL_CERT_DIR", str(_hashed_dir(tmp_path / "hashed", in_dir)))
    empty = TransportOptions(cert_dirs=(), timeout=3)
    for ca in (in_file, in_dir):
        ctx = _server_context(ca, tmp_path / ca.cert.subject.rfc4514_string(), ["localhost"])
        with tls_server(ctx, lambda t, _h: t.sendall(OK)) as port:
            assert _get("localhost", port, empty, verify=True).status == 200  # type: ignore[attr-defined]
    other = make_ca(tmp_path / "other-ca", "unknown CA")  # and trust does not extend further
    server = _server_context(other, tmp_path / "other", ["localhost"])
    with (
        tls_server(server, lambda t, _h: t.sendall(OK)) as port,
        pytest.raises(TransportError, match="unable to get local issuer certificate"),
    ):
        _get("localhost", port, empty, verify=True)


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
def test_client_certificate_from_certs_d(verify: bool, tmp_path: Path) -> None:
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
        response = _get("127.0.0.1", port, options, verify=verify)
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
        _session._ssl_context(endpoint, options)
    assert str(info.value).startswith(message.format(dir=host_dir))


def test_unreadable_certs_d_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any directory")
    host_dir = tmp_path / "reg.example"
    host_dir.mkdir(mode=0o300)
    try:
        options = TransportOptions(cert_dirs=(tmp_path,))
        with pytest.raises(TransportError, match=f"cannot read certificate directory {host_dir}: "):
            _session._ssl_context(endpoints_for("reg.example", options)[0], options)
    finally:
        host_dir.chmod(0o700)


def test_default_cert_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_cert_dirs() == ("/etc/docker/certs.d", f"{tmp_path}/docker/certs.d")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_cert_dirs() == ("/etc/docker/certs.d", "/home/someone/.config/docker/certs.d")


# --------------------------------------------------------------------------- errors before TLS


def test_bad_redirect_location_is_a_transport_error() -> None:
    raw = b"HTTP/1.1 302 Found\r\nLocation: http://[oops/\r\nContent-Length: 0\r\n\r\n"
    with fake_server(lambda conn, _r: conn.sendall(raw) is None) as (port, _):
        endpoint = Endpoint(f"http://127.0.0.1:{port}", False, "x")
        with (
            open_session(endpoint, OPTIONS) as session,
            pytest.raises(TransportError, match="redirect to a malformed URL"),
        ):
            send(session, HttpRequest("GET", f"{endpoint.url}/v2/"), OPTIONS)


def test_connection_error_messages() -> None:
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
