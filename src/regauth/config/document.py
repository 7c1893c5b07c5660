"""The JSON text of ``config.json``: strict parsing and Docker's byte-exact serialisation.

Parsing is :func:`json.loads` with three additions: a key repeated in one object is refused (Go
would silently keep the last one, and a hand-edited duplicate usually hides a mistake), ``NaN`` and
``Infinity`` are refused (they are not JSON), and every number keeps its original text, so a value
we do not understand is written back exactly as it was read.

Serialisation is what Go's ``json.MarshalIndent(v, "", "\\t")`` writes (docs/config-file.md, "Save"):
tab indentation, ``": "`` after keys, no trailing newline, non-ASCII kept as UTF-8, and Go's escapes
``\\u003c`` ``\\u003e`` ``\\u0026`` for ``<`` ``>`` ``&`` and ``\\u2028`` ``\\u2029`` for the two line
separators.  A lone UTF-16 surrogate (only reachable through a ``\\udXXX`` escape in the file) is
written back as the same escape, so the file stays valid UTF-8.  Keys are written in the mapping's
order; the caller decides that order.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["DuplicateKeyError", "dumps", "loads", "quote"]


class DuplicateKeyError(ValueError):
    """A key appears twice in one JSON object."""


class _Float(float):
    """A JSON number with a fraction or exponent that remembers its text (``1.50`` stays ``1.50``)."""

    text: str

    def __new__(cls, text: str) -> _Float:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]  # copy and pickle keep the text
        return (self.text,)


class _Integer(int):
    """A JSON integer that remembers its text (``-0`` stays ``-0``)."""

    text: str

    def __new__(cls, text: str) -> _Integer:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]  # copy and pickle keep the text
        return (self.text,)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build one JSON object; refuse a repeated key."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate key {quote(key)} in a JSON object")
            seen.add(key)
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """Parse one JSON document strictly: duplicate keys, ``NaN``/``Infinity`` and control
    characters in strings are refused; numbers keep their text for :func:`dumps`.

    Raises ValueError with a one-line message that quotes nothing of the document but a
    duplicated key.
    """
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_float=_Float,
            parse_int=_Integer,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


#: One string as JSON text, non-ASCII kept (``JSONEncoder.encode`` of a ``str``).
_encode_string = json.JSONEncoder(ensure_ascii=False).encode

#: What Go escapes beyond JSON's own escapes, plus lone surrogates (not encodable as UTF-8).
_GO_ESCAPED = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def _go_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def quote(text: str) -> str:
    """``text`` as one JSON string the way Go writes it (for messages too: one line, escaped)."""
    return _GO_ESCAPED.sub(_go_escape, _encode_string(text))


def dumps(data: dict[str, Any]) -> str:
    """``data`` in Docker's on-disk format (see the module docstring).

    Raises TypeError for a value JSON cannot hold and ValueError for NaN or an infinity.
    """
    out: list[str] = []
    _write(data, "\n", out)
    # <, >, &, U+2028, U+2029 and surrogates occur only inside strings (numbers are digits, signs
    # and letters e/E; the rest is punctuation), so Go's escapes are applied once to the whole text.
    return _GO_ESCAPED.sub(_go_escape, "".join(out))


def _write(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value``'s JSON text to ``out``; ``newline`` is the line break plus its indentation."""
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "\t"
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            out.append(separator + _encode_string(key) + ": ")
            _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "\t"
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (_Float, _Integer)):
        out.append(value.text)
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinities cannot be written as JSON")
        out.append(float.__repr__(value))
    else:
        raise TypeError(f"cannot write a {type(value).__name__} as JSON")
