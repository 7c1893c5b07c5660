"""Which token server each registry named last time.  Rule: a hint for speed, never for trust.

A token login talks to two hosts: the registry (ping, then the check with the token) and the token
server its ``WWW-Authenticate`` challenge names.  Over a slow link the second TCP + TLS handshake
costs two round trips after the ping.  With the token server remembered, a login
opens that connection while it pings the registry; credentials still go only where this ping's
challenge says, and a remembered host the challenge no longer names only ever saw a handshake.

The cache is a small JSON object ``{registry origin: token server origin}``, no secrets, in the
user's cache directory (``$REGAUTH_CACHE_DIR`` if set, ``""`` turns it off).  Any problem reading or
writing it is ignored: it never fails or slows down a login by more than a failed open.
"""

from __future__ import annotations

import contextlib
import json
import os

from regauth.config.paths import cache_dir
from regauth.config.save import write_atomic
from regauth.errors import ConfigError

__all__ = ["MAX_ENTRIES", "cache_path", "remember", "remembered"]

MAX_ENTRIES = 64
_FILENAME = "realms.json"


def cache_path() -> str | None:
    """The cache file, or None when caching is off (``REGAUTH_CACHE_DIR=""``) or there is no home."""
    directory = cache_dir()
    return None if directory is None else os.path.join(directory, _FILENAME)


def _read(path: str) -> dict[str, str]:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(1 << 16).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)}


def remembered(registry: str) -> str | None:
    """The token server origin last seen for ``registry`` (an origin), or None."""
    path = cache_path()
    return _read(path).get(registry) if path else None


def remember(registry: str, token_server: str | None) -> None:
    """Record (or, with None, forget) ``registry``'s token server; written only on a change.

    The file is read again here, not reused from :func:`remembered`: another login may have
    recorded another registry in between.
    """
    path = cache_path()
    if path is None:
        return
    known = _read(path)
    if known.get(registry) == token_server:
        return
    known.pop(registry, None)
    if token_server is not None:
        known[registry] = token_server  # last: the most recent use
    while len(known) > MAX_ENTRIES:
        del known[next(iter(known))]
    with contextlib.suppress(ConfigError):  # a cache: never fail a login over it
        write_atomic(path, json.dumps(known, indent="\t").encode("utf-8"))
