"""The docker-credential-helpers wire format, shared by the client and ``serve``.

Rule: no I/O here.  Protocol: docs/credential-stores.md; the Go helpers' (0.6.4) exact output:
docs/credential-helpers.md.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ACTIONS",
    "ERR_NOT_FOUND",
    "ERR_NO_SERVER",
    "ERR_NO_USERNAME",
    "LABEL",
    "TOKEN_USERNAME",
    "decode_creds",
    "decode_list",
    "encode_creds",
    "encode_list",
    "go_json",
    "go_quote",
]

ACTIONS = ("store", "get", "erase", "list", "version")
ERR_NOT_FOUND = "credentials not found in native keychain"
ERR_NO_SERVER = "no credentials server URL"
ERR_NO_USERNAME = "no credentials username"
TOKEN_USERNAME = "<token>"
LABEL = "Docker Credentials"

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# Go's encoding/json string escapes as the Go helpers 0.6.4 write them, for str.translate: every
# control character as \u00XX except \n, \r, \t (so \b and \f too: Go before 1.22), plus \\, \",
# and _GO_ESCAPES.  json.dumps cannot write Go's choice of escapes (it has no option to escape
# <>& or to keep \b and \f as \u0008 and \u000c), so a string is translated here.
_STR_ESCAPES = {i: "\\u%04x" % i for i in range(0x20)}
_STR_ESCAPES.update({ord(k): v for k, v in _GO_ESCAPES.items()})
_STR_ESCAPES.update({ord(k): v for k, v in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                                            ("\t", "\\t"))})  # fmt: skip


def go_quote(text: str) -> str:
    """``text`` as a JSON string, byte for byte as the Go helpers 0.6.4 write it (UTF-8 kept)."""
    return '"' + text.translate(_STR_ESCAPES) + '"'


def go_json(obj: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON the way Go's encoding/json writes it (``<>&`` escaped, UTF-8 kept).

    An object of strings (every helper reply) is written with :func:`go_quote`; anything else goes
    through ``json.dumps`` and the ``<>&`` and line-separator escapes Go adds.
    """
    if type(obj) is dict and all(type(k) is str and type(v) is str for k, v in obj.items()):
        keys = sorted(obj) if sort_keys else obj
        return "{" + ",".join([go_quote(k) + ":" + go_quote(obj[k]) for k in keys]) + "}"
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def encode_creds(server: str, username: str, secret: str) -> bytes:
    """``{"ServerURL","Username","Secret"}`` + newline, as Go writes it (store input, get output)."""
    return (go_json({"ServerURL": server, "Username": username, "Secret": secret}) + "\n").encode()


def decode_creds(data: bytes | str) -> tuple[str, str, str]:
    """Parse a credentials JSON object into (server, username, secret).

    Raises ValueError (message free of secrets) when it is not such an object.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValueError("credentials JSON is not an object")
    values = []
    for key in ("ServerURL", "Username", "Secret"):
        value = obj.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"credentials JSON field {key} is not a string")
        values.append(value)
    return values[0], values[1], values[2]


def encode_list(entries: dict[str, str]) -> bytes:
    """The ``list`` reply: a JSON object server -> username, keys sorted, newline-terminated."""
    return (go_json(entries, sort_keys=True) + "\n").encode()


def decode_list(data: bytes | str) -> dict[str, str]:
    """Parse a ``list`` reply.  Raises ValueError when it is not an object of strings."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in obj.items()
    ):
        raise ValueError("list output is not a JSON object of strings")
    return dict(obj)
