"""The kubelet's credential provider messages: read a request, write a response.  Rule: pure, no I/O.

Facts relied on (docs/kubelet-credential-provider.md):

* The request is ``{"apiVersion", "kind": "CredentialProviderRequest", "image"}``.  Newer kubelets
  add fields (``serviceAccountToken``, ``serviceAccountAnnotations``); the kubelet encodes the
  request itself, so unknown fields are ignored here, as a Go plugin decoding with ``encoding/json``
  ignores them, and none of them is ever copied anywhere (the token is a secret).
* The response must carry the request's ``apiVersion``: the kubelet refuses one whose group/version
  differs from the version it asked with.  ``v1`` is current; ``v1beta1`` and ``v1alpha1`` carry the
  same fields and are answered in their own version.
* ``cacheDuration`` is a Go duration string; absent means the provider config's
  ``defaultCacheDuration``, ``"0s"`` means "do not cache this answer".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from regauth.credentials import redact
from regauth.errors import UsageError

__all__ = [
    "API_VERSIONS",
    "CACHE_IMAGE",
    "CACHE_REGISTRY",
    "GROUP",
    "MAX_REQUEST",
    "REQUEST_KIND",
    "RESPONSE_KIND",
    "Request",
    "Response",
    "go_duration",
    "parse_request",
]

GROUP = "credentialprovider.kubelet.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1")
REQUEST_KIND = "CredentialProviderRequest"
RESPONSE_KIND = "CredentialProviderResponse"
CACHE_REGISTRY = "Registry"
CACHE_IMAGE = "Image"

#: A request is a few hundred bytes; a service account token adds a few kilobytes.
MAX_REQUEST = 1 << 20
_MAX_IMAGE = 4096


@dataclass(frozen=True, slots=True)
class Request:
    """What regauth uses of a CredentialProviderRequest."""

    api_version: str
    image: str


@dataclass(frozen=True, slots=True)
class Response:
    """A CredentialProviderResponse.  ``auth`` maps match keys to (username, password); never in repr.

    ``cache_seconds`` None leaves ``cacheDuration`` out (the provider config's default applies).
    """

    api_version: str
    cache_key_type: str = CACHE_REGISTRY
    cache_seconds: int | None = None
    auth: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        keys = {key: (user, redact(secret)) for key, (user, secret) in self.auth.items()}
        return (
            f"Response(api_version={self.api_version!r}, cache_key_type={self.cache_key_type!r}, "
            f"cache_seconds={self.cache_seconds!r}, auth={keys!r})"
        )

    def to_json(self) -> str:
        """The response as the kubelet reads it (one line, fields in the API's order)."""
        body: dict[str, object] = {
            "apiVersion": self.api_version,
            "kind": RESPONSE_KIND,
            "cacheKeyType": self.cache_key_type,
        }
        if self.cache_seconds is not None:
            body["cacheDuration"] = go_duration(self.cache_seconds)
        body["auth"] = {
            key: {"username": user, "password": secret} for key, (user, secret) in self.auth.items()
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _shown(value: object) -> str:
    """A field value fit for a one-line message (short, printable)."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = text if len(text) <= 80 else text[:80] + "…"
    return repr("".join(ch if ch.isprintable() else "?" for ch in text))


def parse_request(data: bytes) -> Request:
    """The request in ``data``.  Raises UsageError (one line, never the input itself) when it is not
    a CredentialProviderRequest of a known apiVersion with an image."""
    if len(data) > MAX_REQUEST:
        raise UsageError(f"the request is larger than {MAX_REQUEST} bytes")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UsageError("the request on stdin is not JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request on stdin is not a JSON object")
    version = body.get("apiVersion")
    if version not in API_VERSIONS:
        raise UsageError(
            f"unsupported apiVersion {_shown(version)}; expected {API_VERSIONS[0]}"
            if version is not None
            else "the request has no apiVersion"
        )
    kind = body.get("kind")
    if kind != REQUEST_KIND:
        raise UsageError(f"unexpected kind {_shown(kind)}; expected {REQUEST_KIND}")
    image = body.get("image")
    if not isinstance(image, str) or not image:
        raise UsageError("the request has no image")
    if len(image) > _MAX_IMAGE or any(ch.isspace() or not ch.isprintable() for ch in image):
        raise UsageError(f"invalid image {_shown(image)}")
    return Request(str(version), image)


def go_duration(seconds: int) -> str:
    """``seconds`` as Go's ``time.Duration.String`` writes whole seconds: ``0s``, ``45s``, ``5m0s``,
    ``1h2m3s`` (what ``metav1.Duration`` puts in JSON and ``time.ParseDuration`` reads back)."""
    if seconds < 0:
        raise ValueError("a cache duration is never negative")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
