"""The one Store interface (a typing.Protocol).  Rule: stores never print to the terminal.

A store keeps, per server key, one username and one secret (password or identity token).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from regauth.credentials import Credentials

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """The one store interface (file store, helper client, Python helper back-ends)."""

    def get(self, server: str) -> Credentials | None:
        """The credentials stored for ``server``, or None."""
        ...

    def store(self, creds: Credentials) -> None:
        """Store ``creds`` under ``creds.server`` (replacing what was there)."""
        ...

    def erase(self, server: str) -> bool:
        """Remove the credentials of ``server``; True if something was removed."""
        ...

    def list(self) -> dict[str, str]:
        """Every stored server key -> username."""
        ...
