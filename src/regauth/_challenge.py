"""WWW-Authenticate parsing (RFC 7235).  Rule: pure, linear-time, never raises on server input.

Better than Docker's parser (docker-behaviour.md §2 "WWW-Authenticate parsing"), which takes one
challenge per header value and stops at the first malformed pair:

* several challenges in one value (``Basic realm="x", Bearer realm="y",service="z"``) and across
  values; scheme case ignored (``bEaReR`` → ``bearer``), parameter names lower-cased;
* values are tokens or quoted strings with backslash escapes; ``realm=""`` is an empty value;
* a token68 (``Negotiate abc==``) is accepted and its value ignored;
* duplicate parameters: the first wins;
* a malformed element (a stray character, a parameter before any scheme, a value with control
  characters, ``key=`` with no value) is skipped up to the next top-level comma and parsing goes on;
  an unterminated quoted string ends its header value.  Nothing here ever raises.

Work is bounded: at most :data:`MAX_CHALLENGES` challenges, :data:`MAX_PARAMS` parameters per
challenge and :data:`MAX_ELEMENTS` elements in all are looked at; every scan is a single
non-backtracking regular expression, so a 1 MB header costs time linear in its size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ._record import field, record

__all__ = [
    "MAX_CHALLENGES",
    "MAX_ELEMENTS",
    "MAX_PARAMS",
    "Challenge",
    "find_challenge",
    "parse_www_authenticate",
]

MAX_CHALLENGES = 64
MAX_PARAMS = 64
MAX_ELEMENTS = 1024

_TCHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TCHARS}]+")
_OWS = re.compile(r"[ \t]*")
_SEP = re.compile(r"[ \t,]*")
# token68, then optional '=' padding, then OWS, then end or a comma (checked by the caller).
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*")
# Quoted string, unrolled: no nested ambiguity, so no backtracking blow-up.
_QUOTED = re.compile(r'"([^"\\]*(?:\\[\s\S][^"\\]*)*)"')
# Skip a malformed element up to the next top-level comma; a quote runs to its end (or the end).
_SKIP = re.compile(r'[^",]*(?:"[^"\\]*(?:\\[\s\S]?[^"\\]*)*(?:"|\Z)[^",]*)*')
_UNESCAPE = re.compile(r"\\([\s\S])")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@record
class Challenge:
    """One authentication challenge: ``scheme`` lower-case, ``params`` with lower-case names."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.scheme, tuple(sorted(self.params.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Challenge):
            return NotImplemented
        return self.scheme == other.scheme and dict(self.params) == dict(other.params)

    def __repr__(self) -> str:
        return f"Challenge({self.scheme!r}, {dict(self.params)!r})"

    @property
    def realm(self) -> str:
        """The ``realm`` parameter, or ``""``."""
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        """The ``service`` parameter, or ``""``."""
        return self.params.get("service", "")


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of ``scheme`` (case-insensitive), or None."""
    lscheme = scheme.lower()
    for challenge in challenges:
        if challenge.scheme == lscheme:
            return challenge
    return None


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_ELEMENTS

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _skip(text: str, pos: int) -> int:
    match = _SKIP.match(text, pos)
    return match.end() if match else pos


def _parse_one(text: str, out: list[tuple[str, dict[str, str]]], budget: _Budget) -> None:
    """Parse one header value, appending ``(scheme, params)`` pairs to ``out``."""
    n = len(text)
    pos = 0
    current: dict[str, str] | None = None  # params of out[-1], or None when no open challenge
    while pos < n:
        if len(out) > MAX_CHALLENGES or not budget.take():
            return
        # Skip separators: whitespace and commas.
        sep = _SEP.match(text, pos)
        assert sep is not None
        pos = sep.end()
        if pos >= n:
            return
        token = _TOKEN.match(text, pos)
        if token is None:
            pos = max(_skip(text, pos), pos + 1)  # stray character: skip this element
            continue
        after = _OWS.match(text, token.end())
        assert after is not None
        rest = after.end()
        if rest < n and text[rest] == "=":
            # auth-param: token OWS "=" OWS ( token / quoted-string )
            vstart_m = _OWS.match(text, rest + 1)
            assert vstart_m is not None
            vstart = vstart_m.end()
            value: str | None = None
            end = vstart
            if vstart < n and text[vstart] == '"':
                quoted = _QUOTED.match(text, vstart)
                if quoted is None:
                    return  # unterminated quoted string: the rest of the value is inside it
                value = _UNESCAPE.sub(r"\1", quoted.group(1))
                end = quoted.end()
            else:
                vtoken = _TOKEN.match(text, vstart)
                if vtoken is not None:
                    value = vtoken.group(0)
                    end = vtoken.end()
            if value is None or current is None or _BAD_VALUE.search(value):
                pos = _skip(text, end)  # malformed param, or a param outside any challenge
                continue
            name = token.group(0).lower()
            if name not in current and len(current) < MAX_PARAMS:
                current[name] = value
            pos = end
            continue
        # A new challenge: auth-scheme, then SP, a comma or the end.
        if token.end() < n and text[token.end()] not in " \t,":
            current = None
            pos = _skip(text, token.end())
            continue
        current = {}
        out.append((token.group(0).lower(), current))
        pos = after.end()
        t68 = _TOKEN68.match(text, pos)
        if t68 is not None and (t68.end() == n or text[t68.end()] == ","):
            # token68 (or a malformed ``key=``): no scheme regauth speaks uses it; skip it.
            # Parameters after it still attach to this challenge (lenient).
            pos = t68.end()


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` header ``values``, in order.

    Never raises: malformed parts are skipped (see the module docstring).
    """
    out: list[tuple[str, dict[str, str]]] = []
    budget = _Budget()
    for value in values:
        if len(out) >= MAX_CHALLENGES or not budget.take():
            break
        if not isinstance(value, str):
            continue
        _parse_one(value, out, budget)
    return [Challenge(scheme, params) for scheme, params in out[:MAX_CHALLENGES]]
