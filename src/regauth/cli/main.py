"""The ``regauth`` command: flags, prompts, Docker's messages and exit codes over the library.

Rule: nothing but ``os``/``sys`` at import time: ``--version`` is answered before argparse is
imported, a sub-command's options are built only when argv names it, and the library (with the
HTTP stack) is imported when a command runs.
Exit codes (docker-behaviour.md §1): 0 success, 1 failure, 125 bad flags or arguments.
"""

from __future__ import annotations

import os
import sys

from regauth._version import __version__
from regauth.errors import RegauthError, UsageError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: ``--help`` should not pay for importing typing
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import IO

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 125

PASSWORD_CLI_WARNING = "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
NON_TTY = "Error: cannot perform an interactive login from a non-TTY device"


def _tls_verify(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "t", "yes"):
        return True
    if lowered in ("0", "false", "f", "no"):
        return False
    import argparse

    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def _fill_login(login: argparse.ArgumentParser) -> None:
    login.add_argument("server", nargs="?", metavar="SERVER")
    login.add_argument("-u", "--username", help="username")
    login.add_argument("-p", "--password", help="password (insecure: prefer --password-stdin)")
    login.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    login.add_argument(
        "--identity-token-stdin",
        action="store_true",
        help="take an identity (refresh) token from stdin instead of a password",
    )
    login.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="validate against a scope, e.g. repository:NAME:pull (repeatable)",
    )
    login.add_argument(
        "--tls-verify",
        nargs="?",
        const=True,
        default=None,
        type=_tls_verify,
        metavar="BOOL",
        help="require verified HTTPS (true), or allow insecure TLS and plain HTTP (false); "
        "default: verify, except loopback and insecure-registries",
    )
    login.add_argument("--cert-dir", metavar="DIR", help="certs.d-style directory for this registry")
    login.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="network timeout (default 15)",
    )


def _fill_logout(logout: argparse.ArgumentParser) -> None:
    logout.add_argument("server", nargs="?", metavar="SERVER")
    logout.add_argument(  # issue 5 item 3 (_cli_extra.cmd_logout_all)
        "--all", action="store_true", help="log out of every registry in every store and auth file"
    )


def _fill_helper(helper: argparse.ArgumentParser) -> None:
    helper.add_argument("name", choices=("pass", "secretservice", "keyring"))
    helper.add_argument("action", nargs="?")


#: Docker's commands (and ``helper``): name, ``add_parser`` keywords, the function adding the options.
_PARSERS: tuple[tuple[str, dict[str, str], Callable[[argparse.ArgumentParser], None]], ...] = (
    (
        "login",
        {
            "help": "log in to a registry",
            "description": "Log in to a registry. If no server is given, Docker Hub is used.",
            "usage": "regauth login [OPTIONS] [SERVER]",
        },
        _fill_login,
    ),
    (
        "logout",
        {
            "help": "log out from a registry",
            "description": "Log out from a registry. If no server is given, Docker Hub is used.",
            "usage": "regauth logout [SERVER] | --all",
        },
        _fill_logout,
    ),
    (
        "helper",
        {
            "help": "run a bundled credential helper (pass, secretservice, keyring)",
            "usage": "regauth helper NAME ACTION",
        },
        _fill_helper,
    ),
)


def _build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """The whole ``regauth`` parser.

    ``lazy``: a sub-command's options are added only when argparse dispatches to it (``regauth
    login --help`` builds one sub-parser, not eleven); the help and errors are the same.
    """
    from regauth.cli.commands import PARSERS, Parser, SubParsers

    parser = Parser(
        prog="regauth",
        description="Log in to container registries and manage their credentials, without Docker.",
    )
    parser.add_argument(
        "--config",
        metavar="DIR",
        help="location of the Docker client config directory (default: $DOCKER_CONFIG or ~/.docker)",
    )
    parser.add_argument("-D", "--debug", action="store_true", help="log HTTP requests (never secrets)")
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, action=SubParsers)
    assert isinstance(sub, SubParsers)
    for name, kwargs, fill in (*_PARSERS, *PARSERS):
        sub.add_command(name, fill, lazy, **kwargs)
    return parser


def _read_stdin_secret(stdin: IO[str]) -> str:
    """Read to EOF; strip exactly one trailing CRLF, LF or CR (docker-behaviour.md §1)."""
    data = stdin.read()
    for ending in ("\r\n", "\n", "\r"):
        if data.endswith(ending):
            data = data[: -len(ending)]
            break
    if not data.strip():
        raise RegauthError("password is empty")
    return data


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def _plaintext_warning(path: object) -> None:
    _warn(
        f"\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
        "Configure a credential helper to remove this warning. See\n"
        "https://docs.docker.com/go/credential-store/\n"
    )


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


def _report_login(outcome: object) -> None:
    from regauth.api.login import LoginOutcome

    assert isinstance(outcome, LoginOutcome)
    for reason in outcome.rejected_defaults:
        _warn(f"note: default credential helper not used: {reason}")
    if not outcome.verified:
        _warn(f"WARNING! {outcome.server} asked for no credentials: they were stored but not verified.")
    if outcome.plaintext:
        _plaintext_warning(outcome.config_file)
    print("Login Succeeded")


def _cmd_login(args: argparse.Namespace, stdin: IO[str]) -> int:
    import regauth.api.login as _api
    from regauth.errors import AuthError
    from regauth.registry.address import normalise

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
    if args.password is not None:
        if not args.password:
            raise RegauthError("password is empty")
        _warn(PASSWORD_CLI_WARNING)
    password = args.password or ""
    token = ""
    if args.password_stdin:
        password = _read_stdin_secret(stdin)
    elif args.identity_token_stdin:
        token = _read_stdin_secret(stdin)

    key = normalise(args.server)
    common = {
        "config": args.config,
        "tls_verify": args.tls_verify,
        "cert_dir": args.cert_dir,
        "scopes": tuple(args.scope),
        "timeout": args.timeout,
    }
    if token:
        _report_login(_api.login(key, args.username or "", identity_token=token, **common))
        return EXIT_OK

    stored_user = ""
    if args.username is None and not password:
        stored = _api.get_credentials(key, config=args.config)
        if stored is not None and stored.has_password:
            stored_user = stored.username
            _warn(f"Authenticating with existing credentials... [Username: {stored.username}]")
            _warn(
                "\n Info -> To login with a different account, run 'regauth logout' "
                "followed by 'regauth login'\n"
            )
            try:
                _report_login(_api.login(key, **common))
                return EXIT_OK
            except AuthError:
                _warn("Stored credentials invalid or expired")
            except RegauthError as exc:
                _warn(f"Login did not succeed, error: {exc}")
        elif stored is not None:
            stored_user = stored.username

    username = args.username or ""
    if not (username and password):
        if not stdin.isatty():
            raise RegauthError(NON_TTY)
        username, password = _prompt_credentials(key, args.username, stored_user)
    _report_login(_api.login(key, username, password, **common))
    return EXIT_OK


def _cmd_logout(args: argparse.Namespace, stdin: IO[str]) -> int:
    import regauth.api.login as _api

    if args.all:  # issue 5 item 3
        if args.server is not None:
            raise UsageError("cannot name a SERVER with --all\nSee 'regauth logout --help'.")
        from regauth.cli.commands import cmd_logout_all

        return cmd_logout_all(args, stdin)
    outcome = _api.logout(args.server, config=args.config)
    if outcome.removed:
        print(f"Removing login credentials for {outcome.server}")
    elif outcome.ok:
        print(f"Not logged in to {outcome.server}")
    return erase_status(outcome.errors)


def erase_status(errors: Sequence[str]) -> int:
    """Report each failed erase (``store: key: why``) on stderr; the logout's exit code."""
    for line in errors:
        _warn(f"could not erase credentials for {line}")
    return EXIT_FAIL if errors else EXIT_OK


def _cmd_helper(args: argparse.Namespace, stdin: IO[str]) -> int:
    import importlib

    module = importlib.import_module(
        {
            "pass": "regauth.helpers.pass_",
            "secretservice": "regauth.helpers.secretservice",
            "keyring": "regauth.helpers.keyring_",
        }[args.name]
    )
    helper_main: Callable[[list[str] | None], int] = module.main
    return helper_main([args.action] if args.action else [])


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str]], int]] = {
    "login": _cmd_login,
    "logout": _cmd_logout,
    "helper": _cmd_helper,
}


def _commands() -> dict[str, Callable[[argparse.Namespace, IO[str]], int]]:
    import regauth.cli.commands as _cli_extra

    return {**COMMANDS, **_cli_extra.COMMANDS}


class _Args:
    """The namespace argparse would build, for the argv shapes :func:`_quick_args` answers."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


_LOGIN_DEFAULTS: dict[str, object] = {
    "server": None,
    "username": None,
    "password": None,
    "password_stdin": False,
    "identity_token_stdin": False,
    "tls_verify": None,
    "cert_dir": None,
    "timeout": 15.0,
}
#: login's options that take a value: flag -> attribute
_LOGIN_VALUES = {
    "-u": "username",
    "--username": "username",
    "-p": "password",
    "--password": "password",
    "--scope": "scope",
    "--cert-dir": "cert_dir",
    "--timeout": "timeout",
    "--tls-verify": "tls_verify",
}
_LOGIN_SWITCHES = {"--password-stdin": "password_stdin", "--identity-token-stdin": "identity_token_stdin"}


def _quick_login(values: dict[str, object], arguments: list[str]) -> bool:
    """Fill ``values`` for the usual ``login`` argv shapes; False to leave the argv to argparse.

    The usual shapes: the flags spelled out (``-u X``, ``--username X``, ``--username=X``...),
    one SERVER.  Abbreviated flags, ``--``, ``-h``, a bare ``--tls-verify``, a value that looks like
    a flag and every error go to argparse, which decides and words the message.
    """
    values.update(_LOGIN_DEFAULTS, scope=[])
    position = 0
    while position < len(arguments):
        token = arguments[position]
        position += 1
        if not token.startswith("-"):
            if values["server"] is not None:
                return False
            values["server"] = token
            continue
        if token in _LOGIN_SWITCHES:
            values[_LOGIN_SWITCHES[token]] = True
            continue
        flag, equals, value = token.partition("=")
        name = _LOGIN_VALUES.get(flag)
        if name is None or (equals and flag in ("-u", "-p")):
            return False
        if not equals:
            if flag == "--tls-verify" or position == len(arguments):
                return False  # optional value (nargs="?") or missing one: argparse's rules
            value = arguments[position]
            position += 1
            if value.startswith("-"):
                return False
        if name == "scope":
            scopes = values["scope"]
            assert isinstance(scopes, list)
            scopes.append(value)
        elif name == "timeout":
            try:
                values["timeout"] = float(value)
            except ValueError:
                return False
        elif name == "tls_verify":
            try:
                values["tls_verify"] = _tls_verify(value)
            except Exception:  # argparse.ArgumentTypeError: argparse words the error
                return False
        else:
            values[name] = value
    return True


def _quick_args(arguments: list[str]) -> argparse.Namespace | None:
    """The usual ``login`` and ``logout`` argv parsed without argparse; else None (argparse decides).

    argparse and what it imports cost ~20 ms, most of a ``regauth logout`` (issue 6).  The result
    is the namespace argparse would build (``tests/test_cli_startup.py`` compares the two).
    """
    values: dict[str, object] = {"config": None, "debug": False, "version": False}
    position = 0
    while position < len(arguments) and arguments[position].startswith("-"):
        token = arguments[position]
        if token in ("-D", "--debug"):
            values["debug"] = True
            position += 1
        elif token.startswith("--config="):
            values["config"] = token[len("--config=") :]
            position += 1
        elif token == "--config" and position + 1 < len(arguments):
            directory = arguments[position + 1]
            if directory.startswith("-"):
                return None
            values["config"] = directory
            position += 2
        else:
            return None
    if position == len(arguments):
        return None
    command, rest = arguments[position], arguments[position + 1 :]
    values["command"] = command
    if command == "logout":
        if len(rest) > 1 or (rest and rest[0].startswith("-")):
            return None  # a flag, or what argparse may take for one: argparse decides
        values.update(server=rest[0] if rest else None, all=False)
    elif command != "login" or not _quick_login(values, rest):
        return None
    return _Args(**values)  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 failure, 125 usage)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments in (["--version"], ["-v"]):  # answered before argparse is even imported
        print(f"regauth version {__version__}")
        return EXIT_OK
    import gc

    collecting = gc.isenabled()
    gc.disable()  # one short command: the cyclic GC only costs time (~8 ms of the lazy imports)
    try:
        code = _run(arguments)
    finally:
        if collecting:
            gc.enable()
    if argv is None:  # the ``regauth`` program itself: skip interpreter finalization
        from regauth._exit import exit_process

        return exit_process(code)
    return code


def _run(arguments: list[str]) -> int:
    args = _quick_args(arguments)
    if args is None:
        parser = _build_parser(lazy=True)
        try:
            args = parser.parse_args(arguments)
        except UsageError as exc:
            _warn(str(exc))
            return EXIT_USAGE
        if args.version:
            print(f"regauth version {__version__}")
            return EXIT_OK
        if args.command is None:
            parser.print_help()
            return EXIT_OK
    if args.debug or os.environ.get("REGAUTH_DEBUG"):
        import logging

        logging.basicConfig(level=logging.DEBUG, format="DEBUG %(name)s: %(message)s")
    try:
        run = COMMANDS.get(args.command) or _commands()[args.command]  # _cli_extra only if needed
        return run(args, sys.stdin)
    except UsageError as exc:
        _warn(str(exc))
        return EXIT_USAGE
    except RegauthError as exc:
        _warn(str(exc))
        return EXIT_FAIL
    except BrokenPipeError:  # e.g. ``regauth list | head``: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
    except KeyboardInterrupt:
        _warn("login canceled" if args.command == "login" else "interrupted")
        return 130
    except EOFError:
        _warn("error: input ended")
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
