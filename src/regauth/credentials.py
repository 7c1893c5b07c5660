"""Frozen value types shared by every layer.  Rule: no I/O, and no repr ever shows a secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = ["Credentials", "redact"]


def redact(value: str) -> str:
    """What a repr shows in place of a secret."""
    return "'***'" if value else "''"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Credentials for one registry.

    ``password`` and ``identity_token`` are secrets: they never appear in ``repr``/``str``.
    ``server`` is the storage key the credentials belong to (may be empty when unknown).
    ``expires_at`` is when short-lived credentials stop working (an aware UTC datetime), or None
    when nothing says they expire (a password, a stored identity token).
    """

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)
    server: str = ""
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(server={self.server!r}, username={self.username!r}, "
            f"password={redact(self.password)}, identity_token={redact(self.identity_token)}, "
            f"registry_token={redact(self.registry_token)}, expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to authenticate with."""
        return not (self.username or self.password or self.identity_token or self.registry_token)

    @property
    def has_password(self) -> bool:
        """True for a stored username + password (what Docker re-validates on a bare login)."""
        return bool(self.username and self.password)

    def expired(self, now: datetime | None = None) -> bool:
        """True when ``expires_at`` has passed (never for credentials without an expiry)."""
        if self.expires_at is None:
            return False
        return (now or datetime.now(timezone.utc)) >= self.expires_at
