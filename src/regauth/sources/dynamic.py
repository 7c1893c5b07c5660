"""Which source mints credentials for a registry: the one entry point of the lookup chain.

Order: a ``credential-commands`` entry of regauth's settings whose pattern matches the registry
(:mod:`regauth.sources.command`; the first match wins, so a setting can take over an ECR host too),
else Amazon ECR when the host is an ECR registry host (:mod:`regauth.sources.ecr`), else nothing.

What a listing shows (:func:`available`), without running a command or asking a cloud: every
cached credential still in use, and each exact (not wildcard) ``credential-commands`` registry
that has none cached yet; minting waits until someone asks for its credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regauth.config.settings import Settings, load_settings, settings_path
from regauth.credentials import Credentials
from regauth.sources import cache, command

__all__ = ["ECR_SOURCE", "Available", "available", "minted", "source_of"]

#: How a listing names the ECR source.
ECR_SOURCE = "Amazon ECR"


@dataclass(frozen=True, slots=True)
class Available:
    """A registry a source serves: its key, the username when known, where the rule lives
    (``credential-commands in FILE`` or :data:`ECR_SOURCE`) and the cached credentials, if any."""

    key: str
    username: str
    source: str
    cached: Credentials | None = field(default=None, repr=False)


def _commands_source() -> str:
    return f"credential-commands in {settings_path()}"


def source_of(key: str, *, settings: Settings | None = None) -> str | None:
    """Where credentials for ``key`` would be minted (as :class:`Available` names it), or None."""
    chosen = load_settings() if settings is None else settings
    if command.matching(chosen.credential_commands, key) is not None:
        return _commands_source()
    from regauth.sources import ecr

    return ECR_SOURCE if ecr.parse(key) is not None else None


def minted(key: str, *, settings: Settings | None = None) -> Credentials | None:
    """Credentials minted for registry ``key`` (a storage key: ``host[:port]``), or None when no
    source applies.

    Raises ConfigError (a broken settings file) or StoreError (the command or the cloud failed),
    each with one line and never a secret.
    """
    chosen = load_settings() if settings is None else settings
    rule = command.matching(chosen.credential_commands, key)
    if rule is not None:
        return command.mint(rule, key)
    # Imported here: most lookups never meet an ECR host (the module loads botocore only to mint).
    from regauth.sources import ecr

    return ecr.get(key)


def available(*, settings: Settings | None = None) -> list[Available]:
    """What the sources serve, by key, without minting anything (module docstring).

    Raises ConfigError for a broken settings file.
    """
    chosen = load_settings() if settings is None else settings
    rules = chosen.credential_commands
    found: dict[str, Available] = {}
    where = _commands_source()
    for key, (_, creds) in sorted(command.cached(rules).items()):
        found[key] = Available(key, creds.username, where, creds)
    for rule in rules:
        if not rule.wildcard and rule.host not in found and command.matching(rules, rule.host) is rule:
            found[rule.host] = Available(rule.host, rule.username, where)
    from regauth.sources import ecr

    for key, creds in sorted(cache.entries(ecr.SOURCE).items()):
        if key not in found and command.matching(rules, key) is None:
            found[key] = Available(key, creds.username, ECR_SOURCE, creds)
    return list(found.values())
