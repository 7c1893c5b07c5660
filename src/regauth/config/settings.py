"""regauth's own settings file (``insecure-registries``, ``credential-commands``).  Rule: strict like
config.json, read-only.

Location: ``$REGAUTH_SETTINGS``, else ``$XDG_CONFIG_HOME/regauth/settings.json`` (``~/.config`` when unset;
``%APPDATA%\\regauth\\settings.json`` on Windows).  A missing file means defaults.

``credential-commands`` maps registry patterns to commands that print short-lived credentials
(:mod:`regauth.sources.command` runs them)::

    {"credential-commands": [
        {"registry": "*.gcr.io", "command": ["gcloud", "auth", "print-access-token"],
         "username": "oauth2accesstoken", "lifetime": 3600, "timeout": 20},
        {"registry": "myreg.azurecr.io", "format": "json", "lifetime": 10800,
         "command": ["az", "acr", "login", "--name", "myreg", "--expose-token", "--output", "json"]}]}

Each entry:

``registry`` (required)
    ``host[:port]`` (an exact registry; the host compared ignoring case, the port literally, so
    ``r.example:5000`` is not ``r.example``), or ``*.domain[:port]``: any host of one or more labels
    below ``domain`` (``*.gcr.io`` matches ``eu.gcr.io`` and ``a.b.gcr.io``, not ``gcr.io``).
    The first matching entry wins; a pattern given twice is refused.
``command`` (required)
    the program and its arguments: a list of strings run as it is, or one string split with
    :func:`shlex.split` (POSIX quoting).  Never through a shell: no pipes, ``$VAR`` or globs.
``format``
    ``token`` (default): stdout is the secret, ``username`` is required; ``json``: stdout is a JSON
    credential (the shapes :mod:`regauth.sources.command` accepts).
``username``
    the username to present (for ``json``: when the JSON names none).
``lifetime``
    seconds the credential lives from when the command ran (a positive integer).  With an expiry in
    the JSON, the earlier of the two counts.  Without either, nothing is cached.
``timeout``
    seconds the command may run (default 30) before it is stopped.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regauth.config.document import loads
from regauth.errors import ConfigError, UsageError
from regauth.registry.address import HUB_KEY, normalise

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FORMATS", "CredentialCommand", "Settings", "load_settings", "settings_path"]

#: The ``format`` values of a ``credential-commands`` entry.
FORMATS = ("token", "json")
DEFAULT_TIMEOUT = 30.0
_FIELDS = frozenset({"registry", "command", "format", "username", "lifetime", "timeout"})


@dataclass(frozen=True, slots=True)
class CredentialCommand:
    """One ``credential-commands`` entry (module docstring).

    ``registry`` is the pattern as written; ``host`` its canonical host[:port] part (lower-case
    host; :data:`~regauth.registry.address.HUB_KEY` for Docker Hub) and ``wildcard`` whether it
    began with ``*.``.
    """

    registry: str
    command: tuple[str, ...]
    format: str = "token"
    username: str = ""
    lifetime: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    host: str = ""
    wildcard: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """What the settings file says."""

    insecure_registries: tuple[str, ...] = ()
    credential_commands: tuple[CredentialCommand, ...] = ()


def settings_path(environ: Mapping[str, str] | None = None) -> str:
    """Where the settings file is looked for."""
    env = os.environ if environ is None else environ
    if env.get("REGAUTH_SETTINGS"):
        return env["REGAUTH_SETTINGS"]
    if sys.platform == "win32" and env.get("APPDATA"):
        return os.path.join(env["APPDATA"], "regauth", "settings.json")
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "regauth", "settings.json")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file; ConfigError (one line naming the file) when it is broken."""
    path = settings_path(environ)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", str(path)) from None
    try:
        data = loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}", str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a JSON object", str(path))
    insecure = data.get("insecure-registries", [])
    if not isinstance(insecure, list) or not all(isinstance(x, str) for x in insecure):
        raise ConfigError(f'{path}: "insecure-registries" must be a list of strings', str(path))
    commands = data.get("credential-commands", [])
    if not isinstance(commands, list):
        raise ConfigError(f'{path}: "credential-commands" must be a list of objects', str(path))
    parsed: list[CredentialCommand] = []
    for number, entry in enumerate(commands, 1):
        try:
            rule = _credential_command(entry)
        except ValueError as exc:
            raise ConfigError(f'{path}: "credential-commands" entry {number}: {exc}', str(path)) from None
        if any(r.host == rule.host and r.wildcard == rule.wildcard for r in parsed):
            raise ConfigError(
                f'{path}: "credential-commands" entry {number}: registry {rule.registry!r} is given twice',
                str(path),
            )
        parsed.append(rule)
    return Settings(insecure_registries=tuple(insecure), credential_commands=tuple(parsed))


def _pattern(registry: str) -> tuple[str, bool]:
    """(canonical host[:port], wildcard) of a ``registry`` pattern; ValueError when it is none."""
    wildcard = registry.startswith("*.")
    rest = registry[2:] if wildcard else registry
    if not rest or "*" in rest or "/" in rest or "://" in rest:
        raise ValueError(f'"registry" {registry!r} must be host[:port] or *.domain[:port]')
    try:
        key = normalise(rest)
    except UsageError as exc:
        raise ValueError(f'"registry": {exc}') from None
    if key == HUB_KEY:
        if wildcard:
            raise ValueError(f'"registry" {registry!r}: Docker Hub has no sub-domains to match')
        return key, False
    host, sep, port = key.rpartition(":") if not key.endswith("]") else (key, "", "")
    if not sep:
        host, port = key, ""
    host = host.lower().rstrip(".")
    return (f"{host}:{port}" if sep else host), wildcard


def _credential_command(entry: object) -> CredentialCommand:
    """One entry, checked; ValueError (one line, no file name) when it is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("must be an object")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})")
    registry = entry.get("registry")
    if not isinstance(registry, str) or not registry:
        raise ValueError('"registry" must be a non-empty string')
    host, wildcard = _pattern(registry)
    raw = entry.get("command")
    if isinstance(raw, str):
        try:
            argv = shlex.split(raw)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f'"command": {exc}') from None
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        argv = list(raw)
    else:
        raise ValueError('"command" must be a list of strings or a string')
    if not argv or not argv[0]:
        raise ValueError('"command" names no program')
    if any("\0" in arg for arg in argv):
        raise ValueError('"command" holds a NUL character')
    fmt = entry.get("format", "token")
    if fmt not in FORMATS:
        raise ValueError(f'"format" must be one of {", ".join(FORMATS)}')
    username = entry.get("username", "")
    if not isinstance(username, str):
        raise ValueError('"username" must be a string')
    if fmt == "token" and not username:
        raise ValueError('"username" is required with "format": "token" (the command prints only a secret)')
    lifetime = entry.get("lifetime")
    if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1):
        raise ValueError('"lifetime" must be a positive whole number of seconds')
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise ValueError('"timeout" must be a number of seconds above 0 and at most 3600')
    return CredentialCommand(
        registry=registry,
        command=tuple(argv),
        format=str(fmt),
        username=username,
        lifetime=None if lifetime is None else int(lifetime),
        timeout=float(timeout),
        host=host,
        wildcard=wildcard,
    )
