"""Differential tests: the hand-written WWW-Authenticate scanner against the regex original.

regauth.registry.challenge used to scan with regular expressions; it was rewritten by hand so a login does
not import ``re`` (issue 6).  The regex version is kept here, verbatim, as the oracle: both must
give the same challenges for every input, hostile ones included.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regauth.registry.challenge import MAX_CHALLENGES, MAX_ELEMENTS, MAX_PARAMS, parse_www_authenticate

# --- the oracle: the regex implementation regauth shipped before issue 6 ------------------------

_TCHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TCHARS}]+")
_OWS = re.compile(r"[ \t]*")
_SEP = re.compile(r"[ \t,]*")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*")
_QUOTED = re.compile(r'"([^"\\]*(?:\\[\s\S][^"\\]*)*)"')
_SKIP = re.compile(r'[^",]*(?:"[^"\\]*(?:\\[\s\S]?[^"\\]*)*(?:"|\Z)[^",]*)*')
_UNESCAPE = re.compile(r"\\([\s\S])")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ELEMENTS

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _skip(text: str, pos: int) -> int:
    match = _SKIP.match(text, pos)
    return match.end() if match else pos


def _parse_one(text: str, out: list[tuple[str, dict[str, str]]], budget: _Budget) -> None:
    n = len(text)
    pos = 0
    current: dict[str, str] | None = None
    while pos < n:
        if len(out) > MAX_CHALLENGES or not budget.take():
            return
        sep = _SEP.match(text, pos)
        assert sep is not None
        pos = sep.end()
        if pos >= n:
            return
        token = _TOKEN.match(text, pos)
        if token is None:
            pos = max(_skip(text, pos), pos + 1)
            continue
        after = _OWS.match(text, token.end())
        assert after is not None
        rest = after.end()
        if rest < n and text[rest] == "=":
            vstart_m = _OWS.match(text, rest + 1)
            assert vstart_m is not None
            vstart = vstart_m.end()
            value: str | None = None
            end = vstart
            if vstart < n and text[vstart] == '"':
                quoted = _QUOTED.match(text, vstart)
                if quoted is None:
                    return
                value = _UNESCAPE.sub(r"\1", quoted.group(1))
                end = quoted.end()
            else:
                vtoken = _TOKEN.match(text, vstart)
                if vtoken is not None:
                    value = vtoken.group(0)
                    end = vtoken.end()
            if value is None or current is None or _BAD_VALUE.search(value):
                pos = _skip(text, end)
                continue
            name = token.group(0).lower()
            if name not in current and len(current) < MAX_PARAMS:
                current[name] = value
            pos = end
            continue
        if token.end() < n and text[token.end()] not in " \t,":
            current = None
            pos = _skip(text, token.end())
            continue
        current = {}
        out.append((token.group(0).lower(), current))
        pos = after.end()
        t68 = _TOKEN68.match(text, pos)
        if t68 is not None and (t68.end() == n or text[t68.end()] == ","):
            pos = t68.end()


def oracle(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    budget = _Budget()
    for value in values:
        if len(out) >= MAX_CHALLENGES or not budget.take():
            break
        if not isinstance(value, str):
            continue
        _parse_one(value, out, budget)
    return out[:MAX_CHALLENGES]


def parsed(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    return [(c.scheme, dict(c.params)) for c in parse_www_authenticate(values)]


def agree(values: list[str]) -> None:
    assert parsed(values) == oracle(values), values


# --- hand-picked inputs -------------------------------------------------------------------------

PICKED = [
    "",
    "Basic",
    "Basic realm=x",
    'Basic realm="Registry Realm"',
    'Bearer realm="https://127.0.0.1:5001/token",service="reg",scope="repository:a/b:pull"',
    'Basic realm="x", Bearer realm="y",service="z"',
    r'Bearer realm="a\"b\\c,d=e", service=""',
    '  bEaReR   ReAlM = "r" ,\tSERVICE=s ,  ',
    'Bearer realm="first", realm="second"',
    "Negotiate abc+/==, Basic realm=r",
    "Negotiate abc+/== , Basic realm=r",
    "Negotiate abc+/==x, Basic realm=r",
    "Negotiate abc=, realm=r",
    "Negotiate ==, realm=r",
    "Negotiate a=\t,b",
    "NTLM",
    'Bearer @junk, realm="r"',
    'Bearer realm="r", bad=@, service="s"',
    'Bearer realm=, service="s"',
    "Bearer realm=",
    "Bearer realm= ",
    "Bearer realm =\t x",
    'realm="r", Basic',
    'Bearer;x realm="r", Basic realm="b"',
    'Basic realm="b", Bearer realm="oops, service=s',
    'Bearer realm="a\r\nX-Evil: 1", service=s',
    'Bearer realm="a\tb", service=s',
    'Bearer realm="a\x7fb", service=s',
    'Bearer realm="a\x00", service=s',
    'Bearer realm="\\\x01", service=s',
    ",,, ,",
    '"',
    '""',
    '"\\',
    '"\\"',
    '"\\\\"',
    '@"a,b", Basic',
    '@"a\\",b", Basic',
    '@"a\\\\",b", Basic',
    '@"unterminated, Basic',
    '@"x"y"z,w", Basic',
    "=",
    "==",
    "\x00\x01",
    "Basic\x00",
    "Basic \x00",
    "Basic realm=\x00",
    'Basic realm="x"junk, Bearer',
    'Basic realm="x""y", Bearer',
    'Basic realm="x" , , ,Bearer realm=y',
    "Basic realm=x=y, Bearer",
    "Basic , realm=x",
    "Basic realm=x realm2=y",
    "Basic realm=x\tBearer",
    "Basic\trealm=x",
    "A B C, D",
    "A b=c d, e",
    'Bearer realm="r\\"", service=\'s\'',
    "Bearer realm=é, service=s",
    "Bëarer realm=r, Basic",
    "Bearer réalm=r, service=s",
    'Bearer realm="ünïcödé", service=s',
    'Bearer realm="\u2028", service=s',
    "Basic realm=x\u00a0, Bearer",
    'Bearer realm="x", ',
    ", Basic",
    "Basic,Bearer,Negotiate",
    "Bearer realm=a,service=b,scope=c,error=d,error_description=e",
]


@pytest.mark.parametrize("value", PICKED)
def test_hand_picked(value: str) -> None:
    """Tricky cases: escapes, token68, commas, empty params, control characters, stray quotes."""
    agree([value])


def test_several_values_share_the_budget() -> None:
    """Challenges and the element budget run across header values, as before."""
    agree(["Basic"] * 3000)
    agree(["a=b," * 600, "Basic realm=x", "Bearer " + "p=v," * 600, "Negotiate"])
    agree([", ".join(f"S{i} p=v" for i in range(100)), "Basic"])
    agree(['Basic realm="x', "Bearer realm=y"])


MEGABYTE = 1 << 20

HOSTILE = {
    "unterminated": 'Bearer realm="' + "a" * MEGABYTE,
    "backslashes": 'Bearer realm="' + "\\" * MEGABYTE,
    "backslashes-closed": 'Bearer realm="' + "\\" * MEGABYTE + '"',
    "escaped-quotes": 'Bearer realm="' + '\\"' * (MEGABYTE // 2),
    "escaped-quotes-closed": 'Bearer realm="' + '\\"' * (MEGABYTE // 2) + '", service=s',
    "long-value": 'Bearer realm="' + "a" * MEGABYTE + '", service=s',
    "long-token-value": "Bearer realm=" + "a" * MEGABYTE + ", service=s",
    "many-params": "Bearer " + "a=b," * (MEGABYTE // 4),
    "many-schemes": "B " * (MEGABYTE // 2),
    "spaces": " " * MEGABYTE,
    "commas": "," * MEGABYTE + "Basic",
    "stray": "@" * MEGABYTE,
    "stray-quotes": '@"a"' * (MEGABYTE // 4),
    "stray-quotes-commas": '@"a,"' * (MEGABYTE // 5) + ", Basic",
    "equals": "=" * MEGABYTE,
    "token68": "Bearer " + "a" * MEGABYTE + "=" * MEGABYTE,
    "token68-comma": "Bearer " + "a" * MEGABYTE + "=" * MEGABYTE + ", realm=r",
    "skip-into-quote": '@"' + "a\\" * (MEGABYTE // 2),
    "long-scheme": "B" * MEGABYTE + " realm=r",
    "long-name": "Bearer " + "n" * MEGABYTE + "=v",
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_megabyte_headers(value: str) -> None:
    """1 MB pathological headers: same answer as the oracle, in well under a second."""
    start = time.perf_counter()
    got = parsed([value])
    elapsed = time.perf_counter() - start
    assert got == oracle([value])
    assert elapsed < 2.0, f"{elapsed:.2f}s for 1 MB"


# --- generated inputs ---------------------------------------------------------------------------

GRAMMAR = st.sampled_from(
    [
        " ",
        "\t",
        ",",
        "=",
        '"',
        "\\",
        "a",
        "B",
        "realm",
        "Bearer",
        "Basic",
        "@",
        ";",
        "/",
        "+",
        "~",
        "\r",
        "\n",
        "\x00",
        "\x7f",
        "é",
        "==",
        ", ",
        '="',
        '\\"',
        "x=y",
    ]
)


@given(st.lists(st.text(max_size=120), max_size=4))
@settings(max_examples=400)
def test_agrees_on_any_text(values: list[str]) -> None:
    """Property: arbitrary text parses exactly as the oracle parses it."""
    agree(values)


@given(st.lists(st.lists(GRAMMAR, max_size=40).map("".join), max_size=4))
@settings(max_examples=1500)
def test_agrees_on_grammar_soup(values: list[str]) -> None:
    """Property: text made of the grammar's own pieces parses exactly as the oracle parses it."""
    agree(values)


@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("AbcXyz-!"), min_size=1, max_size=6),
            st.lists(
                st.tuples(
                    st.text(st.sampled_from("realmsvc_9"), min_size=0, max_size=6),
                    st.one_of(
                        st.text(st.characters(min_codepoint=0, max_codepoint=160), max_size=12).map(
                            lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                        ),
                        st.text(st.characters(min_codepoint=0, max_codepoint=160), max_size=12),
                    ),
                ),
                max_size=4,
            ),
            st.sampled_from([",", ", ", " ", "\t,", ""]),
        ),
        max_size=5,
    )
)
@settings(max_examples=500)
def test_agrees_on_near_valid_headers(challenges: list[tuple[str, list[tuple[str, str]], str]]) -> None:
    """Property: headers close to the grammar (some values unquoted or with junk) agree too."""
    header = ", ".join(
        scheme + " " + sep.join(f"{name}={value}" for name, value in params)
        for scheme, params, sep in challenges
    )
    agree([header])
