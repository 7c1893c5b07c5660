"""Answer a kubelet's CredentialProviderRequest from regauth's one lookup chain.

Decisions (docs/kubelet-credential-provider.md has the kubelet's side):

* **Where credentials come from.**  :func:`regauth.stores.lookup.lookup`, the chain every regauth
  command reads: ``DOCKER_AUTH_CONFIG``, ``--authfile``/``$REGISTRY_AUTH_FILE``, Docker's config.json
  with its helpers, the sources that mint credentials (ECR, credential commands), podman's auth
  files.  The first source holding the image's registry answers, as for ``regauth get``.
* **Username and password only.**  The kubelet passes a username and a password to the container
  runtime and nothing else.  A login held as an identity token (or a bearer token) is answered
  as "no credential" rather than exchanged here: minting registry tokens belongs to the runtime's
  pull, which sees the registry's challenge.
* **Match key.**  The registry as the image names it (``host[:port]``), or ``host[:port]/path`` when
  the login that matched is a per-repository key.  Docker Hub is ``index.docker.io``, the key the
  kubelet consults for every Hub spelling (``nginx``, ``library/nginx``, ``docker.io/...``); a
  per-repository Hub login is ``docker.io/ns[/repo]``, the form the kubelet's image names take.
* **cacheKeyType.**  ``Registry`` for a registry-wide login: the kubelet then reuses the answer for
  every image of that registry without running the provider again.  ``Image`` when the login is
  per-repository, and also when a source up to the one that answered holds per-repository logins
  for this registry: another repository of it may then have another login, which a registry-wide
  cache entry would hide.
* **cacheDuration.**  Absent for a credential without an expiry (the provider config's
  ``defaultCacheDuration`` applies); for an expiring one, its remaining life less
  :data:`EXPIRY_MARGIN` (the margin the minting sources refresh at), so the kubelet never holds
  a credential past its end.  No credential: an empty ``auth`` with ``"0s"``, so that a login made
  later is used at the next pull instead of after the default cache time.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from regauth.config.authfiles import docker_auth_config, read_auth_file, split_reference
from regauth.config.file import load
from regauth.credentials import Credentials
from regauth.errors import RegauthError
from regauth.kubelet.protocol import CACHE_IMAGE, CACHE_REGISTRY, Request, Response
from regauth.registry.address import HUB_KEY, normalise
from regauth.stores.lookup import AUTHFILE, DOCKER, ENV, Found, lookup, sources

__all__ = ["EXPIRY_MARGIN", "HUB_MATCH_KEY", "answer", "match_key", "qualified", "respond"]

PathLike = str | os.PathLike[str]

#: How long before its expiry a credential stops being handed to the kubelet's cache.
EXPIRY_MARGIN = timedelta(minutes=5)

#: The kubelet's own key for Docker Hub (its default registry host).
HUB_MATCH_KEY = "index.docker.io"


def qualified(image: str) -> str:
    """``image`` with its registry always written: a name of one component (``nginx``,
    ``nginx:1.27``, ``reg.example``) is a Docker Hub repository, as in Docker's reference grammar,
    never a registry address."""
    if "/" in image.partition("@")[0]:
        return image
    return f"docker.io/library/{image}"


def match_key(registry_key: str, found_key: str) -> tuple[str, bool]:
    """``(auth key, per-repository?)`` for a login stored under ``found_key`` that matched an image
    of registry ``registry_key`` (a storage key, :data:`~regauth.registry.address.HUB_KEY` for Hub)."""
    if "/" in found_key and "://" not in found_key:
        path = found_key.partition("/")[2].strip("/")
        if path:
            host = "docker.io" if registry_key == HUB_KEY else registry_key
            return f"{host}/{path}", True
    return (HUB_MATCH_KEY if registry_key == HUB_KEY else registry_key), False


def _stored_keys(kind: str, location: str) -> list[str]:
    """The keys a file-like source holds (none for the minted source, or when it cannot be read:
    the lookup skipped such a source too)."""
    try:
        if kind == ENV:
            return list(docker_auth_config() or {})
        if kind == AUTHFILE:
            return list(read_auth_file(location))
        if kind == DOCKER:
            return list(load(location).auths())
    except RegauthError:
        pass
    return []


def _has_repository_logins(
    registry_key: str, answered_by: str, *, config: PathLike | None, authfile: PathLike | None
) -> bool:
    """True when a source up to ``answered_by`` (a location) holds a per-repository key of the registry."""
    for source in sources(config=config, authfile=authfile):
        for stored in _stored_keys(source.kind, source.location):
            host, slash, path = stored.partition("/")
            if slash and path.strip("/") and "://" not in stored:
                try:
                    if normalise(host) == registry_key:
                        return True
                except RegauthError:
                    continue
        if source.location == answered_by:
            break
    return False


def answer(
    request: Request,
    found: Found | None,
    *,
    now: datetime | None = None,
    repository_logins: bool = False,
) -> Response:
    """The response for ``request`` given what the lookup chain found (module docstring).

    ``repository_logins``: the chain holds per-repository logins of the image's registry, so the
    answer is cached per image.
    """
    empty = Response(request.api_version, CACHE_REGISTRY, 0)
    if found is None:
        return empty
    creds: Credentials = found.credentials
    moment = now or datetime.now(timezone.utc)
    if not creds.has_password or creds.expired(moment):
        return empty
    key, per_repository = match_key(split_reference(qualified(request.image))[0], found.key)
    seconds: int | None = None
    if creds.expires_at is not None:
        left = creds.expires_at - moment - EXPIRY_MARGIN
        seconds = max(0, int(left.total_seconds()))
    return Response(
        request.api_version,
        CACHE_IMAGE if per_repository or repository_logins else CACHE_REGISTRY,
        seconds,
        {key: (creds.username, creds.password)},
    )


def respond(
    request: Request,
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
    now: datetime | None = None,
) -> Response:
    """Look the image's credentials up and answer.  Raises UsageError for an image regauth cannot
    read, ConfigError/StoreError when a source the chain cannot skip fails (one line, no secret)."""
    found = lookup(qualified(request.image), config=config, authfile=authfile)
    if found is None:
        return answer(request, found, now=now)
    registry_key = split_reference(qualified(request.image))[0]
    if match_key(registry_key, found.key)[1]:
        return answer(request, found, now=now)
    mixed = _has_repository_logins(registry_key, found.source, config=config, authfile=authfile)
    return answer(request, found, now=now, repository_logins=mixed)
