"""Drive the sans-I/O flows over real HTTP.  Strategy: one ``requests`` session per registry, reused.

The transport owns TLS (system CAs + ``certs.d``), the insecure-registry policy, proxies (from the
environment), timeouts, body-size caps and redirects.  It never decides authentication logic.
Sources: docker-behaviour.md §2 "Endpoints", "TLS", "HTTP"; issue 2 item 5.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from ._address import HUB_ENDPOINT_HOST, HUB_KEY, is_loopback_literal, split_host_port
from ._errors import RegauthError, TransportError
from ._http import HttpRequest, HttpResponse
from ._version import __version__

if TYPE_CHECKING:
    import requests

__all__ = [
    "DEFAULT_TIMEOUT",
    "Endpoint",
    "TransportOptions",
    "endpoints_for",
    "is_loopback_host",
    "open_session",
    "run_flow",
]

log = logging.getLogger("regauth.transport")

DEFAULT_TIMEOUT = 15.0
MAX_BODY = 1 << 20  # 1 MiB: nothing a login needs is larger
MAX_REDIRECTS = 10
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One base URL to try, and whether its TLS certificate is verified."""

    url: str
    verify: bool
    host_dir: str  # the certs.d sub-directory name, "host[:port]"

    @property
    def secure(self) -> bool:
        """True for verified HTTPS."""
        return self.url.startswith("https://") and self.verify


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


def _ssl_context(endpoint: Endpoint, options: TransportOptions) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not endpoint.verify:
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
            raise TransportError(
                f"cannot read certificate directory {host_dir}: {exc.strerror}"
            ) from None
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


@contextmanager
def open_session(endpoint: Endpoint, options: TransportOptions) -> Iterator[requests.Session]:
    """A ``requests.Session`` for one endpoint: its TLS context, keep-alive, env proxies."""
    import requests
    from requests.adapters import HTTPAdapter

    ctx = _ssl_context(endpoint, options) if endpoint.url.startswith("https://") else None

    class _Adapter(HTTPAdapter):
        def build_connection_pool_key_attributes(
            self, request: Any, verify: Any, cert: Any = None
        ) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            kwargs: dict[str, Any] = dict(pool_kwargs)
            if ctx is not None and host_params.get("scheme") == "https":
                for name in ("ca_certs", "ca_cert_dir", "cert_file", "key_file"):
                    kwargs.pop(name, None)
                # our context decides, whatever REQUESTS_CA_BUNDLE made of ``verify``
                kwargs["ssl_context"] = ctx
                kwargs["cert_reqs"] = "CERT_REQUIRED" if endpoint.verify else "CERT_NONE"
            return host_params, kwargs

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            return None  # the SSL context decides

    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=4, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = endpoint.verify
    session.headers["User-Agent"] = options.user_agent
    try:
        yield session
    finally:
        session.close()


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    # requests/urllib3 wrap the useful part deep inside; keep the last, most specific piece.
    for marker in ("Caused by ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip("()'\" ")[:300] or exc.__class__.__name__


def send(
    session: requests.Session, request: HttpRequest, options: TransportOptions
) -> HttpResponse:
    """Send one request, following redirects safely, with a size cap and a total deadline."""
    import requests

    url = request.url
    method = request.method
    headers = dict(request.headers)
    body: bytes | None = request.body or None
    deadline = time.monotonic() + options.timeout * 2
    seen: set[str] = set()
    for _hop in range(MAX_REDIRECTS + 1):
        log.debug("%s %s", method, url.split("?", 1)[0])
        try:
            resp = session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                stream=True,
                timeout=(options.timeout, options.timeout),
            )
        except requests.exceptions.SSLError as exc:
            raise TransportError(
                f"{method} {url.split('?', 1)[0]}: TLS error: {_describe(exc)}"
            ) from None
        except requests.exceptions.Timeout:
            raise TransportError(
                f"{method} {url.split('?', 1)[0]}: timed out after {options.timeout:g}s"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{method} {url.split('?', 1)[0]}: {_describe(exc)}") from None
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > MAX_BODY:
                    raise TransportError(f"{url.split('?', 1)[0]}: response larger than 1 MiB")
                if time.monotonic() > deadline:
                    raise TransportError(
                        f"{url.split('?', 1)[0]}: response not complete after {options.timeout * 2:g}s"
                    )
                chunks.append(chunk)
            payload = b"".join(chunks)
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{method} {url.split('?', 1)[0]}: {_describe(exc)}") from None
        finally:
            resp.close()
        raw_headers = resp.raw.headers if resp.raw is not None else None
        if raw_headers is not None and hasattr(raw_headers, "items"):
            header_items = tuple((str(k), str(v)) for k, v in raw_headers.items())
        else:
            header_items = tuple(resp.headers.items())
        log.debug("-> %s %s", resp.status_code, resp.reason)
        if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
            target = urljoin(url, resp.headers["location"])
            if target in seen or len(seen) >= MAX_REDIRECTS:
                raise TransportError(f"{url.split('?', 1)[0]}: too many redirects")
            seen.add(target)
            if url.startswith("https://") and target.startswith("http://"):
                raise TransportError(
                    f"{url.split('?', 1)[0]}: refusing redirect from HTTPS to plain HTTP"
                )
            if _host_of(target) != _host_of(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
            continue
        return HttpResponse(
            status=resp.status_code,
            url=url,
            headers=header_items,
            body=payload,
            reason=resp.reason or "",
        )
    raise TransportError(f"{request.url.split('?', 1)[0]}: too many redirects")


def run_flow(
    session: requests.Session,
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
