"""docker-credential-regauth-command: credentials from regauth's ``credential-commands``, through credHelpers.

Install it for a registry in Docker's config.json (docs/credential-helpers.md), beside a
``credential-commands`` entry for that registry in regauth's settings::

    {"credHelpers": {"eu.gcr.io": "regauth-command"}}

``get`` answers ``{"ServerURL": server, "Username": ..., "Secret": ...}`` from
:mod:`regauth.sources.command` (the cached credential, else a run of the configured command).  A
registry no entry covers is ``credentials not found in native keychain``.  ``store`` and ``erase``
answer ``not implemented``, as amazon-ecr-credential-helper does: a minted credential is nothing a
login stores or a logout erases.  ``list`` shows the cached credentials still in use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from regauth.config.settings import CredentialCommand, load_settings
from regauth.errors import RegauthError
from regauth.helpers.serve import BackendError, MintedBackend, serve
from regauth.registry.address import normalise
from regauth.sources import command

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NAME", "CommandBackend", "main"]

NAME = "docker-credential-regauth-command"


def _rules() -> tuple[CredentialCommand, ...]:
    try:
        return load_settings().credential_commands
    except RegauthError as exc:
        raise BackendError(str(exc)) from None


class CommandBackend(MintedBackend):
    """Credentials minted by configured commands, behind the helper protocol."""

    program = NAME

    def get(self, server: str) -> tuple[str, str] | None:
        """(username, secret) from the first entry covering ``server``; None when none does."""
        try:
            key = normalise(server)
        except RegauthError:
            return None
        rule = command.matching(_rules(), key)
        if rule is None:
            return None
        try:
            creds = command.mint(rule, key)
        except RegauthError as exc:
            raise BackendError(str(exc)) from None
        return creds.username, creds.password

    def list(self) -> dict[str, str]:
        """Cached credentials not about to expire: registry -> username."""
        return {key: creds.username for key, (_, creds) in command.cached(_rules()).items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-command``."""
    return serve(CommandBackend(), argv)


if __name__ == "__main__":
    sys.exit(main())
