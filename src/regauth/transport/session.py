"""Drive the sans-I/O flows over real HTTP.  Strategy: one kept-alive connection per host, reused.

The transport owns TLS (system CAs + ``certs.d``), the insecure-registry policy, proxies (from the
environment), timeouts, body-size caps and redirects.  It never decides authentication logic.
Which endpoints Docker tries, and how, is described in docs/registry-auth.md.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from regauth._version import __version__
from regauth.errors import RegauthError, TransportError
from regauth.registry.address import (
    HUB_ENDPOINT_HOST,
    HUB_KEY,
    in_network,
    is_loopback_literal,
    split_host_port,
)
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.transport.connection import Connection, HttpError, NotTlsError, host_header
from regauth.transport.proxy import proxy_for
from regauth.transport.redirects import follow, strip_query
from regauth.transport.tls import client_context, default_cert_dirs, host_cert_dirs

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
    "run_flow",
    "send",
    "try_endpoints",
]



def debug(message: str, *args: object) -> None:
    """Log ``message`` at DEBUG on ``regauth.transport`` (``--debug`` shows it).

    Only a program that imported :mod:`logging` can have configured a handler, so when it is not
    loaded there is nobody to log to, and a login does not load it just to say nothing.
    """
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("regauth.transport").debug(message, *args)

DEFAULT_TIMEOUT = 15.0
T = TypeVar("T")
StrPath = str | os.PathLike[str]


def _user_agent() -> str:
    return f"regauth/{__version__} ({sys.platform})"


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How to reach registries.

    ``tls_verify``: None = Docker's daemon default (loopback and ``insecure_registries`` are
    insecure: TLS unverified, then plain HTTP); True = always verify; False = insecure for this call.
    ``cert_dirs``: ``certs.d`` roots searched for ``<host[:port]>/`` (default: Docker's).
    ``cert_dir``: one directory of ``*.crt``/``*.cert``/``*.key`` for this registry (podman's
    ``--cert-dir``); when set, it replaces the ``certs.d`` lookup.  Paths: ``str`` or path-like.
    A ``*.crt`` CA in the directory in effect turns verification on, loopback included, unless
    ``tls_verify`` is False.
    ``timeout``: seconds one request may take, from its first byte sent (or connect) to the last
    byte of the final response, redirects included.
    """

    tls_verify: bool | None = None
    cert_dirs: tuple[StrPath, ...] | None = None
    cert_dir: StrPath | None = None
    insecure_registries: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    user_agent: str = field(default_factory=_user_agent)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One base URL to try, and whether its TLS certificate is verified."""

    url: str
    verify: bool
    host_dir: str  # the certs.d sub-directory name, "host[:port]"


def is_loopback_host(host: str) -> bool:
    """True if ``host`` is a loopback literal or a name that resolves only to loopback addresses."""
    literal = is_loopback_literal(host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, 0, 0, socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(is_loopback_literal(a) is True for a in addresses)


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
    without verification, then plain HTTP, like Docker's daemon; :func:`try_endpoints` goes on to
    plain HTTP only when the server does not speak TLS.  A registry given CAs (a ``*.crt`` in
    ``--cert-dir`` or its ``certs.d`` directory) → verified HTTPS only, loopback included, unless
    ``tls_verify`` is False: a user who supplies a CA expects it to be checked (Docker does not
    check it for an insecure registry; docs/registry-auth.md).

    Raises:
        TransportError: ``--cert-dir`` is not a directory.
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
        if insecure and _supplies_cas(_cert_dirs(key, options)):
            insecure = False
    if insecure:
        return [Endpoint(f"https://{key}", False, key), Endpoint(f"http://{key}", False, key)]
    return [Endpoint(f"https://{key}", True, key)]


def _cert_dirs(host_dir: str, options: TransportOptions) -> list[str]:
    """The certificate directories of a registry: ``--cert-dir`` if given, else its ``certs.d`` ones."""
    if options.cert_dir is not None:
        cert_dir = os.fspath(options.cert_dir)
        if not os.path.isdir(cert_dir):
            raise TransportError(f"--cert-dir {cert_dir}: not a directory")
        return [cert_dir]
    roots = options.cert_dirs if options.cert_dirs is not None else default_cert_dirs()
    return host_cert_dirs(host_dir, roots)


def _supplies_cas(directories: Sequence[str]) -> bool:
    """True if one of ``directories`` holds a ``*.crt`` CA file (see :func:`endpoints_for`)."""
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:  # missing: nothing supplied; unreadable: the context reports it when loading
            continue
        if any(name.endswith(".crt") for name in names):
            return True
    return False


def _ssl_context(endpoint: Endpoint, options: TransportOptions) -> ssl.SSLContext:
    """The endpoint's TLS context: ``--cert-dir`` if given, else its ``certs.d`` directories."""
    return client_context(endpoint.verify, _cert_dirs(endpoint.host_dir, options))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class Session:
    """Keep-alive connections for one login: one per ``scheme://host:port``, sharing one TLS context."""

    def __init__(self, endpoint: Endpoint, options: TransportOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self._ctx: ssl.SSLContext | None = None
        self._conns: dict[tuple[str, str, int], Connection] = {}
        self.origins: list[str] = []  # "scheme://host:port" of every request's host, first use first
        self.responses = 0  # responses received (a handshake failure after one is no reason to retry)

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
            try:
                conn = Connection(
                    host,
                    port,
                    context=self._ctx if scheme == "https" else None,
                    timeout=self.options.timeout,
                    proxy=proxy_for(scheme, host, port),
                )
            except HttpError as exc:
                raise TransportError(f"{origin}: {exc}") from None
            self._conns[key] = conn
        return conn

    def preconnect(self, origin: str) -> None:
        """Start opening the connection to ``origin`` (``scheme://host[:port]``) in the background.

        Only the TCP and TLS handshakes happen (same TLS policy and proxy as a request there);
        nothing is sent until a request for that origin comes.  A malformed origin is ignored.
        """
        try:
            parts = urlsplit(origin)
            port = parts.port or _default_port(parts.scheme)
        except ValueError:
            return
        if parts.scheme in ("http", "https") and parts.hostname:
            try:
                conn = self.connection(parts.scheme, parts.hostname, port, used=False)
            except TransportError:
                return  # a request there would meet the same error, and report it
            conn.preconnect()

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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    return origin_of(parts.scheme, parts.hostname, parts.port or _default_port(parts.scheme))


def open_session(endpoint: Endpoint, options: TransportOptions) -> Session:
    """A Session for one endpoint, to use in ``with`` (closes its connections at the end)."""
    return Session(endpoint, options)


def _split(url: str) -> tuple[SplitResult, int]:
    """``urlsplit(url)`` and its port (the scheme's default if none), for an http(s) URL only."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        problem = "bad port" if "port" in str(exc).lower() else "not an http(s) URL"
        raise TransportError(f"{strip_query(url)}: {problem}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{strip_query(url)}: not an http(s) URL")
    return parts, port or _default_port(parts.scheme)


class _NoTls(TransportError):
    """The endpoint's first handshake met a server that does not speak TLS (see :func:`try_endpoints`)."""


def _exchange(session: Session, request: HttpRequest, deadline: float) -> HttpResponse:
    """One request and its response by ``deadline``, no redirect followed."""
    url, method = request.url, request.method
    parts, port = _split(url)
    assert parts.hostname is not None
    tls = parts.scheme == "https"
    conn = session.connection(parts.scheme, parts.hostname, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")  # never the fragment
    if conn.proxy is not None and not tls:
        target = f"http://{parts.netloc}{target}"  # a plain-HTTP proxy takes the absolute URL
    skip = ("host", "user-agent", "content-length")
    wire = [("Host", host_header(parts.hostname, port, tls)), ("User-Agent", session.options.user_agent)]
    wire += [(k, v) for k, v in request.headers if k.lower() not in skip]
    if conn.proxy is not None and not tls and conn.proxy.authorization:
        wire.append(("Proxy-Authorization", conn.proxy.authorization))
    debug("%s %s", method, strip_query(url))
    try:
        raw = conn.request(method, target, wire, request.body, deadline=deadline)
    except HttpError as exc:
        first = session.responses == 0 and endpoint_origin(session.endpoint.url) == origin_of(
            parts.scheme, parts.hostname, port
        )
        kind = _NoTls if isinstance(exc, NotTlsError) and first else TransportError
        raise kind(f"{method} {strip_query(url)}: {exc}") from None
    session.responses += 1
    debug("-> %s %s", raw.status, raw.reason)
    return HttpResponse(status=raw.status, url=url, headers=raw.headers, body=raw.body, reason=raw.reason)


def send(session: Session, request: HttpRequest, options: TransportOptions | None = None) -> HttpResponse:
    """Send one request, following redirects safely (no downgrade, no Authorization to other hosts).

    The request and its redirects end within ``--timeout`` seconds together.
    """
    deadline = time.monotonic() + session.options.timeout
    hops = follow(request)
    try:
        hop = next(hops)
        while True:
            hop = hops.send(_exchange(session, hop, deadline))
    except StopIteration as stop:
        response: HttpResponse = stop.value
        return response
    finally:
        hops.close()


def run_flow(
    session: Session,
    flow: Generator[HttpRequest, HttpResponse, T],
    options: TransportOptions | None = None,
) -> T:
    """Drive a sans-I/O flow to completion over ``session``; returns the flow's result.

    Each request of the flow gets ``--timeout`` seconds, its redirects included (:func:`send`).
    """
    try:
        request = next(flow)
        while True:
            request = flow.send(send(session, request))
    except StopIteration as stop:
        result: T = stop.value
        return result
    except RegauthError:
        flow.close()
        raise


def try_endpoints(key: str, options: TransportOptions, use: Callable[[Session], T]) -> T:
    """``use`` a session on the registry's first endpoint, and on the next one only if the first
    does not speak TLS.

    An insecure registry is tried over plain HTTP only when the HTTPS endpoint's very first TLS
    handshake failed because the server does not speak TLS (:class:`NotTlsError`: no TLS answer,
    a hang-up, silence).  A TLS conversation that ended in a refusal (a certificate, an alert, an
    HTTPS-to-HTTP redirect, an ``http://`` realm, a status) is final: retrying in clear would do
    exactly what was refused.  Docker retries on any error (docs/registry-auth.md).

    Raises:
        TransportError: the last endpoint's failure (with the ones before it, ``; ``-joined).
        Whatever ``use`` raises otherwise.
    """
    failures: list[str] = []
    endpoints = endpoints_for(key, options)
    for endpoint in endpoints:
        try:
            with open_session(endpoint, options) as session:
                return use(session)
        except _NoTls as exc:
            failures.append(str(exc))
        except TransportError as exc:
            if not failures:
                raise
            failures.append(str(exc))
            break
    raise TransportError("; ".join(failures))
