"""``migrate --to HELPER``: move plaintext ``auths`` entries into a credential helper.

Rule: an entry leaves config.json only after the helper gave it back unchanged.  Per entry:
1. ``store`` into the helper; 2. ``get`` it back and compare (a mismatch, e.g. pass keeping an older
username that sorts first, gets one ``erase`` + ``store`` retry); 3. under the config lock, re-read
config.json and, if the entry still holds the same credentials, replace its secret fields with the
``{}`` marker and set ``credHelpers[KEY] = HELPER``.

Killed at any moment (SIGKILL), nothing is lost: before step 3 the plaintext entry is intact (the
helper may hold a copy, overwritten by the next run); step 3 is one atomic rename.  Nothing is
duplicated in plaintext: the rewrite happens under the lock, where any ``config.json.tmp-*`` file is
a leftover of a killed writer and is removed.

Why ``credHelpers[KEY]`` and not ``credsStore``: Docker reads ``credHelpers`` first, so each moved
entry is found in the helper at once while unmoved entries keep working from the file; skopeo and
podman honour ``credHelpers`` but ignore ``credsStore`` (docs/interop.md).  ``set_default=True`` also
sets ``credsStore`` so that future ``docker login``s go to the helper (only Docker follows it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from regauth.config.file import ConfigFile, config_path, entry_credentials, load, update
from regauth.credentials import Credentials
from regauth.errors import RegauthError, StoreError
from regauth.stores.base import Store
from regauth.stores.file import marker_entry
from regauth.stores.helper import HelperStore

__all__ = ["MigrateOutcome", "migrate"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class MigrateOutcome:
    """``moved`` keys, ``failed`` ``(key, reason)`` pairs, ``skipped`` keys changed meanwhile."""

    helper: str
    moved: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no entry failed to move."""
        return not self.failed


def _same(a: Credentials | None, b: Credentials) -> bool:
    if a is None:
        return False
    if b.identity_token:
        return a.identity_token == b.identity_token
    return (a.username, a.password, a.identity_token) == (b.username, b.password, "")


def _confirmed_store(store: Store, creds: Credentials) -> None:
    """Store ``creds`` and read them back; raise StoreError unless the helper returns them."""
    store.store(creds)
    if _same(store.get(creds.server), creds):
        return
    store.erase(creds.server)  # another username may shadow ours (pass returns the first)
    store.store(creds)
    if not _same(store.get(creds.server), creds):
        raise StoreError("the helper did not return the stored credentials")


def _plaintext(cfg: ConfigFile) -> dict[str, Credentials]:
    result: dict[str, Credentials] = {}
    for key, entry in cfg.auths().items():
        creds = entry_credentials(key, entry)
        if creds.password or creds.identity_token or creds.username:
            result[key] = creds
    return result


def migrate(
    helper: str,
    *,
    config: PathLike | None = None,
    set_default: bool = False,
    store: Store | None = None,
    report: Callable[[str, str], None] | None = None,
) -> MigrateOutcome:
    """Move every plaintext ``auths`` entry of config.json into ``docker-credential-HELPER``.

    ``report(key, what)`` is called after each entry (``what``: ``moved``, ``skipped`` or the reason
    it failed).  ``store`` replaces the helper client (tests).  Raises ConfigError when config.json
    cannot be read or written (entries already moved stay moved).
    """
    path = config_path(config)
    target: Store = store if store is not None else HelperStore(helper, config_key="migrate --to")
    moved: list[str] = []
    failed: list[tuple[str, str]] = []
    skipped: list[str] = []
    say = report or (lambda key, what: None)

    def rewrite(key: str, creds: Credentials) -> Callable[[ConfigFile], bool]:
        def change(cfg: ConfigFile) -> bool:
            entry = cfg.auths().get(key)
            if entry is None or not _same(entry_credentials(key, entry), creds) or (
                entry_credentials(key, entry).username != creds.username
            ):
                raise _Changed
            cfg.set_auth(key, marker_entry(entry))
            helpers = cfg.data.get("credHelpers")
            if not isinstance(helpers, dict):
                helpers = {}
                cfg.set_key("credHelpers", helpers)
            helpers[key] = helper
            return True

        return change

    for key, creds in _plaintext(load(path)).items():
        try:
            _confirmed_store(target, creds)
        except RegauthError as exc:
            failed.append((key, str(exc)))
            say(key, str(exc))
            continue
        try:
            update(path, rewrite(key, creds))
        except _Changed:
            skipped.append(key)
            say(key, "skipped")
            continue
        moved.append(key)
        say(key, "moved")
    if set_default:

        def default(cfg: ConfigFile) -> bool:
            if cfg.creds_store() == helper:
                return False
            cfg.set_key("credsStore", helper)
            return True

        update(path, default)
    return MigrateOutcome(helper, tuple(moved), tuple(failed), tuple(skipped))


class _Changed(Exception):
    """The entry changed between reading it and rewriting it: leave it alone."""
