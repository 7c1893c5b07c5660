"""The redirect policy, sans-I/O: every client of regauth (its own transport, the requests and
httpx auth objects) follows redirects through :func:`follow`, so the rules live here only.

* Only 301, 302, 303, 307 and 308 with a ``Location`` are followed, at most :data:`MAX_REDIRECTS`.
* HTTPS never redirects to plain HTTP; a URL met twice is a loop.  Both are errors.
* ``Authorization`` is dropped when the redirect leaves the origin (scheme, host and port):
  credentials go only to the host they were meant for.
* 303, and 301/302 after a POST, become a GET without body (as browsers and Go's client do).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from regauth.errors import TransportError
from regauth.registry.messages import HttpRequest, HttpResponse

__all__ = ["MAX_REDIRECTS", "follow", "follow_flow", "next_request", "origin", "strip_query"]

MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

T = TypeVar("T")


def strip_query(url: str) -> str:
    """``url`` without its query (which may carry account names or tokens) for messages."""
    return url.split("?", 1)[0]


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-case, without userinfo."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2].lower()}"


def _without(headers: tuple[tuple[str, str], ...], name: str) -> tuple[tuple[str, str], ...]:
    return tuple((key, value) for key, value in headers if key.lower() != name)


def next_request(request: HttpRequest, response: HttpResponse, seen: set[str]) -> HttpRequest | None:
    """The request a redirect ``response`` to ``request`` calls for, or None if it is no redirect.

    ``seen`` holds the URLs requested so far (updated here).

    Raises:
        TransportError: a malformed target, a loop, or a redirect from HTTPS to plain HTTP.
    """
    location = response.header("Location")
    if response.status not in REDIRECT_STATUSES or not location:
        return None
    url = request.url
    try:
        target = urljoin(url, location)
        other_origin = origin(target) != origin(url)
    except ValueError:  # a malformed IPv6 literal, say
        raise TransportError(f"{strip_query(url)}: redirect to a malformed URL") from None
    if target in seen:
        raise TransportError(f"{strip_query(url)}: redirect loop")
    seen.add(target)
    if url.lower().startswith("https://") and target.lower().startswith("http://"):
        raise TransportError(f"{strip_query(url)}: refusing redirect from HTTPS to plain HTTP")
    method, headers, body = request.method, request.headers, request.body
    if other_origin:
        headers = _without(headers, "authorization")
    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
        method, body = "GET", b""
        headers = _without(headers, "content-type")
    return HttpRequest(method, target, headers, body)


def follow(request: HttpRequest) -> Generator[HttpRequest, HttpResponse, HttpResponse]:
    """Yield ``request`` then each redirect target; return the first response that is no redirect.

    Raises:
        TransportError: see :func:`next_request`, or more than :data:`MAX_REDIRECTS` redirects.
    """
    seen = {request.url}
    current = request
    for _hop in range(MAX_REDIRECTS + 1):
        response = yield current
        following = next_request(current, response, seen)
        if following is None:
            return response
        current = following
    raise TransportError(f"{strip_query(request.url)}: too many redirects")


def follow_flow(flow: Generator[HttpRequest, HttpResponse, T]) -> Generator[HttpRequest, HttpResponse, T]:
    """``flow`` with its redirects followed by :func:`follow`: the flow sees final responses only."""
    try:
        request = next(flow)
        while True:
            response = yield from follow(request)
            request = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        flow.close()
