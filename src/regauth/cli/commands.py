"""The commands beyond Docker's (status, list, get, migrate, export, completion, logout --all).

Rule: like cli.py, only argparse and the standard library at import time (no json, no typing).
Read commands take ``--format table|json`` (stable JSON keys, never a secret); ``get`` alone prints
a secret, on purpose.  Exit codes: 0 ok, 1 failure, 2 (status) nothing stored, 125 bad flags.
Also the argparse plumbing of every command: :class:`Parser`, :class:`SubParsers` (sub-parsers
built on dispatch) and :class:`Formatter`.
"""

from __future__ import annotations

import argparse
import os
import sys

from regauth.cli.main import EXIT_FAIL, EXIT_OK, _warn, erase_status
from regauth.errors import UsageError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: ``--help`` should not pay for importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO, Any, NoReturn

__all__ = ["COMMANDS", "PARSERS", "Formatter", "Parser", "SubParsers", "cmd_logout_all"]

EXIT_NOTHING = 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell, separated by three spaces (like ``docker ps``)."""
    cells = [list(headers), *[[_one_line(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (default table)"
    )


def _add_authfile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--authfile",
        metavar="FILE",
        help="an extra auth file read before config.json (default: $REGISTRY_AUTH_FILE)",
    )


# --------------------------------------------------------------------------- list


def _cmd_list(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.api.inventory import list_logins

    logins = list_logins(config=args.config, authfile=args.authfile)
    if args.format == "json":
        import json

        print(json.dumps([login.as_dict() for login in logins], indent=2))
    elif logins:
        with_errors = any(login.error for login in logins)
        headers = ["REGISTRY", "USERNAME", "AUTH", "STORE", "SOURCE"] + (["ERROR"] if with_errors else [])
        rows = [
            [x.server, x.username, x.auth or "-", x.store, x.source] + ([x.error] if with_errors else [])
            for x in logins
        ]
        print(_table(headers, rows))
    else:
        _warn("no stored logins")
    return EXIT_FAIL if any(login.error for login in logins) else EXIT_OK


# --------------------------------------------------------------------------- status


def _cmd_status(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.api.inventory import status

    results = status(
        args.servers,
        config=args.config,
        authfile=args.authfile,
        tls_verify=args.tls_verify,
        timeout=args.timeout,
    )
    if args.format == "json":
        import json

        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif results:
        rows = []
        for r in results:
            shown = r.result if not r.reason or r.result == "valid" else f"{r.result}: {r.reason}"
            rows.append([r.login.server, r.login.username, r.login.store, r.login.auth or "-", shown])
        print(_table(["REGISTRY", "USERNAME", "STORE", "AUTH", "RESULT"], rows))
    if not results:
        named = ", ".join(args.servers)
        _warn(f"not logged in to {named}" if named else "no stored logins")
        return EXIT_NOTHING
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAIL


# --------------------------------------------------------------------------- get


def _cmd_get(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.registry.address import normalise
    from regauth.stores.wire import TOKEN_USERNAME, go_json

    server: str = args.server
    if "/" in server and "://" not in server:  # an image reference: per-repository keys
        from regauth.config.authfiles import lookup

        found = lookup(server, config=args.config, authfile=args.authfile)
        creds = found.credentials if found is not None else None
        key = found.credentials.server if found is not None else server
    else:
        from regauth.api.login import get_credentials

        key = normalise(server)
        creds = get_credentials(key, config=args.config, authfile=args.authfile)
    if creds is None or not (creds.username or creds.password or creds.identity_token):
        _warn(f"not logged in to {key}")
        return EXIT_FAIL
    if args.username_only:
        print(creds.username or TOKEN_USERNAME)
        return EXIT_OK
    if creds.identity_token:
        payload = {"ServerURL": key, "Username": TOKEN_USERNAME, "Secret": creds.identity_token}
    else:
        payload = {"ServerURL": key, "Username": creds.username, "Secret": creds.password}
    print(go_json(payload))
    return EXIT_OK


# --------------------------------------------------------------------------- migrate


def _cmd_migrate(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.stores.migrate import migrate

    def report(key: str, what: str) -> None:
        if what == "moved":
            print(f"Moved {key} to {args.to}")
        elif what == "skipped":
            print(f"Skipped {key}: it changed meanwhile")
        else:
            _warn(f"Not moved {key}: {what}")

    outcome = migrate(args.to, config=args.config, set_default=args.set_creds_store, report=report)
    if not (outcome.moved or outcome.failed or outcome.skipped):
        print("No plaintext credentials to migrate")
    return EXIT_OK if outcome.ok else EXIT_FAIL


# --------------------------------------------------------------------------- export


def _cmd_export(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.api.export import kubernetes_secret, validate_name
    from regauth.api.inventory import collect_credentials
    from regauth.errors import RegauthError

    validate_name(args.name)
    if args.namespace is not None:
        validate_name(args.namespace, what="namespace", label=True)
    logins = collect_credentials(args.servers, config=args.config, authfile=args.authfile)
    if not logins:
        raise RegauthError("no stored logins to export")
    sys.stdout.write(kubernetes_secret(args.name, logins, namespace=args.namespace))
    return EXIT_OK


# --------------------------------------------------------------------------- completion


def _cmd_completion(args: argparse.Namespace, stdin: IO[str]) -> int:
    from regauth.cli.completion import script
    from regauth.cli.main import _build_parser

    sys.stdout.write(script(args.shell, _build_parser()))
    return EXIT_OK


# --------------------------------------------------------------------------- logout --all


def cmd_logout_all(args: argparse.Namespace, stdin: IO[str]) -> int:
    """``logout --all``: one line per removal; non-zero if any erase failed."""
    from regauth.api.inventory import logout_all

    outcome = logout_all(config=args.config, authfile=getattr(args, "authfile", None))
    for line in outcome.removed:
        store, _, key = line.rpartition(": ")
        print(f"Removing login credentials for {key} ({store})")
    if not outcome.removed and outcome.ok:
        print("Not logged in anywhere")
    for note in outcome.notes:
        _warn(f"note: {note}")
    return erase_status(outcome.errors)


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str]], int]] = {
    "status": _cmd_status,
    "list": _cmd_list,
    "get": _cmd_get,
    "migrate": _cmd_migrate,
    "export": _cmd_export,
    "completion": _cmd_completion,
}


def _fill_status(status: argparse.ArgumentParser) -> None:
    from regauth.cli.main import _tls_verify

    status.add_argument("servers", nargs="*", metavar="SERVER")
    _add_format(status)
    _add_authfile(status)
    status.add_argument(
        "--tls-verify", nargs="?", const=True, default=None, type=_tls_verify, metavar="BOOL",
        help="require verified HTTPS (true) or allow insecure TLS and plain HTTP (false)",
    )  # fmt: skip
    status.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS",
        help="network timeout per login (default 15)",
    )  # fmt: skip


def _fill_list(listing: argparse.ArgumentParser) -> None:
    _add_format(listing)
    _add_authfile(listing)


def _fill_get(get: argparse.ArgumentParser) -> None:
    get.add_argument("server", metavar="SERVER")
    get.add_argument("--username-only", action="store_true", help="print only the username")
    _add_authfile(get)


def _fill_migrate(migrate: argparse.ArgumentParser) -> None:
    migrate.add_argument("--to", required=True, metavar="HELPER", help="helper suffix, e.g. pass")
    migrate.add_argument(
        "--set-creds-store", action="store_true", help="also make HELPER the credsStore for future logins"
    )


def _fill_export(export: argparse.ArgumentParser) -> None:
    export.add_argument("target", choices=("kubernetes",))
    export.add_argument("name", metavar="NAME")
    export.add_argument("servers", nargs="*", metavar="SERVER")
    export.add_argument("-n", "--namespace", metavar="NS", help="namespace of the Secret")
    _add_authfile(export)


def _fill_completion(completion: argparse.ArgumentParser) -> None:
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))


# ---------------------------------------------------------------------------------------------
# regauth token (issue 5 item 4)
# ---------------------------------------------------------------------------------------------


def _fill_token(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``regauth token SERVER [--scope S]... [--format header|json]``."""
    from regauth.cli.main import _tls_verify

    parser.add_argument("server", metavar="SERVER")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="scope to request, e.g. repository:NAME:pull or repository:NAME:pull,push (repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=("header", "json"),
        default="header",
        help="header: 'Authorization: Bearer TOKEN' (default); json: token, expires_in, issued_at, scope",
    )
    parser.add_argument(
        "--anonymous",
        action="store_true",
        help="ask for an anonymous token when no credentials are stored",
    )
    parser.add_argument(
        "--tls-verify",
        nargs="?",
        const=True,
        default=None,
        type=_tls_verify,
        metavar="BOOL",
        help="require verified HTTPS (true) or allow insecure TLS and plain HTTP (false)",
    )
    parser.add_argument("--cert-dir", metavar="DIR", help="certs.d-style directory for this registry")
    parser.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS", help="network timeout (default 15)"
    )


def _cmd_token(args: argparse.Namespace, stdin: IO[str]) -> int:
    import json

    from regauth.api.token import check_scope, token

    scopes = [check_scope(s) for s in args.scope]
    got = token(
        args.server,
        scopes,
        config=args.config,
        anonymous=args.anonymous,
        tls_verify=args.tls_verify,
        cert_dir=args.cert_dir,
        timeout=args.timeout,
    )
    if args.format == "json":
        doc = {
            "token": got.access_token,
            "expires_in": got.expires_in,
            "issued_at": got.issued_at.isoformat().replace("+00:00", "Z") if got.issued_at else None,
            "scope": got.scope.split() if got.scope else list(scopes),
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"Authorization: Bearer {got.access_token}")
    return 0


COMMANDS["token"] = _cmd_token


#: the sub-commands of this module, in ``regauth --help`` order: name, ``add_parser`` keywords,
#: the function adding the options (cli.py builds the parser from these and its own)
PARSERS: tuple[tuple[str, dict[str, str], Callable[[argparse.ArgumentParser], None]], ...] = (
    (
        "status",
        {
            "help": "check that stored logins still work (never prints secrets)",
            "description": "Re-validate stored logins against their registries. Exit 0: all valid; "
            "1: some invalid or unreachable; 2: nothing stored.",
            "usage": "regauth status [OPTIONS] [SERVER...]",
        },
        _fill_status,
    ),
    (
        "list",
        {
            "help": "list every stored login, in every store and auth file",
            "description": "List stored logins: config.json (file, credsStore, credHelpers), "
            "DOCKER_AUTH_CONFIG, --authfile/REGISTRY_AUTH_FILE and podman's auth.json files.",
            "usage": "regauth list [OPTIONS]",
        },
        _fill_list,
    ),
    (
        "get",
        {
            "help": "print a stored credential as helper-protocol JSON (secret included)",
            "description": "Print the stored credential for SERVER (or an image reference host/ns/repo) "
            'as {"ServerURL","Username","Secret"}. The secret is printed: for scripts.',
            "usage": "regauth get [OPTIONS] SERVER",
        },
        _fill_get,
    ),
    (
        "migrate",
        {
            "help": "move plaintext credentials from config.json into a credential helper",
            "description": "Move every plaintext auths entry of config.json into "
            "docker-credential-HELPER; an entry leaves the file only after the helper gave it back.",
            "usage": "regauth migrate --to HELPER [--set-creds-store]",
        },
        _fill_migrate,
    ),
    (
        "export",
        {
            "help": "export stored logins (kubernetes: a dockerconfigjson Secret)",
            "description": "Print a Kubernetes Secret of type kubernetes.io/dockerconfigjson built "
            "from the stored logins of SERVER... (default: every login).",
            "usage": "regauth export kubernetes NAME [--namespace NS] [SERVER...]",
        },
        _fill_export,
    ),
    (
        "completion",
        {
            "help": "print a shell completion script",
            "description": "Print a completion script, e.g. source <(regauth completion bash).",
            "usage": "regauth completion bash|zsh|fish",
        },
        _fill_completion,
    ),
    (
        "token",
        {
            "help": "print a registry bearer token obtained with the stored credentials",
            "description": "Print a bearer token for SERVER, obtained with the stored credentials "
            "(an identity token is refreshed; a password is sent to the token server with Basic). "
            "The token is printed and never logged.",
            "usage": "regauth token [OPTIONS] SERVER",
        },
        _fill_token,
    ),
)


# ---------------------------------------------------------------------------------------------
# argparse plumbing
# ---------------------------------------------------------------------------------------------


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (and its bz2, lzma, zlib)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


class Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized exactly as argparse sizes it, minus the shutil import."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
        **kwargs: Any,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


class Parser(argparse.ArgumentParser):
    """argparse that reports flag errors Docker's way (one line + a hint, exit 125)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\nSee '{self.prog} --help'.")


class SubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Sub-parsers that may be built when argparse dispatches to them (``lazy``).

    A lazy command is listed in the help and accepted as a choice at once; its parser and options
    are made on first use, in place, so the order of the choices never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, tuple[dict[str, Any], Callable[[argparse.ArgumentParser], None]]] = {}

    def add_command(
        self,
        name: str,
        fill: Callable[[argparse.ArgumentParser], None],
        lazy: bool = False,
        **kwargs: Any,
    ) -> None:
        """Add sub-command ``name``; ``fill`` adds its options now, or on dispatch if ``lazy``."""
        if not lazy:
            fill(self.add_parser(name, **kwargs))
            return
        help_text = kwargs.pop("help", None)
        if help_text is not None:
            self._choices_actions.append(self._ChoicesPseudoAction(name, (), help_text))
        self._name_parser_map[name] = None
        self._pending[name] = (kwargs, fill)

    def _materialise(self, name: str) -> None:
        kwargs, fill = self._pending.pop(name)
        order = list(self._name_parser_map)
        del self._name_parser_map[name]
        fill(self.add_parser(name, **kwargs))  # no "help": the pseudo-action exists already
        ordered = {key: self._name_parser_map[key] for key in order}
        self._name_parser_map.clear()  # the same dict: it is also ``self.choices``
        self._name_parser_map.update(ordered)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values and values[0] in self._pending:
            self._materialise(values[0])
        super().__call__(parser, namespace, values, option_string)
