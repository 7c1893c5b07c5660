"""HTTP request/response descriptions exchanged between the sans-I/O flows and a transport.

Rule: no I/O here.  Their repr never shows Authorization headers or bodies (they may hold secrets).
"""

from __future__ import annotations

from ._record import field, record

__all__ = ["HttpRequest", "HttpResponse"]

Headers = tuple[tuple[str, str], ...]


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
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


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
        """First value of header ``name``, or None."""
        values = self.header_values(name)
        return values[0] if values else None
