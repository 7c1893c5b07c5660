"""The server side of the credential-helper protocol.  Rule: import almost nothing (no HTTP stack).

``serve`` is the whole protocol (docker-behaviour.md §5, observed.md §5): one action in argv,
the request on stdin, the reply or exactly one error line on stdout.  Back-ends implement
:class:`Backend` (add / get / delete / list on (server, username, secret)).

Every helper process pays for what this module imports, so it stays at ``os``/``sys`` plus the
shared wire format; back-ends import their heavier libraries inside their methods.
"""

from __future__ import annotations

import sys

from regauth.stores.wire import (
    ERR_NO_SERVER,
    ERR_NO_USERNAME,
    ERR_NOT_FOUND,
    decode_creds,
    encode_creds,
    encode_list,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

__all__ = ["Backend", "BackendError", "serve"]

_MAX_ERROR = 500


class BackendError(Exception):
    """A back-end failure; its message is the helper's one error line (never a secret)."""


class Backend:
    """What a helper back-end implements.  Methods raise :class:`BackendError` on failure."""

    def add(self, server: str, username: str, secret: str) -> None:
        """Store ``secret`` for (``server``, ``username``), replacing the server's entry."""
        raise NotImplementedError

    def get(self, server: str) -> tuple[str, str] | None:
        """(username, secret) stored for ``server``, or None."""
        raise NotImplementedError

    def delete(self, server: str) -> None:
        """Remove every entry of ``server``; a missing entry is not an error."""
        raise NotImplementedError

    def list(self) -> dict[str, str]:
        """Every stored server -> username."""
        raise NotImplementedError


def _usage(name: str) -> str:
    return f"Usage: {name} <store|get|erase|list|version>"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("regauth")
    except Exception:  # not installed as a distribution
        return "unknown"


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:_MAX_ERROR]


def _read_request(stdin: BinaryIO) -> str:
    data = stdin.read()
    # Go reads line by line and joins the lines without their newlines (docker-behaviour.md §5).
    return b"".join(data.splitlines()).decode("utf-8")


def _act(backend_factory: Callable[[], Backend], action: str, stdin: BinaryIO) -> bytes:
    """Run one action; returns the reply bytes or raises BackendError with the error line."""
    try:
        request = _read_request(stdin)
    except UnicodeDecodeError:
        raise BackendError("request is not valid UTF-8") from None
    if action == "store":
        try:
            server, username, secret = decode_creds(request)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        if not server:
            raise BackendError(ERR_NO_SERVER)
        if not username:
            raise BackendError(ERR_NO_USERNAME)
        backend_factory().add(server, username, secret)
        return b""
    if action == "list":
        return encode_list(backend_factory().list())
    server = request.strip()
    if not server:
        raise BackendError(ERR_NO_SERVER)
    if action == "get":
        found = backend_factory().get(server)
        if found is None:
            raise BackendError(ERR_NOT_FOUND)
        return encode_creds(server, found[0], found[1])
    backend_factory().delete(server)  # erase
    return b""


def serve(
    backend_factory: Callable[[], Backend],
    name: str,
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    *,
    fast_exit: bool = False,
) -> int:
    """Run one helper invocation; returns the exit code.

    Args:
        backend_factory: builds the back-end (called only for store/get/erase/list).
        name: the program name shown in usage and version lines.
        argv: the arguments after the program name (default ``sys.argv[1:]``).
        stdin, stdout: binary streams (default the process's).
        fast_exit: as the helper process itself (``argv`` None), end the process once the reply
            is flushed, without interpreter finalization (~4 ms of a ~30 ms ``get``; see
            ``_exit``).  Only for back-ends with nothing to clean up at exit.
    """
    code = _serve(backend_factory, name, argv, stdin, stdout)
    if fast_exit and argv is None:
        from regauth._exit import exit_process

        return exit_process(code)
    return code


def _serve(
    backend_factory: Callable[[], Backend],
    name: str,
    argv: Sequence[str] | None,
    stdin: BinaryIO | None,
    stdout: BinaryIO | None,
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = sys.stdout.buffer if stdout is None else stdout
    inp = sys.stdin.buffer if stdin is None else stdin

    def say(line: str) -> None:
        out.write(line.encode("utf-8", "replace") + b"\n")
        out.flush()

    if len(args) != 1:
        say(_usage(name))
        return 1
    action = args[0]
    if action in ("version", "-v", "--version"):
        say(f"{name} (regauth) {_version()}")
        return 0
    if action in ("-h", "--help"):
        say(_usage(name))
        return 0
    if action not in ("store", "get", "erase", "list"):
        say(f"Unknown credential action `{action}`")  # observed.md §5 (0.6.4 wording)
        return 1
    try:
        reply = _act(backend_factory, action, inp)
    except BackendError as exc:
        say(_one_line(str(exc)) or "unknown error")
        return 1
    except Exception as exc:  # a back-end bug must still give one line, never a traceback
        say(_one_line(f"{type(exc).__name__}: {exc}"))
        return 1
    out.write(reply)
    out.flush()
    return 0
