"""The server side of the credential-helper protocol, shared by the bundled helpers.

The protocol is docker-credential-helpers' (github.com/docker/docker-credential-helpers, see
docs/credential-helpers.md): one action in argv, the request on stdin, the reply or exactly one
error line on stdout, exit code 0 or 1.  A helper is a :class:`Backend` plus a one-line ``main``
that calls :func:`serve`.  Back-ends import their libraries when they first need them, so that
``version`` or a usage error costs nothing.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from regauth._version import __version__
from regauth.stores.wire import (
    ERR_NO_SERVER,
    ERR_NO_USERNAME,
    ERR_NOT_FOUND,
    decode_creds,
    encode_creds,
    encode_list,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO

__all__ = ["NOT_IMPLEMENTED", "Backend", "BackendError", "MintedBackend", "serve"]

#: The answer of a helper that does not store (Docker prints it after a login's store).
NOT_IMPLEMENTED = "not implemented"

_MAX_ERROR = 500  # characters of an error line: a back-end's message must not flood the caller
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BackendError(Exception):
    """A back-end failure; its message is the helper's one error line (never a secret)."""


class Backend:
    """What a helper back-end implements.  Methods raise :class:`BackendError` on failure."""

    #: The helper's program name, shown in the usage and version lines.
    program = "docker-credential-regauth"
    #: True when the back-end leaves nothing to clean up at exit (no atexit handlers, nothing
    #: buffered), so the helper process may end without interpreter finalisation.
    exit_fast = False

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

    def close(self) -> None:
        """Release what the actions opened (called once the action is done)."""


class MintedBackend(Backend):
    """A back-end whose credentials are minted, not stored (ECR, credential commands).

    ``store`` and ``erase`` answer ``not implemented``, as amazon-ecr-credential-helper does: a
    minted credential is nothing a login stores or a logout erases.
    """

    exit_fast = True  # the back-ends close their clients and write their cache before replying

    def add(self, server: str, username: str, secret: str) -> None:
        """Refused: nothing is stored."""
        raise BackendError(NOT_IMPLEMENTED)

    def delete(self, server: str) -> None:
        """Refused: nothing is stored."""
        raise BackendError(NOT_IMPLEMENTED)


def serve(
    store: Backend,
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> int:
    """Run one helper invocation against ``store``; returns the exit code.

    ``argv`` holds the arguments after the program name.  With ``argv`` None this is the helper
    process itself: argv, stdin and stdout are the process's, and when ``store.exit_fast`` the
    process ends here once the reply is flushed (see ``regauth._exit``).
    """
    inp = sys.stdin.buffer if stdin is None else stdin
    out = sys.stdout.buffer if stdout is None else stdout
    code, reply = _run(store, list(sys.argv[1:] if argv is None else argv), inp)
    out.write(reply)
    out.flush()
    if argv is None and store.exit_fast:
        from regauth._exit import exit_process

        return exit_process(code)
    return code


def _run(store: Backend, args: list[str], stdin: BinaryIO) -> tuple[int, bytes]:
    """(exit code, bytes for stdout) of one invocation."""
    usage = f"Usage: {store.program} <store|get|erase|list|version>\n".encode()
    if len(args) != 1:
        return 1, usage
    action = args[0]
    if action in ("version", "-v", "--version"):
        return 0, f"{store.program} (regauth) {__version__}\n".encode()
    if action in ("-h", "--help"):
        return 0, usage
    if action not in ("store", "get", "erase", "list"):
        return 1, _line(f"Unknown credential action `{action}`")  # the Go helpers' wording
    try:
        return 0, _act(store, action, stdin)
    except BackendError as exc:
        return 1, _line(str(exc) or "unknown error")
    except Exception as exc:  # a back-end bug still gives one line, never a traceback
        return 1, _line(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


def _line(text: str) -> bytes:
    lines = text.strip().splitlines()
    return (lines[0][:_MAX_ERROR] if lines else "unknown error").encode("utf-8", "replace") + b"\n"


def _act(store: Backend, action: str, stdin: BinaryIO) -> bytes:
    # As the Go helpers do, read every line and join them without their line breaks.
    try:
        request = b"".join(stdin.read().splitlines()).decode("utf-8")
    except UnicodeDecodeError:
        raise BackendError("request is not valid UTF-8") from None
    if action == "store":
        try:
            fields = decode_creds(request)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        # A JSON escape of half a surrogate pair is no character: Go's encoding/json, and so the
        # Go helpers, read it as U+FFFD.
        server, username, secret = (_LONE_SURROGATE.sub("\ufffd", field) for field in fields)
        if not server:
            raise BackendError(ERR_NO_SERVER)
        if not username:
            raise BackendError(ERR_NO_USERNAME)
        store.add(server, username, secret)
        return b""
    if action == "list":
        return encode_list(store.list())
    server = request.strip()
    if not server:
        raise BackendError(ERR_NO_SERVER)
    if action == "get":
        found = store.get(server)
        if found is None:
            raise BackendError(ERR_NOT_FOUND)
        return encode_creds(server, found[0], found[1])
    store.delete(server)  # erase
    return b""
