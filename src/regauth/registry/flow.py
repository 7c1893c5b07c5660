"""The login state machine as generators (httpx ``auth_flow`` style).  Rule: no I/O here.

A flow yields :class:`~regauth.registry.messages.HttpRequest` objects and receives
:class:`~regauth.registry.messages.HttpResponse` objects through ``send``; its return value
(``StopIteration.value``) is the result.  Redirects, TLS, proxies, the http fallback and DNS are
the transport's job.  Any error ends the generator (fail fast).

The states are the generator's own: ping (``GET /v2/`` without credentials), then a token request
to the Bearer realm or nothing (Basic), then the verify request with credentials.  Docker's flow
and what registries answer: docs/registry-auth.md.  Choices:

* **Bearer is preferred** when a 401 offers both Bearer and Basic (Docker lets Basic overwrite the
  header); a token never carries the password to the registry itself.
* **Plain-HTTP realms.**  Credentials go to an ``http://`` realm only when the endpoint itself is
  ``http://`` and the realm host is the endpoint's host or a loopback literal; otherwise
  :class:`~regauth.TransportError`.  An anonymous token request (nothing secret) may use http.
* **Scope check.**  With ``scopes``, the verify request is
  ``GET /v2/<name>/tags/list`` for the first ``repository:<name>:...`` scope, so the scope is
  really exercised; 200 or 404 (repository unknown, but the credentials passed) count as accepted.
* **A 200 ping** means the registry asks for nothing: the result is ``verified=False``.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from regauth.credentials import Credentials, redact
from regauth.errors import AuthError, ProtocolError, TransportError, UsageError
from regauth.registry.address import is_loopback_literal
from regauth.registry.challenge import Challenge, find_challenge, parse_www_authenticate
from regauth.registry.messages import HttpRequest, HttpResponse, split_url
from regauth.registry.token import (
    Token,
    auth_error,
    basic_auth_header,
    parse_token_response,
    registry_errors,
    sanitise,
    status_line,
    token_get_request,
    token_refresh_request,
)

__all__ = ["LoginResult", "login_flow", "token_flow"]


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of :func:`login_flow`.

    ``identity_token`` is the refresh token to store (None: store the password), ``verified``
    False when the registry asked for no credentials, ``scheme`` ``"basic"``/``"bearer"``/None,
    ``endpoint`` the endpoint that was used.  repr hides the token.
    """

    identity_token: str | None = field(repr=False)
    verified: bool
    scheme: str | None
    endpoint: str

    def __repr__(self) -> str:
        token = "None" if self.identity_token is None else redact(self.identity_token)
        return (
            f"LoginResult(identity_token={token}, verified={self.verified}, "
            f"scheme={self.scheme!r}, endpoint={self.endpoint!r})"
        )

    __str__ = __repr__


# A repository name (distribution's reference grammar): lower-case components joined by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_NAME = re.compile(f"{_COMPONENT}(?:/{_COMPONENT})*")


def _check_endpoint(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    if "@" in endpoint:  # user:password@ may be in it: never echoed
        raise UsageError("invalid registry endpoint: credentials in the URL are not supported")
    try:
        parts = split_url(endpoint)
    except ValueError:
        raise UsageError(f"invalid registry endpoint {sanitise(endpoint)!r}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise UsageError(f"invalid registry endpoint {sanitise(endpoint)!r}: want http(s)://host[:port]")
    return endpoint


def _receive(value: object) -> HttpResponse:
    if not isinstance(value, HttpResponse):
        raise TypeError(f"a flow must be sent HttpResponse objects, got {type(value).__name__}")
    return value


def _secrets(creds: Credentials) -> tuple[str, ...]:
    return tuple(s for s in (creds.password, creds.identity_token, creds.registry_token) if s)


def _ping(endpoint: str) -> Generator[HttpRequest, HttpResponse, list[Challenge] | None]:
    """GET <endpoint>/v2/ without credentials: None when open (2xx), else the 401's challenges."""
    url = f"{endpoint}/v2/"
    resp = _receive((yield HttpRequest("GET", url)))
    if 200 <= resp.status < 300:
        return None
    if resp.status == 401:
        challenges = parse_www_authenticate(resp.header_values("WWW-Authenticate"))
        if not challenges:
            raise ProtocolError(f"{url} answered 401 without a usable WWW-Authenticate challenge")
        return challenges
    if resp.status == 404:
        raise ProtocolError(f"no registry API at {url} (404 Not Found)")
    if resp.status >= 500:
        raise ProtocolError(f"received unexpected HTTP status: {status_line(resp)} from {url}")
    raise ProtocolError(f"{url} answered {status_line(resp)} without an authentication challenge")


def _choose(challenges: Sequence[Challenge]) -> Challenge:
    """Bearer if offered, else Basic; else ProtocolError naming what was offered."""
    for scheme in ("bearer", "basic"):
        challenge = find_challenge(challenges, scheme)
        if challenge is not None:
            return challenge
    offered = ", ".join(sorted({sanitise(c.scheme) for c in challenges}))
    raise ProtocolError(f"unsupported authentication scheme(s) offered by the registry: {offered}")


def _token_request(
    endpoint: str,
    challenge: Challenge,
    creds: Credentials,
    scopes: Sequence[str],
    client_id: str,
) -> HttpRequest:
    realm = challenge.realm
    if not realm:
        raise ProtocolError("no realm specified for token auth challenge")
    if creds.identity_token:
        request = token_refresh_request(realm, challenge.service, scopes, creds.identity_token, client_id)
    else:
        request = token_get_request(realm, challenge.service, scopes, creds, client_id)
    # The realm is a valid http(s) URL now (the builders raise ProtocolError otherwise).
    sends_secret = bool(creds.identity_token or (creds.username and creds.password))
    realm_parts = split_url(request.url)
    if realm_parts.scheme.lower() == "http" and sends_secret:
        ep_parts = split_url(endpoint)
        realm_host = (realm_parts.hostname or "").lower()
        same_host = realm_host == (ep_parts.hostname or "").lower()
        if ep_parts.scheme != "http" or not (same_host or is_loopback_literal(realm_host)):
            raise TransportError(
                f"refusing to send credentials to token realm {sanitise(realm)} over plain HTTP"
            )
    return request


def token_flow(
    endpoint: str,
    creds: Credentials,
    scopes: Sequence[str] = (),
    *,
    client_id: str = "docker",
    challenge: Challenge | None = None,
) -> Generator[HttpRequest, HttpResponse, Token]:
    """Get a Bearer token for ``scopes``: ping (unless ``challenge`` is given), then the realm.

    With ``creds.identity_token`` the token is refreshed (POST), else fetched with a GET (HTTP
    Basic when username and password are set, anonymous otherwise).

    Raises:
        AuthError: the token server refused the credentials.
        ProtocolError: no Bearer challenge, no realm, or an unusable answer.
        TransportError: credentials would go to a plain-HTTP realm (see the module docstring).
        UsageError: ``endpoint`` is not ``http(s)://host[:port]``.
    """
    endpoint = _check_endpoint(endpoint)
    if challenge is None:
        challenges = yield from _ping(endpoint)
        if challenges is None:
            raise ProtocolError(f"{endpoint}/v2/ asks for no authentication: no token to get")
        challenge = find_challenge(challenges, "bearer")
        if challenge is None:
            offered = ", ".join(sorted({sanitise(c.scheme) for c in challenges}))
            raise ProtocolError(f"the registry offers no Bearer token auth (offered: {offered})")
    elif challenge.scheme != "bearer":
        raise ProtocolError(f"not a Bearer challenge: {sanitise(challenge.scheme)}")
    request = _token_request(endpoint, challenge, creds, scopes, client_id)
    response = _receive((yield request))
    return parse_token_response(response, _secrets(creds))


def _verify_url(endpoint: str, scopes: Sequence[str]) -> tuple[str, bool]:
    """The verify URL, and whether it is a repository-scoped check."""
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, _actions = rest.rpartition(":")
        if kind == "repository" and _REPOSITORY_NAME.fullmatch(name):
            # a valid name is [a-z0-9._/-] only: nothing to percent-encode in a path
            return f"{endpoint}/v2/{name}/tags/list", True
    return f"{endpoint}/v2/", False


def _verify_failed(resp: HttpResponse, url: str, scheme: str, creds: Credentials) -> Exception:
    secrets = _secrets(creds)
    if resp.status == 401 and scheme == "basic":
        errors = registry_errors(resp.body, secrets)
        only_unauthorized = all(e.startswith("unauthorized:") for e in errors)
        if only_unauthorized:
            return AuthError("unauthorized: incorrect username or password", 401, errors)
        return AuthError("; ".join(errors), 401, errors)
    if resp.status in (401, 403, 429):
        return auth_error(resp, secrets)
    return ProtocolError(f"login attempt to {url} failed with status: {status_line(resp)}")


def login_flow(
    endpoint: str,
    creds: Credentials,
    *,
    scopes: Sequence[str] = (),
    client_id: str = "docker",
) -> Generator[HttpRequest, HttpResponse, LoginResult]:
    """Docker's ``loginV2`` as a generator: ping, Basic or Bearer, verify.

    ``endpoint`` is ``https://host[:port]`` or ``http://host[:port]``.

    Raises:
        AuthError: credentials refused (status and the registry's ``errors[]`` attached), or
            Basic offered but no username and password (``no basic auth credentials``).
        ProtocolError: no registry API, 5xx, unusable challenge or token answer, unknown scheme.
        TransportError: credentials would go to a plain-HTTP token realm.
        UsageError: ``endpoint`` is not ``http(s)://host[:port]``.
    """
    endpoint = _check_endpoint(endpoint)
    challenges = yield from _ping(endpoint)
    if challenges is None:
        return LoginResult(None, False, None, endpoint)
    challenge = _choose(challenges)
    url, scoped = _verify_url(endpoint, scopes)
    identity: str | None = None
    if challenge.scheme == "bearer":
        token = yield from token_flow(endpoint, creds, scopes, client_id=client_id, challenge=challenge)
        authorization = f"Bearer {token.access_token}"
        identity = token.refresh_token or creds.identity_token or None
    else:
        if not (creds.username and creds.password):
            raise AuthError("no basic auth credentials")
        authorization = basic_auth_header(creds.username, creds.password)
    resp = _receive((yield HttpRequest("GET", url, (("Authorization", authorization),))))
    accepted = 200 <= resp.status < 300 or (scoped and resp.status == 404)
    if not accepted:
        raise _verify_failed(resp, url, challenge.scheme, creds)
    return LoginResult(identity, True, challenge.scheme, endpoint)
