"""The file store: credentials in ``config.json`` ``auths`` (``auth`` = base64 ``user:password``).

Rule: every write goes through :func:`regauth.config.file.update` (locked, re-read, atomic).
Format and legacy key spellings: docs/config-file.md, docs/credential-stores.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from regauth.config.file import ConfigFile, encode_auth, entry_credentials, load, update
from regauth.credentials import Credentials
from regauth.registry.address import matching_keys

__all__ = ["FileStore", "file_entry", "find_entry_key", "marker_entry"]

_SECRET_FIELDS = ("auth", "identitytoken", "username", "password")


def file_entry(creds: Credentials, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``auths`` entry Docker writes for ``creds``, keeping the existing entry's other fields."""
    entry = {k: v for k, v in (existing or {}).items() if k not in _SECRET_FIELDS}
    if creds.username or creds.password:
        entry["auth"] = encode_auth(creds.username, "" if creds.identity_token else creds.password)
    if creds.identity_token:
        entry["identitytoken"] = creds.identity_token
    # keep Docker's field order: auth, identitytoken first, then anything else
    ordered: dict[str, Any] = {k: entry[k] for k in ("auth", "identitytoken") if k in entry}
    ordered.update((k, v) for k, v in entry.items() if k not in ordered)
    return ordered


def marker_entry(existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The entry left in ``auths`` when a helper holds the secret: ``{}`` plus unrelated fields."""
    return {k: v for k, v in (existing or {}).items() if k not in _SECRET_FIELDS}


def find_entry_key(cfg: ConfigFile, key: str) -> str | None:
    """The ``auths`` key holding ``key``'s entry: exact, else the first legacy spelling Docker reads."""
    auths = cfg.auths()
    if key in auths:
        return key
    found = matching_keys(auths, key)
    return found[0] if found else None


class FileStore:
    """Store credentials in the ``auths`` section of one ``config.json``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"FileStore({self.path!r})"

    def get(self, server: str) -> Credentials | None:
        """The entry for ``server`` (exact key, else a legacy spelling), or None."""
        cfg = load(self.path)
        found = find_entry_key(cfg, server)
        if found is None:
            return None
        creds = entry_credentials(server, cfg.auths()[found])
        return None if creds.is_empty else creds

    def store(self, creds: Credentials) -> None:
        """Write ``creds`` under ``creds.server``; no write when nothing changes."""

        def change(cfg: ConfigFile) -> bool:
            existing = cfg.auths().get(creds.server)
            entry = file_entry(creds, existing)
            if existing == entry:
                return False
            cfg.set_auth(creds.server, entry)
            return True

        update(self.path, change)

    def erase(self, server: str) -> bool:
        """Remove ``server``'s entry and its legacy spellings; True if one held credentials."""
        removed: list[bool] = []

        def change(cfg: ConfigFile) -> bool:
            keys = matching_keys(cfg.auths(), server)
            for k in keys:
                removed.append(not entry_credentials(k, cfg.auths()[k]).is_empty)
                cfg.remove_auth(k)
            return bool(keys)

        update(self.path, change)
        return any(removed)

    def list(self) -> dict[str, str]:
        """Every entry holding credentials: key -> username."""
        cfg = load(self.path)
        result: dict[str, str] = {}
        for key, entry in cfg.auths().items():
            creds = entry_credentials(key, entry)
            if not creds.is_empty:
                result[key] = creds.username
        return result
