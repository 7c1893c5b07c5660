"""Docker Hub's web-login tokens: the two storage keys, their secrets, and the revoke request.

Rule: no I/O here (the transport sends :func:`revoke_request`).  Facts: docs/hub-web-login.md.

A web login stores, beside the personal access token under the Hub key, the OAuth access token
under :data:`ACCESS_TOKEN_KEY` and ``REFRESH_TOKEN..CLIENT_ID`` under :data:`REFRESH_TOKEN_KEY`, in
the store the Hub key uses.  These two keys are not registries: nothing lists, exports or sends
them to a registry; they only say that the Hub login came from the web flow, and when its access
token expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from regauth.errors import ProtocolError
from regauth.registry.address import ACCESS_TOKEN_KEY, HUB_TOKEN_KEYS, REFRESH_TOKEN_KEY
from regauth.registry.messages import HttpRequest

__all__ = [
    "ACCESS_TOKEN_KEY",
    "AUTH_WEB_LOGIN",
    "CLIENT_ID",
    "HUB_TOKEN_KEYS",
    "REFRESH_TOKEN_KEY",
    "REVOKE_URL",
    "TENANT_URL",
    "RefreshToken",
    "jwt_claims",
    "jwt_expiry",
    "jwt_username",
    "parse_refresh",
    "refresh_secret",
    "revoke_request",
]

#: The auth kind list and status show for a Hub login made through the web flow.
AUTH_WEB_LOGIN = "personal access token (web login)"
#: Docker's public OAuth client id and tenant (docs/hub-web-login.md, "Exchange").
CLIENT_ID = "L4v0dmlNBpYUjGGab0C2JtgTgXr1Qz4d"
TENANT_URL = "https://login.docker.com"
REVOKE_URL = TENANT_URL + "/oauth/revoke"
_HUB_CLAIM = "https://hub.docker.com"
_SEPARATOR = ".."


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token the CLI stored itself (``TOKEN..CLIENT_ID``); ``token`` never shows in repr."""

    token: str = field(repr=False)
    client_id: str


def parse_refresh(secret: str) -> RefreshToken | None:
    """The refresh token in a stored ``TOKEN..CLIENT_ID`` secret, or None for any other form.

    Docker splits on ``..`` and needs exactly two parts; so does this.
    """
    parts = secret.split(_SEPARATOR)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return RefreshToken(parts[0], parts[1])


def refresh_secret(token: str, client_id: str = CLIENT_ID) -> str:
    """The secret stored under :data:`REFRESH_TOKEN_KEY` for ``token`` (``TOKEN..CLIENT_ID``)."""
    return f"{token}{_SEPARATOR}{client_id}"


def jwt_claims(token: str) -> dict[str, object] | None:
    """The claims of a JWT, read without verifying its signature (None when it is not a JWT).

    Only for display (username, expiry), as Docker reads them: nothing here is trusted.
    """
    from regauth.registry import device  # loaded only when a web login's token is read

    try:
        return device.unverified_claims(token)
    except ProtocolError:
        return None


def jwt_expiry(token: str) -> datetime | None:
    """The access token's ``exp`` claim as an aware UTC datetime (None if absent or unusable)."""
    claims = jwt_claims(token)
    exp = claims.get("exp") if claims is not None else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(exp, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def jwt_username(token: str) -> str:
    """The Hub username in the access token (``"https://hub.docker.com": {"username": ...}``), or ""."""
    claims = jwt_claims(token)
    hub = claims.get(_HUB_CLAIM) if claims is not None else None
    name = hub.get("username") if isinstance(hub, dict) else None
    return name if isinstance(name, str) else ""


def revoke_request(refresh: RefreshToken, url: str = REVOKE_URL) -> HttpRequest:
    """Docker's revoke: ``POST /oauth/revoke`` with form ``client_id``, ``token`` (in that order)."""
    from regauth.registry import device  # loaded only when a refresh token is revoked

    return device.revoke_request(url, refresh.client_id, refresh.token)
