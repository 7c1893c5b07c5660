"""Every stored login across every source: list, status, export, logout --all.

Rule: one failing source (a broken helper, an unreadable file) is reported in its own row and never
hides the others.  The sources and their order are :mod:`regauth.stores.lookup`'s, the same as for
``get_credentials``; config.json is read like Docker's ``GetAllCredentials``
(docs/credential-stores.md): ``credHelpers`` keys with ``get``, ``credsStore`` with ``list``, then
``auths`` entries holding plaintext credentials.

Docker Hub's web login (docs/hub-web-login.md) stores two tokens beside the Hub key: they are no
registries, so no row, export or ``status`` request ever carries them; the Hub row says
``personal access token (web login)`` and the access token's expiry instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from regauth.api.expiry import rfc3339
from regauth.api.hubtokens import (
    ErasedTokens,
    access_expiry,
    erase_web_tokens,
    has_web_tokens,
    revoke_erased,
)
from regauth.api.login import verify
from regauth.api.logout import MARKER
from regauth.config.authfiles import ENV_DOCKER_AUTH_CONFIG
from regauth.config.file import ConfigFile, config_path, entry_credentials, load, update
from regauth.credentials import Credentials
from regauth.errors import (
    AuthError,
    ConfigError,
    ExpiredError,
    RegauthError,
    StoreError,
    TransportError,
    UsageError,
)
from regauth.registry.address import HUB_KEY, normalise
from regauth.registry.hubtokens import ACCESS_TOKEN_KEY, AUTH_WEB_LOGIN, HUB_TOKEN_KEYS, jwt_expiry
from regauth.stores.lookup import AUTHFILE, DOCKER, ENV, Listed, listed, lookup, mintable, sources
from regauth.stores.resolve import StoreChoice, choose_store, open_store

__all__ = [
    "AUTH_IDENTITY_TOKEN",
    "AUTH_PASSWORD",
    "AUTH_WEB_LOGIN",
    "LoginInfo",
    "LogoutAllOutcome",
    "StatusResult",
    "collect_credentials",
    "list_logins",
    "logout_all",
    "status",
]

PathLike = str | os.PathLike[str]
AUTH_PASSWORD = "password"
AUTH_IDENTITY_TOKEN = "identity token"
AUTH_REGISTRY_TOKEN = "registry token"
MAX_STATUS_WORKERS = 8


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """One stored login (never its secret).

    ``store``: ``file``, a helper name, ``env`` (DOCKER_AUTH_CONFIG) or ``authfile``.
    ``source``: the file it came from, ``DOCKER_AUTH_CONFIG``, or ``credsStore``/``credHelpers`` + file.
    ``auth``: ``password``, ``identity token``, ``registry token``, ``personal access token (web
    login)`` (Docker Hub's web login) or ``""`` (unknown: ``error`` set).
    ``error``: why this source could not be read (the row then stands for the whole source).
    ``expires_at``: when a short-lived credential stops working (aware UTC), None when nothing says
    it does or the store lists no expiry; for a Hub web login, when its access token expires (the
    personal access token itself lives on).
    """

    server: str
    username: str
    store: str
    source: str
    auth: str
    error: str = ""
    expires_at: datetime | None = None

    def as_dict(self) -> dict[str, str | None]:
        """Stable JSON keys; ``expires_at`` is RFC 3339 UTC (``2026-12-05T18:30:00Z``) or null."""
        return {
            "server": self.server,
            "username": self.username,
            "store": self.store,
            "source": self.source,
            "auth": self.auth,
            "error": self.error,
            "expires_at": None if self.expires_at is None else rfc3339(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class StatusResult:
    """A re-validated login: ``result`` is ``valid``, ``invalid``, ``unreachable``, ``expired`` or ``error``.

    ``expired``: the credential's own expiry has passed; the registry was not asked.
    """

    login: LoginInfo
    result: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the registry accepted the credentials."""
        return self.result == "valid"

    def as_dict(self) -> dict[str, str | None]:
        """Stable JSON keys (the login's keys plus ``result`` and ``reason``)."""
        return {**self.login.as_dict(), "result": self.result, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LogoutAllOutcome:
    """What ``logout --all`` removed (``store: key`` lines) and what failed."""

    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every erase succeeded."""
        return not self.errors


def _auth_kind(entry: Listed) -> str:
    if entry.error:
        return ""
    if entry.identity_token:
        return AUTH_IDENTITY_TOKEN
    creds = entry.known
    if creds is None or creds.password or creds.username:
        return AUTH_PASSWORD
    return AUTH_REGISTRY_TOKEN if creds.registry_token else ""


WebLogins = dict[tuple[str, str], "datetime | None"]


def _info(entry: Listed, web: WebLogins | None = None) -> LoginInfo:
    expires_at = entry.known.expires_at if entry.known is not None else None
    kind = _auth_kind(entry)
    if web and entry.key == HUB_KEY and not entry.error and (entry.store, entry.source) in web:
        kind, expires_at = AUTH_WEB_LOGIN, web[(entry.store, entry.source)]
    return LoginInfo(entry.key, entry.username, entry.store, entry.source, kind, entry.error, expires_at)


def _token_expiry(entry: Listed) -> datetime | None:
    if entry.key != ACCESS_TOKEN_KEY:
        return None
    try:
        creds = entry.credentials()
    except RegauthError:  # the Hub row shows the login; its expiry is then unknown
        return None
    return jwt_expiry(creds.password) if creds is not None else None


def _without_tokens(entries: Sequence[Listed], config: PathLike | None) -> tuple[list[Listed], WebLogins]:
    """``entries`` less the Hub token keys, and the ``(store, source)`` of each Hub web login with
    its access token's expiry.  A helper named in ``credHelpers`` lists only its own keys: its
    tokens are found through config.json's ``auths`` markers."""
    web: WebLogins = {}
    kept: list[Listed] = []
    for entry in entries:
        if entry.key not in HUB_TOKEN_KEYS:
            kept.append(entry)
        elif not entry.error:
            group = (entry.store, entry.source)
            web[group] = web.get(group) or _token_expiry(entry)
    path = config_path(config)
    for entry in kept:
        group = (entry.store, entry.source)
        if entry.key == HUB_KEY and group not in web and entry.source == f"credHelpers in {path}":
            with contextlib.suppress(ConfigError):
                cfg = load(path)
                if has_web_tokens(cfg):
                    web[group] = access_expiry(cfg, path)
    return kept, web


def list_logins(
    *, config: PathLike | None = None, authfile: PathLike | None = None
) -> list[LoginInfo]:
    """Every stored login in every source, in precedence order; failures are rows with ``error``."""
    entries, web = _without_tokens(list(listed(config=config, authfile=authfile)), config)
    return [_info(entry, web) for entry in entries]


def collect_credentials(
    servers: Sequence[str] = (),
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
) -> dict[str, Credentials]:
    """``stored key -> credentials`` of ``servers`` (default: every login, first source wins).

    Raises RegauthError when a named server has no login or a source cannot be read.
    """
    result: dict[str, Credentials] = {}
    if servers:
        for server in servers:
            found = lookup(server, config=config, authfile=authfile)
            if found is None:
                raise RegauthError(f"not logged in to {server}")
            result[found.credentials.server] = found.credentials
        return result
    for entry in listed(config=config, authfile=authfile):
        if entry.error:
            raise RegauthError(f"{entry.source}: {entry.error}")
        key = entry.key
        if key in HUB_TOKEN_KEYS:  # Hub's web-login tokens are no registry's credentials
            continue
        if "://" in key or "/" not in key:  # a registry key (not podman's host/ns/repo): canonical
            with contextlib.suppress(UsageError):
                key = normalise(key)
        if key in result:
            continue
        creds = entry.credentials()
        if creds is not None and not creds.is_empty:
            result[key] = creds
    return result


def _matches(server: str, wanted: set[str]) -> bool:
    try:
        return normalise(server) in wanted
    except UsageError:
        return server in wanted


def _check(entry: Listed, web: WebLogins, tls_verify: bool | None, timeout: float) -> StatusResult:
    info = _info(entry, web)
    if info.error:
        return StatusResult(info, "error", info.error)
    try:
        creds = entry.credentials()
    except ExpiredError as exc:  # a source minted it expired: no request either
        return StatusResult(replace(info, expires_at=exc.expires_at), "expired", str(exc))
    except RegauthError as exc:
        return StatusResult(info, "error", str(exc))
    if creds is None or creds.is_empty:
        return StatusResult(info, "error", "the store no longer holds these credentials")
    if creds.expires_at is not None or (creds.username and not info.username):  # minted: known now
        info = replace(info, username=info.username or creds.username, expires_at=creds.expires_at)
    if creds.expires_at is not None and creds.expired():  # the registry would only refuse it
        return StatusResult(info, "expired", f"expired at {rfc3339(creds.expires_at)}")
    server = info.server
    scopes: tuple[str, ...] = ()
    if "://" not in server and "/" in server:  # podman per-repository key: check that repository
        server, _, repo = server.partition("/")
        scopes = (f"repository:{repo.strip('/')}:pull",)
    try:
        key = normalise(server)
        checked = verify(key, creds, tls_verify=tls_verify, scopes=scopes, timeout=timeout)
    except AuthError as exc:
        return StatusResult(info, "invalid", str(exc))
    except TransportError as exc:
        return StatusResult(info, "unreachable", str(exc))
    except RegauthError as exc:
        return StatusResult(info, "error", str(exc))
    if not checked.verified:
        return StatusResult(info, "valid", "the registry asks for no credentials")
    return StatusResult(info, "valid")


def status(
    servers: Sequence[str] = (),
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
    tls_verify: bool | None = None,
    timeout: float = 15.0,
    workers: int = MAX_STATUS_WORKERS,
) -> list[StatusResult]:
    """Re-validate every stored login (or those of ``servers``) against its registry, concurrently.

    Never returns or logs a secret.  A login whose store fails comes back with result ``error``.
    Raises UsageError for a garbage server address.
    """
    entries, web = _without_tokens(list(listed(config=config, authfile=authfile)), config)
    if servers:
        wanted = {normalise(s) for s in servers}
        # a source that failed as a whole ("*") may hide a named server: keep its entry
        entries = [e for e in entries if e.key == "*" or _matches(e.key, wanted)]
        # a named registry that only a minted source serves (nothing cached yet): mint it now
        covered = {normalise(e.key) for e in entries if e.key != "*"}
        for key in sorted(wanted - covered):
            entry = mintable(key)
            if entry is not None:
                entries.append(entry)
    if not entries:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(entries)))) as pool:
        return list(pool.map(lambda e: _check(e, web, tls_verify, timeout), entries))


# --------------------------------------------------------------------------- logout --all


def _logout_config(path: str, removed: list[str], errors: list[str], warnings: list[str]) -> None:
    done: list[str] = []
    failed: list[str] = []
    web: list[ErasedTokens] = []  # Hub's web-login tokens: erased first, never listed as removed

    def change(cfg: ConfigFile) -> bool:  # may run again after a concurrent write: starts afresh
        done.clear()
        failed.clear()
        keys = [k for k in cfg.auths() if k not in HUB_TOKEN_KEYS]
        keys.extend(k for k in cfg.cred_helpers() if k not in keys)
        default = cfg.creds_store()
        names: dict[str, str] = {}
        if default:
            try:
                names = open_store(StoreChoice(default, "credsStore"), path).list()
            except StoreError as exc:
                failed.append(f"{default}: {exc}")
            keys.extend(k for k in sorted(names) if k not in keys and k not in HUB_TOKEN_KEYS)
        held = names if choose_store(cfg, HUB_KEY).helper == default else {}
        web[:] = [erase_web_tokens(cfg, path, held)]
        failed.extend(web[0].errors)
        changed = web[0].edited
        for key in keys:
            choice = choose_store(cfg, key)
            erased = False
            if choice.helper is not None:
                try:
                    erased = open_store(choice, path).erase(key)
                    if erased:
                        done.append(f"{choice.helper}: {key}")
                except StoreError as exc:
                    failed.append(f"{key}: {exc}")
                    continue  # keep the marker: the secret is still in the helper
            entries = cfg.auths()
            if key in entries:
                if not entry_credentials(key, entries[key]).is_empty:
                    done.append(f"file: {key}")
                elif not erased:  # a marker whose helper no longer held the secret
                    done.append(f"{MARKER}: {key}")
                cfg.remove_auth(key)
                changed = True
        return changed

    try:
        update(path, change)
    finally:  # what a helper erased stays erased even when config.json cannot be written
        removed.extend(done)
        errors.extend(failed)
    warnings.extend(revoke_erased(web[0]) if web else ())


def _logout_file(path: str, removed: list[str], errors: list[str]) -> None:
    if not os.path.exists(path):
        return
    found: list[str] = []

    def change(cfg: ConfigFile) -> bool:
        found.clear()
        keys = list(cfg.auths())
        for key in keys:
            if not entry_credentials(key, cfg.auths()[key]).is_empty:
                found.append(key)
            cfg.remove_auth(key)
        return bool(keys)

    try:
        update(path, change)
    except ConfigError as exc:
        errors.append(str(exc))
        return
    removed.extend(f"{path}: {key}" for key in found)


def logout_all(
    *, config: PathLike | None = None, authfile: PathLike | None = None
) -> LogoutAllOutcome:
    """Remove every login from config.json (file, ``credsStore``, ``credHelpers``) and the auth files.

    Idempotent; an erase that fails keeps its ``auths`` marker and is reported in ``errors``.
    ``DOCKER_AUTH_CONFIG`` cannot be erased (it is the environment): a note says so.
    """
    removed: list[str] = []
    errors: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    every = sources(config=config, authfile=authfile)
    for source in sorted(every, key=lambda s: s.kind != DOCKER):  # config.json first
        if source.kind == DOCKER:
            try:
                _logout_config(source.location, removed, errors, warnings)
            except ConfigError as exc:
                errors.append(str(exc))
        elif source.kind == AUTHFILE:
            _logout_file(source.location, removed, errors)
        elif source.kind == ENV and os.environ.get(ENV_DOCKER_AUTH_CONFIG, "").strip():
            notes.append(f"{ENV_DOCKER_AUTH_CONFIG} is set: its logins live in the environment; unset it")
    return LogoutAllOutcome(tuple(dict.fromkeys(removed)), tuple(errors), tuple(notes), tuple(warnings))
