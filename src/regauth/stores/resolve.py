"""Which store holds a registry's credentials: ``credHelpers`` → ``credsStore`` → file; default detection.

Rule: choose like Docker, but pick a default helper only if it can actually serve (viability, not
presence on PATH: Docker picks ``pass`` when it is merely installed, then fails to store).
Sources: docs/config-file.md "Default store detection", docs/credential-stores.md "Store selection".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from regauth.config.file import ConfigFile
from regauth.credentials import Credentials
from regauth.errors import ConfigError
from regauth.stores.base import Store
from regauth.stores.file import FileStore, file_entry, marker_entry
from regauth.stores.helper import HelperStore

__all__ = [
    "DEFAULT_CANDIDATES",
    "Placement",
    "StoreChoice",
    "choose_store",
    "detect_default_store",
    "open_store",
    "place",
]

#: Docker's default helper candidates per platform, in order.
DEFAULT_CANDIDATES: Mapping[str, tuple[str, ...]] = {
    "darwin": ("osxkeychain",),
    "win32": ("wincred",),
    "linux": ("pass", "secretservice"),
}


@dataclass(frozen=True, slots=True)
class StoreChoice:
    """The store chosen for one key: ``helper`` suffix (None = file store) and what chose it."""

    helper: str | None
    source: str  # "credHelpers" | "credsStore" | "file"

    @property
    def name(self) -> str:
        """What a user sees in ``list``/``status``: ``file`` or the helper name."""
        return self.helper or "file"


def choose_store(cfg: ConfigFile, key: str) -> StoreChoice:
    """``credHelpers[key]``, else ``credsStore``, else the file store (exact key, as Docker)."""
    helper = cfg.cred_helpers().get(key, "")
    if helper:
        return StoreChoice(helper, "credHelpers")
    if cfg.creds_store():
        return StoreChoice(cfg.creds_store(), "credsStore")
    return StoreChoice(None, "file")


def helper_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a helper call may take: ``$REGAUTH_HELPER_TIMEOUT``, default 30 (ConfigError if bad)."""
    raw = (os.environ if environ is None else environ).get("REGAUTH_HELPER_TIMEOUT", "")
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise ConfigError(f"REGAUTH_HELPER_TIMEOUT={raw!r}: not a number of seconds")
    return value


def open_store(
    choice: StoreChoice, config_path: str | os.PathLike[str], *, timeout: float | None = None
) -> Store:
    """The Store object for a choice; helper calls time out after ``timeout`` (see helper_timeout)."""
    if choice.helper is None:
        return FileStore(config_path)
    return HelperStore(
        choice.helper,
        timeout=helper_timeout() if timeout is None else timeout,
        config_key=f"{choice.source} in {config_path}",
    )


def _pass_viable(environ: Mapping[str, str], which: Callable[[str], str | None]) -> str | None:
    if not which("pass") or not which("docker-credential-pass"):
        return "pass or docker-credential-pass not on PATH"
    store_dir = environ.get("PASSWORD_STORE_DIR") or os.path.join(os.path.expanduser("~"), ".password-store")
    try:
        with open(os.path.join(store_dir, ".gpg-id")) as fh:
            ids = [line.strip() for line in fh.read().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return f"password store {store_dir} is not initialised (no .gpg-id; run 'pass init')"
    gpg = which("gpg") or which("gpg2")
    if not ids or gpg is None:
        return "no gpg key for the password store"
    import subprocess  # probing a default store is rare: not loaded for every command

    try:
        probe = subprocess.run(
            [gpg, "--batch", "--list-secret-keys", *ids],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            env=dict(environ),
        )
    except (OSError, subprocess.TimeoutExpired):
        return "gpg did not answer"
    return None if probe.returncode == 0 else "no secret key for the password store's .gpg-id"


def _helper_answers(
    name: str, environ: Mapping[str, str], which: Callable[[str], str | None]
) -> str | None:
    path = which(f"docker-credential-{name}")
    if not path:
        return f"docker-credential-{name} not on PATH"
    import subprocess  # probing a default store is rare: not loaded for every command

    try:
        probe = subprocess.run(
            [path, "list"],
            input=b"unused",
            capture_output=True,
            timeout=5,
            env=dict(environ),
            start_new_session=sys.platform != "win32",
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"docker-credential-{name} did not answer"
    if probe.returncode != 0:
        out = probe.stdout.decode("utf-8", "replace").strip().splitlines()
        return (
            f"docker-credential-{name}: {out[0] if out else 'exit status ' + str(probe.returncode)}"
        )
    return None


def detect_default_store(
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] | None = None,
    platform: str = sys.platform,
) -> tuple[str | None, list[str]]:
    """The default helper for a config with no ``auths``, ``credsStore`` or ``credHelpers``.

    ``which`` finds a program on PATH (default ``shutil.which``).
    Returns (helper or None for the file store, reasons each rejected candidate cannot serve).
    """
    if which is None:
        import shutil

        which = shutil.which
    env = os.environ if environ is None else environ
    reasons: list[str] = []
    for name in DEFAULT_CANDIDATES.get(platform, DEFAULT_CANDIDATES["linux"]):
        why = _pass_viable(env, which) if name == "pass" else _helper_answers(name, env, which)
        if why is None:
            return name, reasons
        reasons.append(f"{name}: {why}")
    return None, reasons


@dataclass(frozen=True, slots=True)
class Placement:
    """Where :func:`place` put credentials.

    ``detected``: the default helper it chose and recorded as ``credsStore``, if any; ``rejected``:
    why the other default candidates cannot serve; ``changed``: whether ``cfg`` needs saving.
    """

    choice: StoreChoice
    detected: str | None = None
    rejected: tuple[str, ...] = ()
    changed: bool = False


def place(
    cfg: ConfigFile,
    path: str,
    store_key: str,
    entries: Sequence[Credentials],
    before_write: Callable[[StoreChoice], None] | None = None,
) -> Placement:
    """Store ``entries`` (each under its ``server`` key) where Docker stores a login to ``store_key``.

    That is ``credHelpers``, else ``credsStore``, else, in a config.json with no logins and no store,
    the default helper :func:`detect_default_store` finds (recorded as ``credsStore``, as Docker
    records it at a first login), else the file store.  A helper gets the secret and ``auths`` a
    ``{}`` marker.  ``cfg`` is changed in memory only; ``before_write`` hears the store first.
    Raises StoreError when the helper fails.
    """
    choice = choose_store(cfg, store_key)
    detected: str | None = None
    rejected: tuple[str, ...] = ()
    changed = False
    if choice.helper is None and not cfg.contains_auth():
        helper, reasons = detect_default_store()
        rejected = tuple(reasons)
        if helper is not None:
            choice, detected = StoreChoice(helper, "credsStore"), helper
            cfg.set_key("credsStore", helper)
            changed = True
    if before_write is not None:
        before_write(choice)
    store = open_store(choice, path) if choice.helper is not None else None
    for creds in entries:
        existing = cfg.auths().get(creds.server)
        if store is None:
            entry = file_entry(creds, existing)
        else:
            store.store(creds)
            entry = marker_entry(existing)
        if existing != entry:
            cfg.set_auth(creds.server, entry)
            changed = True
    return Placement(choice, detected, rejected, changed)
