"""regauth's own settings file (``insecure-registries``).  Rule: strict like config.json, read-only.

Location: ``$REGAUTH_SETTINGS``, else ``$XDG_CONFIG_HOME/regauth/settings.json`` (``~/.config`` when unset;
``%APPDATA%\\regauth\\settings.json`` on Windows).  A missing file means defaults.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from regauth.config.document import loads
from regauth.errors import ConfigError

TYPE_CHECKING = False  # typing is not imported at run time; these names are for the type checker
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Settings", "load_settings", "settings_path"]


@dataclass(frozen=True, slots=True)
class Settings:
    """What the settings file says."""

    insecure_registries: tuple[str, ...] = ()


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
    return Settings(insecure_registries=tuple(insecure))
