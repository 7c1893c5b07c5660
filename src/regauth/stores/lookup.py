"""The one credential lookup chain: every source of logins, in precedence order.

Rule: every reader of stored credentials (``get_credentials``, ``get``, ``token``, ``list``,
``status``, ``export``, ``logout --all``) walks :func:`sources`; nothing else decides the order.

Sources, the first one holding credentials for a registry wins::

    1. DOCKER_AUTH_CONFIG        environment variable, Docker 28.3's format (docs/config-file.md)
    2. --authfile FILE           else $REGISTRY_AUTH_FILE (an explicit choice beats the defaults)
    3. Docker's config.json      per key: credHelpers[key] -> credsStore -> auths, as Docker reads it
    4. minted credentials        regauth's credential-commands, else Amazon ECR (regauth.sources.dynamic)
    5. $XDG_RUNTIME_DIR/containers/auth.json   (podman's default, on tmpfs)
    6. $XDG_CONFIG_HOME/containers/auth.json   (podman's read fallback; ~/.config when unset)

Within one source, per-repository keys (``host/ns/repo``, podman's format) are tried from the most
specific to the registry itself; a more specific key in a later source does not beat a matching key
in an earlier one.  ``credHelpers`` inside podman's files are not consulted.  An auth file that is
config.json itself is read once, as config.json (source 3).

Minted credentials (source 4) answer for a registry, never for a repository key, and a lookup that
reaches them runs the configured command or asks ECR (cached until shortly before expiry); a
listing never does: it shows cached minted credentials and the exact registries of
``credential-commands``, whose credentials are minted only when asked for (``status``, ``export``).

When a source cannot be read, a lookup fails for the sources the user named or cannot do without
(the explicit auth file, config.json and its helpers) and skips the others with a warning, as
Docker ignores an invalid ``DOCKER_AUTH_CONFIG``; a listing reports it in an entry of its own.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass

from regauth.config.authfiles import (
    ENV_DOCKER_AUTH_CONFIG,
    docker_auth_config,
    explicit_auth_file,
    find_in_entries,
    podman_auth_files,
    read_auth_file,
    split_reference,
)
from regauth.config.file import ConfigFile, config_path, entry_credentials, load
from regauth.config.settings import load_settings, settings_path
from regauth.credentials import Credentials
from regauth.errors import ConfigError, StoreError
from regauth.registry.address import normalise
from regauth.stores.base import Store
from regauth.stores.file import find_entry_key
from regauth.stores.resolve import StoreChoice, choose_store, open_store
from regauth.stores.wire import TOKEN_USERNAME

__all__ = [
    "AUTHFILE",
    "DOCKER",
    "ENV",
    "MINTED",
    "Found",
    "Listed",
    "Source",
    "docker_config_credentials",
    "find",
    "listed",
    "lookup",
    "mintable",
    "sources",
]

PathLike = str | os.PathLike[str]

ENV = "env"
AUTHFILE = "authfile"
DOCKER = "docker"
MINTED = "minted"


def _warn(message: str) -> None:
    """Log a skipped source (``logging`` is loaded only when there is something to say)."""
    import logging

    logging.getLogger(__name__).warning("%s", message)


@dataclass(frozen=True, slots=True)
class Source:
    """One source of logins.

    ``kind``: ``env`` (DOCKER_AUTH_CONFIG), ``authfile``, ``docker`` (config.json and its stores) or
    ``minted`` (credential commands and ECR).
    ``location``: ``DOCKER_AUTH_CONFIG``, the file's path, or ``minted``.
    ``strict``: a lookup fails when this source cannot be read (else it is skipped with a warning).
    """

    kind: str
    location: str
    strict: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """A lookup result: the credentials, the stored key that matched and where it came from."""

    credentials: Credentials
    key: str
    source: str


@dataclass(frozen=True, slots=True)
class Listed:
    """One stored login as its source lists it, never with its secret in ``repr``.

    ``store``: ``env``, ``authfile``, ``file``, a helper's name or ``minted``.  ``source``:
    ``DOCKER_AUTH_CONFIG``, the file, ``credsStore in FILE`` / ``credHelpers in FILE``, or
    ``credential-commands in FILE`` / ``Amazon ECR``.  ``error``: why the source (key
    ``*``) or this key could not be read.  A ``credsStore`` listing names keys and usernames only:
    :meth:`credentials` asks the helper then.
    """

    key: str
    username: str
    store: str
    source: str
    error: str = ""
    known: Credentials | None = dataclasses.field(default=None, repr=False)
    helper: Store | None = dataclasses.field(default=None, repr=False, compare=False)

    def credentials(self) -> Credentials | None:
        """The login's credentials (None for an error entry).  Raises StoreError if the helper fails."""
        if self.known is not None or self.helper is None:
            return self.known
        return self.helper.get(self.key)

    @property
    def identity_token(self) -> bool:
        """True when the login is an identity token (known without asking a helper)."""
        if self.known is not None:
            return bool(self.known.identity_token)
        return self.username == TOKEN_USERNAME


# --------------------------------------------------------------------------- the sources


def sources(*, config: PathLike | None = None, authfile: PathLike | None = None) -> list[Source]:
    """Every source in precedence order (module docstring), each file once."""
    docker = config_path(config)
    seen = {os.path.realpath(docker)}
    result = [Source(ENV, ENV_DOCKER_AUTH_CONFIG)]

    def add_file(path: str, strict: bool) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            result.append(Source(AUTHFILE, path, strict))

    explicit = explicit_auth_file(authfile)
    if explicit is not None:
        add_file(explicit.path, True)
    result.append(Source(DOCKER, docker, True))
    result.append(Source(MINTED, MINTED, True))
    for podman in podman_auth_files():
        add_file(podman.path, False)
    return result


def _entries(source: Source) -> dict[str, Credentials]:
    """The logins of an ``env`` or ``authfile`` source.  Raises ConfigError when it is unreadable."""
    if source.kind == ENV:
        return docker_auth_config() or {}
    return read_auth_file(source.location)


# --------------------------------------------------------------------------- one registry


def _docker_credentials(cfg: ConfigFile, path: str, key: str) -> Credentials | None:
    """config.json's credentials for ``key``: its ``auths`` entry overlaid by the helper that
    ``credHelpers``/``credsStore`` names (the entry keeps fields a helper does not hold)."""
    found = find_entry_key(cfg, key)
    base = entry_credentials(key, cfg.auths()[found]) if found is not None else Credentials(server=key)
    choice = choose_store(cfg, key)
    if choice.helper is not None:
        from_helper = open_store(choice, path).get(key)
        if from_helper is not None:
            base = dataclasses.replace(from_helper, registry_token=base.registry_token, server=key)
    return None if base.is_empty else base


def docker_config_credentials(
    server: str | None = None, *, config: PathLike | None = None
) -> Credentials | None:
    """The credentials config.json alone holds for ``server`` (source 3 of the module docstring).

    Raises ConfigError for a broken config.json and HelperError when the helper fails.
    """
    key = normalise(server)
    path = config_path(config)
    return _docker_credentials(load(path), path, key)


def _find_in(source: Source, key: str, path: str) -> Found | None:
    if source.kind == MINTED:
        settings = load_settings()
        from regauth.sources import dynamic  # the command runner and cache: only when minting

        creds = dynamic.minted(key, settings=settings)
        if creds is None:
            return None
        return Found(creds, key, dynamic.source_of(key, settings=settings) or MINTED)
    if source.kind == DOCKER:
        cfg = load(source.location)
        if path:  # per-repository keys in config.json's auths (plaintext entries only)
            plain = {k: entry_credentials(k, e) for k, e in cfg.auths().items()}
            hit = find_in_entries({k: c for k, c in plain.items() if not c.is_empty}, key, path)
            if hit is not None and "/" in hit[0] and "://" not in hit[0]:
                return Found(dataclasses.replace(hit[1], server=key), hit[0], source.location)
        creds = _docker_credentials(cfg, source.location, key)
        return None if creds is None else Found(creds, key, source.location)
    hit = find_in_entries(_entries(source), key, path)
    if hit is None:
        return None
    return Found(dataclasses.replace(hit[1], server=key), hit[0], source.location)


def find(
    key: str,
    path: str = "",
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
    mint: bool = True,
    docker: bool = True,
) -> Iterator[Found]:
    """Each source's credentials for registry ``key`` (and repository ``path``), in precedence order.

    The first item is the answer; the iterator reads a source only when asked for the next item.
    ``mint=False`` leaves out minted credentials (no command runs, no cloud is asked);
    ``docker=False`` leaves out config.json and its helpers (no helper decrypts a secret).
    Raises ConfigError (broken config.json, explicit auth file or regauth's settings) and
    StoreError (a helper, a credential command or ECR failed).
    """
    for source in sources(config=config, authfile=authfile):
        if (source.kind == MINTED and not mint) or (source.kind == DOCKER and not docker):
            continue
        try:
            hit = _find_in(source, key, path)
        except ConfigError as exc:
            if source.strict:
                raise
            if source.kind == ENV:
                _warn(f"{exc}; it is ignored")
            else:
                _warn(f"cannot read {source.location}; it is skipped")
            continue
        if hit is not None:
            yield hit


def lookup(
    reference: str, *, config: PathLike | None = None, authfile: PathLike | None = None
) -> Found | None:
    """The credentials for an image reference or a server address, from the first source holding them.

    ``reference`` may be ``host/ns/repo[:tag]``: per-repository keys are tried most specific first.
    Raises UsageError for a garbage reference, ConfigError and HelperError as :func:`find`.
    """
    key, path = split_reference(reference)
    return next(find(key, path, config=config, authfile=authfile), None)


# --------------------------------------------------------------------------- every login


def _docker_listed(path: str) -> list[Listed]:
    """config.json's logins as Docker's ``GetAllCredentials`` finds them, in its precedence:
    ``credHelpers`` (each key asked with ``get``), then ``credsStore`` (``list``), then ``auths``."""
    try:
        cfg = load(path)
    except ConfigError as exc:
        return [Listed("*", "", "file", path, str(exc))]
    result: list[Listed] = []
    helpers = cfg.cred_helpers()
    for key, name in helpers.items():
        if not name:
            continue
        where = f"credHelpers in {path}"
        try:
            got = open_store(StoreChoice(name, "credHelpers"), path).get(key)
        except StoreError as exc:
            result.append(Listed(key, "", name, where, str(exc)))
            continue
        if got is not None:
            username = got.username or (TOKEN_USERNAME if got.identity_token else "")
            result.append(Listed(key, username, name, where, known=got))
    default = cfg.creds_store()
    if default:
        store = open_store(StoreChoice(default, "credsStore"), path)
        where = f"credsStore in {path}"
        try:
            names = store.list()
        except StoreError as exc:
            result.append(Listed("*", "", default, where, str(exc)))
            names = {}
        for key, username in sorted(names.items()):
            if helpers.get(key, default) == default:  # else credHelpers sends this key elsewhere
                result.append(Listed(key, username, default, where, helper=store))
    for key, entry in cfg.auths().items():
        creds = entry_credentials(key, entry)
        if not creds.is_empty:
            result.append(Listed(key, creds.username, "file", path, known=creds))
    return result


class _Minting:
    """Minted credentials seen as a read-only store: ``get`` mints (or reads the cache)."""

    def get(self, server: str) -> Credentials | None:
        from regauth.sources import dynamic

        return dynamic.minted(server)

    def store(self, creds: Credentials) -> None:
        raise StoreError(f"{creds.server}: minted credentials are not stored")

    def erase(self, server: str) -> bool:
        return False

    def list(self) -> dict[str, str]:
        from regauth.sources import dynamic

        return {entry.key: entry.username for entry in dynamic.available()}


def _minted_listed() -> list[Listed]:
    """Minted credentials without minting any: cached ones, and exact credential-commands
    registries whose credentials are minted when asked for (module docstring)."""
    from regauth.sources import dynamic

    try:
        entries = dynamic.available()
    except ConfigError as exc:
        return [Listed("*", "", MINTED, settings_path(), str(exc))]
    minting = _Minting()
    return [
        Listed(e.key, e.username, MINTED, e.source, known=e.cached, helper=None if e.cached else minting)
        for e in entries
    ]


def mintable(key: str) -> Listed | None:
    """A listing entry for registry ``key`` when a minted source covers it, else None.

    Nothing is minted yet: the entry's :meth:`Listed.credentials` mints (or reads the cache).  For
    a registry the listing leaves out, e.g. an ECR host with nothing cached, that ``status`` names.
    Raises ConfigError for a broken settings file.
    """
    from regauth.sources import dynamic

    source = dynamic.source_of(key)
    return None if source is None else Listed(key, "", MINTED, source, helper=_Minting())


def _listed_in(source: Source) -> list[Listed]:
    if source.kind == DOCKER:
        return _docker_listed(source.location)
    if source.kind == MINTED:
        return _minted_listed()
    try:
        entries = _entries(source)
    except ConfigError as exc:
        return [Listed("*", "", source.kind, source.location, str(exc))]
    return [Listed(k, c.username, source.kind, source.location, known=c) for k, c in entries.items()]


def listed(*, config: PathLike | None = None, authfile: PathLike | None = None) -> Iterator[Listed]:
    """Every stored login of every source, in precedence order; a source that fails is an entry."""
    for source in sources(config=config, authfile=authfile):
        yield from _listed_in(source)
