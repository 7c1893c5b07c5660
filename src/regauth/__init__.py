"""regauth: ``docker login``/``logout``, Docker's config file and credential helpers, without Docker.

Public API (everything else is private)::

    regauth.login(server, username, password, ...)  -> LoginOutcome
    regauth.logout(server)                          -> LogoutOutcome
    regauth.get_credentials(server)                 -> Credentials | None
    regauth.list_logins()                           -> list[LoginInfo]      (every store and auth file)
    regauth.status(servers)                         -> list[StatusResult]   (re-validates, no secrets)
    regauth.token(server, scopes)                   -> Token (bearer token from the stored login)
    regauth.RegistryAuth(...)                       requests auth (loads requests on first use)
    regauth.HttpxRegistryAuth(...)                  httpx auth (needs httpx; loaded on first use)

Every name is loaded on first use (PEP 562), so ``import regauth.helpers.pass_`` and ``regauth
--help`` pay for nothing they do not run.  To export a name, add it to ``_LAZY`` and ``__all__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .api.inventory import LoginInfo, StatusResult, list_logins, status
    from .api.login import LoginOutcome, login
    from .api.logout import LogoutOutcome, logout
    from .api.lookup import get_credentials
    from .api.token import NoTokenAuthError, token
    from .auth import HttpxRegistryAuth, RegistryAuth
    from .credentials import Credentials
    from .errors import (
        AuthError,
        ConfigError,
        HelperError,
        ProtocolError,
        RegauthError,
        StoreError,
        TransportError,
        UsageError,
    )
    from .registry.token import Token

#: public name -> the private module defining it
_LAZY = {
    "AuthError": ".errors",
    "ConfigError": ".errors",
    "Credentials": ".credentials",
    "HelperError": ".errors",
    "HttpxRegistryAuth": ".auth",
    "LoginInfo": ".api.inventory",
    "LoginOutcome": ".api.login",
    "LogoutOutcome": ".api.logout",
    "NoTokenAuthError": ".api.token",
    "ProtocolError": ".errors",
    "RegauthError": ".errors",
    "RegistryAuth": ".auth",
    "StatusResult": ".api.inventory",
    "StoreError": ".errors",
    "Token": ".registry.token",
    "TransportError": ".errors",
    "UsageError": ".errors",
    "get_credentials": ".api.lookup",
    "list_logins": ".api.inventory",
    "login": ".api.login",
    "logout": ".api.logout",
    "status": ".api.inventory",
    "token": ".api.token",
}

__all__ = [
    "AuthError",
    "ConfigError",
    "Credentials",
    "HelperError",
    "HttpxRegistryAuth",
    "LoginInfo",
    "LoginOutcome",
    "LogoutOutcome",
    "NoTokenAuthError",
    "ProtocolError",
    "RegauthError",
    "RegistryAuth",
    "StatusResult",
    "StoreError",
    "Token",
    "TransportError",
    "UsageError",
    "__version__",
    "get_credentials",
    "list_logins",
    "login",
    "logout",
    "status",
    "token",
]


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
