"""Tests of regauth.registry.token: token requests, token responses, registry error rendering (pure)."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauth.credentials import Credentials
from regauth.errors import AuthError, ProtocolError, RegauthError, UsageError
from regauth.registry.messages import HttpResponse
from regauth.registry.token import (
    MAX_BODY,
    Token,
    auth_error,
    basic_auth_header,
    parse_token_response,
    registry_errors,
    sanitise,
    token_get_request,
    token_refresh_request,
)

REALM = "https://127.0.0.1:5001/token"
CREDS = Credentials(username="testuser", password="testpassword")


def resp(status: int, body: object = b"", headers: tuple[tuple[str, str], ...] = ()) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, REALM, headers, raw)


# --- requests ---------------------------------------------------------------------------------


def test_get_request_matches_docker_wire() -> None:
    """docs/registry-auth.md: GET <realm>?account=U&client_id=docker&offline_token=true&service=S, Basic."""
    req = token_get_request(REALM, "reg", [], CREDS)
    assert req.method == "GET"
    assert req.url == REALM + "?account=testuser&client_id=docker&offline_token=true&service=reg"
    assert req.header("Authorization") == "Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk"
    assert "testpassword" not in repr(req)


def test_get_request_scopes_and_existing_query() -> None:
    """docs/registry-auth.md: repeated scope=; a realm with a query string keeps it."""
    req = token_get_request(
        "https://auth.example/token?x=1#frag",
        "",
        ["repository:a/b:pull", "repository:c:pull,push"],
        CREDS,
        client_id="regauth",
        offline=False,
    )
    parts = urlsplit(req.url)
    assert parts.fragment == ""
    assert parse_qsl(parts.query) == [
        ("x", "1"),
        ("account", "testuser"),
        ("client_id", "regauth"),
        ("scope", "repository:a/b:pull"),
        ("scope", "repository:c:pull,push"),
    ]


@pytest.mark.parametrize("creds", [Credentials(), Credentials(username="u"), Credentials(password="p")])
def test_get_request_without_full_credentials_is_anonymous(creds: Credentials) -> None:
    """docs/registry-auth.md: account and Basic only if username and password are non-empty."""
    req = token_get_request(REALM, "reg", [], creds)
    assert req.header("Authorization") is None
    assert "account" not in parse_qs(urlsplit(req.url).query)


def test_refresh_request_form() -> None:
    """docs/registry-auth.md: POST form grant_type=refresh_token, scope space-joined, client_id."""
    req = token_refresh_request(REALM, "reg", ["repository:a:pull", "repository:b:push"], "RT-1")
    assert req.method == "POST" and req.url == REALM
    assert req.header("Content-Type") == "application/x-www-form-urlencoded"
    assert parse_qsl(req.body.decode(), keep_blank_values=True) == [
        ("client_id", "docker"),
        ("grant_type", "refresh_token"),
        ("refresh_token", "RT-1"),
        ("scope", "repository:a:pull repository:b:push"),
        ("service", "reg"),
    ]
    assert "RT-1" not in repr(req)


def test_refresh_request_empty_scope_is_sent() -> None:
    """Docker sends scope= even when empty (login sends no scope)."""
    req = token_refresh_request(REALM, "reg", [], "RT")
    assert ("scope", "") in parse_qsl(req.body.decode(), keep_blank_values=True)


@pytest.mark.parametrize(
    "realm",
    ["", "token", "ftp://x/token", "https://", "https://host:99999/t", "https://h/a b", "http://h/\n"],
)
def test_bad_realm(realm: str) -> None:
    """A realm that is not an http(s) URL is a ProtocolError."""
    with pytest.raises(ProtocolError):
        token_get_request(realm, "", [], CREDS)
    with pytest.raises(ProtocolError):
        token_refresh_request(realm, "", [], "RT")


def test_basic_auth_header() -> None:
    """base64("testuser:testpassword"); UTF-8; ':' in a username refused."""
    assert basic_auth_header("testuser", "testpassword") == "Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk"
    for user, password in (("zoë", "pä:ss"), ("", ""), ("\U0001f600", "x" * 1000)):
        value = basic_auth_header(user, password)
        assert base64.b64decode(value.split()[1], validate=True).decode() == f"{user}:{password}"
    with pytest.raises(UsageError) as info:
        basic_auth_header("a:b", "secret-pw")
    assert "secret-pw" not in str(info.value)


@pytest.mark.parametrize(
    ("realm", "url"),
    [
        (
            "https://auth.example/token?x=1#frag",
            "https://auth.example/token?x=1&client_id=docker&scope=repository%3Aa%2Fb%3Apull",
        ),
        (
            "https://auth.example/token?",
            "https://auth.example/token?client_id=docker&scope=repository%3Aa%2Fb%3Apull",
        ),
        ("https://auth.example", "https://auth.example?client_id=docker&scope=repository%3Aa%2Fb%3Apull"),
        ("HTTPS://Auth.Example/t", "https://Auth.Example/t?client_id=docker&scope=repository%3Aa%2Fb%3Apull"),
        (
            "https://[::1]:5001/token",
            "https://[::1]:5001/token?client_id=docker&scope=repository%3Aa%2Fb%3Apull",
        ),
    ],
)
def test_token_url_exact(realm: str, url: str) -> None:
    """The token URL: scheme lower-cased, host as given, the realm's query kept, its fragment dropped;
    values escaped as Go's url.QueryEscape escapes them."""
    assert token_get_request(realm, "", ["repository:a/b:pull"], Credentials(), offline=False).url == url


def test_form_encoding_exact() -> None:
    """Form values: UTF-8, space as '+', everything but [A-Za-z0-9_.~-] percent-escaped (as Go)."""
    req = token_refresh_request(REALM, "reg é", ["repository:a b:pull,push"], "R+T/=&~")
    assert req.body == (
        b"client_id=docker&grant_type=refresh_token&refresh_token=R%2BT%2F%3D%26~"
        b"&scope=repository%3Aa+b%3Apull%2Cpush&service=reg+%C3%A9"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  \x1b[31mred\x1b[0m \r\n tail \u2028", "[31mred [0m   tail"),  # each control run -> one space
        ("\x00\x00", ""),
        ("a\x85b\u200bc\xa0d", "a b\u200bc\xa0d"),  # C1 controls go; other invisible characters stay
        ("x" * 205, "x" * 200 + "…"),
    ],
)
def test_sanitise(text: str, expected: str) -> None:
    """Server text: runs of control characters become one space, the ends stripped, length capped."""
    assert sanitise(text) == expected


def test_sanitise_masks_secrets() -> None:
    """Secrets of four characters or more are masked; shorter ones would mask ordinary words."""
    assert sanitise("my secret is hunter22, abc", ["hunter22", "abc", ""]) == "my secret is ***, abc"


# --- responses ----------------------------------------------------------------------------------


def test_access_token_wins_over_token() -> None:
    """docs/registry-auth.md: access_token wins over token; refresh_token kept; issued_at parsed."""
    token = parse_token_response(
        resp(
            200,
            {
                "token": "T1",
                "access_token": "A1",
                "expires_in": 300,
                "issued_at": "2024-01-02T03:04:05.123456789Z",
                "refresh_token": "R1",
                "scope": "repository:a:pull",
            },
        )
    )
    assert token.access_token == "A1"
    assert token.refresh_token == "R1"
    assert token.expires_in == 300
    assert token.issued_at == datetime(2024, 1, 2, 3, 4, 5, 123456, timezone.utc)
    assert token.scope == "repository:a:pull"
    assert "A1" not in repr(token) and "R1" not in repr(token)
    assert token.expires_at(datetime.now(timezone.utc)) == token.issued_at + timedelta(seconds=300)


def test_token_only_and_defaults() -> None:
    """docs/registry-auth.md: a reply with only `token`; expires_in < 60 → 60; no issued_at → None."""
    token = parse_token_response(resp(200, {"token": "T1", "expires_in": 5}))
    assert token == Token("T1", 60, None, "", "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=timezone.utc)),
        ("2024-01-02t03:04:05z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2024-01-02 03:04:05.5-00:30", datetime(2024, 1, 2, 3, 34, 5, 500000, tzinfo=timezone.utc)),
        ("2024-01-02T03:04:05.123456789+23:59", datetime(2024, 1, 1, 3, 5, 5, 123456, tzinfo=timezone.utc)),
        ("2024-01-02T03:04:05.1Z", datetime(2024, 1, 2, 3, 4, 5, 100000, tzinfo=timezone.utc)),
        ("2024-13-02T03:04:05Z", None),
        ("2024-02-30T00:00:00Z", None),
        ("2024-01-02T24:00:00Z", None),
        ("2024-01-02T03:04:05+24:00", None),
        ("2024-01-02T03:04:05+2:00", None),
        ("2024-01-02T03:04:05", None),  # no zone: not RFC 3339
        ("2024-01-02T03:04:05.Z", None),
        ("2024-01-02T03:04:05.1234567890Z", None),  # ten fraction digits
        ("\u0662\u0660\u0662\u0664-01-02T03:04:05Z", None),  # RFC 3339 digits are ASCII
        ("2024-01-02T03:04:05Z ", None),
        ("yesterday", None),
        (12345, None),
    ],
)
def test_issued_at(value: object, expected: datetime | None) -> None:
    """RFC 3339 issued_at (any offset, up to nine fraction digits); anything else is None (the caller
    uses now).  Python 3.10's fromisoformat takes neither Z nor nine digits: this runs there too."""
    issued_at = parse_token_response(resp(200, {"token": "T", "issued_at": value})).issued_at
    assert issued_at == expected
    if expected is not None:
        assert issued_at is not None and issued_at.utcoffset() is not None


def test_issued_at_with_a_huge_fraction_is_cheap() -> None:
    """A 100,000-digit fraction is refused at once (the pattern bounds the fraction)."""
    value = "2024-01-02T03:04:05." + "1" * 100_000 + "Z"
    start = time.perf_counter()
    token = parse_token_response(resp(200, {"token": "T", "issued_at": value}))
    assert token.issued_at is None
    assert time.perf_counter() - start < 0.5


@given(st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7, minutes=-30))])))
def test_issued_at_round_trips_isoformat(moment: datetime) -> None:
    """Property: what Python's isoformat writes (with an offset) reads back as the same moment."""
    issued_at = parse_token_response(resp(200, {"token": "T", "issued_at": moment.isoformat()})).issued_at
    assert issued_at == moment


@pytest.mark.parametrize("value", ["300", None, True, -5, float("nan"), 1e300, [1]])
def test_odd_expires_in(value: object) -> None:
    """expires_in that is not a sane number falls back to the floor or is capped."""
    raw = json.dumps({"token": "T", "expires_in": value}).encode()
    token = parse_token_response(resp(200, raw))
    assert 60 <= token.expires_in <= 10**9


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": ""},
        {"access_token": None, "token": 5},
        {"refresh_token": "R"},
    ],
)
def test_missing_token(body: object) -> None:
    """docs/registry-auth.md: no token → Docker's message."""
    with pytest.raises(ProtocolError, match="authorization server did not include a token"):
        parse_token_response(resp(200, body))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1,2]",
        b'"token"',
        b"\xff\xfe\x00",
        b"[" * 100_000,
        b"{" * 10,
        b'{"token": "T"} x',
        b'{"token": "T"}{}',
        b'{"token": "\x01"}',
        b'{"token" 1}',
        b"\xff",
        b"NaN",
    ],
)
def test_garbage_body(body: bytes) -> None:
    """A body that is not a JSON object is a ProtocolError."""
    with pytest.raises(ProtocolError):
        parse_token_response(resp(200, body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"token": "T"} ',
        b'\xef\xbb\xbf{"token": "T"}',
        '{"token": "T"}'.encode("utf-16"),
        '{"token": "T"}'.encode("utf-32-le"),
        b'{"token": "X", "token": "T"}',
        b'{"token": "\\u0054"}',
    ],
)
def test_body_encodings(body: bytes) -> None:
    """A JSON body in UTF-8 (BOM or not), UTF-16 or UTF-32 is read; a repeated key: the last wins."""
    assert parse_token_response(resp(200, body)).access_token == "T"


def test_huge_body_refused() -> None:
    """Bodies over MAX_BODY (1 MiB) are refused before parsing."""
    body = json.dumps({"token": "T", "pad": "x" * MAX_BODY}).encode()
    with pytest.raises(ProtocolError, match="too large"):
        parse_token_response(resp(200, body))


def test_token_fit_for_a_header() -> None:
    """Any printable ASCII but space (0x21-0x7e) may be a token."""
    token = "".join(chr(c) for c in range(0x21, 0x7F))
    assert parse_token_response(resp(200, {"token": token})).access_token == token


@pytest.mark.parametrize("token", ["a b", "a\r\nX: y", "tök", "\x00", "\x7f", "a\tb"])
def test_token_unfit_for_a_header(token: str) -> None:
    """A token that would break the Authorization header is refused, without quoting it."""
    with pytest.raises(ProtocolError) as info:
        parse_token_response(resp(200, {"access_token": token}))
    assert token not in str(info.value)


# --- errors ------------------------------------------------------------------------------------


def test_details_body_401() -> None:
    """docs/registry-auth.md: 401 {"details": ...} → `unauthorized: incorrect username or password`."""
    with pytest.raises(AuthError) as info:
        parse_token_response(resp(401, {"details": "incorrect username or password"}))
    assert str(info.value) == "unauthorized: incorrect username or password"
    assert info.value.status == 401


def test_errors_body() -> None:
    """docs/registry-auth.md: errors[] rendered `<code>: <message>`, joined with '; '."""
    body = {
        "errors": [
            {"code": "DENIED", "message": "no push for you", "detail": None},
            {"code": "NAME_UNKNOWN", "message": "", "detail": {"x": 1}},
        ]
    }
    with pytest.raises(AuthError) as info:
        parse_token_response(resp(403, body))
    assert str(info.value) == "denied: no push for you; name unknown: unknown error"
    assert info.value.errors == ("denied: no push for you", "name unknown: unknown error")


@pytest.mark.parametrize(
    ("error", "description", "expected"),
    [
        ("invalid_token", "", "unauthorized: authentication required"),
        ("insufficient_scope", "", "denied: requested access to the resource is denied"),
        ("invalid_token", "token expired", "unauthorized: token expired"),
    ],
)
def test_bearer_error_in_challenge(error: str, description: str, expected: str) -> None:
    """docs/registry-auth.md: a Bearer challenge's error= decides first."""
    header = f'Bearer realm="r",error="{error}"'
    if description:
        header += f',error_description="{description}"'
    response = resp(401, {"details": "ignored"}, (("WWW-Authenticate", header),))
    with pytest.raises(AuthError) as info:
        parse_token_response(response)
    assert str(info.value) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "unauthorized: authentication required"),
        (403, "denied: requested access to the resource is denied"),
        (429, "toomanyrequests: too many requests"),
        (418, "unknown: unexpected status 418 I'm a Teapot"),
        (499, "unknown: unexpected status 499"),
        (400, "unknown: unexpected status 400 Bad Request"),
    ],
)
def test_error_by_status(status: int, expected: str) -> None:
    """docs/registry-auth.md: without challenge error or JSON, the status decides."""
    with pytest.raises(AuthError) as info:
        parse_token_response(resp(status, b"<html>nope</html>"))
    assert str(info.value) == expected
    assert info.value.status == status


def test_5xx() -> None:
    """docs/registry-auth.md: 5xx → `received unexpected HTTP status: <status>`."""
    with pytest.raises(ProtocolError) as info:
        parse_token_response(HttpResponse(503, REALM, (), b"", "Service Unavailable"))
    assert str(info.value) == "received unexpected HTTP status: 503 Service Unavailable"
    with pytest.raises(ProtocolError, match="500 Internal Server Error"):
        parse_token_response(HttpResponse(500, REALM))


def test_redirect_not_followed_is_protocol_error() -> None:
    """Redirects are the transport's job; a 3xx reaching the parser is unexpected."""
    with pytest.raises(ProtocolError, match="302"):
        parse_token_response(HttpResponse(302, REALM))


def test_server_text_sanitised_and_secrets_masked() -> None:
    """Server text is stripped of control characters, truncated, and known secrets are masked."""
    details = "bad password testpassword\x1b[31m\r\n" + "x" * 1000
    with pytest.raises(AuthError) as info:
        parse_token_response(resp(401, {"details": details}), secrets=["testpassword"])
    message = str(info.value)
    assert "testpassword" not in message
    assert "\x1b" not in message and "\n" not in message
    assert len(message) < 300


def test_registry_errors_shapes() -> None:
    """registry_errors never raises and reads distribution's 401 body (docs/registry-auth.md)."""
    body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}'
    assert registry_errors(body) == ("unauthorized: authentication required",)
    for junk in (b"", b"[]", b'{"errors": 5}', b'{"errors": [1, "x", null]}', b"\xff"):
        assert registry_errors(junk) == ()


def test_auth_error_is_an_auth_error() -> None:
    """auth_error builds (does not raise) the error."""
    err = auth_error(resp(401))
    assert isinstance(err, AuthError) and err.status == 401


@given(st.integers(100, 599), st.binary(max_size=300), st.text(max_size=100))
def test_parse_never_raises_foreign_errors(status: int, body: bytes, header: str) -> None:
    """Property: any status, body and challenge header give a Token or a RegauthError."""
    response = HttpResponse(status, REALM, (("WWW-Authenticate", header),), body)
    with contextlib.suppress(RegauthError):
        parse_token_response(response)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "token",
                        "access_token",
                        "expires_in",
                        "issued_at",
                        "refresh_token",
                        "scope",
                        "details",
                        "errors",
                        "code",
                        "message",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=10,
    ),
    st.sampled_from([200, 401, 403, 404, 429]),
)
def test_parse_never_raises_on_json(doc: object, status: int) -> None:
    """Property: any JSON document gives a Token or a RegauthError."""
    with contextlib.suppress(RegauthError):
        parse_token_response(resp(status, json.dumps(doc).encode()))
