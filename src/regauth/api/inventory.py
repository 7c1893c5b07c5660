"""Every stored login across every source: list, status, logout --all.

Rule: one failing source (a broken helper, an unreadable file) is reported in its own row and never
hides the others.  Sources and their precedence: ``_authfiles`` module docstring.  config.json is
read like Docker's ``GetAllCredentials`` (docker-behaviour.md §4): ``credsStore`` ``list``, each
``credHelpers`` key with ``get``, and ``auths`` entries holding plaintext credentials.
"""

from __future__ import annotations

import os

from regauth._record import field, record
from regauth.config.authfiles import (
    ENV_DOCKER_AUTH_CONFIG,
    AuthFile,
    auth_files,
    docker_auth_config,
    read_auth_file,
)
from regauth.config.file import ConfigFile, config_path, entry_credentials, load, update
from regauth.credentials import Credentials
from regauth.errors import AuthError, ConfigError, RegauthError, StoreError, TransportError, UsageError
from regauth.registry.address import normalise
from regauth.stores.resolve import StoreChoice, choose_store, open_store
from regauth.stores.wire import TOKEN_USERNAME

TYPE_CHECKING = False  # not typing.TYPE_CHECKING; concurrent.futures only where helpers are asked
if TYPE_CHECKING:  # (start-up of `list` and `status`, issue 6)
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = [
    "AUTH_IDENTITY_TOKEN",
    "AUTH_PASSWORD",
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


@record
class LoginInfo:
    """One stored login (never its secret).

    ``store``: ``file``, a helper name, ``env`` (DOCKER_AUTH_CONFIG) or ``authfile``.
    ``source``: the file it came from, ``DOCKER_AUTH_CONFIG``, or ``credsStore``/``credHelpers`` + file.
    ``auth``: ``password``, ``identity token``, ``registry token`` or ``""`` (unknown: ``error`` set).
    ``error``: why this source could not be read (the row then stands for the whole source).
    """

    server: str
    username: str
    store: str
    source: str
    auth: str
    error: str = ""

    def as_dict(self) -> dict[str, str]:
        """Stable JSON keys."""
        return {
            "server": self.server,
            "username": self.username,
            "store": self.store,
            "source": self.source,
            "auth": self.auth,
            "error": self.error,
        }


@record
class StatusResult:
    """A re-validated login: ``result`` is ``valid``, ``invalid``, ``unreachable`` or ``error``."""

    login: LoginInfo
    result: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the registry accepted the credentials."""
        return self.result == "valid"

    def as_dict(self) -> dict[str, str]:
        """Stable JSON keys (the login's keys plus ``result`` and ``reason``)."""
        return {**self.login.as_dict(), "result": self.result, "reason": self.reason}


@record
class LogoutAllOutcome:
    """What ``logout --all`` removed (``store: key`` lines) and what failed."""

    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every erase succeeded."""
        return not self.errors


@record
class _Row:
    info: LoginInfo
    fetch: Callable[[], Credentials | None] = field(repr=False, compare=False)


def _auth_kind(creds: Credentials) -> str:
    if creds.identity_token:
        return AUTH_IDENTITY_TOKEN
    if creds.password or creds.username:
        return AUTH_PASSWORD
    return AUTH_REGISTRY_TOKEN if creds.registry_token else ""


def _const(creds: Credentials | None) -> Callable[[], Credentials | None]:
    return lambda: creds


def _config_rows(path: str) -> list[_Row]:
    try:
        cfg = load(path)
    except ConfigError as exc:
        info = LoginInfo("*", "", "file", str(path), "", str(exc))
        return [_Row(info, _const(None))]
    rows: list[_Row] = []
    for key, entry in cfg.auths().items():
        try:
            creds = entry_credentials(key, entry)
        except ValueError as exc:  # pragma: no cover - load() validated the entries
            rows.append(_Row(LoginInfo(key, "", "file", str(path), "", str(exc)), _const(None)))
            continue
        if not creds.is_empty:
            info = LoginInfo(key, creds.username, "file", str(path), _auth_kind(creds))
            rows.append(_Row(info, _const(creds)))
    helpers = cfg.cred_helpers()
    default = cfg.creds_store()
    if default:
        choice = StoreChoice(default, "credsStore")
        store = open_store(choice, path)
        source = f"credsStore in {path}"
        try:
            listed = store.list()
        except StoreError as exc:
            rows.append(_Row(LoginInfo("*", "", default, source, "", str(exc)), _const(None)))
            listed = {}
        for key, username in sorted(listed.items()):
            if helpers.get(key, default) != default:
                continue  # credHelpers sends this key elsewhere
            kind = AUTH_IDENTITY_TOKEN if username == TOKEN_USERNAME else AUTH_PASSWORD
            rows.append(
                _Row(LoginInfo(key, username, default, source, kind), _helper_get(store, key))
            )
    for key, name in helpers.items():
        if not name:
            continue
        store = open_store(StoreChoice(name, "credHelpers"), path)
        source = f"credHelpers in {path}"
        try:
            got = store.get(key)
        except StoreError as exc:
            rows.append(_Row(LoginInfo(key, "", name, source, "", str(exc)), _const(None)))
            continue
        if got is not None:
            username = got.username or (TOKEN_USERNAME if got.identity_token else "")
            rows.append(_Row(LoginInfo(key, username, name, source, _auth_kind(got)), _const(got)))
    return rows


def _helper_get(store: Any, key: str) -> Callable[[], Credentials | None]:
    def fetch() -> Credentials | None:
        creds: Credentials | None = store.get(key)
        return creds

    return fetch


def _env_rows() -> list[_Row]:
    try:
        entries = docker_auth_config()
    except ConfigError as exc:
        return [_Row(LoginInfo("*", "", "env", ENV_DOCKER_AUTH_CONFIG, "", str(exc)), _const(None))]
    return [
        _Row(LoginInfo(key, c.username, "env", ENV_DOCKER_AUTH_CONFIG, _auth_kind(c)), _const(c))
        for key, c in (entries or {}).items()
    ]


def _file_rows(auth_file: AuthFile) -> list[_Row]:
    source = str(auth_file.path)
    try:
        entries = read_auth_file(auth_file.path)
    except ConfigError as exc:
        return [_Row(LoginInfo("*", "", "authfile", source, "", str(exc)), _const(None))]
    return [
        _Row(LoginInfo(key, c.username, "authfile", source, _auth_kind(c)), _const(c))
        for key, c in entries.items()
    ]


def _rows(config: PathLike | None, authfile: PathLike | None) -> list[_Row]:
    """Every source in precedence order (``_authfiles``): env, explicit file, config.json, podman."""
    path = config_path(config)
    files = auth_files(authfile)
    explicit = [f for f in files if f.explicit]
    others = [f for f in files if not f.explicit]
    cfg_real = os.path.realpath(path)
    rows = _env_rows()
    for f in explicit:
        if os.path.realpath(f.path) != cfg_real:
            rows.extend(_file_rows(f))
    rows.extend(_config_rows(path))
    for f in others:
        if os.path.realpath(f.path) != cfg_real:
            rows.extend(_file_rows(f))
    return rows


def list_logins(
    *, config: PathLike | None = None, authfile: PathLike | None = None
) -> list[LoginInfo]:
    """Every stored login in every source, in precedence order; failures are rows with ``error``."""
    return [row.info for row in _rows(config, authfile)]


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
        from regauth.config.authfiles import lookup

        for server in servers:
            found = lookup(server, config=config, authfile=authfile)
            if found is None:
                raise RegauthError(f"not logged in to {server}")
            result[found.credentials.server] = found.credentials
        return result
    for row in _rows(config, authfile):
        if row.info.error:
            raise RegauthError(f"{row.info.source}: {row.info.error}")
        key = row.info.server
        if "://" in key or "/" not in key:  # a registry key (not podman's host/ns/repo): canonical
            try:
                key = normalise(key)
            except UsageError:
                pass
        if key in result:
            continue
        creds = row.fetch()
        if creds is not None and not creds.is_empty:
            result[key] = creds
    return result


def _matches(server: str, wanted: set[str]) -> bool:
    try:
        return normalise(server) in wanted
    except UsageError:
        return server in wanted


def _check(
    row: _Row, tls_verify: bool | None, timeout: float, verify: Callable[..., Any]
) -> StatusResult:
    info = row.info
    if info.error:
        return StatusResult(info, "error", info.error)
    try:
        creds = row.fetch()
    except RegauthError as exc:
        return StatusResult(info, "error", str(exc))
    if creds is None or creds.is_empty:
        return StatusResult(info, "error", "the store no longer holds these credentials")
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
    from regauth.api.login import verify

    rows = _rows(config, authfile)
    if servers:
        wanted = {normalise(s) for s in servers}
        # a source that failed as a whole ("*") may hide a named server: keep its row
        rows = [r for r in rows if r.info.server == "*" or _matches(r.info.server, wanted)]
    if not rows:
        return []
    from concurrent.futures import ThreadPoolExecutor  # only when there is something to check

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(rows)))) as pool:
        return list(pool.map(lambda r: _check(r, tls_verify, timeout, verify), rows))


# --------------------------------------------------------------------------- logout --all


def _logout_config(path: str, removed: list[str], errors: list[str]) -> None:
    def change(cfg: ConfigFile) -> bool:
        removed.clear()
        errors.clear()
        changed = False
        keys = list(cfg.auths())
        keys.extend(k for k in cfg.cred_helpers() if k not in keys)
        default = cfg.creds_store()
        if default:
            try:
                listed = open_store(StoreChoice(default, "credsStore"), path).list()
            except StoreError as exc:
                errors.append(f"{default}: {exc}")
                listed = {}
            keys.extend(k for k in sorted(listed) if k not in keys)
        for key in keys:
            choice = choose_store(cfg, key)
            if choice.helper is not None:
                try:
                    if open_store(choice, path).erase(key):
                        removed.append(f"{choice.helper}: {key}")
                except StoreError as exc:
                    errors.append(f"{key}: {exc}")
                    continue  # keep the marker: the secret is still in the helper
            entries = cfg.auths()
            if key in entries:
                if not entry_credentials(key, entries[key]).is_empty:
                    removed.append(f"file: {key}")
                cfg.remove_auth(key)
                changed = True
        return changed

    update(path, change)


def _logout_file(auth_file: AuthFile, removed: list[str], errors: list[str]) -> None:
    if not os.path.exists(auth_file.path):
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
        update(auth_file.path, change)
    except ConfigError as exc:
        errors.append(str(exc))
        return
    removed.extend(f"{auth_file.path}: {key}" for key in found)


def logout_all(
    *, config: PathLike | None = None, authfile: PathLike | None = None
) -> LogoutAllOutcome:
    """Remove every login from config.json (file, ``credsStore``, ``credHelpers``) and the auth files.

    Idempotent; an erase that fails keeps its ``auths`` marker and is reported in ``errors``.
    ``DOCKER_AUTH_CONFIG`` cannot be erased (it is the environment): a note says so.
    """
    path = config_path(config)
    removed: list[str] = []
    errors: list[str] = []
    notes: list[str] = []
    try:
        _logout_config(path, removed, errors)
    except ConfigError as exc:
        errors.append(str(exc))
    cfg_real = os.path.realpath(path)
    for auth_file in auth_files(authfile):
        if os.path.realpath(auth_file.path) != cfg_real:
            _logout_file(auth_file, removed, errors)
    if os.environ.get(ENV_DOCKER_AUTH_CONFIG, "").strip():
        notes.append(f"{ENV_DOCKER_AUTH_CONFIG} is set: its logins live in the environment; unset it")
    return LogoutAllOutcome(tuple(dict.fromkeys(removed)), tuple(errors), tuple(notes))
