"""Auth sources beyond Docker's config.json: where they are, how they are parsed and matched.

Rule: read only, no store and no network.  The order in which the sources are consulted is
:mod:`regauth.stores.lookup`'s (the one lookup chain); this module supplies its parts:

* ``DOCKER_AUTH_CONFIG``, strict like Docker's: one JSON object ``{"auths": {KEY: {"auth": B64}}}``;
  any other field, a missing ``auth`` or trailing data makes it invalid (docs/config-file.md).
* ``--authfile FILE``, else ``$REGISTRY_AUTH_FILE``; podman's ``auth.json`` files
  (docs/interop.md, "Auth file locations and precedence").
* Matching an image reference against podman's per-repository keys (``host/ns/repo``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from regauth.config.file import decode_auth, entry_credentials, load
from regauth.credentials import Credentials
from regauth.errors import ConfigError, UsageError
from regauth.registry.address import HUB_KEY, normalise

__all__ = [
    "ENV_DOCKER_AUTH_CONFIG",
    "ENV_REGISTRY_AUTH_FILE",
    "AuthFile",
    "candidate_keys",
    "docker_auth_config",
    "explicit_auth_file",
    "find_in_entries",
    "podman_auth_files",
    "read_auth_file",
    "split_reference",
]

ENV_DOCKER_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"
ENV_REGISTRY_AUTH_FILE = "REGISTRY_AUTH_FILE"

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class AuthFile:
    """One auth file: ``label`` says why it is read (``--authfile``, ``REGISTRY_AUTH_FILE``, ``podman``)."""

    label: str
    path: str
    explicit: bool = False


# --------------------------------------------------------------------------- parsing


def docker_auth_config(environ: Mapping[str, str] | None = None) -> dict[str, Credentials] | None:
    """The logins in ``DOCKER_AUTH_CONFIG`` (None when unset or empty).

    Raises ConfigError (no secret in the message) when the value is not Docker 28.3's format.
    """
    env = os.environ if environ is None else environ
    text = env.get(ENV_DOCKER_AUTH_CONFIG, "")
    if not text.strip():
        return None

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{ENV_DOCKER_AUTH_CONFIG}: {why}", ENV_DOCKER_AUTH_CONFIG)

    try:
        data = json.loads(text)  # trailing data (a second object) is an error here too
    except json.JSONDecodeError as exc:
        raise bad(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise bad("must be a JSON object")
    unknown = [k for k in data if k != "auths"]
    if unknown:
        raise bad(f"unknown field {json.dumps(unknown[0])}")
    auths = data.get("auths")
    if not isinstance(auths, dict):
        raise bad('"auths" must be a JSON object')
    result: dict[str, Credentials] = {}
    for key, entry in auths.items():
        where = f"auths[{json.dumps(key)}]"
        if not isinstance(entry, dict):
            raise bad(f"{where} must be a JSON object")
        extra = [k for k in entry if k != "auth"]
        if extra:
            raise bad(f"{where}: unknown field {json.dumps(extra[0])}")
        auth = entry.get("auth")
        if not isinstance(auth, str) or not auth:
            raise bad(f"{where}: missing auth")
        try:
            username, password = decode_auth(auth)
        except ValueError as exc:
            raise bad(f"{where}.auth {exc}") from None
        result[key] = Credentials(username=username, password=password, server=key)
    return result


def read_auth_file(path: PathLike) -> dict[str, Credentials]:
    """The logins in an auth file (Docker/podman format); {} when it does not exist.

    Raises ConfigError when the file is unreadable or malformed.
    """
    cfg = load(path)
    result: dict[str, Credentials] = {}
    for key, entry in cfg.auths().items():
        creds = entry_credentials(key, entry)
        if not creds.is_empty:
            result[key] = creds
    return result


# --------------------------------------------------------------------------- locations


def explicit_auth_file(
    authfile: PathLike | None = None, environ: Mapping[str, str] | None = None
) -> AuthFile | None:
    """``--authfile FILE``, else ``$REGISTRY_AUTH_FILE``, else None."""
    env = os.environ if environ is None else environ
    if authfile is not None and os.fspath(authfile):
        return AuthFile("--authfile", os.fspath(authfile), explicit=True)
    value = env.get(ENV_REGISTRY_AUTH_FILE, "")
    if value:
        return AuthFile(ENV_REGISTRY_AUTH_FILE, value, explicit=True)
    return None


def podman_auth_files(environ: Mapping[str, str] | None = None) -> list[AuthFile]:
    """podman's auth files in read order (runtime dir first, then the config dir)."""
    env = os.environ if environ is None else environ
    files: list[AuthFile] = []
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime:
        files.append(AuthFile("podman", os.path.join(runtime, "containers", "auth.json")))
    config_home = env.get("XDG_CONFIG_HOME", "") or os.path.join(os.path.expanduser("~"), ".config")
    files.append(AuthFile("podman", os.path.join(config_home, "containers", "auth.json")))
    return files


# --------------------------------------------------------------------------- matching


def _safe_key(text: str) -> str | None:
    try:
        return normalise(text)
    except UsageError:
        return None


def split_reference(reference: str) -> tuple[str, str]:
    """(registry key, repository path) of an image reference or a server address.

    ``nginx`` → (Hub key, ``library/nginx``); ``host:5000/ns/app:1`` → (``host:5000``, ``ns/app``);
    ``host:5000`` → (``host:5000``, ``""``).  Raises UsageError for a garbage registry part.
    """
    if "://" in reference:
        scheme, _, rest = reference.partition("://")
        host = rest.partition("/")[0]
        return normalise(f"{scheme}://{host}"), ""
    name = reference.split("@", 1)[0]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, rest
    elif not sep and ("." in first or ":" in first or first == "localhost"):
        return normalise(first), ""
    else:
        host, path = "docker.io", name
    last = path.rsplit("/", 1)
    if ":" in last[-1]:  # a tag
        path = path[: len(path) - len(last[-1])] + last[-1].split(":", 1)[0]
    path = path.strip("/")
    key = normalise(host)
    if key == HUB_KEY and path and "/" not in path:
        path = f"library/{path}"
    return key, path


def candidate_keys(reference: str) -> list[str]:
    """The per-repository keys to try for ``reference``, most specific first (then the registry)."""
    key, path = split_reference(reference)
    host = "docker.io" if key == HUB_KEY else key
    parts = path.split("/") if path else []
    keys = [f"{host}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    keys.append(key)
    return keys


def find_in_entries(
    entries: Mapping[str, Credentials], key: str, path: str = ""
) -> tuple[str, Credentials] | None:
    """The entry for registry ``key`` and repository ``path``: longest matching ``host/ns`` key,
    else the exact registry key, else a legacy spelling (``https://host``, ``docker.io``...)."""
    best: tuple[int, str] | None = None
    host_level: list[str] = []
    for stored in entries:
        if "://" not in stored and "/" in stored:
            host_part, _, prefix = stored.partition("/")
            prefix = prefix.strip("/")
            if _safe_key(host_part) != key or not prefix:
                continue
            if path == prefix or path.startswith(prefix + "/"):
                length = len(prefix.split("/"))
                if best is None or length > best[0]:
                    best = (length, stored)
        elif _safe_key(stored) == key:
            host_level.append(stored)
    if best is not None:
        return best[1], entries[best[1]]
    if key in host_level:
        return key, entries[key]
    if host_level:
        return host_level[0], entries[host_level[0]]
    return None
