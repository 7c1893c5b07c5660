"""The one error tree of regauth.  Rule: every failure a user can cause is one of these.

    RegauthError
    ├── UsageError          bad flags or arguments (CLI exit 125)
    ├── ConfigError         config.json (or another auth file) unreadable, unparsable or unwritable
    ├── AuthError           the registry or token server refused the credentials
    ├── ProtocolError       a server answered something regauth cannot use (bad challenge, bad token JSON)
    ├── TransportError      connection, TLS, timeout, redirect, insecure-transport refusals
    └── StoreError          a credential store failed
        ├── HelperError     a docker-credential-<name> helper failed (its stdout line verbatim)
        └── ExpiredError    a source handed out credentials that had already expired

"Not found" is never an exception: lookups return ``None``.
No message of any of these ever contains a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "AuthError",
    "ConfigError",
    "ExpiredError",
    "HelperError",
    "ProtocolError",
    "RegauthError",
    "StoreError",
    "TransportError",
    "UsageError",
]


class RegauthError(Exception):
    """Base class of every error regauth raises on purpose."""


class UsageError(RegauthError):
    """Bad flags, arguments or combinations of them."""


class ConfigError(RegauthError):
    """A config or auth file that cannot be read, parsed or written.

    ``path`` names the file; the message already includes it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class AuthError(RegauthError):
    """The registry or its token server rejected the credentials.

    ``status`` is the HTTP status (0 if unknown); ``errors`` the registry's ``errors[]`` messages.
    """

    def __init__(self, message: str, status: int = 0, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors


class ProtocolError(RegauthError):
    """A server spoke, but not in a way regauth can use."""


class TransportError(RegauthError):
    """Connection, TLS, timeout, redirect or insecure-transport failure."""


class StoreError(RegauthError):
    """A credential store failed to get, store, erase or list."""


class HelperError(StoreError):
    """A ``docker-credential-<name>`` helper failed.

    ``helper`` is the helper's suffix name, ``output`` its (trimmed) stdout line.
    """

    def __init__(self, message: str, helper: str = "", output: str = "") -> None:
        super().__init__(message)
        self.helper = helper
        self.output = output


class ExpiredError(StoreError):
    """A source (a credential command, a cloud) handed out credentials already past their expiry.

    ``expires_at`` is when they expired (aware UTC): ``regauth status`` reports them as expired.
    """

    def __init__(self, message: str, expires_at: datetime) -> None:
        super().__init__(message)
        self.expires_at = expires_at
