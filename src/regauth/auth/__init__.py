"""Registry auth for ``requests`` and ``httpx``: answer Bearer/Basic challenges with regauth's logins.

Rule: the auth logic is sans-I/O (:class:`regauth.auth.core.Core` over
:func:`regauth.registry.flow.token_flow`); the two classes only carry its requests and responses.
Tokens never appear in logs, reprs or messages.

* A 401 with a ``Bearer`` challenge: a token for the challenge's ``scope`` is fetched from its realm
  with the credentials (identity token → refresh grant; username+password → GET with Basic;
  nothing → anonymous), the request is retried once with it.
* Tokens are cached per ``(realm, service, scopes)`` until shortly before they expire; the next
  request to the same repository sends its token up front (no extra round trip).
* ``insufficient_scope`` (e.g. a push after a pull): the scopes held for that repository and the
  challenged ones are merged (``pull`` + ``push`` → ``pull,push``) and a new token fetched.
* A token server that rotates refresh tokens: the new identity token is used from then on (in
  memory; the stored one is left as it is).
* A 401 offering only ``Basic``: the request is retried with Basic, and Basic is sent up front to
  that registry from then on.
* Redirects of token requests follow regauth's one policy (:mod:`regauth.transport.redirects`).

``RegistryAuth`` (:mod:`regauth.auth.requests`) needs requests, ``HttpxRegistryAuth``
(:mod:`regauth.auth.httpx`) needs httpx; each is imported on first use, so either works without
the other installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regauth.auth.core import merge_scopes

if TYPE_CHECKING:
    from regauth.auth.httpx import HttpxRegistryAuth
    from regauth.auth.requests import RegistryAuth

__all__ = ["HttpxRegistryAuth", "RegistryAuth", "merge_scopes"]


def __getattr__(name: str) -> Any:
    if name == "RegistryAuth":
        try:
            from regauth.auth.requests import RegistryAuth
        except ImportError as exc:
            raise ImportError(
                "regauth.auth.RegistryAuth needs requests: pip install 'regauth[requests]'"
            ) from exc
        return RegistryAuth
    if name == "HttpxRegistryAuth":
        try:
            from regauth.auth.httpx import HttpxRegistryAuth
        except ImportError as exc:
            raise ImportError(
                "regauth.auth.HttpxRegistryAuth needs httpx: pip install 'regauth[httpx]'"
            ) from exc
        return HttpxRegistryAuth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
