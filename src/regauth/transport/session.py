"""Drive the sans-I/O flows over real HTTP.  Strategy: one kept-alive connection per host, reused.

The transport owns TLS (system CAs + ``certs.d``), the insecure-registry policy, proxies (from the
environment), timeouts, body-size caps and redirects.  It never decides authentication logic.
Sources: docker-behaviour.md §2 "Endpoints", "TLS", "HTTP"; issue 2 item 5.

Import cost (issue 6): a login imports none of ``ssl``, ``socket``, ``ipaddress``, ``pathlib``,
``urllib.parse``, ``contextlib`` (tens of ms on the target machine): TLS goes through ``_http1``,
paths through ``os.path``, http(s) URLs through ``_http.split_url``; ``urllib.parse`` is loaded only
for unusual URLs, redirects and proxies.
"""

from __future__ import annotations

import _socket
import os
import sys
import time

from regauth._record import field, record
from regauth._version import __version__
from regauth.errors import RegauthError, TransportError
from regauth.registry.address import (
    HUB_ENDPOINT_HOST,
    HUB_KEY,
    in_network,
    is_loopback_literal,
    split_host_port,
)
from regauth.registry.messages import BadPortError, HttpRequest, HttpResponse, SplitUrl, split_url
from regauth.transport.connection import (
    Connection,
    HttpError,
    Proxy,
    client_context,
    encode_host,
    host_header,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Endpoint",
    "Session",
    "TransportOptions",
    "endpoint_origin",
    "endpoints_for",
    "is_loopback_host",
    "open_session",
    "origin_of",
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
    from _ssl import _SSLContext
    from collections.abc import Generator, Mapping, Sequence
    from types import TracebackType
    from typing import TypeVar

    T = TypeVar("T")
    StrPath = str | os.PathLike[str]


@record
class TransportOptions:
    """How to reach registries.

    ``tls_verify``: None = Docker's daemon default (loopback and ``insecure_registries`` are
    insecure: TLS unverified, then plain HTTP); True = always verify; False = insecure for this call.
    ``cert_dirs``: ``certs.d`` roots searched for ``<host[:port]>/`` (default: Docker's).
    ``cert_dir``: one directory of ``*.crt``/``*.cert``/``*.key`` for this registry (podman's
    ``--cert-dir``); when set, it replaces the ``certs.d`` lookup.  Paths: ``str`` or path-like.
    """

    tls_verify: bool | None = None
    cert_dirs: tuple[StrPath, ...] | None = None
    cert_dir: StrPath | None = None
    insecure_registries: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    user_agent: str = field(default_factory=lambda: f"regauth/{__version__} ({sys.platform})")


@record
class Endpoint:
    """One base URL to try, and whether its TLS certificate is verified."""

    url: str
    verify: bool
    host_dir: str  # the certs.d sub-directory name, "host[:port]"


def default_cert_dirs() -> tuple[str, ...]:
    """Docker's certs.d roots for this platform (docker-behaviour.md §2 TLS)."""
    if sys.platform == "win32":
        return (os.path.join(os.environ.get("PROGRAMDATA", r"C:\ProgramData"), "docker", "certs.d"),)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if not xdg:
        home = os.path.expanduser("~")
        if home.startswith("~"):  # no home directory: no per-user root (never one relative to the cwd)
            return ("/etc/docker/certs.d",)
        xdg = os.path.join(home, ".config")
    return ("/etc/docker/certs.d", os.path.join(xdg, "docker", "certs.d"))


def is_loopback_host(host: str) -> bool:
    """True if ``host`` is a loopback literal or a name that resolves only to loopback addresses."""
    literal = is_loopback_literal(host)
    if literal is not None:
        return literal
    try:
        infos = _socket.getaddrinfo(encode_host(host), None, 0, 0, _socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(is_loopback_literal(str(a)) is True for a in addresses)


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
            if in_network(host.strip("[]"), entry):
                return True
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


def _system_trust(ctx: _SSLContext) -> None:
    """Trust the system's CAs, cheaply: a hashed CA directory is read lazily by OpenSSL."""
    if sys.platform == "win32":
        ctx.load_default_certs()  # type: ignore[attr-defined]  # an ssl.SSLContext on Windows
        return
    if sys.platform == "darwin":
        ctx.set_default_verify_paths()  # what ssl.SSLContext.load_default_certs() does there
        return
    import _ssl

    # ssl.get_default_verify_paths(), inlined: the environment variables override the defaults
    cafile_env, cafile, capath_env, capath = _ssl.get_default_verify_paths()
    cafile = os.environ.get(cafile_env, cafile)
    capath = os.environ.get(capath_env, capath)
    if os.path.isdir(capath) and not os.environ.get("SSL_CERT_FILE"):
        ctx.load_verify_locations(capath=capath)
    elif os.path.isfile(cafile):
        ctx.load_verify_locations(cafile=cafile)
    else:
        ctx.set_default_verify_paths()


def _ssl_context(endpoint: Endpoint, options: TransportOptions) -> _SSLContext:
    """TLS >= 1.2; verified: system CAs + certs.d ``*.crt``; client ``*.cert``/``*.key`` either way."""
    import _ssl

    ctx = client_context()
    ctx.minimum_version = _ssl.PROTO_TLSv1_2
    if endpoint.verify:
        _system_trust(ctx)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = _ssl.CERT_NONE
    if options.cert_dir is not None:
        cert_dir = os.fspath(options.cert_dir)
        if not os.path.isdir(cert_dir):
            raise TransportError(f"--cert-dir {cert_dir}: not a directory")
        host_dirs = [cert_dir]
    else:
        roots = options.cert_dirs if options.cert_dirs is not None else default_cert_dirs()
        name = endpoint.host_dir.replace(":", "") if sys.platform == "win32" else endpoint.host_dir
        host_dirs = [os.path.join(root, name) for root in roots]
    for host_dir in host_dirs:
        if os.path.isdir(host_dir):
            _load_host_dir(ctx, host_dir, endpoint.verify)
    return ctx


def _with_suffix(name: str, old: str, new: str) -> str:
    """``pathlib.PurePath(name).with_suffix(new)`` for a ``name`` ending in ``old``."""
    return (name[: -len(old)] if name != old else name) + new  # ".cert" alone has no suffix


def _load_host_dir(ctx: _SSLContext, host_dir: str, verify: bool) -> None:
    """certs.d rules: ``*.crt`` CAs (when verifying), ``*.cert`` + ``*.key`` client pairs."""
    try:
        names = sorted(os.listdir(host_dir))
    except OSError as exc:
        raise TransportError(f"cannot read certificate directory {host_dir}: {exc.strerror}") from None
    for name in names:
        path = os.path.join(host_dir, name)
        try:
            if name.endswith(".crt") and verify:
                ctx.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key_name = _with_suffix(name, ".cert", ".key")
                key = os.path.join(host_dir, key_name)
                if not os.path.exists(key):
                    raise TransportError(
                        f"missing key {key_name} for client certificate {path}. "
                        "CA certificates must use the extension .crt"
                    )
                ctx.load_cert_chain(path, key)
            elif name.endswith(".key"):
                cert_name = _with_suffix(name, ".key", ".cert")
                if not os.path.exists(os.path.join(host_dir, cert_name)):
                    raise TransportError(f"missing client certificate {cert_name} for key {path}")
        except OSError as exc:  # _ssl.SSLError is an OSError
            raise TransportError(f"cannot load {path}: {exc}") from None


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
            if in_network(lowered, entry):
                return True
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
    from urllib.parse import urlsplit  # proxies are rare: not worth a parser of our own

    parts = urlsplit(value)
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise TransportError(f"unsupported proxy URL scheme {parts.scheme!r} (only http:// proxies)")
    authorization = ""
    if parts.username is not None:
        import binascii
        from urllib.parse import unquote

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + binascii.b2a_base64(pair.encode(), newline=False).decode()
    return Proxy(parts.hostname, parts.port or 80, authorization)


class Session:
    """Keep-alive connections for one login: one per ``scheme://host:port``, sharing one TLS context."""

    def __init__(self, endpoint: Endpoint, options: TransportOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self._ctx: _SSLContext | None = None
        self._conns: dict[tuple[str, str, int], Connection] = {}
        self.origins: list[str] = []  # "scheme://host:port" of every request's host, first use first

    def __repr__(self) -> str:
        return f"Session({self.endpoint.url})"

    @property
    def connects(self) -> int:
        """TCP connections opened so far (for tests and benchmarks)."""
        return sum(conn.connects for conn in self._conns.values())

    def connection(self, scheme: str, host: str, port: int, *, used: bool = True) -> Connection:
        """The kept-alive connection to a host, created on first use (``used``: for a request)."""
        key = (scheme, host.lower(), port)
        origin = origin_of(scheme, key[1], port)
        if used and origin not in self.origins:
            self.origins.append(origin)
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

    def preconnect(self, origin: str) -> None:
        """Start opening the connection to ``origin`` (``scheme://host[:port]``) in the background.

        Only the TCP and TLS handshakes happen (same TLS policy and proxy as a request there);
        nothing is sent until a request for that origin comes.  A malformed origin is ignored.
        """
        try:
            parts = split_url(origin)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return
        if parts.scheme in ("http", "https") and parts.hostname:
            self.connection(parts.scheme, parts.hostname, port, used=False).preconnect()

    def close(self) -> None:
        """Close every connection."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def origin_of(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, the port always written, IPv6 in brackets, the host lower-case."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown.lower()}:{port}"


def endpoint_origin(url: str) -> str:
    """:func:`origin_of` an http(s) URL (ValueError if it has none)."""
    parts = split_url(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    return origin_of(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def open_session(endpoint: Endpoint, options: TransportOptions) -> Session:
    """A Session for one endpoint, to use in ``with`` (closes its connections at the end)."""
    return Session(endpoint, options)


def _target(parts: SplitUrl) -> str:
    """The request target: the path (at least ``/``) and ``?query``; never the fragment."""
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = split_url(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _strip(url: str) -> str:
    return url.split("?", 1)[0]


def _exchange(session: Session, method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
    try:
        parts = split_url(url)
    except BadPortError:
        raise TransportError(f"{_strip(url)}: bad port") from None
    except ValueError:
        raise TransportError(f"{_strip(url)}: not an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{_strip(url)}: not an http(s) URL")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    conn = session.connection(parts.scheme, parts.hostname, port)
    target = _target(parts)
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
        from urllib.parse import urljoin  # redirects are rare in a login

        try:
            target = urljoin(url, location)
            other_origin = _origin(target) != _origin(url)
        except ValueError:  # a malformed IPv6 literal, say
            raise TransportError(f"{_strip(url)}: redirect to a malformed URL") from None
        if target in seen:
            raise TransportError(f"{_strip(request.url)}: redirect loop")
        seen.add(target)
        if url.startswith("https://") and target.startswith("http://"):
            raise TransportError(f"{_strip(url)}: refusing redirect from HTTPS to plain HTTP")
        if other_origin:
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
