"""What the requests and httpx auth classes share: credentials, the token cache, scopes, the 401 answer.

Rule: sans-I/O.  :meth:`Core.answer` yields the token requests to send and receives their responses
(redirects already followed by :func:`regauth.transport.redirects.follow_flow`, the policy regauth's
own transport uses); each auth class only carries them over its HTTP library.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from regauth._version import __version__
from regauth.api.lookup import get_credentials
from regauth.api.token import DEFAULT_CLIENT_ID
from regauth.credentials import Credentials
from regauth.registry.address import normalise
from regauth.registry.challenge import Challenge, find_challenge, parse_www_authenticate
from regauth.registry.flow import token_flow
from regauth.registry.messages import HttpRequest, HttpResponse
from regauth.registry.token import Token, basic_auth_header
from regauth.transport.connection import MAX_BODY_BYTES
from regauth.transport.redirects import follow_flow, origin

__all__ = ["MAX_BODY_BYTES", "USER_AGENT", "Core", "CoreAuth", "PathLike", "merge_scopes"]

log = logging.getLogger("regauth.auth")

PathLike = str | os.PathLike[str]
USER_AGENT = f"regauth/{__version__}"
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


def _repository(url: str) -> str:
    match = _REPO_PATH.fullmatch(urlsplit(url).path)
    return match.group("name") if match else ""


@dataclass(frozen=True, slots=True)
class _Cached:
    token: str = dataclasses.field(repr=False)
    deadline: float  # time.monotonic() after which the token is not used


class Core:
    """Shared state and logic: credentials, token cache, per-repository scopes.  Thread-safe."""

    def __init__(self, credentials: Credentials | None, config: PathLike | None, client_id: str) -> None:
        self._fixed = credentials
        self._config = config
        self._client_id = client_id
        self._lock = threading.Lock()
        self._creds: dict[str, Credentials] = {}
        self._tokens: dict[CacheKey, _Cached] = {}
        self._held: dict[tuple[str, str], CacheKey] = {}
        self._basic: set[str] = set()

    def credentials(self, registry: str) -> Credentials:
        """The credentials for a registry origin: the given ones, else the stored ones, else anonymous."""
        if self._fixed is not None:
            return self._fixed
        with self._lock:
            found = self._creds.get(registry)
        if found is not None:
            return found
        key = normalise(urlsplit(registry).netloc)
        found = get_credentials(key, config=self._config) or Credentials(server=key)
        with self._lock:
            self._creds[registry] = found
        return found

    def _rotated(self, registry: str, creds: Credentials, refresh_token: str) -> None:
        """The token server rotated the identity token: use the new one (kept in memory only)."""
        new = dataclasses.replace(creds, identity_token=refresh_token)
        with self._lock:
            if self._fixed is not None:
                self._fixed = new
            else:
                self._creds[registry] = new

    def _valid(self, key: CacheKey) -> _Cached | None:
        cached = self._tokens.get(key)
        if cached is None or time.monotonic() >= cached.deadline:
            return None
        return cached

    def preempt(self, url: str) -> str | None:
        """The ``Authorization`` value to send up front for ``url``, if any is known."""
        registry = origin(url)
        if registry in self._basic:
            creds = self.credentials(registry)
            return basic_auth_header(creds.username, creds.password) if creds.has_password else None
        with self._lock:
            key = self._held.get((registry, _repository(url)))
            cached = self._valid(key) if key is not None else None
        return f"Bearer {cached.token}" if cached is not None else None

    def answer(
        self, url: str, www_authenticate: Sequence[str], sent: str | None
    ) -> Generator[HttpRequest, HttpResponse, str | None]:
        """After a 401 to ``url``: the ``Authorization`` value to retry with, or None to give up.

        Yields the token requests to send (see :func:`regauth.registry.flow.token_flow`).
        """
        challenges = parse_www_authenticate(www_authenticate)
        registry = origin(url)
        bearer = find_challenge(challenges, "bearer")
        creds = self.credentials(registry)
        if bearer is not None:
            return (yield from self._bearer(registry, _repository(url), bearer, creds, sent))
        basic = find_challenge(challenges, "basic")
        if basic is not None and creds.has_password:
            header = basic_auth_header(creds.username, creds.password)
            if header == sent:
                return None  # these credentials were refused
            with self._lock:
                self._basic.add(registry)
            return header
        return None

    def _bearer(
        self, registry: str, repo: str, challenge: Challenge, creds: Credentials, sent: str | None
    ) -> Generator[HttpRequest, HttpResponse, str | None]:
        if creds.registry_token:
            header = f"Bearer {creds.registry_token}"
            return None if header == sent else header
        realm, service = challenge.realm, challenge.service
        wanted = challenge.params.get("scope", "").split()
        with self._lock:
            held = self._held.get((registry, repo))
            if held is not None and held[:2] == (realm, service):
                wanted = [*held[2], *wanted]
            key: CacheKey = (realm, service, merge_scopes(wanted))
            cached = self._valid(key)
            if cached is not None and f"Bearer {cached.token}" == sent:
                del self._tokens[key]  # refused: do not offer it again
                cached = None
        if cached is None:
            log.debug("token request to %s for %s", realm.split("?", 1)[0], " ".join(key[2]) or "(no scope)")
            flow = token_flow(registry, creds, key[2], client_id=self._client_id, challenge=challenge)
            token: Token = yield from follow_flow(flow)
            if creds.identity_token and token.refresh_token not in ("", creds.identity_token):
                self._rotated(registry, creds, token.refresh_token)
            lifetime = float(token.expires_in)
            margin = min(30.0, lifetime / 10)
            cached = _Cached(token.access_token, time.monotonic() + max(lifetime - margin, 1.0))
        with self._lock:
            self._tokens[key] = cached
            self._held[(registry, repo)] = key
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


class CoreAuth:
    """The constructor both auth classes share (credentials -> :class:`Core`), and a repr that
    never shows the credentials."""

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
        fixed = _make_credentials(credentials, username, password, identity_token)
        self._core = Core(fixed, config, client_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
