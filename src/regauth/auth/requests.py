"""``RegistryAuth``: registry auth for ``requests`` (the only module of regauth that imports it)."""

from __future__ import annotations

import functools
from typing import Any

import requests
from requests.auth import AuthBase

from regauth.auth.core import MAX_BODY_BYTES, USER_AGENT, CoreAuth
from regauth.errors import TransportError
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.transport.redirects import strip_query

__all__ = ["RegistryAuth"]


def _send_token_request(adapter: Any, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponse:
    """Send one token request through the registry request's adapter (same TLS, proxies, timeout);
    redirects are not followed here but by the flow (one policy for every client)."""
    headers = {"User-Agent": USER_AGENT, **dict(request.headers)}
    prep = requests.Request(request.method, request.url, headers=headers, data=request.body or None).prepare()
    resp = adapter.send(
        prep,
        stream=True,
        timeout=kwargs.get("timeout"),
        verify=kwargs.get("verify", True),
        cert=kwargs.get("cert"),
        proxies=kwargs.get("proxies") or {},
    )
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise TransportError(f"{strip_query(request.url)}: response larger than 1 MiB")
            chunks.append(chunk)
    finally:
        resp.close()
    return HttpResponse(
        status=resp.status_code,
        url=request.url,
        headers=tuple(resp.headers.items()),
        body=b"".join(chunks),
        reason=resp.reason or "",
    )


def _add_cookies_set_by(response: requests.Response, retry: requests.PreparedRequest) -> None:
    """Send the cookies the 401 set (a load balancer's, say) with the retry, after the request's own."""
    jar = requests.cookies.RequestsCookieJar()
    requests.cookies.extract_cookies_to_jar(jar, response.request, response.raw)  # type: ignore[no-untyped-call]
    new = requests.cookies.get_cookie_header(jar, retry)  # type: ignore[no-untyped-call]
    if new:
        old = retry.headers.get("Cookie")
        retry.headers["Cookie"] = f"{old}; {new}" if old else new


class RegistryAuth(CoreAuth, AuthBase):
    """``requests`` auth for registry APIs: Bearer tokens (cached, scope-upgraded) or Basic.

    With no arguments the credentials stored for each registry (``regauth login`` / ``docker
    login``, in ``config`` or the default config directory) are used; registries with nothing
    stored get anonymous tokens.  Or pass ``username``+``password``, ``identity_token``, or
    ``credentials``.  One object may serve many registries and threads.

    Token server failures raise :class:`regauth.AuthError` / ``ProtocolError`` /
    ``TransportError``; a registry that still answers 401 after one retry returns that 401.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add a known token (or Basic) up front; register the 401 handler."""
        header = self._core.preempt(r.url or "")
        if header is not None:
            r.headers["Authorization"] = header
        pos: int | None = None
        tell = getattr(r.body, "tell", None)
        if tell is not None:
            try:
                pos = int(tell())
            except OSError:
                pos = None
        r.register_hook(  # type: ignore[no-untyped-call]
            "response", functools.partial(self._handle_401, pos=pos)
        )
        return r

    def _handle_401(self, r: requests.Response, *, pos: int | None, **kwargs: Any) -> requests.Response:
        if r.status_code != 401:
            return r
        body = r.request.body
        if pos is not None:
            body.seek(pos)  # type: ignore[union-attr]
        elif body is not None and not isinstance(body, (bytes, str)):
            return r  # a one-shot stream cannot be sent twice
        sent = r.request.headers.get("Authorization")
        values = [r.headers["WWW-Authenticate"]] if "WWW-Authenticate" in r.headers else []
        flow = self._core.answer(r.url, values, sent)
        try:
            request = next(flow)
            while True:
                request = flow.send(_send_token_request(r.connection, request, kwargs))
        except StopIteration as stop:
            header: str | None = stop.value
        if header is None:
            return r
        r.content  # noqa: B018  (release the connection for the retry)
        r.close()
        prep = r.request.copy()
        _add_cookies_set_by(r, prep)
        prep.headers["Authorization"] = header
        retried: requests.Response = r.connection.send(prep, **kwargs)
        retried.history.append(r)
        retried.request = prep
        return retried
