"""OpenID provider discovery for the device-code login of a registry whose token service is an
OpenID provider: the request for ``ISSUER/.well-known/openid-configuration`` and the checks on
its answer (OpenID Connect Discovery 1.0, sections 4 and 4.3; RFC 8628 section 4).

Rule: no I/O here (the caller sends :func:`discovery_request`).  Whether a plain-HTTP URL is
acceptable (loopback only) needs a name lookup, so the caller answers that through ``loopback``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from regauth.errors import RegauthError
from regauth.registry.messages import HttpRequest, HttpResponse

__all__ = ["DISCOVERY_PATH", "OidcEndpoints", "check_url", "discovery_request", "parse_discovery"]

DISCOVERY_PATH = "/.well-known/openid-configuration"
_MAX_DOCUMENT = 1 << 20


@dataclass(frozen=True, slots=True)
class OidcEndpoints:
    """What the device flow needs from a provider's discovery document."""

    issuer: str
    device_authorization_endpoint: str
    token_endpoint: str


def check_url(what: str, url: str, loopback: Callable[[str], bool]) -> str:
    """``url`` if it is an absolute https URL (http only to a loopback host), without query or
    fragment; else a one-line :class:`RegauthError` naming ``what``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise RegauthError(f"{what} {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegauthError(f"{what} {url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username is not None:
        raise RegauthError(f"{what} {url!r} must not carry a query, a fragment or credentials")
    if parts.scheme == "http" and not loopback(parts.hostname):
        raise RegauthError(f"{what} {url!r} uses plain HTTP: only https is allowed (or http to loopback)")
    return url


def discovery_request(issuer: str) -> HttpRequest:
    """``GET ISSUER/.well-known/openid-configuration`` (the issuer's path kept, section 4)."""
    return HttpRequest("GET", issuer.rstrip("/") + DISCOVERY_PATH, (("Accept", "application/json"),))


def parse_discovery(issuer: str, response: HttpResponse, loopback: Callable[[str], bool]) -> OidcEndpoints:
    """The endpoints of a discovery answer, checked: status 200, a JSON object whose ``issuer`` is
    ``issuer`` (section 4.3; a trailing slash aside), a device authorization and a token endpoint that pass
    :func:`check_url`.  Anything else: a one-line :class:`RegauthError`."""
    where = f"OpenID discovery at {issuer}"
    if response.status != 200:
        raise RegauthError(f"{where} failed: HTTP {response.status} {response.reason}".rstrip())
    if len(response.body) > _MAX_DOCUMENT:
        raise RegauthError(f"{where}: the document is too large")
    try:
        document = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        raise RegauthError(f"{where}: the answer is not JSON") from None
    if not isinstance(document, dict):
        raise RegauthError(f"{where}: the answer is not a JSON object")
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        raise RegauthError(f"{where}: the document names a different issuer")
    endpoints = []
    for name in ("device_authorization_endpoint", "token_endpoint"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise RegauthError(f"{where}: no {name} (the provider does not offer the device flow)")
        endpoints.append(check_url(name, value, loopback))
    return OidcEndpoints(issuer, endpoints[0], endpoints[1])
