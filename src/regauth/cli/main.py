"""The ``regauth`` program: parse argv, run one command, turn errors into Docker's exit codes.

Each command lives in the module of its group (:mod:`regauth.cli.login`, ``inventory``, ``token``,
``export``, ``migrate``, ``completion``, ``helper``); those import the library, and with it the
HTTP stack, only when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO

from regauth._exit import exit_process
from regauth._version import __version__
from regauth.cli.output import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, warn
from regauth.cli.parser import build_parser
from regauth.errors import RegauthError, UsageError

__all__ = ["HANDLERS", "handler", "main"]

#: command name (as declared in :data:`regauth.cli.parser.COMMANDS`) -> (module, function) that
#: implements it.  The module is imported when its command runs, so one command does not pay for
#: loading the others (``completion`` and ``token`` need modules a ``logout`` never uses).
HANDLERS: dict[str, tuple[str, str]] = {
    "login": ("regauth.cli.login", "login"),
    "logout": ("regauth.cli.login", "logout"),
    "helper": ("regauth.cli.helper", "helper"),
    "status": ("regauth.cli.inventory", "status"),
    "list": ("regauth.cli.inventory", "list_"),
    "get": ("regauth.cli.inventory", "get"),
    "migrate": ("regauth.cli.migrate", "migrate"),
    "export": ("regauth.cli.export", "export"),
    "completion": ("regauth.cli.completion", "completion"),
    "token": ("regauth.cli.token", "token"),
}


def handler(command: str) -> Callable[[argparse.Namespace, IO[str]], int]:
    """The function implementing ``command`` (its module imported now)."""
    module, function = HANDLERS[command]
    implementation: Callable[[argparse.Namespace, IO[str]], int] = getattr(
        importlib.import_module(module), function
    )
    return implementation


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); the exit code.

    0 success, 1 failure, 2 nothing stored (``status``), 125 bad flags or arguments.  Called
    without ``argv`` (the ``regauth`` program itself) the process ends here once output is flushed.
    """
    code = _run(sys.argv[1:] if argv is None else list(argv))
    if argv is None:
        return exit_process(code)
    return code


def _run(arguments: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except UsageError as exc:
        warn(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help printed the help
        return exc.code if isinstance(exc.code, int) else EXIT_FAIL
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
        return handler(args.command)(args, sys.stdin)
    except UsageError as exc:
        warn(str(exc))
        return EXIT_USAGE
    except RegauthError as exc:
        warn(str(exc))
        return EXIT_FAIL
    except BrokenPipeError:  # e.g. ``regauth list | head``: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
    except KeyboardInterrupt:
        warn("login canceled" if args.command == "login" else "interrupted")
        return EXIT_INTERRUPTED
    except EOFError:
        warn("error: input ended")
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
