"""HTTP proxies from the environment, with the rules of Go's ``http.ProxyFromEnvironment``.

``HTTPS_PROXY`` for https URLs, ``HTTP_PROXY`` for http ones (either case), ``NO_PROXY`` exceptions;
loopback is never proxied.  Docker's CLI resolves proxies the same way
(pkg.go.dev/golang.org/x/net/http/httpproxy, ``Config.ProxyFunc``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from regauth.errors import TransportError
from regauth.registry.address import in_network, is_loopback_literal

__all__ = ["Proxy", "bypass_proxy", "proxy_for"]


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: address and optional ``Proxy-Authorization`` value (never in the repr)."""

    host: str
    port: int
    authorization: str = field(default="", repr=False)


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def _entry_matches(entry: str, host: str, port: int) -> bool:
    """One ``NO_PROXY`` entry (lower-case, stripped) against a lower-case host without brackets."""
    if entry == "*":
        return True
    if "/" in entry:
        return in_network(host, entry)
    entry_host, entry_port = entry, ""
    if entry.count(":") == 1 or entry.startswith("["):
        entry_host, _, entry_port = entry.rpartition(":")
        if not entry_port.isdigit():
            entry_host, entry_port = entry, ""
    entry_host = entry_host.strip("[]")
    if entry_port and int(entry_port) != port:
        return False
    if entry_host.startswith("*."):
        entry_host = entry_host[1:]
    if host == entry_host.lstrip("."):
        return True
    return host.endswith(entry_host if entry_host.startswith(".") else "." + entry_host)


def bypass_proxy(host: str, port: int, no_proxy: str) -> bool:
    """True when ``host:port`` is reached directly: loopback, or a ``NO_PROXY`` name, domain
    suffix (``.corp``, ``corp``, ``*.corp``), ``host:port``, CIDR or ``*``."""
    if is_loopback_literal(host) or host.lower() == "localhost":
        return True
    lowered = host.lower().strip("[]")
    entries = (raw.strip().lower() for raw in no_proxy.split(","))
    return any(_entry_matches(entry, lowered, port) for entry in entries if entry)


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy for a URL from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (either case), or None.

    Raises:
        TransportError: a proxy URL that is not ``http://`` (no other kind is supported).
    """
    env = os.environ if environ is None else environ
    value = _env(env, "https_proxy" if scheme == "https" else "http_proxy")
    if not value or bypass_proxy(host, port, _env(env, "no_proxy")):
        return None
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urlsplit(value)
        proxy_port = parts.port or 80
    except ValueError:
        raise TransportError("malformed proxy URL in the environment") from None
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise TransportError(f"unsupported proxy URL scheme {parts.scheme!r} (only http:// proxies)")
    authorization = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, proxy_port, authorization)
