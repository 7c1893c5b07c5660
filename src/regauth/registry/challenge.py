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
challenge and :data:`MAX_ELEMENTS` elements in all are looked at; every scan is a C string method
(``find``, ``lstrip``, ``replace``) moving forward, over windows that grow geometrically where it
looks ahead, so a 1 MB header costs time linear in its size.  The scanner is hand-written, not a
set of regular expressions, because ``import re`` costs ~17 ms of every ``regauth login``
(issue 6); tests/test_challenge_oracle.py keeps the regex version as the oracle it must match.
"""

from __future__ import annotations

from regauth._record import field, record

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import MappingProxyType as _MappingProxy
else:
    _MappingProxy = type(type.__dict__)  # types.MappingProxyType, without importing types

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

# RFC 7230 tchar; token68 characters (without the '=' padding); optional whitespace.  Sets for
# str.lstrip, which tries them in order: the usual characters first.
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TCHARS = _ALNUM + "!#$%&'*+-.^_`|~"
_T68CHARS = _ALNUM + "-._~+/"
_OWS = " \t"
_SEP = " \t,"
_DROP_BAD = dict.fromkeys([*range(0x09), *range(0x0A, 0x20), 0x7F])  # str.translate: delete these


@record
class Challenge:
    """One authentication challenge: ``scheme`` lower-case, ``params`` with lower-case names."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _MappingProxy(dict(self.params)))

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


def _span(text: str, pos: int, chars: str) -> int:
    """The end of the run of ``chars`` starting at ``pos`` (``pos`` itself if there is none)."""
    n = len(text)
    size = 32
    while pos < n:
        chunk = text[pos : pos + size]
        rest = chunk.lstrip(chars)
        pos += len(chunk) - len(rest)
        if rest:
            return pos
        size *= 2  # a long run: bigger chunks keep the total work linear
    return pos


def _quote_end(text: str, start: int) -> int:
    """The index of the quote closing the quoted string opened at ``text[start]``, or -1."""
    quote = text.find('"', start + 1)
    if quote < 0 or text[quote - 1] != "\\":
        return quote  # the usual case: no backslash before the first quote
    # Backslashes pair from the left (each escapes the next character); once the escaped
    # backslashes and escaped quotes are blanked out, the first quote left is the closing one.
    # Windows of growing size keep a long string linear; a quote found inside a window is
    # decided by the characters before it, which the window holds.
    size = 256
    while True:
        window = text[start + 1 : start + 1 + size]
        quote = window.replace("\\\\", "__").replace('\\"', "__").find('"')
        if quote >= 0:
            return start + 1 + quote
        if start + 1 + size >= len(text):
            return -1
        size *= 4


def _unescape(content: str) -> str:
    """A quoted string's content with each ``\\x`` replaced by ``x``.

    ``content`` comes from a terminated quoted string, so its backslashes pair up from the left:
    split at the escaped backslashes, each piece's remaining backslashes escape the next character.
    """
    if "\\" not in content:
        return content
    return "\\".join([piece.replace("\\", "") for piece in content.split("\\\\")])


def _bad_value(value: str) -> bool:
    """True when ``value`` holds a control character other than tab (header injection)."""
    if value.isprintable():  # the usual case, checked in C; every control character is unprintable
        return False
    return len(value.translate(_DROP_BAD)) != len(value)


def _skip(text: str, pos: int) -> int:
    """Skip a malformed element: the next top-level comma (or the end); quotes run to their end."""
    comma = text.find(",", pos)
    while True:
        quote = text.find('"', pos)
        if quote < 0 or 0 <= comma < quote:
            return comma if comma >= 0 else len(text)
        end = text.find('"', quote + 1)
        if end >= 0 and text[end - 1] == "\\":
            end = _quote_end(text, quote)  # an escape: the slower, exact search
        if end < 0:
            return len(text)  # an unterminated quote runs to the end
        pos = end + 1
        if 0 <= comma < pos:
            comma = text.find(",", pos)  # that comma was inside the quotes


def _parse_one(text: str, out: list[tuple[str, dict[str, str]]], budget: _Budget) -> None:
    """Parse one header value, appending ``(scheme, params)`` pairs to ``out``."""
    n = len(text)
    pos = 0
    current: dict[str, str] | None = None  # params of out[-1], or None when no open challenge
    while pos < n:
        if len(out) > MAX_CHALLENGES or not budget.take():
            return
        pos = _span(text, pos, _SEP)  # separators: whitespace and commas
        if pos >= n:
            return
        token_end = _span(text, pos, _TCHARS)
        if token_end == pos:
            pos = max(_skip(text, pos), pos + 1)  # stray character: skip this element
            continue
        after = _span(text, token_end, _OWS)
        if after < n and text[after] == "=":
            # auth-param: token OWS "=" OWS ( token / quoted-string )
            vstart = _span(text, after + 1, _OWS)
            value: str | None = None
            end = vstart
            if vstart < n and text[vstart] == '"':
                end = _quote_end(text, vstart)
                if end < 0:
                    return  # unterminated quoted string: the rest of the value is inside it
                value = _unescape(text[vstart + 1 : end])
                end += 1
            else:
                vend = _span(text, vstart, _TCHARS)
                if vend > vstart:
                    value = text[vstart:vend]
                    end = vend
            if value is None or current is None or _bad_value(value):
                pos = _skip(text, end)  # malformed param, or a param outside any challenge
                continue
            name = text[pos:token_end].lower()
            if name not in current and len(current) < MAX_PARAMS:
                current[name] = value
            pos = end
            continue
        # A new challenge: auth-scheme, then SP, a comma or the end.
        if token_end < n and text[token_end] not in _SEP:
            current = None
            pos = _skip(text, token_end)
            continue
        current = {}
        out.append((text[pos:token_end].lower(), current))
        pos = after
        t68 = _span(text, pos, _T68CHARS)
        if t68 > pos:
            t68 = _span(text, _span(text, t68, "="), _OWS)
            if t68 == n or text[t68] == ",":
                # token68 (or a malformed ``key=``): no scheme regauth speaks uses it; skip it.
                # Parameters after it still attach to this challenge (lenient).
                pos = t68


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
