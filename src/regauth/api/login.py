"""The library: login, logout, get_credentials, composed from address, flow, transport, stores, config.

Rule: no printing and no prompting here; the CLI is a thin shell over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from regauth.config.authfiles import ENV_DOCKER_AUTH_CONFIG, explicit_auth_file
from regauth.config.file import ConfigFile, check, config_path, entry_credentials, update, update_config
from regauth.config.settings import load_settings
from regauth.credentials import Credentials
from regauth.errors import ConfigError, StoreError, UsageError
from regauth.registry.address import logout_keys, matching_keys, normalise
from regauth.registry.flow import LoginResult, login_flow
from regauth.stores.file import file_entry, marker_entry
from regauth.stores.lookup import find
from regauth.stores.resolve import StoreChoice, choose_store, detect_default_store, open_store
from regauth.transport.realms import remember, remembered

if TYPE_CHECKING:
    import pathlib

    from regauth.transport.session import TransportOptions

__all__ = [
    "LoginOutcome",
    "LogoutOutcome",
    "get_credentials",
    "login",
    "logout",
    "transport_options",
    "verify",
]

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


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """What a logout removed: ``removed`` lists ``store: key`` items; ``errors`` the erase failures.

    When nothing was removed yet the lookup chain (:mod:`regauth.stores.lookup`) still finds the
    login in a source logout does not edit (an auth file, ``DOCKER_AUTH_CONFIG``): ``held_in`` is
    that file's path or ``DOCKER_AUTH_CONFIG``, ``held_key`` the key it is stored under and
    ``held_by`` why the source is read (``--authfile``, ``REGISTRY_AUTH_FILE``, ``podman`` or
    ``DOCKER_AUTH_CONFIG``); all three are empty otherwise.
    """

    server: str
    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    held_in: str = ""
    held_key: str = ""
    held_by: str = ""

    @property
    def ok(self) -> bool:
        """True when no erase failed."""
        return not self.errors


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
    chosen: list[StoreChoice] = []
    detected: list[str | None] = []
    rejected: list[str] = []

    def change(cfg: ConfigFile) -> bool:
        choice = choose_store(cfg, key)
        new_store = ""
        if choice.helper is None and not cfg.contains_auth():
            helper, reasons = detect_default_store()
            rejected.extend(reasons)
            if helper is not None:
                choice = StoreChoice(helper, "credsStore")
                new_store = helper
                detected.append(helper)
        chosen.append(choice)
        existing = cfg.auths().get(key)
        if choice.helper is None:
            entry = file_entry(final, existing)
        else:
            open_store(choice, path).store(final)
            entry = marker_entry(existing)
        changed = existing != entry
        if changed:
            cfg.set_auth(key, entry)
        if new_store:
            cfg.set_key("credsStore", new_store)
            changed = True
        return changed

    saved = update_config(path, change)
    choice = chosen[-1]
    return LoginOutcome(
        server=key,
        username=final.username,
        store=choice.name,
        config_file=path,
        verified=checked.verified,
        identity_token=bool(token),
        plaintext=choice.helper is None and bool(final.password),
        detected_store=detected[-1] if detected else None,
        rejected_defaults=tuple(rejected),
        tightened_from=saved.tightened_from,
    )


def logout(server: str | None = None, *, config: PathLike | None = None) -> LogoutOutcome:
    """Remove the credentials of ``server`` from its store and ``config.json``, truthfully.

    Erases the key and the legacy spellings Docker erases (``http://host``, ``https://host``), in
    the store each one maps to.  A helper that fails keeps its ``auths`` marker.
    """
    key = normalise(server)
    path = config_path(config)
    removed: list[str] = []
    errors: list[str] = []

    variants = logout_keys(server)

    def change(cfg: ConfigFile) -> bool:
        removed.clear()
        errors.clear()
        failed: set[str] = set()  # a helper that failed once is not asked again
        for variant in variants:
            choice = choose_store(cfg, variant)
            if choice.helper is None or choice.helper in failed:
                continue
            try:
                if open_store(choice, path).erase(variant):
                    removed.append(f"{choice.helper}: {variant}")
            except StoreError as exc:
                errors.append(f"{variant}: {exc}")
                failed.add(choice.helper)
        changed = False
        auths = cfg.auths()
        wanted = set(variants).union(matching_keys(auths, key))  # one pass over 10,000 entries
        for stored in [k for k in auths if k in wanted]:
            if choose_store(cfg, stored).helper in failed:
                continue  # keep the marker: the secret is still in the helper
            if not entry_credentials(stored, cfg.auths()[stored]).is_empty:
                removed.append(f"file: {stored}")
            cfg.remove_auth(stored)
            changed = True
        return changed

    update(path, change)
    outcome = LogoutOutcome(server=key, removed=tuple(dict.fromkeys(removed)), errors=tuple(errors))
    if removed or errors:
        return outcome
    return _held_elsewhere(outcome, path)


def _held_elsewhere(outcome: LogoutOutcome, path: str) -> LogoutOutcome:
    """``outcome`` with where the lookup chain still finds its login, when not in config.json."""
    try:
        found = next(find(outcome.server, config=path), None)
    except (ConfigError, StoreError):  # an unreadable source: "Not logged in" is all logout knows
        return outcome
    if found is None or found.source == path:
        return outcome
    explicit = explicit_auth_file()
    if found.source == ENV_DOCKER_AUTH_CONFIG:
        by = ENV_DOCKER_AUTH_CONFIG
    elif explicit is not None and explicit.path == found.source:
        by = explicit.label
    else:
        by = "podman"
    return replace(outcome, held_in=found.source, held_key=found.key, held_by=by)


def get_credentials(
    server: str | None = None,
    *,
    config: PathLike | None = None,
    authfile: PathLike | None = None,
) -> Credentials | None:
    """The stored credentials for ``server``, or None.

    Sources, first hit wins (:mod:`regauth.stores.lookup`): ``DOCKER_AUTH_CONFIG``, ``authfile``
    (else ``$REGISTRY_AUTH_FILE``), config.json (``credHelpers`` -> ``credsStore`` -> ``auths``),
    podman's ``auth.json`` files.
    Raises ConfigError for a broken config.json or auth file and HelperError when the helper fails.
    """
    found = next(find(normalise(server), config=config, authfile=authfile), None)
    return None if found is None else found.credentials
