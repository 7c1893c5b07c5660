"""Docker's ``config.json``.  Rule: load strictly, keep every key in order, save locked and atomic.

Source: docker-behaviour.md §3, observed.md §3.1, §3.7, §3.8, §8.  What Docker does and we keep:
the location rules, the on-disk format (tab indent, Go escapes, no trailing newline), the save
procedure (0700 dir, 0600 temp file in the target's directory, symlink target replaced, mode and
owner copied, rename).  What Docker lacks and we add: unknown keys kept (at every level, in file
order), an exclusive lock with a re-read under it, fsync of the file and its directory, and never a
write over a file that failed to load (docker/cli#5075).

Decisions:
- ``null`` is accepted where Go accepts it for a typed field (``auths``, ``credsStore``,
  ``credHelpers``, the entry string fields: read as absent); an ``auths`` entry must be an object.
- Owner copy: like Docker, ``chown`` to the old file's uid/gid when both are > 0; a failure (not
  permitted) is ignored as Docker ignores it: the file then belongs to the writer, mode copied.
"""

from __future__ import annotations

import binascii
import errno
import os
import stat
import sys

try:  # the C halves of bisect and functools: the Python modules cost start-up time (issue 6)
    from _bisect import bisect_left
    from _functools import partial  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter without them
    from bisect import bisect_left
    from functools import partial
from itertools import chain, repeat

from regauth.config.cjson import encode_basestring, make_scanner, scan_document
from regauth.config.lock import LockUnavailableError, file_lock
from regauth.credentials import Credentials
from regauth.errors import ConfigError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

# Import cost (issue 6): a logout must not pay for ``json`` (it pulls ``re`` and ``enum``: ~17 ms
# here), ``pathlib``, ``contextlib`` or ``collections``.  The C halves of ``json`` (``_json``) do
# the work; paths are ``str``.

__all__ = [
    "CONFIG_FILENAME",
    "MAX_CONFIG_SIZE",
    "ConfigFile",
    "check",
    "config_dir",
    "config_path",
    "decode_auth",
    "dumps",
    "encode_auth",
    "entry_credentials",
    "load",
    "loads",
    "update",
    "write_atomic",
]

CONFIG_FILENAME = "config.json"
MAX_CONFIG_SIZE = 16 * 1024 * 1024
TEMP_INFIX = ".tmp-"
_INFINITY = float("inf")
_ENTRY_STRING_FIELDS = ("auth", "identitytoken", "registrytoken")


# --------------------------------------------------------------------------- location


def config_dir(
    override: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The config directory: ``--config DIR`` > ``$DOCKER_CONFIG`` > ``~/.docker``."""
    if override is not None and os.fspath(override) != "":
        return os.fspath(override)
    env = os.environ if environ is None else environ
    value = env.get("DOCKER_CONFIG", "")
    if value:
        return value
    return os.path.join(os.path.expanduser("~"), ".docker")


def config_path(
    override: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """``config_dir(...)/config.json``."""
    return os.path.join(config_dir(override, environ), CONFIG_FILENAME)


# --------------------------------------------------------------------------- auth field


def encode_auth(username: str, password: str) -> str:
    """The ``auth`` field: standard base64 of ``user:password``."""
    return binascii.b2a_base64(f"{username}:{password}".encode(), newline=False).decode("ascii")


if sys.version_info >= (3, 11):

    def _b64decode(text: str) -> bytes:
        """``base64.b64decode(text, validate=True)``, minus its wrapper (10,000 entries per load)."""
        return binascii.a2b_base64(text, strict_mode=True)

else:  # pragma: no cover - 3.10

    def _b64decode(text: str) -> bytes:
        import base64

        return base64.b64decode(text.encode("ascii"), validate=True)


def decode_auth(value: str) -> tuple[str, str]:
    """Split an ``auth`` field into (username, password) as Docker does.

    Splits at the first ``:``, trims NULs from the password.  Raises ValueError, whose message never
    contains the value, when it is not base64, has no ``:``, an empty username, or is not UTF-8.
    """
    cleaned = value.replace("\r", "").replace("\n", "")  # Go's StdEncoding skips these
    try:
        raw = _b64decode(cleaned)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("is not valid base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not valid UTF-8") from None
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("has no ':' separator")
    if not username:
        raise ValueError("has an empty username")
    return username, password.strip("\x00")


def _string_field(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def entry_credentials(key: str, entry: Mapping[str, Any]) -> Credentials:
    """The credentials of an ``auths`` entry (``auth``, ``identitytoken``, ``registrytoken``)."""
    auth = _string_field(entry, "auth")
    username, password = decode_auth(auth) if auth else ("", "")
    return Credentials(
        username=username,
        password=password,
        identity_token=_string_field(entry, "identitytoken"),
        registry_token=_string_field(entry, "registrytoken"),
        server=key,
    )


# --------------------------------------------------------------------------- JSON text


class _Number(float):
    """A JSON float that remembers its original text, so it is written back unchanged."""

    text: str

    def __new__(cls, text: str) -> _Number:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


class _Integer(int):
    """A JSON integer that remembers its original text (``-0`` stays ``-0``)."""

    text: str

    def __new__(cls, text: str) -> _Integer:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
#: ``json.dumps(value, ensure_ascii=False)`` for one string (the C function ``json`` itself uses)
_quote: Callable[[str], str] = encode_basestring


def _go_escape(text: str) -> str:
    """Apply Go's extra escapes (``<``, ``>``, ``&``, U+2028, U+2029; lone surrogates) to JSON text."""
    if text.isascii() and "<" not in text and ">" not in text and "&" not in text:
        return text  # the usual case: four C scans
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate stays an escape
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _string(value: str) -> str:
    """One JSON string as Docker writes it (JSON escapes, then Go's ``<``, ``>``, ``&``... escapes)."""
    return _go_escape(_quote(value))


def _encode(value: Any, level: int, out: list[str]) -> None:
    """Append ``value``'s text to ``out``, JSON-escaped but not yet Go-escaped (see :func:`dumps`)."""
    if isinstance(value, str):
        out.append(_quote(value))
    elif type(value) is dict:  # the common case first: Mapping's isinstance is slow
        _encode_object(value, level, out)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (_Number, _Integer)):
        out.append(value.text)
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        if value != value or value in (_INFINITY, -_INFINITY):
            raise ValueError("NaN and Infinity cannot be written to JSON")
        out.append(repr(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = "\n" + "\t" * (level + 1)
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _encode(item, level + 1, out)
            separator = "," + inner
        out.append("\n" + "\t" * level + "]")
    else:
        from collections.abc import Mapping  # another mapping type: rare, so imported here

        if not isinstance(value, Mapping):
            raise TypeError(f"cannot write a {type(value).__name__} to JSON")
        _encode_object(value, level, out)


def _needs_no_escape(text: str) -> bool:
    """True when JSON writes ``text`` between quotes as it is (printable ASCII, no ``"`` or ``\\``)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _encode_object(value: Mapping[str, Any], level: int, out: list[str]) -> None:
    if not value:
        out.append("{}")
        return
    inner = "\n" + "\t" * (level + 1)
    inner2 = inner + "\t"
    comma, comma2 = "," + inner, "," + inner2
    close2 = inner + "}"
    quote = _quote
    append = out.append
    if len(value) > 8 and set(map(type, value)) == {str}:  # a big ``auths``: C loops, no Python loop
        auths = _plain_auth_values(list(value.values()))
        if auths is not None:  # key, ': {"auth": ', value, '}' + comma; four slices of one list
            keys = list(value)
            count = len(keys)
            if _needs_no_escape("".join(keys)) and _needs_no_escape("".join(auths)):
                opening, mid, close = '"', '": {' + inner2 + '"auth": "', '"' + close2 + comma + '"'
            else:  # quoted one by one
                keys, auths = list(map(quote, keys)), list(map(quote, auths))
                opening, mid, close = "", ": {" + inner2 + '"auth": ', close2 + comma
            parts = [mid] * (4 * count)
            parts[0::4] = keys
            parts[2::4] = auths
            parts[3::4] = [close] * count
            parts[-1] = close.removesuffix(comma + opening)
            append("{" + inner + opening + "".join(parts) + "\n" + "\t" * level + "}")
            return
    separator = "{" + inner
    for key, item in value.items():
        if type(item) is dict and len(item) == 1 and type(key) is str:
            ((key2, value2),) = item.items()
            if type(value2) is str and type(key2) is str:  # {"auth": "..."}: one append
                append(separator + quote(key) + ": {" + inner2 + quote(key2) + ": " + quote(value2) + close2)
                separator = comma
                continue
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
        append(separator)
        append(quote(key))
        append(": ")
        kind = type(item)
        if kind is str:  # most values: no call
            append(quote(item))
        elif kind is dict and item:
            try:  # an object of strings in one go; TypeError: something else
                pairs = [quote(k) + ": " + quote(v) for k, v in item.items()]
            except TypeError:
                _encode_object(item, level + 1, out)
            else:
                append("{" + inner2 + comma2.join(pairs) + close2)
        else:
            _encode(item, level + 1, out)
        separator = comma
    append("\n" + "\t" * level + "}")


def dumps(data: Mapping[str, Any]) -> str:
    """Docker's on-disk format: tab indent, ``": "``, no trailing newline, Go escapes, UTF-8 kept.

    Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u00XX``.  Keys are written in the
    mapping's order (Docker sorts ``auths``; :meth:`ConfigFile.set_auth` keeps a sorted one sorted).
    Those characters can only occur inside strings (numbers are digits, the rest is punctuation),
    so the Go escapes are applied once over the whole text.
    """
    out: list[str] = []
    _encode(data, 0, out)
    return _go_escape("".join(out))


class _DuplicateKeyError(ValueError):
    pass


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"duplicate key {_string(key)} in a JSON object")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _ScanContext:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: our hooks, strict mode."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_pairs_hook)
    parse_float = _Number
    parse_int = _Integer
    parse_constant = staticmethod(_reject_constant)


class _FastScanContext(_ScanContext):
    """No pairs hook: the C scanner builds the dicts itself (3x faster on 10,000 entries)."""

    object_pairs_hook = None  # type: ignore[assignment]


_scan = make_scanner(_ScanContext())  # type: ignore[arg-type]  # duck-typed like JSONDecoder
_scan_fast = make_scanner(_FastScanContext())  # type: ignore[arg-type]


def _colons(value: Any) -> int:
    """Members of every object plus the ``:`` inside every string, over the whole document.

    Level by level, with C loops (``map``, ``chain``, ``join``) over the 10,000 entries of a big
    ``auths`` object rather than a Python call per entry.
    """
    total = 0
    level = [value]
    while level:
        kinds = set(map(type, level))
        if len(kinds) == 1:  # the big levels are all alike: entries, then their strings
            kind = kinds.pop()
            strings = level if kind is str else []
            dicts = level if kind is dict else []
            lists = level if kind is list else []
        else:
            strings = [x for x in level if type(x) is str]
            dicts = [x for x in level if type(x) is dict]
            lists = [x for x in level if type(x) is list]
        if strings:
            total += "".join(strings).count(":")
        level = []
        if dicts:
            total += sum(map(len, dicts)) + "".join(chain.from_iterable(dicts)).count(":")
            level.extend(chain.from_iterable(map(dict.values, dicts)))
        if lists:
            level.extend(chain.from_iterable(lists))
    return total


def _parse(text: str) -> Any:
    """``json.loads(text, ...)`` with our hooks, by the C scanner ``json.loads`` itself uses.

    Raises ValueError; on malformed JSON, ``json.JSONDecodeError`` (``json`` is imported then only,
    for its exact message).

    Duplicate keys without the per-object hook: in a text with no backslash every string's text is
    its value, and every ``:`` outside strings separates one object member, so the text's ``:``
    count equals members + ``:`` in strings of the parsed value exactly when no member was lost to
    a duplicate key.  Otherwise (or with escapes) the hooked scan decides and words the error.
    """
    if "\\" not in text:
        value, whole = scan_document(_scan_fast, text)
        if whole and _colons(value) == text.count(":"):
            return value
    value, whole = scan_document(_scan, text)
    if not whole:
        import json

        json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
        raise ValueError("invalid JSON")  # pragma: no cover - json.loads raised above
    return value


# --------------------------------------------------------------------------- the snapshot


def loads(text: str) -> Any:
    """``json.loads`` as config.json is read (strict, duplicate keys refused) without importing json.

    Raises ValueError.
    """
    return _parse(text)


class ConfigFile:
    """A parsed, validated snapshot of one ``config.json``.

    ``data`` is the whole document in file order, unknown keys kept at every level.
    """

    __slots__ = ("data", "exists", "path")

    def __init__(
        self, path: str | os.PathLike[str], data: dict[str, Any] | None = None, exists: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.data: dict[str, Any] = {} if data is None else data
        self.exists = exists

    def __repr__(self) -> str:
        return f"ConfigFile(path={self.path!r}, exists={self.exists}, keys={list(self.data)!r})"

    def auths(self) -> dict[str, dict[str, Any]]:
        """The live ``auths`` object (created, as the first key, when absent)."""
        auths = self.data.get("auths")
        if not isinstance(auths, dict):
            auths = {}
            rest = {k: v for k, v in self.data.items() if k != "auths"}
            self.data.clear()
            self.data["auths"] = auths
            self.data.update(rest)
        return auths

    def creds_store(self) -> str:
        """``credsStore``, or ``""`` when unset."""
        value = self.data.get("credsStore")
        return value if isinstance(value, str) else ""

    def cred_helpers(self) -> dict[str, str]:
        """``credHelpers`` (host -> helper suffix): the live object, or an empty dict."""
        value = self.data.get("credHelpers")
        return value if isinstance(value, dict) else {}

    def contains_auth(self) -> bool:
        """Docker's ``ContainsAuth``: an ``auths`` entry, a ``credsStore`` or a ``credHelpers``."""
        auths = self.data.get("auths")
        return bool(auths) or bool(self.creds_store()) or bool(self.cred_helpers())

    def set_auth(self, key: str, entry: dict[str, Any]) -> None:
        """Insert or replace entry ``key``; a new key goes to its sorted place if sorted."""
        auths = self.auths()
        if key in auths or not auths:
            auths[key] = entry
            return
        keys = list(auths)
        if keys != sorted(keys):  # timsort: one pass over sorted keys
            auths[key] = entry
            return
        items = list(auths.items())
        items.insert(bisect_left(keys, key), (key, entry))
        auths.clear()
        auths.update(items)

    def remove_auth(self, key: str) -> bool:
        """Remove the entry ``key``; True if it was there."""
        auths = self.data.get("auths")
        if isinstance(auths, dict) and key in auths:
            del auths[key]
            return True
        return False


def _validate(data: Any) -> None:
    """Raise ValueError (one line, no secret) unless ``data`` is a config Docker could use."""
    if not isinstance(data, dict):
        raise ValueError(f"the top level must be a JSON object, not {_kind(data)}")
    auths = data.get("auths")
    if auths is not None:
        if not isinstance(auths, dict):
            raise ValueError(f'"auths" must be a JSON object, not {_kind(auths)}')
        if not _plain_valid_entries(list(auths.values())):
            _validate_entries(auths)
    store = data.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise ValueError(f'"credsStore" must be a string, not {_kind(store)}')
    helpers = data.get("credHelpers")
    if helpers is not None:
        if not isinstance(helpers, dict):
            raise ValueError(f'"credHelpers" must be a JSON object, not {_kind(helpers)}')
        for key, value in helpers.items():
            if not isinstance(value, str):
                raise ValueError(f"credHelpers[{_string(key)}] must be a string, not {_kind(value)}")


def _plain_auth_values(entries: list[Any]) -> list[str] | None:
    """The ``auth`` strings when every entry is exactly ``{"auth": "<non-empty string>"}``, else None.

    C loops (``map``) instead of a Python loop: a 10,000-entry config is checked in a few ms.
    """
    if not entries:
        return []
    if set(map(type, entries)) != {dict} or set(map(len, entries)) != {1}:
        return None
    values: list[Any] = list(map(dict.get, entries, repeat("auth")))
    if set(map(type, values)) != {str} or "" in values:
        return None
    return values


_b64decode_strict = partial(binascii.a2b_base64, strict_mode=True) if sys.version_info >= (3, 11) else None


def _plain_valid_entries(entries: list[Any]) -> bool:
    """True when every entry is a plain ``auth`` entry that :func:`decode_auth` accepts as is.

    False means "look closer" (:func:`_validate_entries` finds the entry and words the problem).
    """
    values = _plain_auth_values(entries)
    if values is None or _b64decode_strict is None:
        return False
    try:
        decoded = list(map(_b64decode_strict, values))
        # one UTF-8 check for all: the "\n" between them keeps a broken sequence from spanning two
        b"\n".join(decoded).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return not decoded or min(map(bytes.find, decoded, repeat(b":"))) > 0  # a ":" after a username


def _validate_entries(auths: dict[str, Any]) -> None:
    """Raise ValueError for the first ``auths`` entry that is not valid (one line, no secret)."""
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise ValueError(f"auths[{_string(key)}] must be a JSON object, not {_kind(entry)}")
        auth = entry.get("auth")
        if len(entry) > 1 or type(auth) is not str:  # not the usual {"auth": "..."}
            _check_entry_fields(key, entry)
        if auth:
            try:  # decode_auth's checks, inline for the common valid case
                user, sep, _ = _b64decode(auth).decode("utf-8").partition(":")
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                sep = ""
            if not (sep and user):  # decode_auth decides (CR/LF are skipped) and says why
                try:
                    decode_auth(auth)
                except ValueError as exc:
                    raise ValueError(f"auths[{_string(key)}].auth {exc}") from None


def _check_entry_fields(key: str, entry: dict[str, Any]) -> None:
    """Raise for the first field of ``_ENTRY_STRING_FIELDS`` (in that order) that is no string."""
    for name in _ENTRY_STRING_FIELDS:
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"auths[{_string(key)}].{name} must be a string, not {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _problem(exc: OSError) -> str:
    code = exc.errno
    if code == errno.ELOOP:
        return "too many levels of symbolic links (symlink loop)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EISDIR:
        return "is a directory, not a file"
    if code == errno.ENOTDIR:
        return "a parent of the path is not a directory"
    return exc.strerror or type(exc).__name__


def _read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist (a dangling symlink counts as missing)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(_problem(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file")
    if info.st_size > MAX_CONFIG_SIZE:
        raise ValueError(f"file too large ({info.st_size} bytes; the limit is {MAX_CONFIG_SIZE})")
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(_problem(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
            raise ValueError("is not a regular file")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_CONFIG_SIZE:
                raise ValueError(f"file too large (more than {MAX_CONFIG_SIZE} bytes)")
            chunks.append(chunk)
    except OSError as exc:
        raise ValueError(_problem(exc)) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


#: The last file content that passed :func:`_validate`: a command that reads the same bytes twice
#: (``login`` with stored credentials: get, then check) validates them once.
_last_valid: bytes | None = None


def _parse_bytes(raw: bytes) -> dict[str, Any]:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ValueError("starts with a UTF-8 byte order mark (BOM); remove it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start}") from None
    if not text.strip():
        raise ValueError("file is empty" if not text else "file holds only whitespace")
    try:
        data = _parse(text)
    except ValueError as exc:
        if type(exc).__name__ != "JSONDecodeError":  # duplicate keys, NaN/Infinity
            raise ValueError(f"invalid JSON: {exc}") from None
        msg, line, column = (getattr(exc, name) for name in ("msg", "lineno", "colno"))
        raise ValueError(f"invalid JSON: {msg.removesuffix(' at')} at line {line} column {column}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    global _last_valid
    if raw != _last_valid:  # validation is a pure function of the bytes: once per content
        _validate(data)
        _last_valid = raw
    return data  # type: ignore[no-any-return]


#: What :func:`check` parsed, for the next :func:`_load` of the same path and bytes (once): a login
#: checks the file before any network traffic, then re-reads it under the lock; with 10,000 entries
#: the second parse would cost 20 ms.  Nobody else ever sees this dict, so it is unmodified.
_checked: tuple[str, bytes, dict[str, Any]] | None = None


def _load(path: str) -> tuple[ConfigFile, bytes | None]:
    global _checked
    handed, _checked = _checked, None
    try:
        raw = _read_bytes(path)
        if raw is None:
            return ConfigFile(path, {}, exists=False), None
        if handed is not None and handed[0] == path and handed[1] == raw:
            return ConfigFile(path, handed[2], exists=True), raw
        data = _parse_bytes(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", str(path)) from None
    return ConfigFile(path, data, exists=True), raw


def check(path: str | os.PathLike[str]) -> None:
    """Load ``path`` strictly and drop the result (ConfigError as :func:`load`).

    The next :func:`update` of ``path`` reuses the parse if the file is unchanged by then.
    """
    global _checked
    cfg, raw = _load(os.fspath(path))
    if raw is not None:
        _checked = (cfg.path, raw, cfg.data)


def load(path: str | os.PathLike[str]) -> ConfigFile:
    """Load ``path`` strictly; a missing file is an empty ``ConfigFile(exists=False)``.

    Any other problem raises :class:`ConfigError` with one line ``<path>: <problem>`` and no secret.
    """
    return _load(os.fspath(path))[0]


# --------------------------------------------------------------------------- save


def _make_dirs(directory: str) -> None:
    """``MkdirAll(directory, 0700)``: every missing level created 0700; existing ones untouched."""
    missing: list[str] = []
    current = directory
    while not os.path.exists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current or not parent:
            break
        current = parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            pass


def _fsync_dir(directory: str) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened there
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _clean_stale_temps(directory: str, name: str) -> None:
    """Remove temp files left by killed writers (they may hold credentials; they never block).

    Called under the lock, after our own rename: writers create temp files only while holding the
    lock, so every temp file still there belongs to a writer that died.
    """
    prefix = name + TEMP_INFIX
    try:
        with os.scandir(directory) as entries:
            stale = [entry for entry in entries if entry.name.startswith(prefix)]
    except OSError:
        return
    for entry in stale:
        try:
            if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                os.unlink(entry.path)
        except OSError:
            pass


def write_atomic(path: str, content: bytes) -> None:
    """Docker's save procedure plus fsync; ConfigError naming ``path``, the old file intact."""
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    temp = os.path.join(directory, f"{name}{TEMP_INFIX}{os.urandom(8).hex()}")  # secrets.token_hex(8)
    fd = -1
    try:
        _make_dirs(directory)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        view = memoryview(content)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        try:
            old = os.stat(target)
        except FileNotFoundError:
            old = None
        if old is not None and stat.S_ISREG(old.st_mode) and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            if hasattr(os, "fchown") and old.st_uid > 0 and old.st_gid > 0:
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except OSError:  # as Docker: not permitted -> the writer owns it
                    pass
        os.close(fd)
        fd = -1
        os.replace(temp, target)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise ConfigError(f"{path}: cannot write: {_problem(exc)}", str(path)) from None
    _fsync_dir(directory)
    _clean_stale_temps(directory, name)


def update(
    path: str | os.PathLike[str], change: Callable[[ConfigFile], bool], *, lock_timeout: float = 30.0
) -> bool:
    """Read-modify-write ``path`` under its lock; return what ``change`` returned.

    Takes the lock, re-reads strictly under it, calls ``change(cfg)`` (it mutates ``cfg`` and
    returns True if it changed something) and, if so, saves atomically, unless the new text is
    byte-identical to the file.  Never writes when the load fails.  Raises :class:`ConfigError`.
    """
    path = os.fspath(path)
    try:  # the lock file lives beside the real file
        _make_dirs(os.path.dirname(os.path.realpath(path)))
    except OSError:
        pass
    try:
        with file_lock(path, lock_timeout):
            cfg, raw = _load(path)
            changed = change(cfg)
            if changed:
                content = dumps(cfg.data).encode("utf-8")
                if raw is None or content != raw:
                    write_atomic(path, content)
            return changed
    except LockUnavailableError as exc:
        # No lock file possible (e.g. a read-only directory): a no-op change still succeeds.
        cfg, _ = _load(path)
        if change(cfg):
            raise ConfigError(
                f"{path}: cannot write: cannot create the lock file: {exc.reason}", str(path)
            ) from None
        return False
