"""The library's logout: remove a registry's credentials from its store and ``config.json``, truthfully.

Rule: no printing here; no network either (a logout only edits local stores), except that a
Docker Hub web login's refresh token is revoked at the tenant after it was erased, as Docker does
(docs/hub-web-login.md, "Logout").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from regauth.api.hubtokens import ErasedTokens, erase_web_tokens, revoke_erased
from regauth.config.authfiles import ENV_DOCKER_AUTH_CONFIG, explicit_auth_file
from regauth.config.file import ConfigFile, config_path, entry_credentials, update
from regauth.errors import ConfigError, StoreError
from regauth.registry.address import HUB_KEY, logout_keys, matching_keys, normalise
from regauth.stores.lookup import find
from regauth.stores.resolve import choose_store, open_store

__all__ = ["MARKER", "LogoutOutcome", "logout"]

MARKER = "config.json entry"
"""The ``store`` of a ``removed`` item that was only an ``auths`` marker (``{}``) of a helper."""

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """What a logout removed: ``removed`` lists ``store: key`` items; ``errors`` the erase failures.

    ``store`` is ``file``, a helper's name, or :data:`MARKER` for an ``auths`` entry of its own
    (``{}``, pointing at a helper that no longer held the secret): removing it is a logout too
    (Docker reads such an entry as a login: docs/docker-cli.md, "Logout").

    When nothing was removed yet the lookup chain (:mod:`regauth.stores.lookup`) still finds the
    login in a source logout does not edit (an auth file, ``DOCKER_AUTH_CONFIG``): ``held_in`` is
    that file's path or ``DOCKER_AUTH_CONFIG``, ``held_key`` the key it is stored under and
    ``held_by`` why the source is read (``--authfile``, ``REGISTRY_AUTH_FILE``, ``podman`` or
    ``DOCKER_AUTH_CONFIG``); all three are empty otherwise.
    ``warnings``: what failed after the erase without undoing it (revoking a Hub refresh token).
    """

    server: str
    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    held_in: str = ""
    held_key: str = ""
    held_by: str = ""
    warnings: tuple[str, ...] = ()

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
    web: list[ErasedTokens] = []  # the Hub web login's tokens, as the last run of change() left them

    def change(cfg: ConfigFile) -> bool:
        removed.clear()
        errors.clear()
        web[:] = [erase_web_tokens(cfg, path) if key == HUB_KEY else ErasedTokens()]
        removed.extend(web[0].removed)
        errors.extend(web[0].errors)
        failed: set[str] = set()  # a helper that failed once is not asked again
        erased: set[str] = set()
        for variant in variants:
            choice = choose_store(cfg, variant)
            if choice.helper is None or choice.helper in failed:
                continue
            try:
                if open_store(choice, path).erase(variant):
                    removed.append(f"{choice.helper}: {variant}")
                    erased.add(variant)
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
            elif stored not in erased:  # a marker whose helper no longer held the secret
                removed.append(f"{MARKER}: {stored}")
            cfg.remove_auth(stored)
            changed = True
        return changed or web[0].edited

    update(path, change)
    warnings = revoke_erased(web[0]) if web else ()
    outcome = LogoutOutcome(
        server=key, removed=tuple(dict.fromkeys(removed)), errors=tuple(errors), warnings=warnings
    )
    if removed or errors:
        return outcome
    return _held_elsewhere(outcome, path)


def _held_elsewhere(outcome: LogoutOutcome, path: str) -> LogoutOutcome:
    """``outcome`` with where the lookup chain still finds its login, when not in config.json."""
    try:
        # Neither a credential command nor config.json's helper runs: logout never asks a
        # helper's get, which would decrypt a secret only to say where it is not.
        found = next(find(outcome.server, config=path, mint=False, docker=False), None)
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
