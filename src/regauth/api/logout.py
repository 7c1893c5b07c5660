"""The library's logout: remove a registry's credentials from its store and ``config.json``, truthfully.

Rule: no printing here; no network either (a logout only edits local stores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from regauth.config.authfiles import ENV_DOCKER_AUTH_CONFIG, explicit_auth_file
from regauth.config.file import ConfigFile, config_path, entry_credentials, update
from regauth.errors import ConfigError, StoreError
from regauth.registry.address import logout_keys, matching_keys, normalise
from regauth.stores.lookup import find
from regauth.stores.resolve import choose_store, open_store

__all__ = ["LogoutOutcome", "logout"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """What a logout removed: ``removed`` lists ``store: key`` items; ``errors`` the erase failures.

    When nothing was removed yet the lookup chain (:mod:`regauth.stores.lookup`) still finds the
    login in a source logout does not edit (an auth file, ``DOCKER_AUTH_CONFIG``): ``held_in`` is
    that file's path or ``DOCKER_AUTH_CONFIG``, ``held_key`` the key it is stored under and
    ``held_by`` why the source is read (``--authfile``, ``REGISTRY_AUTH_FILE``, ``podman`` or
    ``DOCKER_AUTH_CONFIG``); all three are empty otherwise.
    """

    server: str
    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    held_in: str = ""
    held_key: str = ""
    held_by: str = ""

    @property
    def ok(self) -> bool:
        """True when no erase failed."""
        return not self.errors


def logout(server: str | None = None, *, config: PathLike | None = None) -> LogoutOutcome:
    """Remove the credentials of ``server`` from its store and ``config.json``, truthfully.

    Erases the key and the legacy spellings Docker erases (``http://host``, ``https://host``), in
    the store each one maps to.  A helper that fails keeps its ``auths`` marker.
    """
    key = normalise(server)
    path = config_path(config)
    removed: list[str] = []
    errors: list[str] = []

    variants = logout_keys(server)

    def change(cfg: ConfigFile) -> bool:
        removed.clear()
        errors.clear()
        failed: set[str] = set()  # a helper that failed once is not asked again
        for variant in variants:
            choice = choose_store(cfg, variant)
            if choice.helper is None or choice.helper in failed:
                continue
            try:
                if open_store(choice, path).erase(variant):
                    removed.append(f"{choice.helper}: {variant}")
            except StoreError as exc:
                errors.append(f"{variant}: {exc}")
                failed.add(choice.helper)
        changed = False
        auths = cfg.auths()
        wanted = set(variants).union(matching_keys(auths, key))  # one pass over 10,000 entries
        for stored in [k for k in auths if k in wanted]:
            if choose_store(cfg, stored).helper in failed:
                continue  # keep the marker: the secret is still in the helper
            if not entry_credentials(stored, cfg.auths()[stored]).is_empty:
                removed.append(f"file: {stored}")
            cfg.remove_auth(stored)
            changed = True
        return changed

    update(path, change)
    outcome = LogoutOutcome(server=key, removed=tuple(dict.fromkeys(removed)), errors=tuple(errors))
    if removed or errors:
        return outcome
    return _held_elsewhere(outcome, path)


def _held_elsewhere(outcome: LogoutOutcome, path: str) -> LogoutOutcome:
    """``outcome`` with where the lookup chain still finds its login, when not in config.json."""
    try:
        found = next(find(outcome.server, config=path, mint=False), None)  # no command runs on logout
    except (ConfigError, StoreError):  # an unreadable source: "Not logged in" is all logout knows
        return outcome
    if found is None or found.source == path:
        return outcome
    explicit = explicit_auth_file()
    if found.source == ENV_DOCKER_AUTH_CONFIG:
        by = ENV_DOCKER_AUTH_CONFIG
    elif explicit is not None and explicit.path == found.source:
        by = explicit.label
    else:
        by = "podman"
    return replace(outcome, held_in=found.source, held_key=found.key, held_by=by)
