"""The on-disk cache of minted credentials, shared by every source.

Layout: ``<cache_dir>/credentials/`` (0700), one 0600 JSON file per (source, registry key), named by
the SHA-256 of the pair so that no registry name becomes a path.  A file holds exactly what a
credential store would hold for the registry, plus when it expires::

    {"source": "ecr", "server": "<key>", "username": "AWS", "secret": "...",
     "expires_at": "2030-01-01T00:00:00Z"}

Nothing else is written: no AWS credential, no command output beyond the minted secret.

Caching is best effort: with caching off (``REGAUTH_CACHE_DIR=""``, see
:func:`regauth.config.paths.cache_dir`) every function is a no-op, and a cache that cannot be read
or written behaves as an empty one; the caller then mints afresh.  Credentials without an expiry
are never cached: nothing would say when to stop reusing them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import datetime, timedelta, timezone

from regauth.config.paths import cache_dir
from regauth.config.save import make_dirs, write_atomic
from regauth.credentials import Credentials
from regauth.errors import ConfigError
from regauth.timestamps import parse_rfc3339, rfc3339

__all__ = ["MARGIN", "entries", "load", "save"]

#: How long before its expiry a cached credential stops being reused, so that a credential handed
#: out still works for a pull or push that starts now.
MARGIN = timedelta(minutes=5)

_SUBDIR = "credentials"
_SUFFIX = ".json"


def _directory() -> str | None:
    base = cache_dir()
    return os.path.join(base, _SUBDIR) if base else None


def _path(directory: str, source: str, key: str) -> str:
    digest = hashlib.sha256(f"{source}\0{key}".encode()).hexdigest()
    return os.path.join(directory, digest + _SUFFIX)


def _read(path: str) -> dict[str, str] | None:
    """The fields of one cache file, or None when it is missing, unreadable or malformed."""
    try:
        with open(path, "rb") as stream:
            data = json.loads(stream.read(64 * 1024))
    except (OSError, ValueError):
        return None
    fields = ("source", "server", "username", "secret", "expires_at")
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in fields):
        return None
    return {name: data[name] for name in fields}


def _credentials(fields: dict[str, str], margin: timedelta, now: datetime | None) -> Credentials | None:
    expires_at = parse_rfc3339(fields["expires_at"])
    if expires_at is None:
        return None
    if (now or datetime.now(timezone.utc)) + margin >= expires_at:
        return None
    return Credentials(
        username=fields["username"], password=fields["secret"], server=fields["server"], expires_at=expires_at
    )


def load(
    source: str, key: str, margin: timedelta = MARGIN, *, now: datetime | None = None
) -> Credentials | None:
    """The cached credentials of ``source`` for ``key``; None when there are none, they cannot be
    read, or they expire within ``margin`` of ``now`` (default: the current time)."""
    directory = _directory()
    if directory is None:
        return None
    fields = _read(_path(directory, source, key))
    if fields is None or fields["source"] != source or fields["server"] != key:
        return None
    return _credentials(fields, margin, now)


def save(source: str, key: str, creds: Credentials) -> bool:
    """Cache ``creds`` (username, password and expiry only) for ``key``; True when written.

    Not written: with caching off, for credentials without an expiry, or when the cache directory
    cannot be written (the failure is not the caller's: the credentials are still good).
    """
    directory = _directory()
    if directory is None or creds.expires_at is None:
        return False
    record = {
        "source": source,
        "server": key,
        "username": creds.username,
        "secret": creds.password,
        "expires_at": rfc3339(creds.expires_at),
    }
    try:
        make_dirs(directory)
        with contextlib.suppress(OSError):  # an existing directory made wider by hand is tightened
            os.chmod(directory, 0o700)
        write_atomic(_path(directory, source, key), json.dumps(record).encode(), private=True)
    except (OSError, ConfigError):
        return False
    return True


def entries(
    source: str, margin: timedelta = MARGIN, *, now: datetime | None = None
) -> dict[str, Credentials]:
    """Every cached credential of ``source`` still usable at ``now``, by registry key."""
    directory = _directory()
    found: dict[str, Credentials] = {}
    try:
        names = sorted(os.listdir(directory)) if directory else []
    except OSError:
        return found
    for name in names:
        if not name.endswith(_SUFFIX) or directory is None:
            continue
        fields = _read(os.path.join(directory, name))
        if fields is None or fields["source"] != source:
            continue
        if _path(directory, source, fields["server"]) != os.path.join(directory, name):
            continue  # a file under another name than its contents say: not ours to trust
        creds = _credentials(fields, margin, now)
        if creds is not None:
            found[fields["server"]] = creds
    return found
