"""What every command shares: exit codes, warnings on stderr, tables, the plaintext-storage warning.

Exit codes are Docker's (see docs/docker-cli.md): 0 success, 1 failure, 125 bad flags or
arguments; ``regauth status`` adds 2 for "nothing stored".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = [
    "EXIT_FAIL",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_USAGE",
    "erase_status",
    "plaintext_warning",
    "table",
    "warn",
]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_NOTHING = 2
EXIT_USAGE = 125
EXIT_INTERRUPTED = 130


def warn(message: str) -> None:
    """One message on stderr."""
    print(message, file=sys.stderr)


def plaintext_warning(path: object) -> None:
    """Docker's warning after a login was saved unencrypted in config.json (same words)."""
    warn(
        f"\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
        "Configure a credential helper to remove this warning. See\n"
        "https://docs.docker.com/go/credential-store/\n"
    )


def erase_status(errors: Sequence[str]) -> int:
    """Report each failed erase (``store: key: why``) on stderr; the logout's exit code."""
    for line in errors:
        warn(f"could not erase credentials for {line}")
    return EXIT_FAIL if errors else EXIT_OK


def _one_line(text: str) -> str:
    return " ".join(text.split())


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell, separated by three spaces (like ``docker ps``)."""
    cells = [list(headers), *[[_one_line(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
