"""regauth: ``docker login``/``logout``, Docker's config file and credential helpers, without Docker.

Public API (everything else is private)::

    regauth.login(server, username, password, ...)  -> LoginOutcome
    regauth.logout(server)                          -> LogoutOutcome
    regauth.get_credentials(server)                 -> Credentials | None
"""

from __future__ import annotations

from ._api import LoginOutcome, LogoutOutcome, get_credentials, login, logout
from ._errors import (
    AuthError,
    ConfigError,
    HelperError,
    ProtocolError,
    RegauthError,
    StoreError,
    TransportError,
    UsageError,
)
from ._types import Credentials
from ._version import __version__

__all__ = [
    "AuthError",
    "ConfigError",
    "Credentials",
    "HelperError",
    "LoginOutcome",
    "LogoutOutcome",
    "ProtocolError",
    "RegauthError",
    "StoreError",
    "TransportError",
    "UsageError",
    "__version__",
    "get_credentials",
    "login",
    "logout",
]
