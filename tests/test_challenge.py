"""Tests of regauth.registry.challenge: RFC 7235 WWW-Authenticate parsing (pure, no server)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regauth.registry.challenge import (
    MAX_CHALLENGES,
    MAX_ELEMENTS,
    MAX_PARAMS,
    Challenge,
    find_challenge,
    parse_www_authenticate,
)


def ch(scheme: str, **params: str) -> Challenge:
    return Challenge(scheme, params)


def test_distribution_basic_challenge() -> None:
    """distribution 2.8 sends `Basic realm="<realm>"` (docs/registry-auth.md)."""
    assert parse_www_authenticate(['Basic realm="Registry Realm"']) == [ch("basic", realm="Registry Realm")]


def test_distribution_bearer_challenge() -> None:
    """distribution: `Bearer realm=...,service=...` and insufficient_scope (docs/registry-auth.md)."""
    value = (
        'Bearer realm="https://127.0.0.1:5001/token",service="reg",'
        'scope="repository:other/repo:pull",error="insufficient_scope"'
    )
    [challenge] = parse_www_authenticate([value])
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://127.0.0.1:5001/token"
    assert challenge.service == "reg"
    assert challenge.params["scope"] == "repository:other/repo:pull"
    assert challenge.params["error"] == "insufficient_scope"


def test_several_challenges_in_one_value() -> None:
    """More lenient than Docker (docs/registry-auth.md): a second challenge in one header is kept."""
    assert parse_www_authenticate(['Basic realm="x", Bearer realm="y",service="z"']) == [
        ch("basic", realm="x"),
        ch("bearer", realm="y", service="z"),
    ]


def test_challenges_across_values_keep_order() -> None:
    """Each header value is parsed; the order of challenges is kept."""
    assert parse_www_authenticate(['Bearer realm="y"', "Basic realm=x"]) == [
        ch("bearer", realm="y"),
        ch("basic", realm="x"),
    ]


def test_quoted_string_escapes() -> None:
    """quoted-string: backslash escapes any character; commas and '=' inside quotes are data."""
    [challenge] = parse_www_authenticate([r'Bearer realm="a\"b\\c,d=e", service=""'])
    assert challenge.params == {"realm": 'a"b\\c,d=e', "service": ""}


def test_odd_case_and_whitespace() -> None:
    """Scheme and parameter names are case-insensitive; OWS around '=' and ',' is allowed."""
    [challenge] = parse_www_authenticate(['  bEaReR   ReAlM = "r" ,\tSERVICE=s ,  '])
    assert challenge == ch("bearer", realm="r", service="s")


def test_duplicate_params_first_wins() -> None:
    """A duplicated parameter keeps its first value."""
    [challenge] = parse_www_authenticate(['Bearer realm="first", realm="second"'])
    assert challenge.realm == "first"


def test_token68_is_accepted_and_ignored() -> None:
    """token68 (RFC 7235 section 2.1) gives a challenge without parameters; the next one still parses."""
    assert parse_www_authenticate(["Negotiate abc+/==, Basic realm=r", "NTLM"]) == [
        ch("negotiate"),
        ch("basic", realm="r"),
        ch("ntlm"),
    ]


def test_scheme_without_params() -> None:
    """A bare scheme is a challenge with no parameters."""
    assert parse_www_authenticate(["Basic"]) == [ch("basic")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # A stray character skips to the next comma; the following parameter still parses.
        ('Bearer @junk, realm="r"', [ch("bearer", realm="r")]),
        # Docker stops at the first malformed pair; regauth keeps going.
        ('Bearer realm="r", bad=@, service="s"', [ch("bearer", realm="r", service="s")]),
        # key= with no value is malformed (skipped).
        ('Bearer realm=, service="s"', [ch("bearer", service="s")]),
        ("Bearer realm=", [ch("bearer")]),
        ("Bearer realm= ", [ch("bearer")]),
        # A parameter before any scheme is dropped.
        ('realm="r", Basic', [ch("basic")]),
        # A scheme glued to junk is dropped, with its parameters.
        ('Bearer;x realm="r", Basic realm="b"', [ch("basic", realm="b")]),
        ("Bëarer realm=r, Basic", [ch("basic")]),
        # Unterminated quoted string: the rest of the value is inside it.
        ('Basic realm="b", Bearer realm="oops, service=s', [ch("basic", realm="b"), ch("bearer")]),
        # Control characters in a value: the parameter is refused (header injection); tab is fine.
        ('Bearer realm="a\r\nX-Evil: 1", service=s', [ch("bearer", service="s")]),
        ('Bearer realm="a\x7fb", service=s', [ch("bearer", service="s")]),
        ('Bearer realm="a\x00", service=s', [ch("bearer", service="s")]),
        ('Bearer realm="\\\x01", service=s', [ch("bearer", service="s")]),
        ('Bearer realm="a\tb", service=s', [ch("bearer", realm="a\tb", service="s")]),
        # Non-ASCII is fine inside quotes, not in a token.
        ('Bearer realm="ünïcödé", service=s', [ch("bearer", realm="ünïcödé", service="s")]),
        ('Bearer realm="\u2028", service=s', [ch("bearer", realm="\u2028", service="s")]),
        ("Bearer realm=é, service=s", [ch("bearer", service="s")]),
        ("Bearer réalm=r, service=s", [ch("bearer")]),
        ("Basic realm=x\xa0, Bearer", [ch("basic", realm="x"), ch("bearer")]),
        # Optional whitespace around '='; single quotes are token characters.
        ("Bearer realm =\t x", [ch("bearer", realm="x")]),
        ('Bearer realm="r\\"", service=\'s\'', [ch("bearer", realm='r"', service="'s'")]),
        # What follows a complete value starts a new element.
        ('Basic realm="x"junk, Bearer', [ch("basic", realm="x"), ch("junk"), ch("bearer")]),
        ('Basic realm="x""y", Bearer', [ch("basic", realm="x"), ch("bearer")]),
        ("Basic realm=x=y, Bearer", [ch("basic", realm="x"), ch("bearer")]),
        ("Basic realm=x realm2=y", [ch("basic", realm="x", realm2="y")]),
        ("Basic realm=x\tBearer", [ch("basic", realm="x"), ch("bearer")]),
        ("Basic\trealm=x", [ch("basic", realm="x")]),
        ("Basic , realm=x", [ch("basic", realm="x")]),
        ('Basic realm="x" , , ,Bearer realm=y', [ch("basic", realm="x"), ch("bearer", realm="y")]),
        ("A B C, D", [ch("a"), ch("b"), ch("d")]),
        ("A b=c d, e", [ch("a", b="c"), ch("d"), ch("e")]),
        ("Basic,Bearer,Negotiate", [ch("basic"), ch("bearer"), ch("negotiate")]),
        # token68: only before a comma or the end; "Negotiate ==" reads as a parameter named Negotiate.
        ("Negotiate abc+/== , Basic realm=r", [ch("negotiate"), ch("basic", realm="r")]),
        ("Negotiate abc+/==x, Basic realm=r", [ch("negotiate"), ch("basic", realm="r")]),
        ("Negotiate abc=, realm=r", [ch("negotiate", realm="r")]),
        ("Negotiate a=\t,b", [ch("negotiate"), ch("b")]),
        ("Negotiate ==, realm=r", []),
        # Skipping a malformed element runs over quoted strings, commas and escapes included.
        ('@"a,b", Basic', [ch("basic")]),
        ('@"a\\",b", Basic', [ch("basic")]),
        ('@"a\\\\",b", Basic', []),
        ('@"x"y"z,w", Basic', [ch("basic")]),
        ('@"unterminated, Basic', []),
        ("Basic\x00", []),
        ("Basic \x00", [ch("basic")]),
        ("Basic realm=\x00", [ch("basic")]),
        ("", []),
        (",,, ,", []),
        ('"', []),
        ('""', []),
        ('"\\', []),
        ('"\\"', []),
        ("=", []),
        ("==", []),
        ("\x00\x01", []),
    ],
)
def test_malformed_parts_are_skipped(value: str, expected: list[Challenge]) -> None:
    """Malformed elements are skipped up to the next comma; parsing never raises."""
    assert parse_www_authenticate([value]) == expected


def test_caps() -> None:
    """At most MAX_CHALLENGES challenges and MAX_PARAMS parameters per challenge."""
    many = ", ".join(f"S{i}" for i in range(500))
    assert len(parse_www_authenticate([many])) == MAX_CHALLENGES
    params = ", ".join(f"p{i}=v" for i in range(500))
    [challenge] = parse_www_authenticate([f"Bearer {params}"])
    assert len(challenge.params) == MAX_PARAMS
    assert len(parse_www_authenticate(["Basic"] * 10_000)) == MAX_CHALLENGES


def test_element_budget_spans_values() -> None:
    """MAX_ELEMENTS elements are looked at across all the values of one response, then parsing stops."""
    assert parse_www_authenticate(["a=b," * 600, "Basic realm=x", "Bearer " + "p=v," * 600, "Negotiate"]) == [
        ch("basic", realm="x"),
        ch("bearer", p="v"),
    ]
    assert parse_www_authenticate(["a=b," * (MAX_ELEMENTS + 10), "Basic"]) == []
    assert parse_www_authenticate(['Basic realm="x', "Bearer realm=y"]) == [
        ch("basic"),
        ch("bearer", realm="y"),
    ]


MEGABYTE = 1 << 20
_BIG = "a" * MEGABYTE

HOSTILE = {
    "unterminated": ('Bearer realm="' + _BIG, [ch("bearer")]),
    "backslashes": ('Bearer realm="' + "\\" * MEGABYTE, [ch("bearer")]),
    "backslashes-closed": (
        'Bearer realm="' + "\\" * MEGABYTE + '"',
        [ch("bearer", realm="\\" * (MEGABYTE // 2))],
    ),
    "escaped-quotes": ('Bearer realm="' + '\\"' * (MEGABYTE // 2), [ch("bearer")]),
    "escaped-quotes-closed": (
        'Bearer realm="' + '\\"' * (MEGABYTE // 2) + '", service=s',
        [ch("bearer", realm='"' * (MEGABYTE // 2), service="s")],
    ),
    "long-value": ('Bearer realm="' + _BIG + '", service=s', [ch("bearer", realm=_BIG, service="s")]),
    "long-token-value": ("Bearer realm=" + _BIG + ", service=s", [ch("bearer", realm=_BIG, service="s")]),
    "many-params": ("Bearer " + "a=b," * (MEGABYTE // 4), [ch("bearer", a="b")]),
    "many-schemes": ("B " * (MEGABYTE // 2), [ch("b")] * MAX_CHALLENGES),
    "spaces": (" " * MEGABYTE, []),
    "commas": ("," * MEGABYTE + "Basic", [ch("basic")]),
    "stray": ("@" * MEGABYTE, []),
    "stray-quotes": ('@"a"' * (MEGABYTE // 4), []),
    "stray-quotes-commas": ('@"a,"' * (MEGABYTE // 5) + ", Basic", [ch("basic")]),
    "equals": ("=" * MEGABYTE, []),
    "token68": ("Bearer " + _BIG + "=" * MEGABYTE, [ch("bearer")]),
    "token68-comma": ("Bearer " + _BIG + "=" * MEGABYTE + ", realm=r", [ch("bearer", realm="r")]),
    "skip-into-quote": ('@"' + "a\\" * (MEGABYTE // 2), []),
    "long-scheme": ("B" * MEGABYTE + " realm=r", [ch("b" * MEGABYTE, realm="r")]),
    "long-name": ("Bearer " + "n" * MEGABYTE + "=v", [ch("bearer", **{"n" * MEGABYTE: "v"})]),
}


@pytest.mark.parametrize(("value", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_megabyte_headers(value: str, expected: list[Challenge]) -> None:
    """1 MB pathological headers parse to the right answer in linear time (well under the bound)."""
    start = time.perf_counter()
    challenges = parse_www_authenticate([value])
    elapsed = time.perf_counter() - start
    assert challenges == expected
    assert elapsed < 2.0, f"{elapsed:.2f}s for 1 MB: not linear?"


def test_find_challenge_and_value_type() -> None:
    """find_challenge is case-insensitive; Challenge is frozen, hashable, repr shows params."""
    challenges = parse_www_authenticate(['Basic realm="x", Bearer realm="y"'])
    bearer = find_challenge(challenges, "BEARER")
    assert bearer is not None and bearer.realm == "y"
    assert find_challenge(challenges, "negotiate") is None
    assert len({bearer, ch("bearer", realm="y")}) == 1
    with pytest.raises(AttributeError):
        bearer.scheme = "basic"  # type: ignore[misc]
    with pytest.raises(TypeError):
        bearer.params["realm"] = "z"  # type: ignore[index]


@given(st.lists(st.text(max_size=200), max_size=5))
def test_never_raises_on_text(values: list[str]) -> None:
    """Property: arbitrary header values give challenges, never an exception."""
    for challenge in parse_www_authenticate(values):
        assert challenge.scheme == challenge.scheme.lower()
        assert all(name == name.lower() for name in challenge.params)


ALPHABET = st.sampled_from(list(' \t,="\\\\=abcBearerBasicrealm@;\r\n+/'))


@given(st.lists(st.text(ALPHABET, max_size=80), max_size=4))
def test_never_raises_on_grammar_soup(values: list[str]) -> None:
    """Property: text made of the grammar's own characters never breaks the parser."""
    parse_www_authenticate(values)


@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("AbcXyz"), min_size=1, max_size=6),
            st.dictionaries(
                st.text(st.sampled_from("realmsvc_9"), min_size=1, max_size=6).filter(
                    lambda name: not name[0].isdigit()
                ),
                st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=60)
def test_round_trip(challenges: list[tuple[str, dict[str, str]]]) -> None:
    """Property: well-formed challenges rendered into one header come back intact."""

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rendered = ", ".join(
        scheme + (" " + ", ".join(f"{k}={quote(v)}" for k, v in params.items()) if params else "")
        for scheme, params in challenges
    )
    parsed = parse_www_authenticate([rendered])
    assert [(c.scheme, dict(c.params)) for c in parsed] == [
        (scheme.lower(), params) for scheme, params in challenges
    ]
