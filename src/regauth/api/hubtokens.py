"""Docker Hub's web-login tokens in Docker's config: find them, erase them, revoke the refresh token.

The two keys (:mod:`regauth.registry.hubtokens`) live in the store the Hub key uses, as Docker's
``GetCredentialsStore(IndexServer)`` picks it; a helper store leaves an empty ``auths`` marker for
each, as for any key.  Logout reads the refresh token, erases both keys, then revokes the token at
the tenant the way Docker does (docs/hub-web-login.md, "Logout").
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from regauth.config.file import ConfigFile
from regauth.errors import RegauthError, StoreError
from regauth.registry.address import HUB_KEY
from regauth.registry.hubtokens import (
    ACCESS_TOKEN_KEY,
    HUB_TOKEN_KEYS,
    REFRESH_TOKEN_KEY,
    RefreshToken,
    jwt_expiry,
    parse_refresh,
    revoke_request,
)
from regauth.stores.base import Store
from regauth.stores.resolve import choose_store, open_store

#: Docker 28's warning when the tenant refuses the revoke after the erase (docs/hub-web-login.md).
REVOKE_FAILED = (
    "credentials erased successfully, but there was a failure to revoke the OAuth refresh token "
    "with the tenant"
)

__all__ = [
    "REVOKE_FAILED",
    "ErasedTokens",
    "access_expiry",
    "erase_web_tokens",
    "has_web_tokens",
    "revoke",
    "revoke_erased",
    "token_store",
]


@dataclass(frozen=True, slots=True)
class ErasedTokens:
    """What :func:`erase_web_tokens` did: ``removed`` (``store: key``), ``errors``, the refresh
    token to revoke (None unless the CLI stored it as ``TOKEN..CLIENT_ID``), and whether ``auths``
    changed (``edited``)."""

    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    refresh: RefreshToken | None = None
    edited: bool = False


def has_web_tokens(cfg: ConfigFile) -> bool:
    """True when config.json's ``auths`` holds a token key (its entry, or a helper's marker)."""
    return any(key in cfg.auths() for key in HUB_TOKEN_KEYS)


def token_store(cfg: ConfigFile, path: str) -> tuple[str, Store]:
    """The name (``file`` or the helper) and the store the Hub key uses: the tokens' store."""
    choice = choose_store(cfg, HUB_KEY)
    return choice.helper or "file", open_store(choice, path)


def access_expiry(cfg: ConfigFile, path: str) -> datetime | None:
    """When the stored access token expires (None: no token, no ``exp``, or its store failed)."""
    if ACCESS_TOKEN_KEY not in cfg.auths():
        return None
    try:
        creds = token_store(cfg, path)[1].get(ACCESS_TOKEN_KEY)
    except StoreError:
        return None
    return jwt_expiry(creds.password) if creds is not None else None


def erase_web_tokens(cfg: ConfigFile, path: str, listed: Collection[str] = ()) -> ErasedTokens:
    """Read the refresh token, then erase both token keys from the Hub's store and ``cfg``'s auths.

    ``cfg`` is changed in memory (the caller saves it); a helper store is asked only when
    ``auths`` names a token key, or ``listed`` (what the Hub's helper listed, when the caller asked
    it) does, so a logout without a web login runs no extra helper call.  A marker stays when its
    erase failed: the secret is still in the helper.
    """
    held = [key for key in (ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY) if key in cfg.auths() or key in listed]
    if not held:
        return ErasedTokens()
    name, store = token_store(cfg, path)
    removed: list[str] = []
    errors: list[str] = []
    refresh: RefreshToken | None = None
    edited = False
    if REFRESH_TOKEN_KEY in held:
        try:
            stored = store.get(REFRESH_TOKEN_KEY)
        except StoreError as exc:
            errors.append(f"{REFRESH_TOKEN_KEY}: {exc}")
            return ErasedTokens(errors=tuple(errors))  # erase nothing that cannot be revoked
        refresh = parse_refresh(stored.password) if stored is not None else None
    for key in held:
        if name != "file":
            try:
                if store.erase(key):
                    removed.append(f"{name}: {key}")
            except StoreError as exc:
                errors.append(f"{key}: {exc}")
                continue
        elif cfg.auths().get(key):
            removed.append(f"file: {key}")
        if key in cfg.auths():
            cfg.remove_auth(key)
            edited = True
    return ErasedTokens(tuple(removed), tuple(errors), refresh if not errors else None, edited)


def revoke(refresh: RefreshToken, *, timeout: float = 15.0) -> None:
    """Revoke ``refresh`` at Docker's tenant (``POST /oauth/revoke``; TLS always verified).

    Raises RegauthError (one line, never the token) when the tenant cannot be reached or does
    not answer 200 (with the answer's ``error_description`` when it has one, as Docker shows it).
    """
    from regauth.transport.session import Endpoint, TransportOptions, open_session, send

    request = revoke_request(refresh)
    options = TransportOptions(tls_verify=True, timeout=timeout)
    with open_session(Endpoint(request.url, True, "login.docker.com"), options) as session:
        response = send(session, request)
    if response.status != 200:
        why = f"{request.url} answered {response.status}"
        described = _description(response.body)
        raise RegauthError(f"{why}: {described}" if described else why)


def _description(body: bytes) -> str:
    """An OAuth error answer's ``error_description`` (RFC 6749 section 5.2), cut to one short line."""
    try:
        answer = json.loads(body[:4096])
    except ValueError:  # not JSON (or cut short): the status says enough
        return ""
    text = answer.get("error_description") if isinstance(answer, dict) else None
    return " ".join(text.split())[:200] if isinstance(text, str) else ""


def revoke_erased(tokens: ErasedTokens, *, timeout: float = 15.0) -> tuple[str, ...]:
    """Revoke the erased refresh token the CLI stored itself; a failure is returned as a warning in
    Docker's words, since the erase already succeeded and Docker's logout carries on."""
    if tokens.refresh is None:
        return ()
    try:
        revoke(tokens.refresh, timeout=timeout)
    except RegauthError as exc:
        return (f"{REVOKE_FAILED}: {exc}",)
    return ()
