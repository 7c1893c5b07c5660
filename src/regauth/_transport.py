"""Drive the sans-I/O flows over real HTTP.  Strategy: one kept-alive connection per host, reused.

The transport owns TLS (system CAs + ``certs.d``), the insecure-registry policy, proxies (from the
environment), timeouts, body-size caps and redirects.  It never decides authentication logic.
Sources: docker-behaviour.md §2 "Endpoints", "TLS", "HTTP"; issue 2 item 5.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import sys
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ._address import HUB_ENDPOINT_HOST, HUB_KEY, is_loopback_literal, split_host_port
from ._errors import RegauthError, TransportError
from ._http import HttpRequest, HttpResponse
from ._http1 import Connection, HttpError, Proxy, host_header
from ._record import field, record
from ._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "Endpoint",
    "Session",
    "TransportOptions",
    "endpoints_for",
    "is_loopback_host",
    "open_session",
    "proxy_for",
    "run_flow",
    "send",
]

def _debug(message: str, *args: object) -> None:
    """Log through ``logging`` only if something (``--debug``, the host program) imported it."""
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("regauth.transport").debug(message, *args)

DEFAULT_TIMEOUT = 15.0
MAX_REDIRECTS = 10
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


@record
class TransportOptions:
    """How to reach registries.

    ``tls_verify``: None = Docker's daemon default (loopback and ``insecure_registries`` are
    insecure: TLS unverified, then plain HTTP); True = always verify; False = insecure for this call.
    ``cert_dirs``: ``certs.d`` roots searched for ``<host[:port]>/`` (default: Docker's).
    ``cert_dir``: one directory of ``*.crt``/``*.cert``/``*.key`` for this registry (podman's
    ``--cert-dir``); when set, it replaces the ``certs.d`` lookup.
    """

    tls_verify: bool | None = None
    cert_dirs: tuple[Path, ...] | None = None
    cert_dir: Path | None = None
    insecure_registries: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    user_agent: str = field(default_factory=lambda: f"regauth/{__version__} ({sys.platform})")


@record
class Endpoint:
    """One base URL to try, and whether its TLS certificate is verified."""

    url: str
    verify: bool
    host_dir: str  # the certs.d sub-directory name, "host[:port]"


def default_cert_dirs() -> tuple[Path, ...]:
    """Docker's certs.d roots for this platform (docker-behaviour.md §2 TLS)."""
    if sys.platform == "win32":
        return (Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "docker" / "certs.d",)
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (Path("/etc/docker/certs.d"), Path(xdg) / "docker" / "certs.d")


def is_loopback_host(host: str) -> bool:
    """True if ``host`` is a loopback literal or a name that resolves only to loopback addresses."""
    literal = is_loopback_literal(host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%", 1)[0]).is_loopback for a in addresses
    )


def _matches_insecure(key: str, host: str, entries: Sequence[str]) -> bool:
    for raw in entries:
        entry = raw.strip()
        for prefix in ("http://", "https://"):
            if entry.startswith(prefix):
                entry = entry[len(prefix) :]
        entry = entry.rstrip("/")
        if not entry:
            continue
        if "/" in entry and not entry.startswith("["):
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            try:
                if ipaddress.ip_address(host.strip("[]")) in net:
                    return True
            except ValueError:
                continue
        elif entry in (key, host):
            return True
    return False


def endpoints_for(key: str, options: TransportOptions) -> list[Endpoint]:
    """The endpoints to try for a storage key, in order (never a silent downgrade).

    Hub → ``https://registry-1.docker.io`` only.  A secure registry → verified HTTPS only.  An
    insecure one (loopback by default, ``--tls-verify=false``, ``insecure-registries``) → HTTPS
    without verification, then plain HTTP, like Docker's daemon.
    """
    if key == HUB_KEY:
        return [Endpoint(f"https://{HUB_ENDPOINT_HOST}", True, HUB_ENDPOINT_HOST)]
    host, _port = split_host_port(key)
    if options.tls_verify is True:
        insecure = False
    elif options.tls_verify is False:
        insecure = True
    else:
        insecure = _matches_insecure(key, host, options.insecure_registries) or is_loopback_host(
            host.strip("[]")
        )
    if insecure:
        return [Endpoint(f"https://{key}", False, key), Endpoint(f"http://{key}", False, key)]
    return [Endpoint(f"https://{key}", True, key)]


def _system_trust(ctx: ssl.SSLContext) -> None:
    """Trust the system's CAs, cheaply: a hashed CA directory is read lazily by OpenSSL."""
    if sys.platform == "win32" or sys.platform == "darwin":
        ctx.load_default_certs()
        return
    paths = ssl.get_default_verify_paths()
    if paths.capath and os.path.isdir(paths.capath) and not os.environ.get("SSL_CERT_FILE"):
        ctx.load_verify_locations(capath=paths.capath)
    elif paths.cafile and os.path.isfile(paths.cafile):
        ctx.load_verify_locations(cafile=paths.cafile)
    else:
        ctx.load_default_certs()


def _ssl_context(endpoint: Endpoint, options: TransportOptions) -> ssl.SSLContext:
    """TLS >= 1.2; verified: system CAs + certs.d ``*.crt``; client ``*.cert``/``*.key`` either way."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if endpoint.verify:
        _system_trust(ctx)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if options.cert_dir is not None:
        if not options.cert_dir.is_dir():
            raise TransportError(f"--cert-dir {options.cert_dir}: not a directory")
        host_dirs = [options.cert_dir]
    else:
        roots = options.cert_dirs if options.cert_dirs is not None else default_cert_dirs()
        name = endpoint.host_dir.replace(":", "") if sys.platform == "win32" else endpoint.host_dir
        host_dirs = [root / name for root in roots]
    for host_dir in host_dirs:
        if not host_dir.is_dir():
            continue
        try:
            names = sorted(os.listdir(host_dir))
        except OSError as exc:
            raise TransportError(f"cannot read certificate directory {host_dir}: {exc.strerror}") from None
        for name in names:
            path = host_dir / name
            try:
                if name.endswith(".crt") and endpoint.verify:
                    ctx.load_verify_locations(cafile=str(path))
                elif name.endswith(".cert"):
                    key = path.with_suffix(".key")
                    if not key.exists():
                        raise TransportError(
                            f"missing key {key.name} for client certificate {path}. "
                            "CA certificates must use the extension .crt"
                        )
                    ctx.load_cert_chain(str(path), str(key))
                elif name.endswith(".key") and not path.with_suffix(".cert").exists():
                    raise TransportError(
                        f"missing client certificate {path.with_suffix('.cert').name} for key {path}"
                    )
            except (ssl.SSLError, OSError) as exc:
                raise TransportError(f"cannot load {path}: {exc}") from None
    return ctx


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def _bypass_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Go's ProxyFromEnvironment rules: loopback never proxied; NO_PROXY names, domains, CIDRs, ``*``."""
    if is_loopback_literal(host) or host.lower() == "localhost":
        return True
    lowered = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(lowered) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry_host, entry_port = entry, ""
        if entry.count(":") == 1 or entry.startswith("["):
            entry_host, _, entry_port = entry.rpartition(":")
            if not entry_port.isdigit():
                entry_host, entry_port = entry, ""
        entry_host = entry_host.strip("[]")
        if entry_port and int(entry_port) != port:
            continue
        if entry_host.startswith("*."):
            entry_host = entry_host[1:]
        if lowered == entry_host.lstrip(".") or (
            entry_host.startswith(".") and lowered.endswith(entry_host)
        ) or lowered.endswith("." + entry_host):
            return True
    return False


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy for a URL from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (either case), or None."""
    env = os.environ if environ is None else environ
    value = _env(env, "https_proxy" if scheme == "https" else "http_proxy")
    if not value or _bypass_proxy(host, port, _env(env, "no_proxy")):
        return None
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise TransportError(f"unsupported proxy URL scheme {parts.scheme!r} (only http:// proxies)")
    authorization = ""
    if parts.username is not None:
        import base64
        from urllib.parse import unquote

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(parts.hostname, parts.port or 80, authorization)


class Session:
    """Keep-alive connections for one login: one per ``scheme://host:port``, sharing one TLS context."""

    def __init__(self, endpoint: Endpoint, options: TransportOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self._ctx: ssl.SSLContext | None = None
        self._conns: dict[tuple[str, str, int], Connection] = {}

    def __repr__(self) -> str:
        return f"Session({self.endpoint.url})"

    @property
    def connects(self) -> int:
        """TCP connections opened so far (for tests and benchmarks)."""
        return sum(conn.connects for conn in self._conns.values())

    def connection(self, scheme: str, host: str, port: int) -> Connection:
        """The kept-alive connection to a host, created on first use."""
        key = (scheme, host.lower(), port)
        conn = self._conns.get(key)
        if conn is None:
            if scheme == "https" and self._ctx is None:
                self._ctx = _ssl_context(self.endpoint, self.options)
            conn = Connection(
                host,
                port,
                context=self._ctx if scheme == "https" else None,
                timeout=self.options.timeout,
                proxy=proxy_for(scheme, host, port),
            )
            self._conns[key] = conn
        return conn

    def close(self) -> None:
        """Close every connection."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


@contextmanager
def open_session(endpoint: Endpoint, options: TransportOptions) -> Iterator[Session]:
    """A Session for one endpoint: its TLS context, keep-alive, proxies from the environment."""
    session = Session(endpoint, options)
    try:
        yield session
    finally:
        session.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _strip(url: str) -> str:
    return url.split("?", 1)[0]


def _exchange(session: Session, method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{_strip(url)}: not an http(s) URL")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise TransportError(f"{_strip(url)}: bad port") from None
    conn = session.connection(parts.scheme, parts.hostname, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if conn.proxy is not None and not tls:
        target = f"http://{parts.netloc}{target}"
    wire: list[tuple[str, str]] = [("Host", host_header(parts.hostname, port, tls))]
    wire += [("User-Agent", session.options.user_agent)]
    wire += [(k, v) for k, v in headers.items() if k.lower() not in ("host", "user-agent", "content-length")]
    if conn.proxy is not None and not tls and conn.proxy.authorization:
        wire.append(("Proxy-Authorization", conn.proxy.authorization))
    _debug("%s %s", method, _strip(url))
    deadline = time.monotonic() + session.options.timeout * 2
    try:
        raw = conn.request(method, target, wire, body, deadline=deadline)
    except HttpError as exc:
        raise TransportError(f"{method} {_strip(url)}: {exc}") from None
    _debug("-> %s %s", raw.status, raw.reason)
    return HttpResponse(
        status=raw.status, url=url, headers=tuple(raw.headers), body=raw.body, reason=raw.reason
    )


def send(session: Session, request: HttpRequest, options: TransportOptions) -> HttpResponse:
    """Send one request, following redirects safely (no downgrade, no Authorization to other hosts)."""
    url, method, body = request.url, request.method, request.body
    headers = dict(request.headers)
    seen: set[str] = set()
    for _hop in range(MAX_REDIRECTS + 1):
        response = _exchange(session, method, url, headers, body)
        location = response.header("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        target = urljoin(url, location)
        if target in seen:
            raise TransportError(f"{_strip(request.url)}: redirect loop")
        seen.add(target)
        if url.startswith("https://") and target.startswith("http://"):
            raise TransportError(f"{_strip(url)}: refusing redirect from HTTPS to plain HTTP")
        if _origin(target) != _origin(url):
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", b""
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        url = target
    raise TransportError(f"{_strip(request.url)}: too many redirects")


def run_flow(
    session: Session,
    flow: Generator[HttpRequest, HttpResponse, T],
    options: TransportOptions,
) -> T:
    """Drive a sans-I/O flow to completion over ``session``; returns the flow's result."""
    try:
        request = next(flow)
        while True:
            response = send(session, request, options)
            request = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
    except RegauthError:
        flow.close()
        raise
