"""Where Docker's config directory and ``config.json`` are, and regauth's cache directory.

Precedence, as the Docker CLI resolves it (docs/config-file.md, "Location"): the ``--config DIR`` flag,
else ``$DOCKER_CONFIG``, else ``.docker`` in the home directory (``$HOME`` on Unix, ``%USERPROFILE%``
on Windows, which is what :func:`os.path.expanduser` reads on each platform).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CONFIG_FILENAME", "cache_dir", "config_dir", "config_path"]

CONFIG_FILENAME = "config.json"


def config_dir(
    override: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The config directory: ``--config DIR`` > ``$DOCKER_CONFIG`` > ``~/.docker``.

    An empty ``override`` or ``$DOCKER_CONFIG`` counts as unset, as in Docker.
    """
    if override is not None and os.fspath(override) != "":
        return os.fspath(override)
    env = os.environ if environ is None else environ
    value = env.get("DOCKER_CONFIG", "")
    if value:
        return value
    return os.path.join(os.path.expanduser("~"), ".docker")


def config_path(
    override: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The path of ``config.json`` in :func:`config_dir`."""
    return os.path.join(config_dir(override, environ), CONFIG_FILENAME)


def cache_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """regauth's cache directory, or None when caching is off (``REGAUTH_CACHE_DIR=""``) or there is
    no home directory.

    ``$REGAUTH_CACHE_DIR`` if set; else the platform's user cache directory: ``$XDG_CACHE_HOME`` or
    ``~/.cache`` (Linux), ``~/Library/Caches`` (macOS), ``%LOCALAPPDATA%\\...\\Cache`` (Windows), each
    with ``regauth`` below it.
    """
    env = os.environ if environ is None else environ
    override = env.get("REGAUTH_CACHE_DIR")
    if override is not None:
        return override or None
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA", "")
        return os.path.join(base, "regauth", "Cache") if base else None
    home = os.path.expanduser("~")
    if home.startswith("~"):
        return None
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "regauth")
    return os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"), "regauth")
