"""Docker Hub's web-based login: the device-code flow, Hub's personal access token, then a login.

The requests and the stored entries are Docker 28's (docs/hub-web-login.md): the device code from
Docker's tenant, polling, both tokens stored under the two token keys in the store the Hub key
uses, a personal access token from ``desktop-generate``, verified against the registry like any
password and stored as the Hub login.  Unlike Docker, a failure or an interrupt after the tokens
were stored erases them again: nothing of a failed login stays behind.

Rule: no printing here; the caller shows the code through ``show``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regauth._version import __version__
from regauth.api.login import LoginOutcome, login
from regauth.config.file import ConfigFile, check, config_path, update_config
from regauth.credentials import Credentials
from regauth.errors import AuthError, ProtocolError, RegauthError, StoreError
from regauth.registry.address import HUB_KEY
from regauth.registry.device import (
    DeviceAuthorization,
    DeviceClient,
    TokenSet,
    Wait,
    device_code_flow,
    poll_flow,
)
from regauth.registry.hubtokens import (
    ACCESS_TOKEN_KEY,
    CLIENT_ID,
    REFRESH_TOKEN_KEY,
    TENANT_URL,
    jwt_username,
    refresh_secret,
)
from regauth.registry.messages import HttpRequest
from regauth.registry.token import status_line
from regauth.stores.resolve import StoreChoice, open_store, place

if TYPE_CHECKING:
    from regauth.transport.session import Session

__all__ = ["PAT_URL", "WebCode", "WebLoginUnavailable", "poll_tokens", "web_login"]

PathLike = str | os.PathLike[str]
PAT_URL = "https://hub.docker.com/v2/access-tokens/desktop-generate"
AUDIENCE = "https://hub.docker.com"
SCOPE = "openid offline_access"
_WAITING = "failed waiting for authentication"
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386"}


class WebLoginUnavailable(RegauthError):
    """The web flow could not start (no network, the tenant down or answering nonsense):
    the caller falls back to the username prompt, as Docker does."""


@dataclass(frozen=True, slots=True)
class WebCode:
    """What the person must see: the code, the page without its query, and the full page."""

    user_code: str
    verification_uri: str
    complete: str


def user_agent() -> str:
    """The User-Agent for the tenant in the form Docker uses (docs/hub-web-login.md, "Exchange"),
    ``NAME:VERSION:OS-ARCH`` with ``_`` for ``.`` and Go's platform names, naming regauth honestly."""
    system = {"darwin": "darwin", "win32": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))
    machine = platform.machine().lower()
    return f"regauth:{__version__.replace('.', '_')}:{system}-{_GO_ARCH.get(machine, machine)}"


def _client() -> DeviceClient:
    return DeviceClient(
        client_id=CLIENT_ID,
        device_endpoint=f"{TENANT_URL}/oauth/device/code",
        token_endpoint=f"{TENANT_URL}/oauth/token",
        scope=SCOPE,
        audience=AUDIENCE,
    )


def _start(session: Session, client: DeviceClient) -> DeviceAuthorization:
    from regauth.transport.session import run_flow

    try:
        return run_flow(session, device_code_flow(client))
    except RegauthError as exc:
        raise WebLoginUnavailable(str(exc)) from None


def poll_tokens(
    session: Session, client: DeviceClient, authorization: DeviceAuthorization, sleep: Callable[[float], None]
) -> TokenSet:
    """Poll ``client``'s token endpoint over ``session`` until the person decides (any provider)."""
    from regauth.transport.session import send

    flow = poll_flow(client, authorization)
    try:
        step = next(flow)
        while True:
            if isinstance(step, Wait):
                sleep(step.seconds)
                step = flow.send(None)
            else:
                step = flow.send(send(session, step))
    except StopIteration as stop:
        tokens: TokenSet = stop.value
        return tokens
    finally:
        flow.close()


def _personal_access_token(session: Session, access_token: str) -> str:
    """``desktop-generate``: Hub mints a personal access token for the web login."""
    from regauth.transport.session import send

    headers = (("Authorization", f"Bearer {access_token}"), ("Content-Type", "application/json"))
    response = send(session, HttpRequest("POST", PAT_URL, headers, b""))
    if response.status != 201:
        raise ProtocolError(f"unexpected response from Hub: {status_line(response)}")
    try:
        token = json.loads(response.body)["data"]["token"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise ProtocolError("Hub's answer holds no personal access token")
    return token


def _store_tokens(path: str, entries: list[Credentials], chosen: list[StoreChoice]) -> None:
    """Store ``entries`` in the store the Hub key uses (detecting the default one as a login does);
    the store is appended to ``chosen`` before anything is written to it."""

    def change(cfg: ConfigFile) -> bool:
        return place(cfg, path, HUB_KEY, entries, before_write=chosen.append).changed

    update_config(path, change)


def _erase_tokens(path: str, choice: StoreChoice, created: bool) -> None:
    """Best effort: remove both token keys from ``choice``'s store and from ``auths``; and
    config.json itself when this login ``created`` it and it holds nothing else."""
    store = open_store(choice, path) if choice.helper is not None else None

    def change(cfg: ConfigFile) -> bool:
        changed = False
        for key in (ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY):
            if store is not None:
                try:
                    store.erase(key)
                except StoreError:
                    continue  # the marker stays: the secret is still in the helper
            changed = cfg.remove_auth(key) or changed
        return changed

    with contextlib.suppress(RegauthError):  # the login's own error is the one to report
        update_config(path, change)
    if created:
        with contextlib.suppress(OSError, ValueError):
            with open(path, "rb") as fh:
                left = json.loads(fh.read())
            if left == {"auths": {}}:
                os.remove(path)


def web_login(
    show: Callable[[WebCode], None],
    *,
    config: PathLike | None = None,
    timeout: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> LoginOutcome:
    """Log in to Docker Hub through Docker's web flow; store the tokens and the PAT as Docker does.

    Raises:
        WebLoginUnavailable: the device code could not be had (fall back to a password prompt).
        AuthError: the person declined, the code expired or timed out, or the registry refused
            the personal access token.
        ProtocolError / TransportError: the tenant or Hub answered something unusable or went away.
        ConfigError / StoreError: config.json or the store failed.
    KeyboardInterrupt and every error after the tokens were stored erase them again.
    """
    from regauth.transport.session import Endpoint, TransportOptions, open_session

    path = config_path(config)
    check(path)  # a broken config.json fails before any network traffic
    options = TransportOptions(tls_verify=True, timeout=timeout, user_agent=user_agent())
    client = _client()
    with open_session(Endpoint(TENANT_URL, True, "login.docker.com"), options) as session:
        authorization = _start(session, client)
        complete = authorization.verification_uri_complete or authorization.verification_uri
        show(WebCode(authorization.user_code, complete.split("?", 1)[0], complete))
        try:
            tokens = poll_tokens(session, client, authorization, sleep)
        except AuthError as exc:  # Docker's words: "failed waiting for authentication: WHY"
            raise AuthError(f"{_WAITING}: {exc}", exc.status, exc.errors) from None
        except ProtocolError as exc:
            raise ProtocolError(f"{_WAITING}: {exc}") from None
        username = jwt_username(tokens.access_token)
        if not username:
            raise ProtocolError("the access token names no Docker Hub user")
        entries = [Credentials(username=username, password=tokens.access_token, server=ACCESS_TOKEN_KEY)]
        if tokens.refresh_token:
            secret = refresh_secret(tokens.refresh_token, CLIENT_ID)
            entries.append(Credentials(username=username, password=secret, server=REFRESH_TOKEN_KEY))
        chosen: list[StoreChoice] = []
        created = not os.path.lexists(path)
        try:
            _store_tokens(path, entries, chosen)
            pat = _personal_access_token(session, tokens.access_token)
            return login(HUB_KEY, username, pat, config=config, timeout=timeout)
        except BaseException:
            # Docker leaves the tokens behind here; regauth leaves nothing of a failed login.
            if chosen:
                _erase_tokens(path, chosen[-1], created)
            raise
