"""Differential tests: regauth.registry.token and regauth.registry.messages helpers against the stdlib they replace.

To keep ``re``, ``json``, ``base64``, ``urllib.parse`` and ``datetime`` out of a login (issue 6),
_token and _http do their work with string methods and C modules.  The implementations they
replaced are kept here, verbatim, as oracles; every test compares the two.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from regauth.errors import ProtocolError
from regauth.registry.messages import BadPortError, form_encode, split_url
from regauth.registry.token import (
    MAX_SERVER_TEXT,
    _json_loads,
    _parse_time,
    _valid_token,
    _with_query,
    basic_auth_header,
    sanitise,
)

# --- the oracles: _token as it was before issue 6 ------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


def old_sanitise(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + "…"
    return text


def old_realm_parts(realm: str) -> SplitResult:
    try:
        parts = urlsplit(realm)
        parts.port  # noqa: B018
    except ValueError:
        raise ProtocolError(f"invalid token realm {old_sanitise(realm)!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ProtocolError(f"invalid token realm {old_sanitise(realm)!r}: not an http(s) URL")
    if _CONTROL.search(realm) or " " in realm:
        raise ProtocolError(f"invalid token realm {old_sanitise(realm)!r}")
    return parts


def old_with_query(realm: str, params: list[tuple[str, str]]) -> str:
    parts = old_realm_parts(realm)
    query = urlencode(params)
    if parts.query:
        query = f"{parts.query}&{query}" if query else parts.query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def old_parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
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


def old_valid_token(value: object) -> str | None:
    """The old _valid_token; None where it raised ProtocolError."""
    if not isinstance(value, str) or not value:
        return ""
    if _TOKEN_CHARS.fullmatch(value) is None:
        return None
    return value


def outcome(function: object, *args: object) -> tuple[str, object]:
    """("ok", value) or ("error", exception type and message), to compare two implementations."""
    try:
        return "ok", function(*args)  # type: ignore[operator]
    except Exception as exc:
        return "error", (type(exc), str(exc))


# --- URLs ---------------------------------------------------------------------------------------

URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTPS://",
        "ftp://",
        "//",
        "h",
        "Host.Example",
        "127.0.0.1",
        "[::1]",
        "[::1",
        "]",
        "[fe80::1%eth0]",
        "ho%St",
        ":",
        ":5000",
        ":99999",
        ":+80",
        ":08",
        ":",
        "@",
        "user:pw@",
        "/",
        "/token",
        "/a b",
        "?",
        "?x=1",
        "&y=2",
        "#",
        "#frag",
        " ",
        "\t",
        "\n",
        "\x00",
        "\x7f",
        "\x85",
        "é",
        "\u2028",
        "ß",
        "%41",
    ]
)
URLS = st.lists(URL_PIECES, max_size=8).map("".join)


def old_split(url: str) -> tuple[object, ...]:
    """urlsplit, with its port error as the BadPortError (a ValueError) split_url promises."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise BadPortError(str(exc)) from None
    return (parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment, parts.hostname, port)


def new_split(url: str) -> tuple[object, ...]:
    parts = split_url(url)
    return (parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment, parts.hostname, parts.port)


@given(URLS)
@settings(max_examples=1500)
@example("https://registry.example:5000/token?x=1#f")
@example("http://u@h:/p?")
@example("https://h:65536/")
@example("https://h:0/")
@example("https://[::1]:5001/token")
@example("http://[::1/")
@example("http://ho%St/")
def test_split_url_is_urlsplit(url: str) -> None:
    """split_url gives urlsplit's fields, hostname and port (or its ValueError; BadPortError for the port)."""
    assert outcome(new_split, url) == outcome(old_split, url)


@given(st.text(max_size=40))
def test_split_url_on_any_text(url: str) -> None:
    """Property: any text splits as urlsplit splits it."""
    assert outcome(new_split, url) == outcome(old_split, url)


PARAMS = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=5)


@given(PARAMS)
@example([("a b", "ä+&=/~"), ("x", ""), ("", "")])
@example([("s", "\ud800")])
def test_form_encode_is_urlencode(params: list[tuple[str, str]]) -> None:
    """form_encode is urlencode for str pairs (UTF-8, quote_plus), lone surrogates included."""
    assert outcome(form_encode, params) == outcome(urlencode, params)


@given(URLS, PARAMS)
@settings(max_examples=1000)
@example("https://auth.example/token?x=1#frag", [("scope", "repository:a/b:pull")])
@example("https://auth.example/token?", [])
@example("https://auth.example", [("service", "reg")])
@example("HTTPS://Auth.Example/t", [("a", "b")])
@example("https://[::1]:5001/token", [("a", "b")])
def test_realm_with_query_as_before(realm: str, params: list[tuple[str, str]]) -> None:
    """The token URL (or the ProtocolError for a bad realm) is what urllib.parse built."""
    assert outcome(_with_query, realm, params) == outcome(old_with_query, realm, params)


# --- text ---------------------------------------------------------------------------------------

SERVER_TEXT = st.lists(
    st.sampled_from([*"aB \t\r\n\x00\x1b\x7f\x85\x9f\xa0\u2028\u2029\u200bé…", "x" * 50]),
    max_size=30,
).map("".join)


@given(st.one_of(SERVER_TEXT, st.text()), st.lists(st.text(max_size=6), max_size=2))
@example("  \x1b[31mred\x1b[0m \r\n tail \u2028", [])
@example("\x00\x00", [])
@example("x" * 500, [])
def test_sanitise_as_before(text: str, secrets: list[str]) -> None:
    """sanitise: runs of control characters → one space, stripped, capped; secrets masked."""
    assert sanitise(text, secrets) == old_sanitise(text, tuple(secrets))


@given(st.one_of(st.text(), st.text(st.characters(min_codepoint=0, max_codepoint=0x80))))
@example("a b")
@example("tök")
@example("\x7f")
@example("~!")
def test_valid_token_as_before(value: str) -> None:
    """A token is 1+ characters of 0x21-0x7e (it goes into an HTTP header), as the regex said."""
    expected = old_valid_token(value)
    if expected is None:
        with pytest.raises(ProtocolError):
            _valid_token(value)
    else:
        assert _valid_token(value) == expected


@pytest.mark.parametrize("value", ["testuser:testpassword", "zoë:pä:ss", "", ":", "a" * 1000, "\U0001f600:x"])
def test_basic_auth_header_is_base64(value: str) -> None:
    """binascii gives base64.b64encode's text."""
    user, _, password = value.partition(":")
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert basic_auth_header(user, password) == expected


# --- issued_at ----------------------------------------------------------------------------------

TIME_PIECES = st.sampled_from(
    [
        "2024",
        "-",
        "01",
        "02",
        "13",
        "99",
        "T",
        "t",
        " ",
        ":",
        "03",
        "04",
        "05",
        ".",
        "1",
        "123456789",
        "1234567890",
        "Z",
        "z",
        "+",
        "-",
        "02:00",
        "+05:30",
        "٢",
        "٠",
        "x",
        "",
    ]
)


@given(st.lists(TIME_PIECES, max_size=14).map("".join))
@settings(max_examples=1500)
@example("2024-01-02T03:04:05.123456789Z")
@example("2024-01-02T03:04:05+02:00")
@example("2024-01-02t03:04:05z")
@example("2024-01-02 03:04:05.5-00:30")
@example("2024-13-02T03:04:05Z")
@example("2024-01-02T03:04:05.Z")
@example("2024-01-02T03:04:05.1234567890Z")
@example("2024-01-02T03:04:05." + "1" * 100_000 + "Z")
@example("2024-01-02T03:04:05+2:00")
@example("٢٠٢٤-٠١-٠٢T03:04:05Z")
@example("2024-02-30T00:00:00Z")
@example("2024-01-02T24:00:00Z")
@example("2024-01-02T03:04:05+24:00")
def test_issued_at_as_before(value: str) -> None:
    """RFC 3339 issued_at parses to the same aware datetime (or None) as the regex did."""
    assert _parse_time(value) == old_parse_time(value)
    parsed = _parse_time(value)
    if parsed is not None:
        assert type(parsed) is datetime and parsed.utcoffset() == old_parse_time(value).utcoffset()  # type: ignore[union-attr]


@given(
    st.builds(
        lambda d: d.isoformat(),
        st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7, minutes=-30))])),
    )
)
def test_issued_at_isoformat(value: str) -> None:
    """Property: what Python's isoformat writes (with an offset) parses as before."""
    assert _parse_time(value) == old_parse_time(value)


# --- JSON ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


def same_json(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN and checks types (1 vs 1.0 vs True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)  # type: ignore[index]
    return a == b


def assert_same_loads(body: bytes) -> None:
    new = outcome(_json_loads, body)
    old = outcome(json.loads, body)
    assert new[0] == old[0], (body, new, old)
    if new[0] == "ok":
        assert same_json(new[1], old[1]), body
    else:
        assert new[1] == old[1]


@given(
    JSON_VALUES,
    st.sampled_from(["", " ", "\n", "\t\r\n "]),
    st.sampled_from(["utf-8", "utf-16", "utf-32-le"]),
)
def test_json_loads_on_json(value: object, space: str, encoding: str) -> None:
    """Property: JSON documents (any encoding json.loads detects) load to the same value."""
    assert_same_loads((space + json.dumps(value) + space).encode(encoding))


@given(st.binary(max_size=60))
def test_json_loads_on_bytes(body: bytes) -> None:
    """Property: arbitrary bytes load or fail exactly like json.loads (same error message)."""
    assert_same_loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" ",
        b"{}",
        b'{"token": "T"} ',
        b'{"token": "T"} x',
        b'{"token": "T"}{}',
        b'{"a": 1, "a": 2}',
        b"NaN",
        b"[Infinity, -Infinity, 1e400, -0.0, 1.5E-3]",
        b"12345678901234567890123456789",
        b'"\\ud800"',
        b'"\xed\xa0\x80"',
        b'"\x01"',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{\x00}\x00",
        b"{\x00}\x00",
        b"\x00{",
        b"{\x00",
        b"\xff",
        b"[" * 100_000,
        b"tru",
        b'{"a":}',
    ],
)
def test_json_loads_hand_picked(body: bytes) -> None:
    """BOMs, UTF-16 guesses, surrogates, NaN, trailing data, recursion: as json.loads."""
    assert_same_loads(body)
