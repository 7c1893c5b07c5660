"""Registry auth for ``requests`` and ``httpx``: answer Bearer/Basic challenges with regauth's logins.

Rule: the auth logic is sans-I/O (:func:`regauth.registry.flow.token_flow` plus :class:`_Core`); the two
classes only carry its requests and responses.  Tokens never appear in logs, reprs or messages.

* A 401 with a ``Bearer`` challenge: a token for the challenge's ``scope`` is fetched from its realm
  with the credentials (identity token → refresh grant; username+password → GET with Basic;
  nothing → anonymous), the request is retried once with it.
* Tokens are cached per ``(realm, service, scopes)`` until shortly before they expire; the next
  request to the same repository sends its token up front (no extra round trip).
* ``insufficient_scope`` (e.g. a push after a pull): the scopes held for that repository and the
  challenged ones are merged (``pull`` + ``push`` → ``pull,push``) and a new token fetched.
* A token server that rotates refresh tokens: the new identity token is used from then on (in
  memory; the stored one is left as it is).
* A 401 offering only ``Basic``: the request is retried with Basic, and Basic is sent up front to
  that registry from then on.

``HttpxRegistryAuth`` exists only when httpx is installed; httpx is imported on first use.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase

from regauth._record import record, replace
from regauth._version import __version__
from regauth.api.token import DEFAULT_CLIENT_ID
from regauth.credentials import Credentials
from regauth.errors import TransportError
from regauth.registry.address import normalise
from regauth.registry.challenge import Challenge, find_challenge, parse_www_authenticate
from regauth.registry.flow import token_flow
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.registry.token import Token, basic_auth_header

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpxRegistryAuth", "RegistryAuth"]

log = logging.getLogger("regauth.auth")

PathLike = str | os.PathLike[str]
MAX_TOKEN_BODY = 1 << 20
MAX_REDIRECTS = 10
_USER_AGENT = f"regauth/{__version__}"
_REPO_PATH = re.compile(
    r"/v2/(?P<name>.+?)/(?:manifests/[^/]+|blobs/uploads/[^/]*|blobs/[^/]+|tags/list|referrers/[^/]+)/?"
)

CacheKey = tuple[str, str, tuple[str, ...]]


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes with the actions of the same ``type:name`` joined: sorted, without duplicates.

    ``["repository:a:pull", "repository:a:push"]`` → ``("repository:a:pull,push",)``.
    """
    actions: dict[tuple[str, str], set[str]] = {}
    others: set[str] = set()
    for scope in scopes:
        kind, sep, rest = scope.partition(":")
        name, sep2, acts = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            if scope:
                others.add(scope)
            continue
        actions.setdefault((kind, name), set()).update(a for a in acts.split(",") if a)
    merged = {f"{kind}:{name}:{','.join(sorted(acts))}" for (kind, name), acts in actions.items()}
    return tuple(sorted(merged | others))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2].lower()}"


def _repository(url: str) -> str:
    match = _REPO_PATH.fullmatch(urlsplit(url).path)
    return match.group("name") if match else ""


@record
class _Cached:
    token: str
    deadline: float  # time.monotonic() after which the token is not used

    def __repr__(self) -> str:
        return f"_Cached(token='***', deadline={self.deadline})"


class _Core:
    """Shared state and logic: credentials, token cache, per-repository scopes.  Thread-safe."""

    def __init__(
        self,
        credentials: Credentials | None,
        config: PathLike | None,
        client_id: str,
    ) -> None:
        self._fixed = credentials
        self._config = config
        self._client_id = client_id
        self._lock = threading.Lock()
        self._creds: dict[str, Credentials] = {}
        self._tokens: dict[CacheKey, _Cached] = {}
        self._held: dict[tuple[str, str], CacheKey] = {}
        self._basic: set[str] = set()

    def credentials(self, origin: str) -> Credentials:
        """The credentials for ``origin``: the given ones, else the stored ones, else anonymous."""
        if self._fixed is not None:
            return self._fixed
        with self._lock:
            found = self._creds.get(origin)
        if found is not None:
            return found
        from regauth.api.login import get_credentials

        key = normalise(urlsplit(origin).netloc)
        found = get_credentials(key, config=self._config) or Credentials(server=key)
        with self._lock:
            self._creds[origin] = found
        return found

    def _rotated(self, origin: str, creds: Credentials, refresh_token: str) -> None:
        """The token server rotated the identity token: use the new one (kept in memory only)."""
        new = replace(creds, identity_token=refresh_token)
        with self._lock:
            if self._fixed is not None:
                self._fixed = new
            else:
                self._creds[origin] = new

    def _valid(self, key: CacheKey) -> _Cached | None:
        cached = self._tokens.get(key)
        if cached is None or time.monotonic() >= cached.deadline:
            return None
        return cached

    def preempt(self, url: str) -> str | None:
        """The ``Authorization`` value to send up front for ``url``, if any is known."""
        origin = _origin(url)
        if origin in self._basic:
            creds = self.credentials(origin)
            return basic_auth_header(creds.username, creds.password) if creds.has_password else None
        with self._lock:
            key = self._held.get((origin, _repository(url)))
            cached = self._valid(key) if key is not None else None
        return f"Bearer {cached.token}" if cached is not None else None

    def answer(
        self, url: str, www_authenticate: Sequence[str], sent: str | None
    ) -> Generator[HttpRequest, HttpResponse, str | None]:
        """After a 401 to ``url``: the ``Authorization`` value to retry with, or None to give up.

        Yields the token requests to send (sans-I/O; see :func:`regauth.registry.flow.token_flow`).
        """
        challenges = parse_www_authenticate(www_authenticate)
        origin = _origin(url)
        bearer = find_challenge(challenges, "bearer")
        creds = self.credentials(origin)
        if bearer is not None:
            return (yield from self._bearer(origin, _repository(url), bearer, creds, sent))
        basic = find_challenge(challenges, "basic")
        if basic is not None and creds.has_password:
            header = basic_auth_header(creds.username, creds.password)
            if header == sent:
                return None  # these credentials were refused
            with self._lock:
                self._basic.add(origin)
            return header
        return None

    def _bearer(
        self, origin: str, repo: str, challenge: Challenge, creds: Credentials, sent: str | None
    ) -> Generator[HttpRequest, HttpResponse, str | None]:
        if creds.registry_token:
            header = f"Bearer {creds.registry_token}"
            return None if header == sent else header
        realm, service = challenge.realm, challenge.service
        wanted = challenge.params.get("scope", "").split()
        with self._lock:
            held = self._held.get((origin, repo))
            if held is not None and held[:2] == (realm, service):
                wanted = [*held[2], *wanted]
            key: CacheKey = (realm, service, merge_scopes(wanted))
            cached = self._valid(key)
            if cached is not None and f"Bearer {cached.token}" == sent:
                del self._tokens[key]  # refused: do not offer it again
                cached = None
        if cached is None:
            log.debug("token request to %s for %s", realm.split("?", 1)[0], " ".join(key[2]) or "(no scope)")
            token: Token = yield from token_flow(
                origin, creds, key[2], client_id=self._client_id, challenge=challenge
            )
            if creds.identity_token and token.refresh_token not in ("", creds.identity_token):
                self._rotated(origin, creds, token.refresh_token)
            lifetime = float(token.expires_in)
            margin = min(30.0, lifetime / 10)
            cached = _Cached(token.access_token, time.monotonic() + max(lifetime - margin, 1.0))
        with self._lock:
            self._tokens[key] = cached
            self._held[(origin, repo)] = key
        return f"Bearer {cached.token}"


def _make_credentials(
    credentials: Credentials | None, username: str | None, password: str | None, identity_token: str | None
) -> Credentials | None:
    if credentials is not None:
        if username or password or identity_token:
            raise TypeError("pass either credentials= or username/password/identity_token, not both")
        return credentials
    if username is None and password is None and identity_token is None:
        return None
    return Credentials(username=username or "", password=password or "", identity_token=identity_token or "")


# ---------------------------------------------------------------------------------------------
# requests
# ---------------------------------------------------------------------------------------------


def _send_token_request(
    adapter: Any, request: HttpRequest, kwargs: dict[str, Any]
) -> HttpResponse:
    """Send one flow request through the registry request's adapter (same TLS, proxies, timeout)."""
    method, url, body = request.method, request.url, request.body or None
    headers = {"User-Agent": _USER_AGENT, **dict(request.headers)}
    for _hop in range(MAX_REDIRECTS + 1):
        prep = requests.Request(method, url, headers=headers, data=body).prepare()
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
                if size > MAX_TOKEN_BODY:
                    raise TransportError(f"{url.split('?', 1)[0]}: response larger than 1 MiB")
                chunks.append(chunk)
        finally:
            resp.close()
        location = resp.headers.get("location")
        if resp.status_code in (301, 302, 303, 307, 308) and location:
            target = urljoin(url, location)
            if url.startswith("https://") and target.startswith("http://"):
                raise TransportError(f"{url.split('?', 1)[0]}: refusing redirect from HTTPS to plain HTTP")
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
            continue
        return HttpResponse(
            status=resp.status_code,
            url=url,
            headers=tuple(resp.headers.items()),
            body=b"".join(chunks),
            reason=resp.reason or "",
        )
    raise TransportError(f"{request.url.split('?', 1)[0]}: too many redirects")


class _CoreAuth:
    """What both auth classes share: the constructor (credentials -> :class:`_Core`) and a repr
    that never shows them."""

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        identity_token: str | None = None,
        credentials: Credentials | None = None,
        config: PathLike | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
    ) -> None:
        self._core = _Core(
            _make_credentials(credentials, username, password, identity_token), config, client_id
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RegistryAuth(_CoreAuth, AuthBase):
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
        jar = prep._cookies  # type: ignore[attr-defined]
        requests.cookies.extract_cookies_to_jar(jar, r.request, r.raw)  # type: ignore[no-untyped-call]
        prep.prepare_cookies(jar)
        prep.headers["Authorization"] = header
        retried: requests.Response = r.connection.send(prep, **kwargs)
        retried.history.append(r)
        retried.request = prep
        return retried


# ---------------------------------------------------------------------------------------------
# httpx (optional)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _httpx_class() -> type[httpx.Auth]:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("regauth.auth.HttpxRegistryAuth needs httpx: pip install 'regauth[httpx]'") from exc

    def to_httpx(request: HttpRequest) -> httpx.Request:
        headers = [("User-Agent", _USER_AGENT), *request.headers]
        return httpx.Request(request.method, request.url, headers=headers, content=request.body or None)

    def from_httpx(response: httpx.Response) -> HttpResponse:
        return HttpResponse(
            status=response.status_code,
            url=str(response.url),
            headers=tuple(response.headers.multi_items()),
            body=response.content,
            reason=response.reason_phrase,
        )

    class HttpxRegistryAuth(_CoreAuth, httpx.Auth):
        """``httpx`` auth for registry APIs (sync and async clients); see :class:`RegistryAuth`.

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
                    step = flow.send(from_httpx((yield to_httpx(step))))
            except StopIteration as stop:
                retry: str | None = stop.value
            if retry is None:
                return
            request.headers["Authorization"] = retry
            yield request

    return HttpxRegistryAuth


if TYPE_CHECKING:
    HttpxRegistryAuth: type[httpx.Auth]


def __getattr__(name: str) -> Any:
    if name == "HttpxRegistryAuth":
        return _httpx_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
