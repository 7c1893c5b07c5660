"""The OAuth 2.0 device authorization grant (RFC 8628) as sans-I/O generators.  Rule: no I/O here.

Two flows, so that the caller can show the user code between them:

* :func:`device_code_flow` yields the device authorization request and returns a
  :class:`DeviceAuthorization` (RFC 8628 section 3.1-3.2).
* :func:`poll_flow` yields :class:`Wait` (the driver sleeps that long and sends ``None``) and token
  requests (the driver sends the :class:`~regauth.registry.messages.HttpResponse`), and returns
  a :class:`TokenSet` (section 3.4-3.5): ``authorization_pending`` keeps polling,
  ``slow_down`` adds 5 seconds to the interval, ``access_denied`` and ``expired_token`` end it,
  and so does the device code's ``expires_in`` running out.

Like the Docker CLI, the token answer's body is read whatever its status (Auth0 answers
``authorization_pending`` with 403); docs/hub-web-login.md describes Docker Hub's use of it.  The
flows are generic (client id, endpoints, audience, scope) so any OpenID provider's device
endpoint works.  :func:`revoke_request` builds RFC 7009's revocation request and
:func:`unverified_claims` reads a JWT's claims without checking its signature (only to learn a
name to show and store, never to trust it).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from regauth.credentials import redact
from regauth.errors import AuthError, ProtocolError
from regauth.registry.messages import Headers, HttpRequest, HttpResponse, form_encode
from regauth.registry.token import sanitise, status_line

__all__ = [
    "DEVICE_GRANT",
    "DeviceAuthorization",
    "DeviceClient",
    "TokenSet",
    "Wait",
    "device_code_flow",
    "poll_flow",
    "revoke_request",
    "unverified_claims",
]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5: "the interval MUST be increased by 5 seconds"
DEFAULT_INTERVAL = 5  # RFC 8628 section 3.2: when the answer gives none
_FORM = ("Content-Type", "application/x-www-form-urlencoded")


@dataclass(frozen=True, slots=True)
class DeviceClient:
    """A public OAuth client and the endpoints it uses; ``headers`` go on every request."""

    client_id: str
    device_endpoint: str
    token_endpoint: str
    scope: str = "openid offline_access"
    audience: str | None = None
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """The device authorization answer.  repr hides the device code."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class TokenSet:
    """The token answer.  repr hides every token."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    expires_in: int | None
    token_type: str
    scope: str | None

    def __repr__(self) -> str:
        refresh = "None" if self.refresh_token is None else redact(self.refresh_token)
        return (
            f"TokenSet(access_token={redact(self.access_token)}, refresh_token={refresh}, "
            f"expires_in={self.expires_in!r}, token_type={self.token_type!r}, scope={self.scope!r})"
        )


@dataclass(frozen=True, slots=True)
class Wait:
    """Sleep ``seconds``, then send ``None`` back into the flow."""

    seconds: float


def _post(url: str, pairs: list[tuple[str, str]], client: DeviceClient) -> HttpRequest:
    # Go's url.Values.Encode sorts the keys; sorted pairs give the same bytes as Docker's requests.
    body = form_encode(sorted(pairs)).encode("utf-8")
    return HttpRequest("POST", url, (_FORM, *client.headers), body)


def _json_object(resp: HttpResponse) -> dict[str, Any] | None:
    try:
        value = json.loads(resp.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _positive_int(value: object, default: int | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return default
    return int(value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def device_code_flow(client: DeviceClient) -> Generator[HttpRequest, HttpResponse, DeviceAuthorization]:
    """Ask for a device code (RFC 8628 section 3.1).

    Raises:
        ProtocolError: the answer is not 200 with ``device_code``, ``user_code``, a verification
            URI and ``expires_in``.
    """
    pairs = [("client_id", client.client_id), ("scope", client.scope)]
    if client.audience:
        pairs.append(("audience", client.audience))
    resp = yield _post(client.device_endpoint, pairs, client)
    if resp.status != 200:
        raise ProtocolError(f"device authorization request failed: {status_line(resp)}")
    answer = _json_object(resp)
    if answer is None:
        raise ProtocolError("device authorization answer is not a JSON object")
    device_code = _text(answer.get("device_code"))
    user_code = _text(answer.get("user_code"))
    complete = _text(answer.get("verification_uri_complete"))
    uri = _text(answer.get("verification_uri")) or _text(answer.get("verification_url"))
    expires_in = _positive_int(answer.get("expires_in"), None)
    if device_code is None or user_code is None or (uri or complete) is None or expires_in is None:
        raise ProtocolError("device authorization answer lacks device_code, user_code, URI or expires_in")
    interval = _positive_int(answer.get("interval"), DEFAULT_INTERVAL) or DEFAULT_INTERVAL
    return DeviceAuthorization(device_code, user_code, uri or complete or "", complete, expires_in, interval)


def _token_set(answer: dict[str, Any]) -> TokenSet:
    access = _text(answer.get("access_token"))
    if access is None:
        raise ProtocolError("token answer has no access_token")
    return TokenSet(
        access_token=access,
        refresh_token=_text(answer.get("refresh_token")),
        id_token=_text(answer.get("id_token")),
        expires_in=_positive_int(answer.get("expires_in"), None),
        token_type=_text(answer.get("token_type")) or "Bearer",
        scope=_text(answer.get("scope")),
    )


def poll_flow(
    client: DeviceClient,
    authorization: DeviceAuthorization,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[HttpRequest | Wait, HttpResponse | None, TokenSet]:
    """Poll the token endpoint until the user decides (RFC 8628 sections 3.4-3.5).

    ``clock`` measures the device code's lifetime (reading it is not I/O; tests pass their own).

    Raises:
        AuthError: ``access_denied``, ``expired_token``, another OAuth error (its description), or
            the device code's lifetime ran out (``timed out waiting for device token``, as Docker).
        ProtocolError: an answer that is neither an OAuth error nor a token (a 5xx, not JSON).
    """
    deadline = clock() + authorization.expires_in
    interval = authorization.interval
    pairs = [
        ("client_id", client.client_id),
        ("device_code", authorization.device_code),
        ("grant_type", DEVICE_GRANT),
    ]
    secrets = (authorization.device_code,)
    while True:
        if clock() + interval > deadline:
            raise AuthError("timed out waiting for device token", 0, ("timeout",))
        yield Wait(interval)
        resp = yield _post(client.token_endpoint, pairs, client)
        if not isinstance(resp, HttpResponse):
            raise TypeError("poll_flow must be sent an HttpResponse after a request")
        answer = _json_object(resp)
        if answer is None:
            raise ProtocolError(f"token endpoint answered {status_line(resp)} without a JSON object")
        error = answer.get("error")
        if error is None and resp.status == 200:
            return _token_set(answer)
        code = sanitise(str(error), secrets) if error is not None else ""
        if code == "authorization_pending":
            continue
        if code == "slow_down":
            interval += SLOW_DOWN_STEP
            continue
        description = answer.get("error_description")
        detail = sanitise(description, secrets) if isinstance(description, str) and description else ""
        if code == "access_denied":
            raise AuthError(f"access denied: {detail or 'the request was declined'}", resp.status, (code,))
        if code == "expired_token":
            raise AuthError(f"the device code expired: {detail or 'start again'}", resp.status, (code,))
        if code:
            raise AuthError(f"{code}: {detail}" if detail else code, resp.status, (code,))
        raise ProtocolError(f"token endpoint answered {status_line(resp)} without a token")


def revoke_request(endpoint: str, client_id: str, token: str, headers: Headers = ()) -> HttpRequest:
    """RFC 7009 revocation of ``token`` (form ``client_id``, ``token``), as Docker's logout sends it."""
    body = form_encode([("client_id", client_id), ("token", token)]).encode("utf-8")
    return HttpRequest("POST", endpoint, (_FORM, *headers), body)


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, signature not checked.

    Raises:
        ProtocolError: not a JWT with a JSON object payload.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ProtocolError("the access token is not a JWT")
    payload = parts[1]
    try:
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ProtocolError("the access token's claims are not readable") from None
    if not isinstance(value, dict):
        raise ProtocolError("the access token's claims are not a JSON object")
    return value
