"""The commands and options of ``regauth``, declared once: the argparse parser and the shell
completion scripts (:mod:`regauth.cli.completion`) are both built from :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from regauth.cli.helper import HELPERS
from regauth.errors import UsageError

__all__ = [
    "COMMANDS",
    "GLOBAL_OPTIONS",
    "HELP",
    "PROG",
    "Command",
    "CommandParser",
    "Option",
    "Parser",
    "Positional",
    "build_parser",
    "parse_bool",
]

PROG = "regauth"


def parse_bool(value: str) -> bool:
    """A ``--tls-verify=BOOL`` value, spelled as Go's ``strconv.ParseBool`` mostly accepts."""
    lowered = value.lower()
    if lowered in ("1", "true", "t", "yes"):
        return True
    if lowered in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


@dataclass(frozen=True, slots=True)
class Option:
    """An option (``-u/--username``...).

    ``switch``: takes no value (a flag that is present or not).  ``optional_value``: the value may
    be left out (``--tls-verify`` means ``--tls-verify=true``).  ``repeat``: may be given several
    times, the values are collected in a list.  A value with ``metavar`` FILE or DIR is a path.
    """

    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    switch: bool = False
    optional_value: bool = False
    repeat: bool = False
    type: Callable[[str], object] | None = None
    default: object = None
    required: bool = False
    shows_help: bool = False  # print the help and exit (``-h``)

    @property
    def takes_value(self) -> bool:
        """Whether the next word is this option's value (what completion must know)."""
        return not (self.switch or self.optional_value)

    @property
    def files(self) -> bool:
        """Whether the value is a path."""
        return self.metavar in ("FILE", "DIR")


@dataclass(frozen=True, slots=True)
class Positional:
    """A positional argument; ``nargs`` as argparse's (None: exactly one)."""

    dest: str
    metavar: str | None = None
    nargs: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A sub-command: its name, help texts, arguments and options."""

    name: str
    help: str
    usage: str
    description: str = ""
    positionals: tuple[Positional, ...] = ()
    options: tuple[Option, ...] = ()

    @property
    def all_options(self) -> tuple[Option, ...]:
        """``-h/--help`` and the command's own options."""
        return (HELP, *self.options)


def _tls_verify(help: str) -> Option:
    return Option(("--tls-verify",), help, metavar="BOOL", optional_value=True, type=parse_bool, default=None)


def _timeout(help: str) -> Option:
    return Option(("--timeout",), help, metavar="SECONDS", type=float, default=15.0)


_AUTHFILE = Option(
    ("--authfile",), "an extra auth file read before config.json (default: $REGISTRY_AUTH_FILE)", "FILE"
)
_FORMAT = Option(("--format",), "output format (default table)", choices=("table", "json"), default="table")
_CERT_DIR = Option(("--cert-dir",), "certs.d-style directory for this registry", "DIR")
_TLS_HELP = "require verified HTTPS (true) or allow insecure TLS and plain HTTP (false)"

HELP = Option(("-h", "--help"), "show this help message and exit", switch=True, shows_help=True)

GLOBAL_OPTIONS: tuple[Option, ...] = (
    HELP,
    Option(
        ("--config",),
        "location of the Docker client config directory (default: $DOCKER_CONFIG or ~/.docker)",
        "DIR",
    ),
    Option(("-D", "--debug"), "log HTTP requests (never secrets)", switch=True),
    Option(("-v", "--version"), "print the version and exit", switch=True),
)

#: every sub-command, in ``regauth --help`` order
COMMANDS: tuple[Command, ...] = (
    Command(
        "login",
        "log in to a registry",
        "regauth login [OPTIONS] [SERVER]",
        "Log in to a registry. If no server is given, Docker Hub is used.",
        (Positional("server", "SERVER", "?"),),
        (
            Option(("-u", "--username"), "username"),
            Option(("-p", "--password"), "password (insecure: prefer --password-stdin)"),
            Option(("--password-stdin",), "take the password from stdin", switch=True),
            Option(
                ("--identity-token-stdin",),
                "take an identity (refresh) token from stdin instead of a password",
                switch=True,
            ),
            Option(
                ("--scope",),
                "validate against a scope, e.g. repository:NAME:pull (repeatable); "
                "with --oidc: an OpenID scope to request (default: openid offline_access)",
                "SCOPE",
                repeat=True,
            ),
            Option(
                ("--oidc",),
                "log in through this OpenID provider's device flow; the registry gets its refresh token",
                "ISSUER",
            ),
            Option(("--client-id",), "the OAuth client id registered for regauth (with --oidc)", "ID"),
            Option(
                ("--web",),
                "Docker Hub: log in through the browser (device code), as docker login does on a terminal",
                switch=True,
            ),
            Option(("--no-web",), "Docker Hub: ask for a username and password instead", switch=True),
            _tls_verify(
                "require verified HTTPS (true), or allow insecure TLS and plain HTTP (false); "
                "default: verify, except loopback and insecure-registries"
            ),
            _CERT_DIR,
            _timeout("network timeout (default 15)"),
        ),
    ),
    Command(
        "logout",
        "log out from a registry",
        "regauth logout [SERVER] | --all",
        "Log out from a registry. If no server is given, Docker Hub is used.",
        (Positional("server", "SERVER", "?"),),
        (Option(("--all",), "log out of every registry in every store and auth file", switch=True),),
    ),
    Command(
        "helper",
        "run a bundled credential helper (pass, secretservice, keyring)",
        "regauth helper NAME ACTION",
        positionals=(
            Positional("name", choices=tuple(HELPERS)),
            Positional("action", nargs="?"),
        ),
    ),
    Command(
        "status",
        "check that stored logins still work (never prints secrets)",
        "regauth status [OPTIONS] [SERVER...]",
        "Re-validate stored logins against their registries. Exit 0: all valid; "
        "1: some invalid or unreachable; 2: nothing stored.",
        (Positional("servers", "SERVER", "*"),),
        (_FORMAT, _AUTHFILE, _tls_verify(_TLS_HELP), _timeout("network timeout per login (default 15)")),
    ),
    Command(
        "list",
        "list every stored login, in every store and auth file",
        "regauth list [OPTIONS]",
        "List stored logins: config.json (file, credsStore, credHelpers), "
        "DOCKER_AUTH_CONFIG, --authfile/REGISTRY_AUTH_FILE and podman's auth.json files.",
        options=(_FORMAT, _AUTHFILE),
    ),
    Command(
        "get",
        "print a stored credential as helper-protocol JSON (secret included)",
        "regauth get [OPTIONS] SERVER",
        "Print the stored credential for SERVER (or an image reference host/ns/repo) "
        'as {"ServerURL","Username","Secret"}. The secret is printed: for scripts.',
        (Positional("server", "SERVER"),),
        (Option(("--username-only",), "print only the username", switch=True), _AUTHFILE),
    ),
    Command(
        "migrate",
        "move plaintext credentials from config.json into a credential helper",
        "regauth migrate --to HELPER [--set-creds-store]",
        "Move every plaintext auths entry of config.json into "
        "docker-credential-HELPER; an entry leaves the file only after the helper gave it back.",
        options=(
            Option(("--to",), "helper suffix, e.g. pass", "HELPER", required=True),
            Option(
                ("--set-creds-store",),
                "also make HELPER the credsStore for future logins",
                switch=True,
            ),
        ),
    ),
    Command(
        "export",
        "export stored logins (kubernetes: a dockerconfigjson Secret)",
        "regauth export kubernetes NAME [--namespace NS] [--allow-expiring] [SERVER...]",
        "Print a Kubernetes Secret of type kubernetes.io/dockerconfigjson built "
        "from the stored logins of SERVER... (default: every login).",
        (
            Positional("target", choices=("kubernetes",)),
            Positional("name", "NAME"),
            Positional("servers", "SERVER", "*"),
        ),
        (
            Option(("-n", "--namespace"), "namespace of the Secret", "NS"),
            Option(
                ("--allow-expiring",),
                "export short-lived credentials too; the Secret is annotated regauth.io/expires-at",
                switch=True,
            ),
            _AUTHFILE,
        ),
    ),
    Command(
        "completion",
        "print a shell completion script",
        "regauth completion bash|zsh|fish",
        "Print a completion script, e.g. source <(regauth completion bash).",
        (Positional("shell", choices=("bash", "zsh", "fish")),),
    ),
    Command(
        "token",
        "print a registry bearer token obtained with the stored credentials",
        "regauth token [OPTIONS] SERVER",
        "Print a bearer token for SERVER, obtained with the stored credentials "
        "(an identity token is refreshed; a password is sent to the token server with Basic). "
        "The token is printed and never logged.",
        (Positional("server", "SERVER"),),
        (
            Option(
                ("--scope",),
                "scope to request, e.g. repository:NAME:pull or repository:NAME:pull,push (repeatable)",
                "SCOPE",
                repeat=True,
            ),
            Option(
                ("--format",),
                "header: 'Authorization: Bearer TOKEN' (default); json: token, expires_in, issued_at, scope",
                choices=("header", "json"),
                default="header",
            ),
            Option(
                ("--anonymous",),
                "ask for an anonymous token when no credentials are stored",
                switch=True,
            ),
            _tls_verify(_TLS_HELP),
            _CERT_DIR,
            _timeout("network timeout (default 15)"),
        ),
    ),
)


class Parser(argparse.ArgumentParser):
    """argparse that reports flag errors Docker's way: one line, a hint, exit code 125."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\nSee '{self.prog} --help'.")


class CommandParser(Parser):
    """A sub-command's parser: options may stand between positionals, as Docker's (cobra) allow.

    Plain argparse gives ``export kubernetes NAME`` its (empty) ``SERVER...`` at once and then
    refuses ``export kubernetes NAME --namespace NS SERVER`` with "unrecognized arguments";
    argparse's public intermixed parsing reads the options first, then the positionals.
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # the intermixed parse's own passes: plain argparse
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    if option.shows_help:
        parser.add_argument(*option.flags, action="help", help=option.help)
        return
    if option.switch:
        parser.add_argument(*option.flags, action="store_true", help=option.help)
        return
    settings: dict[str, object] = {"help": option.help, "default": option.default}
    if option.metavar is not None:
        settings["metavar"] = option.metavar
    if option.choices:
        settings["choices"] = option.choices
    if option.type is not None:
        settings["type"] = option.type
    if option.optional_value:
        settings.update(nargs="?", const=True)
    if option.repeat:
        settings.update(action="append", default=[])
    if option.required:
        settings["required"] = True
    parser.add_argument(*option.flags, **settings)  # type: ignore[arg-type]


def _add_positional(parser: argparse.ArgumentParser, positional: Positional) -> None:
    settings: dict[str, object] = {}
    if positional.metavar is not None:
        settings["metavar"] = positional.metavar
    if positional.nargs is not None:
        settings["nargs"] = positional.nargs
    if positional.choices:
        settings["choices"] = positional.choices
    parser.add_argument(positional.dest, **settings)  # type: ignore[arg-type]


def build_parser() -> Parser:
    """The ``regauth`` parser, built from :data:`GLOBAL_OPTIONS` and :data:`COMMANDS`."""
    parser = Parser(
        prog=PROG,
        description="Log in to container registries and manage their credentials, without Docker.",
        add_help=False,  # -h/--help is declared with the other options
    )
    for option in GLOBAL_OPTIONS:
        _add_option(parser, option)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for command in COMMANDS:
        child = sub.add_parser(
            command.name,
            help=command.help,
            usage=command.usage,
            description=command.description or None,
            add_help=False,
        )
        for positional in command.positionals:
            _add_positional(child, positional)
        for option in command.all_options:
            _add_option(child, option)
    return parser
