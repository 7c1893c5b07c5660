"""``export kubernetes``: a ``kubernetes.io/dockerconfigjson`` Secret manifest from stored logins.

Rule: the same Secret ``kubectl create secret docker-registry NAME --docker-server=S
--docker-username=U --docker-password=P --dry-run=client -o yaml`` writes: data key
``.dockerconfigjson`` = base64 of ``{"auths":{S:{"username":U,"password":P,"auth":b64(U:P)}}}``.
The YAML is emitted by hand (no PyYAML); names are validated as Kubernetes DNS names, so they
need no quoting, and every other scalar is a JSON-style double-quoted string or base64.
Identity-token logins are refused: a token is not a password, and the kubelet cannot use it.
A credential that expires (minted by a cloud source) is refused too: the Secret would silently stop
working.  Allowed (``allow_expiring``), the Secret carries the earliest expiry in the annotation
``regauth.io/expires-at`` (RFC 3339 UTC, double-quoted as ``kubectl annotate`` writes it); one that
has already expired is refused even then, since a Secret holding it could never work.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from regauth.api.expiry import rfc3339
from regauth.config.file import encode_auth
from regauth.credentials import Credentials
from regauth.errors import RegauthError, UsageError
from regauth.stores.wire import go_json

__all__ = [
    "EXPIRES_AT_ANNOTATION",
    "ExpiringCredentialsError",
    "IdentityTokenError",
    "dockerconfigjson",
    "expiry_of",
    "kubernetes_secret",
    "validate_name",
    "yaml_scalar",
]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Plain scalars a YAML 1.1 reader would not take as a string (kubectl quotes these, e.g. "123").
_YAML_NON_STRING = re.compile(
    r"^(?:y|yes|n|no|true|false|on|off|null|~"
    r"|[-+]?(?:0|[1-9][0-9_]*)|0[0-7_]+|0x[0-9a-f_]+|0b[01_]+"
    r"|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:e[-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?e[-+]?[0-9]+"
    r"|[-+]?\.inf|\.nan|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$"
)


EXPIRES_AT_ANNOTATION = "regauth.io/expires-at"


class IdentityTokenError(RegauthError):
    """A selected login holds an identity token, which a dockerconfigjson Secret cannot carry."""


class ExpiringCredentialsError(RegauthError):
    """A selected login expires (refused unless allowed) or has expired (always refused)."""


def expiry_of(logins: Mapping[str, Credentials], *, allow_expiring: bool = False) -> datetime | None:
    """The earliest expiry among ``logins`` (None: nothing expires).

    Raises ExpiringCredentialsError, one line naming the registries and their expiry: for any
    expired login, and for any expiring one unless ``allow_expiring``.
    """
    now = datetime.now(timezone.utc)
    timed = {server: c.expires_at for server, c in logins.items() if c.expires_at is not None}
    expired = [f"{server} expired at {rfc3339(when)}" for server, when in timed.items() if when <= now]
    if expired:
        raise ExpiringCredentialsError(
            "cannot export " + ", ".join(expired) + ": a Secret holding an expired credential never works"
        )
    if timed and not allow_expiring:
        named = ", ".join(f"{server} expires at {rfc3339(when)}" for server, when in timed.items())
        raise ExpiringCredentialsError(
            f"cannot export {named}: the Secret would stop working then; "
            "pass --allow-expiring to export anyway, with the expiry in an annotation"
        )
    return min(timed.values()) if timed else None


def validate_name(name: str, *, what: str = "name", label: bool = False) -> str:
    """``name`` if it is a valid Kubernetes object name (namespace: a DNS label), else UsageError."""
    limit = 63 if label else 253
    pattern = _DNS_LABEL if label else _DNS_SUBDOMAIN
    if not name or len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label else "RFC 1123 subdomain"
        raise UsageError(
            f"invalid {what} {name[:80]!r}: must be an {kind} (lower-case letters, digits, '-'"
            + ("" if label else ", '.'")
            + f"; at most {limit} characters)"
        )
    return name


def yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when a reader keeps it a string, else double-quoted."""
    if _YAML_NON_STRING.match(text):
        return go_json(text)
    return text


def dockerconfigjson(logins: Mapping[str, Credentials]) -> str:
    """The ``.dockerconfigjson`` text (compact, Go escaping) for ``server -> credentials``.

    Raises IdentityTokenError naming every identity-token login (no secret in the message).
    """
    tokens = [server for server, creds in logins.items() if creds.identity_token]
    if tokens:
        raise IdentityTokenError(
            "cannot export identity-token logins (" + ", ".join(tokens) + "): a Kubernetes "
            "dockerconfigjson Secret needs a username and password; log in with a password "
            "or a personal access token, or name only password logins"
        )
    auths = {
        server: {
            "username": creds.username,
            "password": creds.password,
            "auth": encode_auth(creds.username, creds.password),
        }
        for server, creds in logins.items()
    }
    return go_json({"auths": auths})


def kubernetes_secret(
    name: str,
    logins: Mapping[str, Credentials],
    *,
    namespace: str | None = None,
    allow_expiring: bool = False,
) -> str:
    """The Secret manifest (YAML text, newline-terminated).

    Raises UsageError for a bad name, IdentityTokenError and ExpiringCredentialsError (exit 1 in
    the CLI; see :func:`expiry_of`).
    """
    validate_name(name)
    if namespace is not None:
        validate_name(namespace, what="namespace", label=True)
    data = base64.b64encode(dockerconfigjson(logins).encode("utf-8")).decode("ascii")
    expires_at = expiry_of(logins, allow_expiring=allow_expiring)
    # kubectl writes metadata's keys sorted (annotations first) and quotes a timestamp-like value
    annotation = (
        ["  annotations:", f"    {EXPIRES_AT_ANNOTATION}: {go_json(rfc3339(expires_at))}"]
        if expires_at is not None
        else []
    )
    lines: Sequence[str] = [
        "apiVersion: v1",
        "data:",
        f"  .dockerconfigjson: {data}",
        "kind: Secret",
        "metadata:",
        *annotation,
        "  creationTimestamp: null",
        f"  name: {yaml_scalar(name)}",
        *([f"  namespace: {yaml_scalar(namespace)}"] if namespace is not None else []),
        "type: kubernetes.io/dockerconfigjson",
    ]
    return "\n".join(lines) + "\n"
