"""``regauth login`` and ``regauth logout``: Docker's flags, prompts and messages (docs/docker-cli.md).

The library (and with it the HTTP stack) is imported when the command runs.
"""

from __future__ import annotations

import argparse
from typing import IO

from regauth.cli.inventory import logout_all
from regauth.cli.output import EXIT_OK, erase_status, plaintext_warning, warn
from regauth.errors import RegauthError, UsageError

__all__ = ["NON_TTY", "PASSWORD_CLI_WARNING", "login", "logout", "read_stdin_secret"]

PASSWORD_CLI_WARNING = "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
NON_TTY = "Error: cannot perform an interactive login from a non-TTY device"


def read_stdin_secret(stdin: IO[str]) -> str:
    """Read to EOF; strip exactly one trailing CRLF, LF or CR, as ``docker login`` does."""
    data = stdin.read()
    for ending in ("\r\n", "\n", "\r"):
        if data.endswith(ending):
            data = data[: -len(ending)]
            break
    if not data.strip():
        raise RegauthError("password is empty")
    return data


def _prompt_credentials(server: str, username: str | None, stored_user: str) -> tuple[str, str]:
    import getpass

    from regauth.registry.address import HUB_KEY

    if server == HUB_KEY:
        print(
            "Log in with your Docker ID or email address to push and pull images from Docker Hub. "
            "If you don't have a Docker ID, head over to https://hub.docker.com/ to create one."
        )
    user = username or ""
    if not user:
        prompt = f"Username ({stored_user}): " if stored_user else "Username: "
        user = input(prompt).strip() or stored_user
        if not user:
            raise UsageError("error: username is required")
    password = getpass.getpass("Password: ").strip()
    if not password:
        raise UsageError("error: password is required")
    return user, password


def _report(outcome: object) -> None:
    from regauth.api.login import LoginOutcome

    assert isinstance(outcome, LoginOutcome)
    for reason in outcome.rejected_defaults:
        warn(f"note: default credential helper not used: {reason}")
    if not outcome.verified:
        warn(f"WARNING! {outcome.server} asked for no credentials: they were stored but not verified.")
    if outcome.tightened_from is not None:
        warn(
            f"note: {outcome.config_file} was mode {outcome.tightened_from:04o}, open to group or "
            "others; it now holds credentials, so it is 0600"
        )
    if outcome.plaintext:
        plaintext_warning(outcome.config_file)
    print("Login Succeeded")


def _check_flags(args: argparse.Namespace) -> None:
    """Docker's refusals of flag combinations, in Docker's order and words."""
    if args.password_stdin and args.identity_token_stdin:
        raise RegauthError(
            "conflicting options: cannot specify both --password-stdin and --identity-token-stdin"
        )
    if args.password is not None and (args.password_stdin or args.identity_token_stdin):
        raise RegauthError("conflicting options: cannot specify both --password and --password-stdin")
    if args.password_stdin and args.username is None:
        raise RegauthError("the --password-stdin option requires --username to be set")
    if args.username is not None and not args.username.strip():
        raise RegauthError("username is empty")
    if args.password is not None and not args.password:
        raise RegauthError("password is empty")


def login(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``regauth login``: verify the credentials with the registry, then store them."""
    import regauth.api.login as api
    from regauth.api.lookup import get_credentials
    from regauth.errors import AuthError
    from regauth.registry.address import HUB_KEY, normalise

    if args.oidc is not None or args.client_id is not None:
        return _login_oidc(args)
    _check_flags(args)
    if args.password is not None:
        warn(PASSWORD_CLI_WARNING)
    password = args.password or ""
    token = ""
    if args.password_stdin:
        password = read_stdin_secret(stdin)
    elif args.identity_token_stdin:
        token = read_stdin_secret(stdin)

    key = normalise(args.server)
    common = {
        "config": args.config,
        "tls_verify": args.tls_verify,
        "cert_dir": args.cert_dir,
        "scopes": tuple(args.scope),
        "timeout": args.timeout,
    }
    if args.web or args.no_web:
        _check_web(args, key, password or token, stdin)
    if args.web:
        _login_web(args, stdin, fall_back=False)
        return EXIT_OK
    if token:
        _report(api.login(key, args.username or "", identity_token=token, **common))
        return EXIT_OK

    stored_user = ""
    if args.username is None and not password:
        stored = get_credentials(key, config=args.config)
        if stored is not None and stored.has_password:
            stored_user = stored.username
            warn(f"Authenticating with existing credentials... [Username: {stored.username}]")
            warn(
                "\n Info -> To login with a different account, run 'regauth logout' "
                "followed by 'regauth login'\n"
            )
            try:
                _report(api.login(key, **common))
                return EXIT_OK
            except AuthError:
                warn("Stored credentials invalid or expired")
            except RegauthError as exc:
                warn(f"Login did not succeed, error: {exc}")
        elif stored is not None:
            stored_user = stored.username

    username = args.username or ""
    if not (username and password):
        if not stdin.isatty():
            raise RegauthError(NON_TTY)
        if key == HUB_KEY and args.username is None and not args.no_web and _login_web(args, stdin):
            return EXIT_OK
        username, password = _prompt_credentials(key, args.username, stored_user)
    _report(api.login(key, username, password, **common))
    return EXIT_OK


def _check_web(args: argparse.Namespace, key: str, secret: str, stdin: IO[str]) -> None:
    """--web and --no-web: Docker Hub only, one of them, --web with no credentials, on a terminal."""
    from regauth.registry.address import HUB_KEY

    if args.web and args.no_web:
        raise UsageError("conflicting options: cannot specify both --web and --no-web")
    if key != HUB_KEY:
        raise UsageError("--web and --no-web are for Docker Hub only\nSee 'regauth login --help'.")
    if args.web and (args.username is not None or secret):
        raise UsageError("--web takes no username, password or token\nSee 'regauth login --help'.")
    if args.web and not stdin.isatty():
        raise RegauthError(NON_TTY)


def _open_on_enter(stdin: IO[str], url: str) -> None:
    """ENTER opens ``url`` in a browser where there is one; a thread waits for the line.

    It reads the descriptor itself (no buffered reader's lock is held when the process exits), and
    on Linux only with a display, so that a terminal browser never takes over the terminal.
    """
    import os
    import sys
    import threading

    def wait() -> None:
        try:
            line = os.read(stdin.fileno(), 1024)
        except (OSError, ValueError):
            return
        if not line:
            return
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            return
        import contextlib
        import webbrowser

        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url)

    threading.Thread(target=wait, name="open-browser", daemon=True).start()


def _login_web(args: argparse.Namespace, stdin: IO[str], *, fall_back: bool = True) -> bool:
    """Docker Hub's web-based login (docs/hub-web-login.md); False when it could not start and
    ``fall_back`` allows the username prompt instead, as Docker does."""
    from regauth.api.weblogin import WebCode, WebLoginUnavailable, web_login

    def show(code: WebCode) -> None:
        warn("\nUSING WEB-BASED LOGIN\n")
        warn("i Info → To sign in with credentials on the command line, use 'regauth login -u <username>'\n")
        warn(f"Your one-time device confirmation code is: {code.user_code}")
        warn(f"Press ENTER to open your browser or submit your device code here: {code.verification_uri}")
        warn("\nWaiting for authentication in the browser…")
        _open_on_enter(stdin, code.complete)

    try:
        outcome = web_login(show, config=args.config, timeout=args.timeout)
    except WebLoginUnavailable as exc:
        if not fall_back:
            raise RegauthError(f"web-based login could not start: {exc}") from None
        warn("Failed to start web-based login - falling back to command line login...")
        return False
    _report(outcome)
    return True


def _login_oidc(args: argparse.Namespace) -> int:
    """``regauth login --oidc ISSUER --client-id ID SERVER``: the device flow, code shown on stderr."""
    from regauth.api.oidclogin import DEFAULT_SCOPES, DeviceCodeShown, oidc_login

    if args.oidc is None or args.client_id is None:
        raise UsageError("--oidc and --client-id go together\nSee 'regauth login --help'.")
    secrets = (args.password_stdin, args.identity_token_stdin)
    if args.username is not None or args.password is not None or any(secrets):
        raise UsageError("--oidc takes no username, password or token\nSee 'regauth login --help'.")
    if args.server is None:
        raise UsageError("--oidc needs a SERVER\nSee 'regauth login --help'.")

    def show(code: DeviceCodeShown) -> None:
        warn(f"Your one-time device confirmation code is: {code.user_code}")
        warn(f"Confirm it at: {code.verification_uri}")
        warn("\nWaiting for authentication in the browser...")

    outcome = oidc_login(
        args.server,
        args.oidc,
        args.client_id,
        show=show,
        scopes=tuple(args.scope) or DEFAULT_SCOPES,
        config=args.config,
        tls_verify=args.tls_verify,
        cert_dir=args.cert_dir,
        timeout=args.timeout,
    )
    _report(outcome)
    return EXIT_OK


def logout(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``regauth logout [SERVER]`` (``--all``: :func:`regauth.cli.inventory.logout_all`)."""
    if args.all:
        if args.server is not None:
            raise UsageError("cannot name a SERVER with --all\nSee 'regauth logout --help'.")
        return logout_all(args, stdin)
    from regauth.api.logout import logout as remove

    outcome = remove(args.server, config=args.config)
    if outcome.removed:
        print(f"Removing login credentials for {outcome.server}")
    elif outcome.held_in:
        print(_held_elsewhere(outcome))
    elif outcome.ok:
        print(f"Not logged in to {outcome.server}")
    for line in outcome.warnings:  # after a successful erase: exit 0, as Docker
        warn(f"WARNING: {line}")
    return erase_status(outcome.errors)


def _held_elsewhere(outcome: object) -> str:
    """Where a login that logout does not edit lives, and how to remove it (exit code unchanged)."""
    import shlex

    from regauth.api.logout import LogoutOutcome

    assert isinstance(outcome, LogoutOutcome)
    where = f"{outcome.server} is logged in through"
    if outcome.held_by == "DOCKER_AUTH_CONFIG":
        variable = "the DOCKER_AUTH_CONFIG environment variable"
        return f"{where} {variable}, not Docker's config: remove it from that variable"
    by = "podman's" if outcome.held_by == "podman" else outcome.held_by
    command = f"podman logout --authfile {shlex.quote(outcome.held_in)} {shlex.quote(outcome.held_key)}"
    return (
        f"{where} the auth file {outcome.held_in} ({by}), not Docker's config: "
        f"remove it with `{command}` or edit the file"
    )
