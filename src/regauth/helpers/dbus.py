"""A minimal synchronous D-Bus client.  Rule: stdlib only, and nothing that costs start-up time.

Enough of the D-Bus specification for the Secret Service helper: connecting to the session bus
over a Unix socket (``unix:path=`` and ``unix:abstract=`` addresses), ``AUTH EXTERNAL``, ``Hello``,
method calls and their replies or errors.  No threads, no signals handling (they are dropped), no
file-descriptor passing.

Marshalling covers every type of the wire format (``y b n q i u x t d h s o g``, arrays, structs,
dict entries, variants) in either byte order; alignment is relative to the start of the message,
and a body always starts 8-aligned, so a body marshalled from offset 0 is aligned correctly.
Python values: ``y n q i u x t h`` int, ``b`` bool, ``d`` float, ``s o g`` str, ``ay`` bytes,
other arrays list, ``a{..}`` dict, structs tuple, a variant a ``(signature, value)`` pair.

Imports: ``_socket`` (the C module behind ``socket``, which would pull ``enum`` and ``selectors``
in), ``os``, ``sys`` and ``time`` (all loaded by the interpreter anyway); ``struct`` only for ``d``.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    Writer = Callable[[bytearray, Any, Any, int], None]
    Reader = Callable[[bytes, int, Any, int], tuple[Any, int]]

__all__ = [
    "BUS_NAME",
    "BUS_PATH",
    "Connection",
    "DBusConnectError",
    "DBusError",
    "DBusProtocolError",
    "Message",
    "marshal",
    "method_call",
    "parse_address",
    "parse_message",
    "session_bus_address",
    "split_signature",
    "unmarshal",
]

BUS_NAME = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
_FIELD_PATH, _FIELD_INTERFACE, _FIELD_MEMBER, _FIELD_ERROR_NAME = 1, 2, 3, 4
_FIELD_REPLY_SERIAL, _FIELD_DESTINATION, _FIELD_SENDER, _FIELD_SIGNATURE = 5, 6, 7, 8
_MAX_MESSAGE = 128 * 1024 * 1024  # the specification's limit
_MAX_DEPTH = 64  # 32 arrays + 32 structs, as the specification allows
_MAX_ARRAY = 64 * 1024 * 1024

_ALIGN = {
    "y": 1, "g": 1, "v": 1,
    "n": 2, "q": 2,
    "b": 4, "i": 4, "u": 4, "h": 4, "s": 4, "o": 4, "a": 4,
    "x": 8, "t": 8, "d": 8, "(": 8, "{": 8,
}  # fmt: skip
_INTS = {"y": (1, False), "n": (2, True), "q": (2, False), "i": (4, True), "u": (4, False),
         "h": (4, False), "x": (8, True), "t": (8, False)}  # fmt: skip
_BASIC = "ybnqiuxtdhsog"
_ORDERS: dict[str, Any] = {"l": "little", "B": "big"}


class DBusError(Exception):
    """An error reply: ``name`` (e.g. ``org.freedesktop.DBus.Error.ServiceUnknown``) and its text."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message or name)
        self.name = name
        self.message = message


class DBusConnectError(Exception):
    """The bus cannot be reached, refuses us, or goes away (the message says which)."""


class DBusProtocolError(ValueError):
    """Bytes or values that do not follow the D-Bus wire format."""


# -- signatures ----------------------------------------------------------------------------------
def _type_end(sig: str, i: int, depth: int = 0) -> int:
    """Index just after the single complete type starting at ``sig[i]``."""
    if depth > _MAX_DEPTH:
        raise DBusProtocolError("signature nested too deeply")
    if i >= len(sig):
        raise DBusProtocolError(f"incomplete signature {sig!r}")
    c = sig[i]
    if c in _BASIC or c == "v":
        return i + 1
    if c == "a":
        return _type_end(sig, i + 1, depth + 1)
    if c == "(":
        j = i + 1
        if j < len(sig) and sig[j] == ")":
            raise DBusProtocolError("empty struct in signature")
        while j < len(sig) and sig[j] != ")":
            j = _type_end(sig, j, depth + 1)
        if j >= len(sig):
            raise DBusProtocolError(f"unclosed struct in signature {sig!r}")
        return j + 1
    if c == "{":
        if i == 0 or sig[i - 1] != "a" or i + 1 >= len(sig) or sig[i + 1] not in _BASIC:
            raise DBusProtocolError(f"bad dict entry in signature {sig!r}")
        j = _type_end(sig, _type_end(sig, i + 1, depth + 1), depth + 1)
        if j >= len(sig) or sig[j] != "}":
            raise DBusProtocolError(f"bad dict entry in signature {sig!r}")
        return j + 1
    raise DBusProtocolError(f"unknown type code {c!r} in signature {sig!r}")


_SPLIT_CACHE: dict[str, list[str]] = {}


def split_signature(sig: str) -> list[str]:
    """The complete types of ``sig``, e.g. ``"sa{sv}(oayays)"`` -> ``["s", "a{sv}", "(oayays)"]``."""
    cached = _SPLIT_CACHE.get(sig)
    if cached is not None:
        return cached
    if len(sig) > 255:
        raise DBusProtocolError("signature longer than 255 characters")
    types = []
    i = 0
    while i < len(sig):
        j = _type_end(sig, i)
        types.append(sig[i:j])
        i = j
    _SPLIT_CACHE[sig] = types
    return types


# -- marshalling ---------------------------------------------------------------------------------
# Each complete type compiles (once, cached) to a writer and a reader closure, so marshalling a
# value runs no per-call dispatch on its signature.  Writers append to a bytearray whose offset 0
# is the start of the message (or of the 8-aligned body); readers take (data, pos) and return
# (value, new pos).  ``depth`` counts container nesting, variants included (limit 64).
_ZEROS = [b"\0" * n for n in range(8)]
_CODECS: dict[str, tuple[Writer, Reader]] = {}


def _truncated() -> DBusProtocolError:
    return DBusProtocolError("message truncated")


def _skip_pad(data: bytes, pos: int, align: int) -> int:
    pad = -pos % align
    if pad:
        end = pos + pad
        if data[pos:end] != _ZEROS[pad]:
            raise DBusProtocolError("non-zero padding") if end <= len(data) else _truncated()
        return end
    return pos


def _int_codec(code: str) -> tuple[Writer, Reader]:
    size, signed = _INTS[code]

    def write(buf: bytearray, value: Any, order: Any, depth: int) -> None:
        if value.__class__ is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise DBusProtocolError(f"type {code!r} needs an int, got {type(value).__name__}")
        pad = -len(buf) % size
        if pad:
            buf += _ZEROS[pad]
        try:
            buf += value.to_bytes(size, order, signed=signed)
        except OverflowError:
            raise DBusProtocolError(f"{value!r} does not fit type {code!r}") from None

    def read(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
        pos = _skip_pad(data, pos, size)
        end = pos + size
        if end > len(data):
            raise _truncated()
        return int.from_bytes(data[pos:end], order, signed=signed), end

    return write, read


def _write_bool(buf: bytearray, value: Any, order: Any, depth: int) -> None:
    if value is not True and value is not False and value not in (0, 1):
        raise DBusProtocolError(f"type 'b' needs a bool, got {value!r}")
    pad = -len(buf) % 4
    if pad:
        buf += _ZEROS[pad]
    buf += (1 if value else 0).to_bytes(4, order)


def _read_bool(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
    pos = _skip_pad(data, pos, 4)
    end = pos + 4
    if end > len(data):
        raise _truncated()
    value = int.from_bytes(data[pos:end], order)
    if value > 1:
        raise DBusProtocolError(f"boolean value {value}")
    return value == 1, end


def _text_codec(code: str) -> tuple[Writer, Reader]:
    def write(buf: bytearray, value: Any, order: Any, depth: int) -> None:
        if value.__class__ is not str and not isinstance(value, str):
            raise DBusProtocolError(f"type {code!r} needs a str, got {type(value).__name__}")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise DBusProtocolError("D-Bus strings must be valid Unicode (no lone surrogates)") from None
        if b"\0" in data:
            raise DBusProtocolError("D-Bus strings cannot contain NUL")
        if code == "g":
            split_signature(value)
            buf.append(len(data))
        else:
            if code == "o" and not value.startswith("/"):
                raise DBusProtocolError(f"not an object path: {value!r}")
            pad = -len(buf) % 4
            if pad:
                buf += _ZEROS[pad]
            buf += len(data).to_bytes(4, order)
        buf += data
        buf.append(0)

    def read(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
        if code == "g":
            if pos >= len(data):
                raise _truncated()
            size = data[pos]
            pos += 1
        else:
            pos = _skip_pad(data, pos, 4)
            if pos + 4 > len(data):
                raise _truncated()
            size = int.from_bytes(data[pos : pos + 4], order)
            pos += 4
        end = pos + size
        if end >= len(data):
            raise _truncated()
        if data[end] != 0:
            raise DBusProtocolError("string not NUL-terminated")
        try:
            return data[pos:end].decode("utf-8"), end + 1
        except UnicodeDecodeError:
            raise DBusProtocolError("string is not valid UTF-8") from None

    return write, read


def _write_double(buf: bytearray, value: Any, order: Any, depth: int) -> None:
    import struct

    pad = -len(buf) % 8
    if pad:
        buf += _ZEROS[pad]
    try:
        buf += struct.pack("<d" if order == "little" else ">d", value)
    except struct.error as exc:
        raise DBusProtocolError(f"type 'd' needs a float: {exc}") from None


def _read_double(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
    import struct

    pos = _skip_pad(data, pos, 8)
    end = pos + 8
    if end > len(data):
        raise _truncated()
    return struct.unpack("<d" if order == "little" else ">d", data[pos:end])[0], end


def _single(sig: str) -> tuple[Writer, Reader]:
    cached = _CODECS.get(sig)
    if cached is None:
        if len(split_signature(sig)) != 1:
            raise DBusProtocolError(f"a variant holds exactly one complete type, not {sig!r}")
        cached = _codec(sig)
    return cached


def _write_variant(buf: bytearray, value: Any, order: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise DBusProtocolError("value nested too deeply")
    try:
        sig, inner = value
    except (TypeError, ValueError):
        raise DBusProtocolError("a variant is a (signature, value) pair") from None
    if not isinstance(sig, str):
        raise DBusProtocolError("a variant is a (signature, value) pair")
    write = _single(sig)[0]
    _WRITE_SIG(buf, sig, order, depth)
    write(buf, inner, order, depth + 1)


def _read_variant(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
    if depth > _MAX_DEPTH:
        raise DBusProtocolError("value nested too deeply")
    sig, pos = _READ_SIG(data, pos, order, depth)
    value, pos = _single(sig)[1](data, pos, order, depth + 1)
    return (sig, value), pos


def _array_codec(elem: str) -> tuple[Writer, Reader]:
    align = _ALIGN[elem[0]]
    is_bytes = elem == "y"
    is_dict = elem[0] == "{"
    if is_dict:
        key_t, value_t = split_signature(elem[1:-1])
        key_w, key_r = _codec(key_t)
        value_w, value_r = _codec(value_t)
    else:
        elem_w, elem_r = _codec(elem)

    def write(buf: bytearray, value: Any, order: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise DBusProtocolError("value nested too deeply")
        pad = -len(buf) % 4
        if pad:
            buf += _ZEROS[pad]
        at = len(buf)
        buf += b"\0\0\0\0"
        pad = -len(buf) % align
        if pad:
            buf += _ZEROS[pad]
        start = len(buf)
        if is_bytes:
            if isinstance(value, str):
                raise DBusProtocolError("type 'ay' needs bytes, got str")
            try:
                buf += bytes(value)
            except (TypeError, ValueError) as exc:
                raise DBusProtocolError(f"type 'ay' needs bytes: {exc}") from None
        elif is_dict:
            if not isinstance(value, dict):
                raise DBusProtocolError(f"type 'a{elem}' needs a dict, got {type(value).__name__}")
            for key, item in value.items():
                pad = -len(buf) % 8
                if pad:
                    buf += _ZEROS[pad]
                key_w(buf, key, order, depth + 1)
                value_w(buf, item, order, depth + 1)
        else:
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise DBusProtocolError(f"type 'a{elem}' needs a list, got {type(value).__name__}")
            for item in value:
                elem_w(buf, item, order, depth + 1)
        size = len(buf) - start
        if size > _MAX_ARRAY:
            raise DBusProtocolError("array longer than 64 MiB")
        buf[at : at + 4] = size.to_bytes(4, order)

    def read(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise DBusProtocolError("value nested too deeply")
        pos = _skip_pad(data, pos, 4)
        if pos + 4 > len(data):
            raise _truncated()
        size = int.from_bytes(data[pos : pos + 4], order)
        if size > _MAX_ARRAY:
            raise DBusProtocolError("array longer than 64 MiB")
        pos = _skip_pad(data, pos + 4, align)
        end = pos + size
        if end > len(data):
            raise _truncated()
        if is_bytes:
            return data[pos:end], end
        depth += 1
        if is_dict:
            result: dict[Any, Any] = {}
            while pos < end:
                pos = _skip_pad(data, pos, 8)
                key, pos = key_r(data, pos, order, depth)
                result[key], pos = value_r(data, pos, order, depth)
            if pos != end:
                raise DBusProtocolError("array length does not match its elements")
            return result, pos
        items = []
        while pos < end:
            item, pos = elem_r(data, pos, order, depth)
            items.append(item)
        if pos != end:
            raise DBusProtocolError("array length does not match its elements")
        return items, pos

    return write, read


def _struct_codec(t: str) -> tuple[Writer, Reader]:
    parts = [_codec(sub) for sub in split_signature(t[1:-1])]
    writers = [w for w, _ in parts]
    readers = [r for _, r in parts]
    count = len(parts)

    def write(buf: bytearray, value: Any, order: Any, depth: int) -> None:
        if isinstance(value, (str, bytes, dict)):
            raise DBusProtocolError(f"type {t!r} needs a tuple, got {type(value).__name__}")
        try:
            items = tuple(value)
        except TypeError:
            raise DBusProtocolError(f"type {t!r} needs a tuple, got {type(value).__name__}") from None
        if len(items) != count:
            raise DBusProtocolError(f"{t} needs {count} values, got {len(items)}")
        if depth > _MAX_DEPTH:
            raise DBusProtocolError("value nested too deeply")
        pad = -len(buf) % 8
        if pad:
            buf += _ZEROS[pad]
        for writer, item in zip(writers, items, strict=True):
            writer(buf, item, order, depth + 1)

    def read(data: bytes, pos: int, order: Any, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise DBusProtocolError("value nested too deeply")
        pos = _skip_pad(data, pos, 8)
        values = []
        for reader in readers:
            value, pos = reader(data, pos, order, depth + 1)
            values.append(value)
        return tuple(values), pos

    return write, read


def _codec(t: str) -> tuple[Writer, Reader]:
    """The writer and reader of one complete (already validated) type."""
    cached = _CODECS.get(t)
    if cached is not None:
        return cached
    c = t[0]
    if c in _INTS:
        codec = _int_codec(c)
    elif c == "b":
        codec = (_write_bool, _read_bool)
    elif c in "sog":
        codec = _text_codec(c)
    elif c == "d":
        codec = (_write_double, _read_double)
    elif c == "v":
        codec = (_write_variant, _read_variant)
    elif c == "a":
        codec = _array_codec(t[1:])
    else:
        codec = _struct_codec(t)
    _CODECS[t] = codec
    return codec


_WRITE_SIG, _READ_SIG = _codec("g")
_READ_FIELDS = _codec("a(yv)")[1]
_FIELD_SIGS = {"o": b"\x01o\x00", "s": b"\x01s\x00", "g": b"\x01g\x00"}


def marshal(signature: str, values: Sequence[Any], order: str = "little") -> bytes:
    """Marshal ``values`` (one per complete type of ``signature``) from offset 0."""
    types = split_signature(signature)
    if len(types) != len(values):
        raise DBusProtocolError(f"signature {signature!r} needs {len(types)} values, got {len(values)}")
    buf = bytearray()
    for t, value in zip(types, values, strict=True):
        _codec(t)[0](buf, value, order, 0)
    return bytes(buf)


def unmarshal(signature: str, data: bytes, order: str = "little") -> tuple[Any, ...]:
    """The values of ``signature`` marshalled in ``data`` from offset 0 (all bytes must be used)."""
    values, pos = _unmarshal_at(signature, data, 0, order)
    if pos != len(data):
        raise DBusProtocolError("trailing bytes after the values")
    return values


def _unmarshal_at(signature: str, data: bytes, pos: int, order: Any) -> tuple[tuple[Any, ...], int]:
    values = []
    for t in split_signature(signature):
        value, pos = _codec(t)[1](data, pos, order, 0)
        values.append(value)
    return tuple(values), pos


# -- messages ------------------------------------------------------------------------------------
class Message:
    """A parsed message: type, flags, serial, header fields, body signature and values."""

    __slots__ = ("body", "fields", "flags", "serial", "signature", "type")

    def __init__(
        self,
        type: int,
        flags: int,
        serial: int,
        fields: dict[int, Any],
        signature: str,
        body: tuple[Any, ...],
    ) -> None:
        self.type = type
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.signature = signature
        self.body = body

    @property
    def reply_serial(self) -> int | None:
        """The serial of the call this message answers (replies and errors)."""
        value = self.fields.get(_FIELD_REPLY_SERIAL)
        return int(value) if value is not None else None

    @property
    def error_name(self) -> str | None:
        """The error name of an error reply."""
        value = self.fields.get(_FIELD_ERROR_NAME)
        return str(value) if value is not None else None


def method_call(
    serial: int,
    path: str,
    member: str,
    *,
    interface: str | None = None,
    destination: str | None = None,
    signature: str = "",
    body: Sequence[Any] = (),
    flags: int = 0,
) -> bytes:
    """The bytes of a method-call message (little-endian)."""
    if serial <= 0 or serial > 0xFFFFFFFF:
        raise DBusProtocolError("serial must be in 1..2**32-1")
    payload = marshal(signature, body)
    buf = bytearray(b"l\x01")
    buf.append(flags)
    buf.append(1)
    buf += len(payload).to_bytes(4, "little")
    buf += serial.to_bytes(4, "little")
    buf += b"\0\0\0\0"  # length of the header fields, set below
    fields = (
        (_FIELD_PATH, "o", path),
        (_FIELD_MEMBER, "s", member),
        (_FIELD_INTERFACE, "s", interface),
        (_FIELD_DESTINATION, "s", destination),
        (_FIELD_SIGNATURE, "g", signature),
    )
    for code, t, value in fields:  # a(yv): each entry 8-aligned, variant signature = one letter
        if value is None or (not value and code != _FIELD_PATH):
            continue
        pad = -len(buf) % 8
        if pad:
            buf += _ZEROS[pad]
        buf.append(code)
        buf += _FIELD_SIGS[t]
        _codec(t)[0](buf, value, "little", 0)
    buf[12:16] = (len(buf) - 16).to_bytes(4, "little")
    pad = -len(buf) % 8
    if pad:
        buf += _ZEROS[pad]
    buf += payload
    return bytes(buf)


def _frame_length(data: bytes | bytearray) -> int:
    """Total length of the message starting ``data`` (needs 16 bytes)."""
    order = _ORDERS.get(chr(data[0]))
    if order is None:
        raise DBusProtocolError(f"bad endianness byte {data[0]!r}")
    if data[3] != 1:
        raise DBusProtocolError(f"unsupported protocol version {data[3]}")
    body_len = int.from_bytes(data[4:8], order)
    fields_len = int.from_bytes(data[12:16], order)
    total = 16 + fields_len + (-fields_len % 8) + body_len
    if total > _MAX_MESSAGE:
        raise DBusProtocolError("message longer than 128 MiB")
    return total


def parse_message(data: bytes) -> Message:
    """Parse one complete message (header and body)."""
    if len(data) < 16:
        raise DBusProtocolError("message truncated")
    total = _frame_length(data)
    if len(data) != total:
        raise DBusProtocolError("message length does not match its header")
    order = _ORDERS[chr(data[0])]
    mtype, flags = data[1], data[2]
    body_len = int.from_bytes(data[4:8], order)
    serial = int.from_bytes(data[8:12], order)
    raw_fields, pos = _READ_FIELDS(data, 12, order, 0)
    pos = _skip_pad(data, pos, 8)
    fields = {code: value[1] for code, value in raw_fields}
    signature = fields.get(_FIELD_SIGNATURE, "")
    if not isinstance(signature, str):
        raise DBusProtocolError("signature header field is not a string")
    if len(data) - pos != body_len:
        raise DBusProtocolError("body length does not match its header")
    body, end = _unmarshal_at(signature, data, pos, order)  # the body starts 8-aligned
    if end != len(data):
        raise DBusProtocolError("trailing bytes after the body")
    return Message(mtype, flags, serial, fields, signature, body)


# -- connection ----------------------------------------------------------------------------------
def session_bus_address() -> str:
    """``$DBUS_SESSION_BUS_ADDRESS``; DBusConnectError when unset."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address:
        raise DBusConnectError("DBUS_SESSION_BUS_ADDRESS is unset")
    return address


def _unescape(value: str) -> bytes:
    out = bytearray()
    i = 0
    raw = value.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x25:  # %
            try:
                out.append(int(raw[i + 1 : i + 3].decode("ascii"), 16))
            except (ValueError, UnicodeDecodeError):
                raise DBusConnectError(f"bad escape in D-Bus address value {value!r}") from None
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def parse_address(address: str) -> list[bytes]:
    """Socket addresses (for ``AF_UNIX``) of a D-Bus address list, in order.

    ``unix:path=P`` gives P, ``unix:abstract=N`` gives ``b"\\0" + N``; other transports are skipped.
    """
    found: list[bytes] = []
    for entry in address.split(";"):
        transport, _, rest = entry.partition(":")
        if transport != "unix" or not rest:
            continue
        keys = {}
        for pair in rest.split(","):
            key, sep, value = pair.partition("=")
            if sep:
                keys[key] = value
        if "path" in keys:
            found.append(_unescape(keys["path"]))
        elif "abstract" in keys:
            found.append(b"\0" + _unescape(keys["abstract"]))
    return found


def _socket_module() -> Any:
    if sys.platform == "win32":
        raise DBusConnectError("D-Bus is not used on Windows")
    try:
        import _socket as sockmod  # the C module: ``socket`` would import enum and selectors
    except ImportError:  # pragma: no cover - interpreters without _socket
        import socket as sockmod  # type: ignore[no-redef]
    if not hasattr(sockmod, "AF_UNIX"):
        raise DBusConnectError("this platform has no Unix sockets")
    return sockmod


class Connection:
    """One authenticated connection to a message bus; ``call`` sends a call and waits for its reply."""

    def __init__(self, address: str | None = None, timeout: float = 25.0) -> None:
        self.timeout = timeout
        self._serial = 0
        self._buf = bytearray()
        self._out = bytearray()
        self._auth_pending = False
        self._waiting: set[int] = set()
        self._stash: dict[int, Message] = {}
        self._hello = 0
        self._unique_name = ""
        self._sock: Any = None
        sockmod = _socket_module()
        if address is None:
            address = session_bus_address()
        targets = parse_address(address)
        if not targets:
            raise DBusConnectError(f"no usable unix: transport in D-Bus address {address!r}")
        error: Exception | None = None
        for target in targets:
            sock = sockmod.socket(sockmod.AF_UNIX, sockmod.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(target)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self._sock = sock
            break
        if self._sock is None:
            last = targets[-1]
            shown = (
                "@" + last[1:].decode("utf-8", "replace")
                if last[:1] == b"\0"
                else last.decode("utf-8", "replace")
            )
            reason = getattr(error, "strerror", None) or error
            raise DBusConnectError(f"cannot connect to {shown}: {reason}") from None
        try:
            self._authenticate()
        except BaseException:
            self.close()
            raise

    def _authenticate(self) -> None:
        # Pipelined, as sd-bus does: AUTH, BEGIN and Hello wait in the output buffer and leave with
        # the first calls in one write; the server's OK line is checked before the first reply.
        uid = str(os.getuid()).encode("ascii").hex()  # type: ignore[attr-defined,unused-ignore]
        self._out += b"\0AUTH EXTERNAL " + uid.encode("ascii") + b"\r\nBEGIN\r\n"
        self._auth_pending = True
        self._hello = self._message(BUS_PATH, "Hello", BUS_NAME, BUS_NAME, "", ())

    def _check_auth(self, deadline: float) -> None:
        while b"\r\n" not in self._buf:
            self._recv(deadline)
        line, _, rest = bytes(self._buf).partition(b"\r\n")
        self._buf = bytearray(rest)
        self._auth_pending = False
        if not line.startswith(b"OK "):
            self.close()
            text = line.decode("ascii", "replace")
            raise DBusConnectError(f"the bus refused authentication: {text}")

    def _message(
        self,
        path: str,
        member: str,
        interface: str | None,
        destination: str | None,
        sig: str,
        body: Sequence[Any],
    ) -> int:
        self._serial += 1
        self._out += method_call(
            self._serial, path, member, interface=interface, destination=destination, signature=sig, body=body
        )
        self._waiting.add(self._serial)
        return self._serial

    def _flush(self) -> None:
        if not self._out:
            return
        if self._sock is None:
            raise DBusConnectError("the connection is closed")
        data, self._out = bytes(self._out), bytearray()
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise DBusConnectError(f"lost the bus connection: {exc}") from None

    def _recv(self, deadline: float) -> None:
        if self._sock is None:
            raise DBusConnectError("the connection is closed")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply in time")
        self._sock.settimeout(left)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise
        except OSError as exc:
            raise DBusConnectError(f"lost the bus connection: {exc}") from None
        if not chunk:
            raise DBusConnectError("the bus closed the connection")
        self._buf += chunk

    def _read_message(self, deadline: float) -> Message:
        if self._auth_pending:
            self._check_auth(deadline)
        while len(self._buf) < 16:
            self._recv(deadline)
        total = _frame_length(self._buf)
        while len(self._buf) < total:
            self._recv(deadline)
        data = bytes(self._buf[:total])
        del self._buf[:total]
        return parse_message(data)

    def send_call(
        self,
        destination: str | None,
        path: str,
        interface: str | None,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> int:
        """Queue a method call; returns its serial (for :meth:`reply`).

        Queued calls leave in one write when a reply is awaited (or at :meth:`flush`).
        """
        return self._message(path, member, interface, destination, signature, body)

    def flush(self) -> None:
        """Send every queued call now."""
        self._flush()

    def reply(self, serial: int) -> tuple[Any, ...]:
        """Wait for the reply to call ``serial``: its body, or DBusError for an error reply.

        Replies may be collected in any order: a reply to another queued call is kept for its own
        ``reply`` (so is the reply to Hello, for :attr:`unique_name`); other messages (signals,
        calls to us) are dropped.  TimeoutError after
        ``timeout`` seconds.
        """
        if serial not in self._waiting:
            raise ValueError(f"no call with serial {serial} is waiting for its reply")
        self._flush()
        deadline = time.monotonic() + self.timeout
        msg = self._stash.pop(serial, None)
        while msg is None:
            got = self._read_message(deadline)
            if got.type not in (METHOD_RETURN, ERROR) or got.reply_serial not in self._waiting:
                continue
            if got.reply_serial == serial:
                msg = got
            else:
                self._stash[int(got.reply_serial)] = got
        self._waiting.discard(serial)
        if msg.type == ERROR:
            text = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
            raise DBusError(msg.error_name or "", text)
        return msg.body

    @property
    def unique_name(self) -> str:
        """Our unique bus name (``:1.42``), from the reply to Hello."""
        if not self._unique_name:
            self._unique_name = str(self.reply(self._hello)[0])
        return self._unique_name

    def read_message(self) -> Message:
        """The next incoming message, whatever it is (for messages sent to us, not replies)."""
        self._flush()
        return self._read_message(time.monotonic() + self.timeout)

    def call(
        self,
        destination: str | None,
        path: str,
        interface: str | None,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> tuple[Any, ...]:
        """Call a method and return the reply's values (DBusError on an error reply)."""
        return self.reply(self.send_call(destination, path, interface, member, signature, body))

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
