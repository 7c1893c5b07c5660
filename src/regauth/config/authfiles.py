"""Auth sources beyond Docker's config.json, read with one documented precedence.  Rule: read only.

Precedence (first source holding credentials for the registry wins)::

    1. DOCKER_AUTH_CONFIG        environment variable, Docker 28.3 format (docker-behaviour.md §3)
    2. --authfile FILE           else $REGISTRY_AUTH_FILE (an explicit choice beats defaults)
    3. Docker's config.json      credHelpers -> credsStore -> auths, exactly as before
    4. $XDG_RUNTIME_DIR/containers/auth.json   (podman's default, on tmpfs)
    5. $XDG_CONFIG_HOME/containers/auth.json   (podman's read fallback; ~/.config when unset)

Within one source, :func:`lookup` tries per-repository keys (``host/ns/repo``, podman's format)
from the most specific to the registry itself; a more specific key in a later source does not beat
a matching key in an earlier one.  ``credHelpers`` inside podman auth files are not consulted.

``DOCKER_AUTH_CONFIG`` is strict like Docker's: one JSON object ``{"auths": {KEY: {"auth": B64}}}``,
any other field, a missing ``auth`` or trailing data makes it invalid; Docker then warns and uses
its normal store, and so does :func:`credentials_before_docker` (a warning is logged).
"""

from __future__ import annotations

import os

from regauth._record import record
from regauth.config.file import decode_auth, entry_credentials, load
from regauth.credentials import Credentials
from regauth.errors import ConfigError, UsageError
from regauth.registry.address import HUB_KEY, normalise

TYPE_CHECKING = False  # not typing.TYPE_CHECKING; json, logging, pathlib are imported where needed
if TYPE_CHECKING:  # (rare paths): `list`, `status` and `get` start faster (issue 6)
    from collections.abc import Mapping

__all__ = [
    "ENV_DOCKER_AUTH_CONFIG",
    "ENV_REGISTRY_AUTH_FILE",
    "AuthFile",
    "Found",
    "auth_files",
    "candidate_keys",
    "credentials_after_docker",
    "credentials_before_docker",
    "docker_auth_config",
    "explicit_auth_file",
    "find_in_entries",
    "lookup",
    "podman_auth_files",
    "read_auth_file",
    "split_reference",
]

ENV_DOCKER_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"
ENV_REGISTRY_AUTH_FILE = "REGISTRY_AUTH_FILE"



def _warn(message: str, *args: object) -> None:
    """A warning through ``logging`` (imported only then: it costs ~10 ms)."""
    import logging

    logging.getLogger("regauth.authfiles").warning(message, *args)

PathLike = str | os.PathLike[str]


@record
class AuthFile:
    """One auth file: ``label`` says why it is read (``--authfile``, ``REGISTRY_AUTH_FILE``, ``podman``)."""

    label: str
    path: str
    explicit: bool = False


@record
class Found:
    """A lookup result: the credentials, the stored key that matched and where it came from."""

    credentials: Credentials
    key: str
    source: str


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

    import json  # only when the variable is set

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


def auth_files(
    authfile: PathLike | None = None, environ: Mapping[str, str] | None = None
) -> list[AuthFile]:
    """Every auth file besides config.json, in precedence order, without duplicates."""
    files = [f for f in [explicit_auth_file(authfile, environ)] if f is not None]
    files.extend(podman_auth_files(environ))
    seen: set[str] = set()
    unique: list[AuthFile] = []
    for f in files:
        real = os.path.realpath(f.path)
        if real not in seen:
            seen.add(real)
            unique.append(f)
    return unique


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
        host, _, path = rest.partition("/")
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


def _with_server(creds: Credentials, key: str) -> Credentials:
    return Credentials(
        username=creds.username,
        password=creds.password,
        identity_token=creds.identity_token,
        registry_token=creds.registry_token,
        server=key,
    )


def _env_entries() -> dict[str, Credentials] | None:
    try:
        return docker_auth_config()
    except ConfigError as exc:
        _warn("%s; it is ignored", exc)
        return None


def _file_entries(auth_file: AuthFile) -> dict[str, Credentials]:
    try:
        return read_auth_file(auth_file.path)
    except ConfigError:
        if auth_file.explicit:
            raise
        _warn("cannot read %s; it is skipped", auth_file.path)
        return {}


def credentials_before_docker(
    key: str, *, authfile: PathLike | None = None, path: str = ""
) -> Found | None:
    """Sources 1-2 of the precedence (``DOCKER_AUTH_CONFIG``, ``--authfile``/``REGISTRY_AUTH_FILE``).

    Raises ConfigError when the explicitly named auth file is broken.
    """
    env = _env_entries()
    if env:
        hit = find_in_entries(env, key, path)
        if hit is not None:
            return Found(_with_server(hit[1], key), hit[0], ENV_DOCKER_AUTH_CONFIG)
    explicit = explicit_auth_file(authfile)
    if explicit is not None:
        hit = find_in_entries(_file_entries(explicit), key, path)
        if hit is not None:
            return Found(_with_server(hit[1], key), hit[0], str(explicit.path))
    return None


def credentials_after_docker(
    key: str, *, authfile: PathLike | None = None, path: str = ""
) -> Found | None:
    """Sources 4-5 of the precedence (podman's files); broken files are skipped with a warning."""
    explicit = explicit_auth_file(authfile)
    skip = os.path.realpath(explicit.path) if explicit is not None else None
    for auth_file in podman_auth_files():
        if skip is not None and os.path.realpath(auth_file.path) == skip:
            continue
        hit = find_in_entries(_file_entries(auth_file), key, path)
        if hit is not None:
            return Found(_with_server(hit[1], key), hit[0], str(auth_file.path))
    return None


def lookup(
    reference: str,
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
) -> Found | None:
    """The credentials for an image reference or server, across every source (module docstring).

    ``reference`` may be ``host/ns/repo[:tag]``: per-repository keys are tried most specific first.
    Raises ConfigError (broken config.json or explicit auth file) and HelperError.
    """
    from regauth.api.login import docker_config_credentials
    from regauth.config.file import config_path

    key, path = split_reference(reference)
    found = credentials_before_docker(key, authfile=authfile, path=path)
    if found is not None:
        return found
    cfg_path = config_path(config)
    if path:  # per-repository keys in config.json's auths (plaintext entries only)
        hit = find_in_entries(read_auth_file(cfg_path), key, path)
        if hit is not None and hit[0] != key and "/" in hit[0] and "://" not in hit[0]:
            return Found(_with_server(hit[1], key), hit[0], str(cfg_path))
    docker = docker_config_credentials(key, config=config)
    if docker is not None:
        return Found(docker, key, str(cfg_path))
    return credentials_after_docker(key, authfile=authfile, path=path)

