"""The library's login: verify credentials against the registry, then store them like ``docker login``.

Rule: no printing and no prompting here; the CLI is a thin shell over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regauth.api.lookup import get_credentials
from regauth.config.file import ConfigFile, check, config_path, update_config
from regauth.config.settings import load_settings
from regauth.credentials import Credentials
from regauth.errors import UsageError
from regauth.registry.address import normalise
from regauth.registry.flow import LoginResult, login_flow
from regauth.stores.resolve import Placement, place
from regauth.transport.realms import remember, remembered

if TYPE_CHECKING:
    import pathlib

    from regauth.transport.session import TransportOptions

__all__ = ["LoginOutcome", "login", "transport_options", "verify"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a successful login did.

    ``verified`` is False when the registry asked for no credentials at all (nothing was checked).
    ``plaintext`` is True when a password was written into ``config.json`` (Docker's warning case).
    ``tightened_from`` is config.json's old mode when the login made it 0600 (a secret went into a
    file group or others could access; docs/config-file.md, "Symlinks and modes"), else None.
    """

    server: str
    username: str
    store: str
    config_file: str
    verified: bool
    identity_token: bool
    plaintext: bool
    detected_store: str | None = None
    rejected_defaults: tuple[str, ...] = ()
    tightened_from: int | None = None

    @property
    def config_path(self) -> pathlib.Path:
        """``config_file`` as a Path (the config.json the login used)."""
        import pathlib  # only for callers that ask for a Path

        return pathlib.Path(self.config_file)


def transport_options(
    tls_verify: bool | None, cert_dir: PathLike | None, timeout: float
) -> TransportOptions:
    """The transport options of one command: its flags plus the daemon's insecure registries."""
    from regauth.transport.session import TransportOptions  # ssl and socket: only when connecting

    settings = load_settings()
    return TransportOptions(
        tls_verify=tls_verify,
        cert_dir=os.fspath(cert_dir) if cert_dir is not None else None,
        insecure_registries=settings.insecure_registries,
        timeout=timeout,
    )


def verify(
    key: str,
    creds: Credentials,
    *,
    tls_verify: bool | None = None,
    cert_dir: PathLike | None = None,
    scopes: Sequence[str] = (),
    timeout: float = 15.0,
) -> LoginResult:
    """Run the registry handshake for ``key`` with ``creds`` on each allowed endpoint in turn.

    Raises AuthError when refused, TransportError when no endpoint could be reached (the plain-HTTP
    endpoint of an insecure registry is tried only when its HTTPS one does not speak TLS).
    """
    from regauth.transport.session import (  # ssl and socket: only when connecting
        Session,
        endpoint_origin,
        run_flow,
        try_endpoints,
    )

    options = transport_options(tls_verify, cert_dir, timeout)

    def attempt(session: Session) -> LoginResult:
        endpoint = session.endpoint
        origin = endpoint_origin(endpoint.url)
        session.preconnect(origin)  # the handshakes overlap building the flow
        token_server = remembered(origin)
        if token_server is not None and token_server != origin:
            session.preconnect(token_server)  # and the token server remembered for it
        result = run_flow(session, login_flow(endpoint.url, creds, scopes=scopes), options)
        others = [o for o in session.origins if o != origin]
        used = others[0] if len(others) == 1 else None
        if used != token_server:  # the usual login re-reads and writes nothing
            remember(origin, used)
        return result

    # plain HTTP only after a server that does not speak TLS, never after a refusal over TLS
    return try_endpoints(key, options, attempt)


def login(
    server: str | None = None,
    username: str = "",
    password: str = "",
    *,
    identity_token: str = "",
    config: PathLike | None = None,
    tls_verify: bool | None = None,
    cert_dir: PathLike | None = None,
    scopes: Sequence[str] = (),
    timeout: float = 15.0,
) -> LoginOutcome:
    """Verify credentials against the registry and store them like ``docker login``.

    With no username, password or identity token, the stored username+password is re-validated.

    Raises:
        UsageError: nothing given and nothing stored.
        ConfigError: config.json unreadable or unwritable (nothing is written then).
        AuthError / TransportError / ProtocolError: the registry refused or could not be reached.
        StoreError: the credential store failed to save.
    """
    key = normalise(server)
    path = config_path(config)
    check(path)  # strict: a broken file fails before any network traffic
    if identity_token:
        creds = Credentials(username=username, identity_token=identity_token, server=key)
    elif username or password:
        if not (username and password):
            raise UsageError("both a username and a password are needed")
        creds = Credentials(username=username, password=password, server=key)
    else:
        stored = get_credentials(key, config=config)
        if stored is None or not stored.has_password:
            raise UsageError(f"no stored username and password for {key}")
        creds = Credentials(username=stored.username, password=stored.password, server=key)

    checked = verify(
        key, creds, tls_verify=tls_verify, cert_dir=cert_dir, scopes=scopes, timeout=timeout
    )
    token = checked.identity_token or ""
    final = Credentials(
        username=creds.username,
        password="" if token else creds.password,
        identity_token=token,
        server=key,
    )
    placed: list[Placement] = []

    def change(cfg: ConfigFile) -> bool:
        placed.append(place(cfg, path, key, [final]))
        return placed[-1].changed

    saved = update_config(path, change)
    choice = placed[-1].choice
    return LoginOutcome(
        server=key,
        username=final.username,
        store=choice.name,
        config_file=path,
        verified=checked.verified,
        identity_token=bool(token),
        plaintext=choice.helper is None and bool(final.password),
        detected_store=placed[-1].detected,
        rejected_defaults=placed[-1].rejected,
        tightened_from=saved.tightened_from,
    )
