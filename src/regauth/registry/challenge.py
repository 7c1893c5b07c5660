"""WWW-Authenticate parsing (RFC 7235 section 4.1).  Rule: pure, linear-time, never raises on server input.

More lenient than Docker's parser (distribution's ``registry/client/auth/challenge``, see
docs/registry-auth.md), which takes one challenge per header value and stops at the first
malformed pair:

* several challenges in one value (``Basic realm="x", Bearer realm="y",service="z"``) and across
  values; scheme case ignored (``bEaReR`` -> ``bearer``), parameter names lower-cased;
* values are tokens or quoted strings with backslash escapes; ``realm=""`` is an empty value;
* a token68 (``Negotiate abc==``) is accepted and its value ignored;
* duplicate parameters: the first wins;
* a malformed element (a stray character, a parameter before any scheme, a value with control
  characters, ``key=`` with no value) is skipped up to the next comma outside quotes and parsing
  goes on; an unterminated quoted string ends its header value.

Work is bounded: at most :data:`MAX_CHALLENGES` challenges, :data:`MAX_PARAMS` parameters per
challenge and :data:`MAX_ELEMENTS` elements in all are looked at, and every regular expression
below is unambiguous (each character can be matched only one way), so a hostile 1 MB header costs
time linear in its size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

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

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 7230 token (tchar)
# A quoted string in the "unrolled loop" form: plain runs between escape pairs.  The obvious
# ``"(?:[^"\\]|\\.)*"`` means the same but is slower, and nesting ``+`` inside ``*`` would backtrack
# exponentially on an unterminated string.
_QUOTED_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'

_SEPARATORS = re.compile(r"[ \t,]*")
_SCHEME_OR_NAME = re.compile(_TOKEN)
_EQUALS = re.compile(r"[ \t]*=[ \t]*")
_VALUE = re.compile(f"({_TOKEN})|({_QUOTED_STRING})", re.DOTALL)
# token68 (RFC 7235 section 2.1) after a scheme; it counts only when a comma or the end follows.
_TOKEN68 = re.compile(r"[ \t]*[A-Za-z0-9\-._~+/]+=*[ \t]*")
# A malformed element: text up to the next comma, quoted strings (which may hold commas) included.
_ELEMENT = re.compile(f'[^",]*(?:{_QUOTED_STRING}[^",]*)*', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab: header injection


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: ``scheme`` lower-case, ``params`` (read-only) with lower-case names."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.scheme, frozenset(self.params.items())))

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
    wanted = scheme.lower()
    return next((challenge for challenge in challenges if challenge.scheme == wanted), None)


def _end_of(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where the match of ``pattern`` (one that may be empty) at ``pos`` ends."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _skip_element(text: str, pos: int) -> int:
    """Where the malformed element at ``pos`` ends: the next comma outside quotes, or the end."""
    end = _end_of(_ELEMENT, text, pos)
    return len(text) if text.startswith('"', end) else end  # an unterminated quote runs to the end


class _Parser:
    """Challenges of successive header values, within the budget of elements."""

    def __init__(self) -> None:
        self.challenges: list[tuple[str, dict[str, str]]] = []
        self.elements_left = MAX_ELEMENTS

    def take_element(self) -> bool:
        self.elements_left -= 1
        return self.elements_left >= 0

    def parse(self, text: str) -> None:
        """Parse one header value, appending its ``(scheme, params)`` pairs."""
        n = len(text)
        pos = 0
        current: dict[str, str] | None = None  # params of the challenge being read, if any
        while pos < n:
            if len(self.challenges) > MAX_CHALLENGES or not self.take_element():
                return
            pos = _end_of(_SEPARATORS, text, pos)
            if pos == n:
                return
            token = _SCHEME_OR_NAME.match(text, pos)
            if token is None:  # a stray character
                pos = max(_skip_element(text, pos), pos + 1)
                continue
            equals = _EQUALS.match(text, token.end())
            if equals is not None:  # auth-param = token BWS "=" BWS ( token / quoted-string )
                value = _VALUE.match(text, equals.end())
                if value is None:
                    if text.startswith('"', equals.end()):
                        return  # an unterminated quoted string: the rest of the value is inside it
                    pos = _skip_element(text, equals.end())
                    continue
                pos = value.end()
                unquoted = value[1] if value[1] is not None else _ESCAPED.sub(r"\1", value[2][1:-1])
                if current is None or _CONTROL.search(unquoted):
                    pos = _skip_element(text, pos)  # a parameter outside any challenge, or a bad value
                    continue
                name = token[0].lower()
                if name not in current and len(current) < MAX_PARAMS:
                    current[name] = unquoted
                continue
            # A new challenge: the auth-scheme, then whitespace, a comma or the end.
            if token.end() < n and text[token.end()] not in " \t,":
                current = None
                pos = _skip_element(text, token.end())
                continue
            current = {}
            self.challenges.append((token[0].lower(), current))
            pos = token.end()
            token68 = _TOKEN68.match(text, pos)
            if token68 is not None and (token68.end() == n or text[token68.end()] == ","):
                # No scheme regauth speaks uses a token68: skip it.  Parameters after it still
                # attach to this challenge (lenient).
                pos = token68.end()


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` header ``values``, in order.

    Never raises: malformed parts are skipped (see the module docstring).
    """
    parser = _Parser()
    for value in values:
        if len(parser.challenges) >= MAX_CHALLENGES or not parser.take_element():
            break
        if isinstance(value, str):
            parser.parse(value)
    return [Challenge(scheme, params) for scheme, params in parser.challenges[:MAX_CHALLENGES]]
