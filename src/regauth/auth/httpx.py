"""``HttpxRegistryAuth``: registry auth for ``httpx`` (the only module of regauth that imports it)."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from regauth.auth.core import MAX_BODY_BYTES, USER_AGENT, CoreAuth
from regauth.errors import TransportError
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.transport.redirects import strip_query

__all__ = ["HttpxRegistryAuth"]


def _to_httpx(request: HttpRequest) -> httpx.Request:
    headers = [("User-Agent", USER_AGENT), *request.headers]
    return httpx.Request(request.method, request.url, headers=headers, content=request.body or None)


def _from_httpx(response: httpx.Response) -> HttpResponse:
    body = response.content
    if len(body) > MAX_BODY_BYTES:
        raise TransportError(f"{strip_query(str(response.url))}: response larger than 1 MiB")
    return HttpResponse(
        status=response.status_code,
        url=str(response.url),
        headers=tuple(response.headers.multi_items()),
        body=body,
        reason=response.reason_phrase,
    )


class HttpxRegistryAuth(CoreAuth, httpx.Auth):
    """``httpx`` auth for registry APIs (sync and async clients); see :class:`regauth.RegistryAuth`.

    The stored credentials are read (a helper may run) on the first 401 of each registry.
    """

    requires_request_body = True  # the body is replayed after a challenge
    requires_response_body = True  # token responses are parsed

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send up front what is known; on a 401 get a token (or use Basic) and retry once."""
        url = str(request.url)
        header = self._core.preempt(url)
        if header is not None:
            request.headers["Authorization"] = header
        response = yield request
        if response.status_code != 401:
            return
        flow = self._core.answer(
            url, response.headers.get_list("WWW-Authenticate"), request.headers.get("Authorization")
        )
        try:
            step = next(flow)
            while True:
                step = flow.send(_from_httpx((yield _to_httpx(step))))
        except StopIteration as stop:
            retry: str | None = stop.value
        if retry is None:
            return
        request.headers["Authorization"] = retry
        yield request
