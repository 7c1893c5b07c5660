"""go_quote/go_json: the helpers' replies written without json, as the Go helpers 0.6.4 write them.

Go's encoding/json (the Go 0.6.4 helper binaries, built before Go 1.22) escapes ``"`` and ``\\``,
``\\n``, ``\\r``, ``\\t`` by name, every other control character (``\\b`` and ``\\f`` too) as
``\\u00XX``, ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u00XX``/``\\u20XX``; the rest is UTF-8
(the get reply, docs/credential-helpers.md).  The real helper is compared in test_helpers_interop.py.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from regauth.stores.wire import encode_creds, encode_list, go_json, go_quote

_NAMED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _go_rules(text: str) -> str:
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) < 0x20 or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


@given(_TEXT)
def test_go_quote_follows_go_rules_and_round_trips(text: str) -> None:
    quoted = go_quote(text)
    assert quoted == _go_rules(text)
    assert json.loads(quoted) == text


def test_go_quote_examples() -> None:
    assert go_quote("") == '""'
    assert go_quote('a\x08b\x0cc\x00\x1f\x7f"\\/é😀<>&\u2028\u2029\n\r\t') == (
        '"a\\u0008b\\u000cc\\u0000\\u001f\x7f\\"\\\\/é😀\\u003c\\u003e\\u0026\\u2028\\u2029\\n\\r\\t"'
    )


@given(st.dictionaries(_TEXT, _TEXT, max_size=5))
def test_go_json_objects_of_strings(obj: dict[str, str]) -> None:
    text = go_json(obj, sort_keys=True)
    assert json.loads(text) == obj
    assert text == "{" + ",".join(go_quote(k) + ":" + go_quote(obj[k]) for k in sorted(obj)) + "}"
    assert encode_list(obj) == (text + "\n").encode()


def test_encode_creds_field_order() -> None:
    expected = b'{"ServerURL":"h\\u003c","Username":"u","Secret":"s\\u0008"}\n'
    assert encode_creds("h<", "u", "s\x08") == expected
