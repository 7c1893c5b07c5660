"""The login state machine as generators (httpx ``auth_flow`` style).  Rule: no I/O here.

A flow yields :class:`~regauth.registry.messages.HttpRequest` objects and receives
:class:`~regauth.registry.messages.HttpResponse` objects through ``send``; its return value
(``StopIteration.value``) is the result.  Redirects, TLS, proxies, the http fallback and DNS are
the transport's job.  Any error ends the generator (fail fast).

Source: docker-behaviour.md §2 "Flow", "Bearer token"; observed.md §3.2, §3.4.  Choices:

* **Bearer is preferred** when a 401 offers both Bearer and Basic (Docker lets Basic overwrite the
  header); a token never carries the password to the registry itself.
* **Plain-HTTP realms.**  Credentials go to an ``http://`` realm only when the endpoint itself is
  ``http://`` and the realm host is the endpoint's host or a loopback literal; otherwise
  :class:`~regauth.TransportError`.  An anonymous token request (nothing secret) may use http.
* **Scope check.**  With ``scopes``, the verify request is
  ``GET /v2/<name>/tags/list`` for the first ``repository:<name>:...`` scope, so the scope is
  really exercised; 200 or 404 (repository unknown, but the credentials passed) count as accepted.
* **A 200 ping** means the registry asks for nothing: the result is ``verified=False``.

Every login runs this module, so it imports no ``enum``, ``re``, ``urllib.parse``, ``types`` or
``collections`` (issue 6: start-up time); states and events are plain constants.
"""

from __future__ import annotations

from regauth._record import field, record
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

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Generator, Mapping, Sequence
    from types import MappingProxyType as _MappingProxy
    from typing import ClassVar
else:
    _MappingProxy = type(type.__dict__)  # types.MappingProxyType, without importing types

__all__ = ["TRANSITIONS", "Event", "LoginResult", "State", "login_flow", "token_flow"]


class _Constant:
    """A named constant with an enum-like ``name``, ``value`` and repr (``<State.PING: 'ping'>``)."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

    def __reduce__(self) -> str:
        return f"{type(self).__name__}.{self.name}"  # pickles by name, like an enum member


class State(_Constant):
    """Where a flow is."""

    __slots__ = ()
    PING: ClassVar[State]  # GET /v2/ without credentials sent
    TOKEN: ClassVar[State]  # token request sent to the Bearer realm
    VERIFY: ClassVar[State]  # GET /v2/ (or tags/list) with credentials sent
    DONE: ClassVar[State]  # result returned
    FAILED: ClassVar[State]  # an error was raised; the generator is finished


class Event(_Constant):
    """What a response meant."""

    __slots__ = ()
    OPEN: ClassVar[Event]  # ping 2xx: no authentication required
    BASIC: ClassVar[Event]  # ping 401 offering Basic (and no Bearer)
    BEARER: ClassVar[Event]  # ping 401 offering Bearer
    TOKEN: ClassVar[Event]  # token server answered with a token
    ACCEPTED: ClassVar[Event]  # credentials accepted by the registry
    ERROR: ClassVar[Event]  # anything else


for _name in ("PING", "TOKEN", "VERIFY", "DONE", "FAILED"):
    setattr(State, _name, State(_name, _name.lower()))
for _name in ("OPEN", "BASIC", "BEARER", "TOKEN", "ACCEPTED", "ERROR"):
    setattr(Event, _name, Event(_name, _name.lower()))
del _name

TRANSITIONS: Mapping[tuple[State, Event], State] = _MappingProxy(
    {
        (State.PING, Event.OPEN): State.DONE,
        (State.PING, Event.BASIC): State.VERIFY,
        (State.PING, Event.BEARER): State.TOKEN,
        (State.TOKEN, Event.TOKEN): State.VERIFY,  # login_flow
        (State.TOKEN, Event.ACCEPTED): State.DONE,  # token_flow: the token is the result
        (State.VERIFY, Event.ACCEPTED): State.DONE,
        **{(state, Event.ERROR): State.FAILED for state in (State.PING, State.TOKEN, State.VERIFY)},
    }
)
"""Every legal (state, event) → next state; anything else is a bug in this module."""


class _Machine:
    """Tracks the state; refuses transitions not in :data:`TRANSITIONS`."""

    __slots__ = ("state",)

    def __init__(self, state: State) -> None:
        self.state = state

    def advance(self, event: Event) -> State:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:  # pragma: no cover - a programming error, not a server's
            raise RuntimeError(f"illegal transition {self.state.value} --{event.value}-->")
        self.state = nxt
        return nxt

    def fail(self) -> None:
        self.state = TRANSITIONS.get((self.state, Event.ERROR), State.FAILED)


@record
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


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_NAME = f"{_COMPONENT}(?:/{_COMPONENT})*"


def _check_endpoint(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
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
        or "@" in parts.netloc
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


def _fetch_token(
    endpoint: str,
    challenge: Challenge,
    creds: Credentials,
    scopes: Sequence[str],
    client_id: str,
) -> Generator[HttpRequest, HttpResponse, Token]:
    request = _token_request(endpoint, challenge, creds, scopes, client_id)
    resp = _receive((yield request))
    return parse_token_response(resp, _secrets(creds))


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
    machine = _Machine(State.PING)
    try:
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
        machine.advance(Event.BEARER)
        token = yield from _fetch_token(endpoint, challenge, creds, scopes, client_id)
        machine.advance(Event.ACCEPTED)
        return token
    except BaseException:
        machine.fail()
        raise


def _verify_url(endpoint: str, scopes: Sequence[str]) -> tuple[str, bool]:
    """The verify URL, and whether it is a repository-scoped check."""
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, _actions = rest.rpartition(":")
        if kind == "repository":
            import re  # rare path (--scope): re costs start-up time

            if re.fullmatch(_REPO_NAME, name):
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
    machine = _Machine(State.PING)
    try:
        challenges = yield from _ping(endpoint)
        if challenges is None:
            machine.advance(Event.OPEN)
            return LoginResult(None, False, None, endpoint)
        challenge = _choose(challenges)
        url, scoped = _verify_url(endpoint, scopes)
        identity: str | None = None
        if challenge.scheme == "bearer":
            machine.advance(Event.BEARER)
            token = yield from token_flow(endpoint, creds, scopes, client_id=client_id, challenge=challenge)
            machine.advance(Event.TOKEN)
            authorization = f"Bearer {token.access_token}"
            identity = token.refresh_token or creds.identity_token or None
        else:
            machine.advance(Event.BASIC)
            if not (creds.username and creds.password):
                raise AuthError("no basic auth credentials")
            authorization = basic_auth_header(creds.username, creds.password)
        resp = _receive((yield HttpRequest("GET", url, (("Authorization", authorization),))))
        accepted = 200 <= resp.status < 300 or (scoped and resp.status == 404)
        if not accepted:
            raise _verify_failed(resp, url, challenge.scheme, creds)
        machine.advance(Event.ACCEPTED)
        return LoginResult(identity, True, challenge.scheme, endpoint)
    except BaseException:
        machine.fail()
        raise
