"""Device-code login to a registry whose token service trusts an OpenID provider.

The provider's endpoints come from ``ISSUER/.well-known/openid-configuration``; the device flow
(RFC 8628, :mod:`regauth.registry.device`) runs against them; the refresh token it yields is then
an ordinary identity token: :func:`regauth.api.login.login` checks it with the registry (whose
token server exchanges it with ``grant_type=refresh_token``) and stores it (docs/registry-auth.md).

Rule: no printing here; the caller shows the user code through ``show``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from regauth.api.login import LoginOutcome, login, transport_options
from regauth.api.weblogin import poll_tokens
from regauth.errors import ProtocolError, RegauthError
from regauth.registry.address import normalise
from regauth.registry.device import DeviceClient, device_code_flow, unverified_claims
from regauth.registry.oidc import check_url, discovery_request, parse_discovery
from regauth.transport.session import Endpoint, is_loopback_host, open_session, run_flow, send

__all__ = ["DEFAULT_SCOPES", "DeviceCodeShown", "oidc_login"]

PathLike = str | os.PathLike[str]
#: ``offline_access`` asks for the refresh token the registry's token server will exchange.
DEFAULT_SCOPES = ("openid", "offline_access")


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceCodeShown:
    """What the person must see: the code to type and where (``complete`` has the code in it)."""

    user_code: str
    verification_uri: str
    complete: str | None


def _username(id_token: str, fallback: str) -> str:
    """The name the login is listed under: the ID token's ``preferred_username``, ``email`` or
    ``sub`` (read without checking the signature: display only, the registry decides access)."""
    try:
        claims = unverified_claims(id_token) if id_token else {}
    except ProtocolError:
        claims = {}
    for claim in ("preferred_username", "email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return fallback


def oidc_login(
    server: str,
    issuer: str,
    client_id: str,
    *,
    show: Callable[[DeviceCodeShown], None],
    scopes: Sequence[str] = DEFAULT_SCOPES,
    config: PathLike | None = None,
    tls_verify: bool | None = None,
    cert_dir: PathLike | None = None,
    timeout: float = 15.0,
    sleep: Callable[[float], None] | None = None,
) -> LoginOutcome:
    """Run the device flow at ``issuer`` for ``client_id``, then log in to ``server`` with the
    refresh token as identity token.

    The provider is always reached over verified HTTPS (plain HTTP to a loopback issuer only);
    ``tls_verify`` and ``cert_dir`` concern the registry.

    Raises:
        RegauthError: a bad issuer, a failed discovery, the person denied the request or let it
            expire, no refresh token; then whatever :func:`regauth.api.login.login` raises.
    """
    import time

    if not client_id.strip():
        raise RegauthError("--client-id is empty")
    key = normalise(server)
    check_url("issuer", issuer, is_loopback_host)
    parts = urlsplit(issuer)
    host_dir = parts.netloc
    options = dataclasses.replace(transport_options(tls_verify, cert_dir, timeout), cert_dir=None)
    with open_session(Endpoint(f"{parts.scheme}://{host_dir}", True, host_dir), options) as session:
        found = parse_discovery(issuer, send(session, discovery_request(issuer)), is_loopback_host)
        client = DeviceClient(
            client_id, found.device_authorization_endpoint, found.token_endpoint, " ".join(scopes)
        )
        authorization = run_flow(session, device_code_flow(client))
        show(
            DeviceCodeShown(
                authorization.user_code,
                authorization.verification_uri,
                authorization.verification_uri_complete,
            )
        )
        tokens = poll_tokens(session, client, authorization, sleep or time.sleep)
    if not tokens.refresh_token:
        raise RegauthError(
            f"{issuer} issued no refresh token: the registry needs one (request the offline_access scope)"
        )
    username = _username(tokens.id_token or "", client_id)
    return login(
        key,
        username,
        identity_token=tokens.refresh_token,
        config=config,
        tls_verify=tls_verify,
        cert_dir=cert_dir,
        timeout=timeout,
    )
