"""HTTP request/response descriptions exchanged between the sans-I/O flows and a transport.

Rule: no I/O here.  Their repr never shows header values or bodies (they may hold secrets).
Also the two URL helpers the flows and the transport share: :func:`split_url` and
:func:`form_encode`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

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
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        return first_header(self.headers, name)


@dataclass(frozen=True, slots=True)
class SplitUrl:
    """``urllib.parse.urlsplit``'s fields, with ``hostname`` and the checked ``port``."""

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
    """``urlsplit(url)``, ``hostname`` and ``port`` included.

    Raises:
        ValueError: as ``urlsplit(url)`` would (a bad IPv6 literal, say).
        BadPortError: a ValueError, as ``urlsplit(url).port`` would (not a number in 0-65535).
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise BadPortError(str(exc)) from None
    return SplitUrl(parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment, parts.hostname, port)


def form_encode(pairs: Iterable[tuple[str, str]]) -> str:
    """``application/x-www-form-urlencoded`` text of ``pairs``, in order (UTF-8, space as ``+``).

    This is also the encoding of Go's ``url.Values.Encode`` for keys given in sorted order.

    Raises:
        UnicodeEncodeError: a lone surrogate.
    """
    return urlencode(list(pairs))
