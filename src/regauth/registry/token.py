"""Bearer token requests and responses, registry error rendering.  Rule: pure, no I/O.

Source: docker-behaviour.md §2 "Bearer token" (distribution's auth/session.go and client/errors.go,
described there); observed.md §2 "Token endpoint as clients saw it", §3.2, §3.4.

Server-supplied text in any message is stripped of control characters and cut to
:data:`MAX_SERVER_TEXT` characters; known secrets passed in ``secrets=`` are masked; a message never
contains a token or password.

A login goes through here, so this module imports none of ``base64``, ``json``, ``re``,
``urllib.parse`` or ``datetime`` (issue 6: together ~40 ms of every ``regauth login``): their C
halves (``binascii``, ``_json``, ``_datetime``) and plain string methods do the work, and
``json.loads`` is only imported to report a body that is not JSON.
"""

from __future__ import annotations

import binascii

from regauth._record import field, record
from regauth.config.cjson import make_scanner, scan_document
from regauth.credentials import Credentials, redact
from regauth.errors import AuthError, ProtocolError, UsageError
from regauth.registry.challenge import parse_www_authenticate
from regauth.registry.messages import HttpRequest, HttpResponse, SplitUrl, form_encode, split_url

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime
    from typing import Any

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

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# errcode messages of distribution's registry API (the code's default message).
_CODE_MESSAGES = {
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "TOOMANYREQUESTS": "too many requests",
    "UNKNOWN": "unknown error",
}
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOOMANYREQUESTS"}
_BEARER_ERRORS = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}

# The control characters sanitise() replaces, as str.translate tables: to NUL, and deleted.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_CONTROL_TO_NUL = dict.fromkeys(_CONTROLS, 0)
_DROP_CONTROL = dict.fromkeys(_CONTROLS)


class _JsonDefaults:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: the defaults of ``json.loads``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    array_hook = None  # read by Python 3.15+
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan_json = make_scanner(_JsonDefaults)  # type: ignore[arg-type]  # duck-typed like JSONDecoder


@record
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
        from datetime import timedelta

        return (self.issued_at or now) + timedelta(seconds=self.expires_in)


def sanitise(text: str, secrets: Iterable[str] = ()) -> str:
    """Server text fit for a message: secrets masked, control characters gone, length capped."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    if not text.isprintable():  # every control character is unprintable: usually nothing to do
        # each run of control characters becomes one space (runs at the ends are stripped anyway)
        text = " ".join(filter(None, text.translate(_CONTROL_TO_NUL).split("\x00")))
    text = text.strip()
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + "…"
    return text


def status_line(resp: HttpResponse) -> str:
    """``"503 Service Unavailable"``: the status and the (sanitised) reason phrase."""
    reason = sanitise(resp.reason) or _REASONS.get(resp.status, "")
    return f"{resp.status} {reason}".rstrip()


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` value for HTTP Basic (RFC 7617, UTF-8).

    Raises:
        UsageError: the username contains ``:`` (it could not be told apart from the password).
    """
    if ":" in username:
        raise UsageError("a username must not contain ':'")
    raw = f"{username}:{password}".encode()
    return "Basic " + binascii.b2a_base64(raw, newline=False).decode("ascii")


def _has_control(text: str) -> bool:
    return not text.isprintable() and len(text.translate(_DROP_CONTROL)) != len(text)


def _realm_parts(realm: str) -> SplitUrl:
    try:
        parts = split_url(realm)
    except ValueError:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}: not an http(s) URL")
    if _has_control(realm) or " " in realm:
        raise ProtocolError(f"invalid token realm {sanitise(realm)!r}")
    return parts


def _with_query(realm: str, params: list[tuple[str, str]]) -> str:
    """The realm with ``params`` added to its query and its fragment dropped (as ``urlunsplit``)."""
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

    Query keys are sorted like Go's ``url.Values.Encode`` (observed.md §3.2): ``account`` (only with
    username and password), ``client_id``, ``offline_token=true``, ``scope`` (repeated),
    ``service`` (if any).  A realm's own query string is kept, its fragment dropped.

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

    Form keys as Docker sends them (docker-behaviour.md §2): ``client_id``, ``grant_type``,
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


def _rfc3339_fields(value: str) -> tuple[str, ...] | None:
    """``YYYY-MM-DD[Tt ]hh:mm:ss[.f{1,9}](Z|z|±hh:mm)``: (year, month, day, hour, minute, second,
    fraction or "", zone), or None.  Digits are any Unicode decimal digits (like ``\\d``)."""
    if len(value) < 20:
        return None
    for at in (4, 7):
        if value[at] != "-":
            return None
    if value[10] not in "Tt " or value[13] != ":" or value[16] != ":":
        return None
    fields = value[0:4], value[5:7], value[8:10], value[11:13], value[14:16], value[17:19]
    if not all(f.isdecimal() for f in fields):
        return None
    rest = value[19:]
    frac = ""
    if rest[0] == ".":
        digits = 1
        while digits < min(len(rest), 11) and rest[digits].isdecimal():  # 10 digits are too many
            digits += 1
        frac, rest = rest[1:digits], rest[digits:]
        if not 1 <= len(frac) <= 9:
            return None
    if rest in ("Z", "z"):
        return (*fields, frac, rest)
    if len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and (rest[1:3] + rest[4:6]).isdecimal():
        return (*fields, frac, rest)
    return None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = _rfc3339_fields(value)
    if parsed is None:
        return None
    year, month, day, hour, minute, second, frac, zone = parsed
    if TYPE_CHECKING:
        from datetime import datetime, timedelta, timezone
    else:
        try:  # the C types the datetime module re-exports: importing datetime costs start-up time
            from _datetime import datetime, timedelta, timezone
        except ImportError:  # pragma: no cover - an interpreter without the C module
            from datetime import datetime, timedelta, timezone

    try:
        if zone in ("Z", "z"):
            tz = timezone.utc
        else:
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        micro = int((frac or "0").ljust(6, "0")[:6])
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    except ValueError:
        return None


def _expires(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MIN_EXPIRES_IN
    if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
        return MIN_EXPIRES_IN
    seconds = int(min(value, 10**9))
    return max(seconds, MIN_EXPIRES_IN)


def _json_loads(body: bytes) -> Any:
    """``json.loads(body)``: same value, same exceptions (``ValueError``, ``RecursionError``).

    The C scanner ``json`` itself uses, on the UTF-8 text ``json.detect_encoding`` would pick; a
    body that is not JSON, or in UTF-16/32, is handed to ``json.loads`` for its exact answer.
    """
    if body[:1] not in (b"\x00", b"\xef", b"\xfe", b"\xff") and body[1:2] != b"\x00":  # UTF-8
        try:
            value, whole = scan_document(_scan_json, body.decode("utf-8", "surrogatepass"))
        except ValueError:  # json.loads gives the same answer, worded as it words it
            whole = False
        if whole:
            return value
    import json  # rare path: the error message, or a UTF-16/32 body

    return json.loads(body)


def _load_json(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise ProtocolError(f"token response too large ({len(body)} bytes, limit {MAX_BODY})")
    try:
        return _json_loads(body)
    except (ValueError, RecursionError):
        return None


def _code_name(code: str) -> str:
    return code.lower().replace("_", " ")


def registry_errors(body: bytes, secrets: Iterable[str] = ()) -> tuple[str, ...]:
    """The registry API ``errors[]`` of a response body, each rendered ``"<code>: <message>"``.

    Unknown shapes give ``()``; never raises for any body.
    """
    if len(body) > MAX_BODY:
        return ()
    try:
        doc = _json_loads(body)
    except (ValueError, RecursionError):
        return ()
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
    if len(body) > MAX_BODY:
        return ""
    try:
        doc = _json_loads(body)
    except (ValueError, RecursionError):
        return ""
    if isinstance(doc, dict) and isinstance(doc.get("details"), str):
        return sanitise(doc["details"], secrets)
    return ""


def auth_error(resp: HttpResponse, secrets: Iterable[str] = ()) -> AuthError:
    """An :class:`AuthError` for a 4xx answer, rendered like Docker (docker-behaviour.md §2).

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
    if not (value.isascii() and value.isprintable()) or " " in value:  # not all of 0x21-0x7e
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
    doc = _load_json(resp.body)
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
