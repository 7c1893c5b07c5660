"""Docker's ``config.json``: load strictly, keep every key, save locked and atomically.

What Docker does and regauth keeps (docs/config-file.md): the location rules (:mod:`.paths`), the
typed fields (:mod:`.schema`), the byte-exact on-disk format (:mod:`.document`) and the save
procedure (:mod:`.save`).  What Docker lacks and regauth adds:

- keys Docker does not know are kept, at every level, in file order (Docker drops them);
- an exclusive lock around read-modify-write, with the file re-read under the lock (:mod:`.lock`),
  so concurrent logins and logouts lose nothing;
- a file that fails to load is never written over (Docker replaces it with what it could parse,
  github.com/docker/cli/issues/5075): every problem is one :class:`ConfigError` line naming the
  file, and the file is left as it was;
- a dangling symlink is refused before anything is created, and a file that gets a secret while
  group or others may read it ends 0600 (docs/config-file.md, "Symlinks and modes").

An empty or whitespace-only file reads as ``{}``, as in Docker (its JSON decoder reports end of
input, which Docker treats as an empty file) and docker-py: there is nothing in it to lose.

Key order: keys keep their place; a new ``auths`` entry goes to its sorted place when the entries
are sorted (as Docker writes them) and last otherwise; a new top-level key Docker knows goes to
its place in Docker's order (:meth:`ConfigFile.set_key`), an unknown one last.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regauth.config.document import dumps, loads
from regauth.config.lock import LockUnavailableError, file_lock
from regauth.config.paths import CONFIG_FILENAME, config_dir, config_path
from regauth.config.save import describe_os_error, make_dirs, refuse_dangling, write_atomic
from regauth.config.schema import decode_auth, encode_auth, entry_credentials, validate
from regauth.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "CONFIG_FILENAME",
    "DOCKER_KEY_ORDER",
    "MAX_CONFIG_SIZE",
    "ConfigFile",
    "Saved",
    "check",
    "config_dir",
    "config_path",
    "decode_auth",
    "dumps",
    "encode_auth",
    "entry_credentials",
    "load",
    "loads",
    "update",
    "update_config",
    "write_atomic",
]

#: A bigger file is refused rather than read: no real config.json comes near it.
MAX_CONFIG_SIZE = 16 * 1024 * 1024

#: The order in which Docker writes the top-level keys it knows (its ConfigFile struct's order).
DOCKER_KEY_ORDER = (
    "auths",
    "HttpHeaders",
    "psFormat",
    "imagesFormat",
    "networksFormat",
    "pluginsFormat",
    "volumesFormat",
    "statsFormat",
    "detachKeys",
    "credsStore",
    "credHelpers",
    "serviceInspectFormat",
    "servicesFormat",
    "tasksFormat",
    "secretFormat",
    "configFormat",
    "nodesFormat",
    "pruneFilters",
    "proxies",
    "currentContext",
    "cliPluginsExtraDirs",
    "plugins",
    "aliases",
    "features",
)
_DOCKER_RANK = {name: rank for rank, name in enumerate(DOCKER_KEY_ORDER)}


class ConfigFile:
    """A parsed, validated snapshot of one ``config.json``.

    ``data`` is the whole document in file order, unknown keys kept at every level.  ``exists`` is
    False for a missing file (``data`` is then empty).
    """

    __slots__ = ("data", "exists", "path")

    def __init__(
        self, path: str | os.PathLike[str], data: dict[str, Any] | None = None, exists: bool = False
    ) -> None:
        self.path = os.fspath(path)
        self.data: dict[str, Any] = {} if data is None else data
        self.exists = exists

    def __repr__(self) -> str:  # the keys only: values hold secrets
        return f"ConfigFile(path={self.path!r}, exists={self.exists}, keys={list(self.data)!r})"

    def set_key(self, name: str, value: Any) -> None:
        """Set top-level ``name``: in place if present, else where Docker writes it (unknown: last)."""
        data = self.data
        rank = _DOCKER_RANK.get(name)
        if name in data or rank is None:
            data[name] = value
            return
        items = list(data.items())
        later = [i for i, (key, _) in enumerate(items) if _DOCKER_RANK.get(key, -1) > rank]
        items.insert(later[0] if later else len(items), (name, value))
        data.clear()
        data.update(items)

    def auths(self) -> dict[str, dict[str, Any]]:
        """The live ``auths`` object (created, in Docker's place, when absent or null)."""
        auths = self.data.get("auths")
        if not isinstance(auths, dict):
            auths = {}
            self.set_key("auths", auths)
        return auths

    def creds_store(self) -> str:
        """``credsStore``, or ``""`` when unset."""
        value = self.data.get("credsStore")
        return value if isinstance(value, str) else ""

    def cred_helpers(self) -> dict[str, str]:
        """``credHelpers`` (host -> helper suffix): the live object, or an empty dict."""
        value = self.data.get("credHelpers")
        return value if isinstance(value, dict) else {}

    def contains_auth(self) -> bool:
        """Docker's ``ContainsAuth``: an ``auths`` entry, a ``credsStore`` or a ``credHelpers``."""
        return bool(self.data.get("auths")) or bool(self.creds_store()) or bool(self.cred_helpers())

    def set_auth(self, key: str, entry: dict[str, Any]) -> None:
        """Insert or replace entry ``key``: a replaced entry keeps its place; a new one goes to its
        sorted place when the entries are sorted (Docker writes them sorted), else last."""
        auths = self.auths()
        was_sorted = key not in auths and list(auths) == sorted(auths)
        auths[key] = entry
        if was_sorted and len(auths) > 1:
            ordered = sorted(auths.items(), key=lambda item: item[0])
            auths.clear()
            auths.update(ordered)

    def remove_auth(self, key: str) -> bool:
        """Remove the entry ``key``; True if it was there."""
        auths = self.data.get("auths")
        if isinstance(auths, dict) and key in auths:
            del auths[key]
            return True
        return False


# --------------------------------------------------------------------------- load


def _read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist (a dangling symlink counts as missing).

    Raises ValueError for anything but a readable regular file of at most MAX_CONFIG_SIZE bytes.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(describe_os_error(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("is not a regular file")
    if info.st_size > MAX_CONFIG_SIZE:
        raise ValueError(f"file too large ({info.st_size} bytes; the limit is {MAX_CONFIG_SIZE})")
    # O_NONBLOCK: a FIFO swapped in after the stat must not block the open.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(describe_os_error(exc)) from None
    try:
        with open(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
                raise ValueError("is not a regular file")
            raw = stream.read(MAX_CONFIG_SIZE + 1)
    except OSError as exc:
        raise ValueError(describe_os_error(exc)) from None
    if len(raw) > MAX_CONFIG_SIZE:  # grew after the stat
        raise ValueError(f"file too large (more than {MAX_CONFIG_SIZE} bytes)")
    return raw


def _parse(raw: bytes) -> dict[str, Any]:
    """The validated document held by ``raw``; ValueError (one line, no secret) otherwise."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ValueError("starts with a UTF-8 byte order mark (BOM); remove it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start}") from None
    if not text.strip(" \t\r\n"):  # JSON's whitespace only: Docker reads it as no settings
        return {}
    try:
        data = loads(text)
    except ValueError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    validate(data)
    return data  # type: ignore[no-any-return]  # validate() checked it is a dict


def _load(path: str) -> tuple[ConfigFile, bytes | None]:
    """The snapshot of ``path`` and the bytes it came from (None: no file)."""
    try:
        raw = _read_bytes(path)
        if raw is None:
            return ConfigFile(path, {}, exists=False), None
        return ConfigFile(path, _parse(raw), exists=True), raw
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", path) from None


def load(path: str | os.PathLike[str]) -> ConfigFile:
    """Load ``path`` strictly; a missing file is an empty ``ConfigFile(exists=False)``.

    Any other problem raises :class:`ConfigError` with one line ``<path>: <problem>`` and no secret.
    """
    return _load(os.fspath(path))[0]


def check(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ConfigError` as :func:`load` or :func:`update` would before changing anything.

    Used to fail before any network traffic: a broken file, or a dangling symlink on the path.
    """
    path = os.fspath(path)
    refuse_dangling(path)
    _load(path)


# --------------------------------------------------------------------------- update


#: The ``auths`` entry fields whose values are secrets (or hold one).
_SECRET_FIELDS = ("auth", "identitytoken", "registrytoken")


def _secrets(data: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Every (entry, field, value) secret in ``data``'s ``auths``."""
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return set()
    return {
        (key, name, value)
        for key, entry in auths.items()
        if isinstance(entry, dict)
        for name in _SECRET_FIELDS
        if isinstance(value := entry.get(name), str) and value
    }


@dataclass(frozen=True, slots=True)
class Saved:
    """What :func:`update_config` did.

    ``changed``: what the change function returned.  ``written``: the file was replaced.
    ``tightened_from``: the file's old mode when it was set to 0600 because a secret went into a
    file that group or others could access (None otherwise).
    """

    changed: bool
    written: bool = False
    tightened_from: int | None = None


def update(
    path: str | os.PathLike[str], change: Callable[[ConfigFile], bool], *, lock_timeout: float = 30.0
) -> bool:
    """:func:`update_config`, returning only what ``change`` returned."""
    return update_config(path, change, lock_timeout=lock_timeout).changed


def update_config(
    path: str | os.PathLike[str], change: Callable[[ConfigFile], bool], *, lock_timeout: float = 30.0
) -> Saved:
    """Read-modify-write ``path`` under its lock; say what happened.

    Refuses a dangling symlink on the path before creating anything.  Takes the lock, re-reads the
    file strictly under it, calls ``change(cfg)`` (it mutates ``cfg`` and returns True if it changed
    something) and, if so, saves atomically unless the new text is byte-identical to the file.  A
    save that adds or changes a secret makes a file that group or others could access 0600.  Never
    writes when the load fails.  Raises :class:`ConfigError`.
    """
    path = os.fspath(path)
    refuse_dangling(path)
    # The lock file lives beside the real file, so its directory must exist first; a failure here is
    # reported below, by the lock or the write, with the path in the message.
    with contextlib.suppress(OSError):
        make_dirs(os.path.dirname(os.path.realpath(path)))
    try:
        with file_lock(path, lock_timeout):
            cfg, raw = _load(path)
            before = _secrets(cfg.data)
            if not change(cfg):
                return Saved(False)
            content = dumps(cfg.data).encode("utf-8")
            if content == raw:
                return Saved(True)
            private = not _secrets(cfg.data) <= before
            return Saved(True, True, write_atomic(path, content, private=private))
    except LockUnavailableError as exc:
        # No lock file possible (e.g. a read-only directory): a change that changes nothing still
        # succeeds; a real one could not be written anyway.
        cfg, _ = _load(path)
        if change(cfg):
            raise ConfigError(
                f"{path}: cannot write: cannot create the lock file: {exc.reason}", path
            ) from None
        return Saved(False)
