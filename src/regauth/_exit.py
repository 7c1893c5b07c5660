"""Ending a process that regauth itself runs as a program (``regauth``, the bundled helpers)."""

from __future__ import annotations

import os
import sys

__all__ = ["exit_process"]


def exit_process(code: int) -> int:
    """Flush stdout and stderr, then end the process with ``os._exit(code)``.

    This skips interpreter finalization (tearing down every imported module), which has nothing
    left to do for a command that is finished: its files are closed, its threads joined.  Only a
    program's entry point may call it, never library code.  If a stream cannot be flushed (the
    reader closed the pipe), ``code`` is returned and the interpreter exits the usual way.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return code
    os._exit(code)
