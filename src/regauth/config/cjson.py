"""The C half of ``json`` (``_json``), with the ``json`` package as the fallback.

Rule: importing ``json`` pulls ``re`` and ``enum`` (~17 ms on the bench machine, issue 6); CPython's
``_json`` alone does the scanning and the string quoting.  Another interpreter (PyPy has no
``_json``) gets the same behaviour from ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["encode_basestring", "make_scanner", "scan_document"]

WHITESPACE = " \t\n\r"  # what JSON allows around a value

try:
    from _json import encode_basestring, make_scanner
except ImportError:  # pragma: no cover - not CPython
    import json
    from json.encoder import py_encode_basestring as encode_basestring

    def make_scanner(context: Any) -> Callable[[str, int], tuple[Any, int]]:  # type: ignore[no-redef]
        """``_json.make_scanner``: a scanner with ``context``'s hooks (a JSONDecoder's ``scan_once``)."""
        decoder = json.JSONDecoder(
            object_hook=context.object_hook,
            object_pairs_hook=context.object_pairs_hook,
            parse_float=context.parse_float,
            parse_int=context.parse_int,
            parse_constant=context.parse_constant,
            strict=context.strict,
        )
        scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
        return scan


def scan_document(scan: Callable[[str, int], tuple[Any, int]], text: str) -> tuple[Any, bool]:
    """Run a scanner over a whole document: (value, True), or (None, False) when ``text`` is not one
    JSON value and nothing else (the caller asks ``json`` for the exact error).

    Errors the scanner raises (``ValueError`` from the hooks, ``JSONDecodeError``) propagate.  The C
    scanner words a syntax error with ``json.decoder.JSONDecodeError``, which it looks up only among
    loaded modules: before ``json`` is imported it fails with a SystemError and no exception set.
    """
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = scan(text, start)
    except (StopIteration, SystemError):
        return None, False
    return value, not text[end:].strip(WHITESPACE)
