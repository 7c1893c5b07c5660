"""HTTP request/response descriptions exchanged between the sans-I/O flows and a transport.

Rule: no I/O here.  Their repr never shows Authorization headers or bodies (they may hold secrets).

Also the two URL helpers the flows need, :func:`split_url` and :func:`form_encode`: ``urlsplit``
and ``urlencode`` for the plain http(s) URLs of a login, without importing ``urllib.parse`` (which
pulls in ``re``, ``ipaddress``, ``functools``...: ~20 ms of every ``regauth login``, issue 6).
Anything unusual still goes to ``urllib.parse``, imported then.
"""

from __future__ import annotations

from regauth._record import field, record

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "BadPortError",
    "HttpRequest",
    "HttpResponse",
    "SplitUrl",
    "first_header",
    "form_encode",
    "split_url",
]

Headers = tuple[tuple[str, str], ...]


def first_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive) among ``(name, value)`` pairs, or None."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@record
class HttpRequest:
    """One request a flow wants sent.  ``body`` is already encoded (form bodies included)."""

    method: str
    url: str
    headers: Headers = ()
    body: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        names = ", ".join(name for name, _ in self.headers)
        return f"HttpRequest({self.method} {self.url.split('?', 1)[0]} headers=[{names}])"

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        return first_header(self.headers, name)


@record
class HttpResponse:
    """One response the transport got.  ``headers`` keeps every value of repeated headers."""

    status: int
    url: str
    headers: Headers = ()
    body: bytes = field(default=b"", repr=False)
    reason: str = ""

    def __repr__(self) -> str:
        return f"HttpResponse({self.status} {self.reason} {self.url.split('?', 1)[0]})"

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        return first_header(self.headers, name)


@record
class SplitUrl:
    """``urllib.parse.urlsplit``'s fields, with ``hostname`` and the checked ``port`` computed."""

    scheme: str
    netloc: str
    path: str
    query: str
    fragment: str
    hostname: str | None
    port: int | None


class BadPortError(ValueError):
    """A URL whose port is not a number in 0-65535 (the message is ``urlsplit``'s)."""


def split_url(url: str) -> SplitUrl:
    """What ``urlsplit(url)`` gives, ``port`` included.

    Raises:
        ValueError: as ``urlsplit(url)`` would (a bad IPv6 literal, say).
        BadPortError: a ValueError, as ``urlsplit(url).port`` would (not a number in 0-65535).
    """
    plain = _split_plain(url)
    if plain is not None:
        return plain
    from urllib.parse import urlsplit  # rare path: IPv6 literal, non-ASCII, odd characters...

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise BadPortError(str(exc)) from None
    return SplitUrl(parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment, parts.hostname, port)


def _split_plain(url: str) -> SplitUrl | None:
    """``split_url`` of a lower-case ``http(s)://`` URL of printable ASCII without brackets,
    ``%`` in the host or a bad port; None for anything else (``urllib.parse`` decides those)."""
    if url.startswith("https://"):
        scheme = "https"
    elif url.startswith("http://"):
        scheme = "http"
    else:
        return None
    if not (url.isascii() and url.isprintable()) or " " in url:
        return None  # urlsplit strips or removes some whitespace and control characters
    rest = url[len(scheme) + 3 :]
    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter, 0, end)
        if found >= 0:
            end = found
    netloc, rest = rest[:end], rest[end:]
    host, _, port_text = netloc.rpartition("@")[2].partition(":")
    if "[" in netloc or "]" in netloc or "%" in host:
        return None
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            return None
        port = int(port_text)
    fragment = query = ""
    if "#" in rest:
        rest, fragment = rest.split("#", 1)
    if "?" in rest:
        rest, query = rest.split("?", 1)
    return SplitUrl(scheme, netloc, rest, query, fragment, host.lower() or None, port)


# What urllib.parse.quote_plus(safe="") leaves as it is; space becomes "+", other bytes %XX.
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def form_encode(pairs: Iterable[tuple[str, str]]) -> str:
    """``urllib.parse.urlencode(pairs)`` for ``str`` pairs (UTF-8, ``quote_plus``).

    Raises:
        UnicodeEncodeError: a lone surrogate, as ``urlencode`` would.
    """
    return "&".join(f"{_form_quote(key)}={_form_quote(value)}" for key, value in pairs)


def _form_quote(text: str) -> str:
    raw = text.encode("utf-8")
    if not raw.translate(None, _UNRESERVED):
        return text  # only unreserved characters: the usual case
    return "".join([chr(b) if b in _UNRESERVED else "+" if b == 0x20 else f"%{b:02X}" for b in raw])
