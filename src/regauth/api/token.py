"""The library's ``token``: a registry bearer token from the stored credentials.  Rule: no printing.

The registry is pinged once per endpoint (the transport's TLS and insecure-registry policy apply),
then :func:`~regauth.registry.flow.token_flow` runs with the challenge it answered: an identity token is
refreshed (OAuth2 ``refresh_token`` grant), a username and password fetch a token with HTTP Basic.
A registry that offers only Basic has no token to give: :class:`NoTokenAuthError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone

from regauth.api.login import transport_options
from regauth.api.lookup import get_credentials
from regauth.credentials import Credentials
from regauth.errors import AuthError, ProtocolError, RegauthError, UsageError
from regauth.registry.address import normalise
from regauth.registry.challenge import find_challenge, parse_www_authenticate
from regauth.registry.flow import token_flow
from regauth.registry.messages import HttpRequest
from regauth.registry.token import Token, sanitise

__all__ = ["DEFAULT_CLIENT_ID", "NoTokenAuthError", "check_scope", "token"]

PathLike = str | os.PathLike[str]

DEFAULT_CLIENT_ID = "regauth"
"""The ``client_id`` regauth sends to token servers."""

_SCOPE = re.compile(r"[a-z0-9_-]+(?:\([a-z0-9_-]+\))?:[^\s:][^\s]*:[a-z*]+(?:,[a-z*]+)*")


class NoTokenAuthError(ProtocolError):
    """The registry authenticates with HTTP Basic (or nothing): no bearer token exists for it.

    ``schemes`` lists the schemes the registry offered (empty when it asks for no credentials).
    """

    def __init__(self, message: str, schemes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.schemes = schemes


def check_scope(scope: str) -> str:
    """``scope`` if it looks like ``type:name:action[,action]`` (e.g. ``repository:a/b:pull,push``).

    Raises:
        UsageError: anything else.
    """
    if not _SCOPE.fullmatch(scope):
        raise UsageError(
            f"invalid scope {sanitise(scope)!r}: want TYPE:NAME:ACTIONS, e.g. repository:NAME:pull,push"
        )
    return scope


def token(
    server: str | None,
    scopes: Sequence[str] = (),
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
    credentials: Credentials | None = None,
    anonymous: bool = False,
    tls_verify: bool | None = None,
    cert_dir: PathLike | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    timeout: float = 15.0,
) -> Token:
    """A bearer token for ``scopes`` on ``server``, obtained with its stored credentials.

    The credentials are those :func:`~regauth.api.lookup.get_credentials` finds (same sources, same
    order; ``authfile`` as there).  ``credentials`` replaces the stored ones; ``anonymous=True`` asks
    for an anonymous token when nothing is stored.  The returned token always has ``issued_at`` (the
    server's, else now).  The identity token is used but never replaced in the store (like Docker).

    Raises:
        UsageError: a malformed scope or server address.
        AuthError: nothing stored (and not ``anonymous``), or the token server refused.
        NoTokenAuthError: the registry offers no Bearer auth (Basic only, or none at all).
        ProtocolError / TransportError: the registry or token server could not be used.
    """
    from regauth.transport.session import (  # ssl and socket: only when connecting
        Session,
        run_flow,
        send,
        try_endpoints,
    )

    key = normalise(server)
    for scope in scopes:
        check_scope(scope)
    creds = credentials
    if creds is None:
        creds = get_credentials(key, config=config, authfile=authfile)
    if creds is None or creds.is_empty:
        if not anonymous:
            raise AuthError(f"not logged in to {key}: run 'regauth login {key}' first")
        creds = Credentials(server=key)
    options = transport_options(tls_verify, cert_dir, timeout)

    def attempt(session: Session) -> Token:
        url = session.endpoint.url
        ping = send(session, HttpRequest("GET", f"{url}/v2/"), options)
        challenges = (
            parse_www_authenticate(ping.header_values("WWW-Authenticate")) if ping.status == 401 else []
        )
        bearer = find_challenge(challenges, "bearer")
        if bearer is None:
            raise _no_token(key, ping.status, tuple(c.scheme for c in challenges))
        return run_flow(
            session, token_flow(url, creds, scopes, client_id=client_id, challenge=bearer), options
        )

    got = try_endpoints(key, options, attempt)  # plain HTTP only after a server that speaks no TLS
    if got.issued_at is None:
        got = replace(got, issued_at=datetime.now(timezone.utc))
    return got


def _no_token(key: str, status: int, schemes: tuple[str, ...]) -> RegauthError:
    if status == 200:
        return NoTokenAuthError(
            f"{key} asks for no authentication: there is no bearer token to get "
            "(send requests without an Authorization header)"
        )
    if "basic" in schemes:
        return NoTokenAuthError(
            f"{key} uses HTTP Basic authentication, not bearer tokens: no token exists. "
            "Send the stored username and password with Basic instead (e.g. curl -u USER)",
            schemes,
        )
    if status != 401:
        return ProtocolError(f"{key}: GET /v2/ answered {status} without an authentication challenge")
    offered = ", ".join(sorted({sanitise(s) for s in schemes})) or "none"
    return NoTokenAuthError(
        f"{key} offers no bearer token authentication (offered: {offered})", schemes
    )
