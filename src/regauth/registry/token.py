"""Bearer token requests and responses, registry error rendering.  Rule: pure, no I/O.

How Docker (distribution's ``registry/client/auth/session.go`` and ``registry/client/errors.go``)
asks for tokens and renders errors, and what token servers answer: docs/registry-auth.md.

Server-supplied text in any message is stripped of control characters and cut to
:data:`MAX_SERVER_TEXT` characters; known secrets passed in ``secrets=`` are masked; a message never
contains a token or password.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus

from regauth.credentials import Credentials, redact
from regauth.errors import AuthError, ProtocolError, UsageError
from regauth.registry.challenge import parse_www_authenticate
from regauth.registry.messages import HttpRequest, HttpResponse, SplitUrl, form_encode, split_url
from regauth.timestamps import parse_rfc3339

__all__ = [
    "MAX_BODY",
    "MAX_SERVER_TEXT",
    "MIN_EXPIRES_IN",
    "Token",
    "auth_error",
    "basic_auth_header",
    "parse_token_response",
    "registry_errors",
    "sanitise",
    "status_line",
    "token_get_request",
    "token_refresh_request",
]

MAX_BODY = 1 << 20
"""Largest token response body regauth reads (bytes); larger is a ProtocolError."""
MAX_SERVER_TEXT = 200
"""Longest piece of server-supplied text quoted in an error message."""
MIN_EXPIRES_IN = 60
"""Docker's floor for ``expires_in`` (seconds)."""

# errcode messages of distribution's registry API (the code's default message).
_CODE_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "TOOMANYREQUESTS": "too many requests",
    "UNKNOWN": "unknown error",
}
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOOMANYREQUESTS"}
_BEARER_ERRORS = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # C0, DEL, C1, line/paragraph separators
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what may follow "Bearer " in an Authorization header


@dataclass(frozen=True, slots=True)
class Token:
    """A token server's answer.  ``access_token`` and ``refresh_token`` never appear in repr."""

    access_token: str = field(repr=False)
    expires_in: int = MIN_EXPIRES_IN
    issued_at: datetime | None = None
    refresh_token: str = field(default="", repr=False)
    scope: str = ""

    def __repr__(self) -> str:
        return (
            f"Token(access_token={redact(self.access_token)}, expires_in={self.expires_in}, "
            f"issued_at={self.issued_at!r}, refresh_token={redact(self.refresh_token)}, "
            f"scope={self.scope!r})"
        )

    __str__ = __repr__

    def expires_at(self, now: datetime) -> datetime:
        """When the access token expires: ``issued_at`` (or ``now``) + ``expires_in``."""
        return (self.issued_at or now) + timedelta(seconds=self.expires_in)


def sanitise(text: str, secrets: Iterable[str] = ()) -> str:
    """Server text fit for a message: secrets masked, control characters gone, length capped."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _CONTROLS.sub(" ", text).strip()
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + "…"
    return text


def status_line(resp: HttpResponse) -> str:
    """``"503 Service Unavailable"``: the status and the (sanitised) reason phrase."""
    return f"{resp.status} {sanitise(resp.reason) or _phrase(resp.status)}".rstrip()


def _phrase(status: int) -> str:
    """The standard reason phrase of ``status`` ("Service Unavailable"), or ``""``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` value for HTTP Basic (RFC 7617, UTF-8).

    Raises:
        UsageError: the username contains ``:`` (it could not be told apart from the password).
    """
    if ":" in username:
        raise UsageError("a username must not contain ':'")
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _realm_parts(realm: str) -> SplitUrl:
    try:
        parts = split_url(realm)
    except ValueError:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}: not an http(s) URL")
    if _CONTROLS.search(realm) or " " in realm:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}")
    return parts


def _with_query(realm: str, params: list[tuple[str, str]]) -> str:
    """The realm with ``params`` appended to its query, its fragment dropped."""
    parts = _realm_parts(realm)
    query = form_encode(params)
    if parts.query:
        query = f"{parts.query}&{query}" if query else parts.query
    # the realm has a scheme and a host, so its path is empty or starts with "/"
    url = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return f"{url}?{query}" if query else url


def token_get_request(
    realm: str,
    service: str,
    scopes: Sequence[str],
    creds: Credentials,
    client_id: str = "docker",
    offline: bool = True,
) -> HttpRequest:
    """``GET realm?...`` for a token, with HTTP Basic when ``creds`` has a username and password.

    Query keys in the order of Go's ``url.Values.Encode``, which sorts them (docs/registry-auth.md):
    ``account`` (only with username and password), ``client_id``, ``offline_token=true``, ``scope``
    (repeated), ``service`` (if any).  A realm's own query string is kept, its fragment dropped.

    Raises:
        ProtocolError: the realm is not an http(s) URL.
    """
    with_basic = bool(creds.username and creds.password)
    params: list[tuple[str, str]] = []
    if with_basic:
        params.append(("account", creds.username))
    params.append(("client_id", client_id))
    if offline:
        params.append(("offline_token", "true"))
    params.extend(("scope", scope) for scope in scopes)
    if service:
        params.append(("service", service))
    headers: tuple[tuple[str, str], ...] = ()
    if with_basic:
        headers = (("Authorization", basic_auth_header(creds.username, creds.password)),)
    return HttpRequest("GET", _with_query(realm, params), headers)


def token_refresh_request(
    realm: str,
    service: str,
    scopes: Sequence[str],
    refresh_token: str,
    client_id: str = "docker",
) -> HttpRequest:
    """``POST realm`` with an OAuth2 ``refresh_token`` grant (form body, Content-Length framed).

    Form keys as Docker sends them (docs/registry-auth.md): ``client_id``, ``grant_type``,
    ``refresh_token``, ``scope`` (space-joined, may be empty), ``service``.

    Raises:
        ProtocolError: the realm is not an http(s) URL.
    """
    form = [
        ("client_id", client_id),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("scope", " ".join(scopes)),
        ("service", service),
    ]
    url = _with_query(realm, [])
    headers = (("Content-Type", "application/x-www-form-urlencoded"),)
    return HttpRequest("POST", url, headers, form_encode(form).encode("ascii"))


def _parse_time(value: object) -> datetime | None:
    """An RFC 3339 ``issued_at`` as an aware datetime, else None."""
    return parse_rfc3339(value) if isinstance(value, str) else None


def _expires(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MIN_EXPIRES_IN
    if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
        return MIN_EXPIRES_IN
    seconds = int(min(value, 10**9))
    return max(seconds, MIN_EXPIRES_IN)


def _json_document(body: bytes) -> object:
    """The JSON value of ``body`` (UTF-8, -16 or -32, as ``json.loads`` detects), or None when it
    is larger than :data:`MAX_BODY` or not JSON."""
    if len(body) > MAX_BODY:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the C stack allows
        return None


def _code_name(code: str) -> str:
    return code.lower().replace("_", " ")


def registry_errors(body: bytes, secrets: Iterable[str] = ()) -> tuple[str, ...]:
    """The registry API ``errors[]`` of a response body, each rendered ``"<code>: <message>"``.

    Unknown shapes give ``()``; never raises for any body.
    """
    doc = _json_document(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return ()
    secrets = tuple(secrets)
    out: list[str] = []
    for item in doc["errors"][:16]:
        if not isinstance(item, dict):
            continue
        code = item.get("code")
        code = code if isinstance(code, str) and code else "UNKNOWN"
        message = item.get("message")
        if not isinstance(message, str) or not message:
            message = _CODE_MESSAGES.get(code.upper(), "unknown error")
        out.append(f"{sanitise(_code_name(code), secrets)}: {sanitise(message, secrets)}")
    return tuple(out)


def _details(body: bytes, secrets: Iterable[str]) -> str:
    doc = _json_document(body)
    if isinstance(doc, dict) and isinstance(doc.get("details"), str):
        return sanitise(doc["details"], secrets)
    return ""


def auth_error(resp: HttpResponse, secrets: Iterable[str] = ()) -> AuthError:
    """An :class:`AuthError` for a 4xx answer, rendered like Docker (docs/registry-auth.md).

    Order: the Bearer challenge's ``error=`` (``invalid_token`` → ``unauthorized``,
    ``insufficient_scope`` → ``denied``, message = ``error_description`` or the code's default);
    else a JSON ``{"details": ...}`` (code by status: 401 unauthorized, 403 denied,
    429 toomanyrequests, else unknown); else ``errors[]`` joined with ``"; "``; else by status.
    """
    secrets = tuple(secrets)
    errors = registry_errors(resp.body, secrets)
    code_by_status = _STATUS_CODES.get(resp.status, "UNKNOWN")
    for challenge in parse_www_authenticate(resp.header_values("WWW-Authenticate")):
        code = _BEARER_ERRORS.get(challenge.params.get("error", ""))
        if challenge.scheme != "bearer" or code is None:
            continue
        text = challenge.params.get("error_description") or _CODE_MESSAGES[code]
        first = f"{_code_name(code)}: {sanitise(text, secrets)}"
        rendered = (first, *[e for e in errors if e != first])
        return AuthError("; ".join(rendered), resp.status, rendered)
    details = _details(resp.body, secrets)
    if details:
        message = f"{_code_name(code_by_status)}: {details}"
        return AuthError(message, resp.status, (message,))
    if errors:
        return AuthError("; ".join(errors), resp.status, errors)
    if code_by_status == "UNKNOWN":
        message = f"unknown: unexpected status {status_line(resp)}"
    else:
        message = f"{_code_name(code_by_status)}: {_CODE_MESSAGES[code_by_status]}"
    return AuthError(message, resp.status, (message,))


def _valid_token(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    if _TOKEN.fullmatch(value) is None:
        raise ProtocolError("authorization server returned a malformed token")
    return value


def parse_token_response(resp: HttpResponse, secrets: Iterable[str] = ()) -> Token:
    """The :class:`Token` of a token server's response.

    Raises:
        AuthError: a 4xx answer (see :func:`auth_error`).
        ProtocolError: a 5xx or other non-2xx answer, a body that is not a JSON object (or larger
            than :data:`MAX_BODY`), no ``access_token``/``token``, or a token that cannot be
            sent in an HTTP header.
    """
    if 400 <= resp.status < 500:
        raise auth_error(resp, secrets)
    if not 200 <= resp.status < 300:
        raise ProtocolError(f"received unexpected HTTP status: {status_line(resp)}")
    if len(resp.body) > MAX_BODY:
        raise ProtocolError(f"token response too large ({len(resp.body)} bytes, limit {MAX_BODY})")
    doc = _json_document(resp.body)
    if not isinstance(doc, dict):
        raise ProtocolError("authorization server sent a response that is not a JSON object")
    access = _valid_token(doc.get("access_token")) or _valid_token(doc.get("token"))
    if not access:
        raise ProtocolError("authorization server did not include a token in the response")
    refresh = doc.get("refresh_token")
    scope = doc.get("scope")
    return Token(
        access_token=access,
        expires_in=_expires(doc.get("expires_in")),
        issued_at=_parse_time(doc.get("issued_at")),
        refresh_token=refresh if isinstance(refresh, str) else "",
        scope=sanitise(scope) if isinstance(scope, str) else "",
    )
