"""Finding a program on PATH.  Rule: ``shutil.which``'s answer without importing ``shutil``.

``shutil`` pulls in bz2, lzma and zlib (~4 ms of a ~25 ms command, issue 6); the credential
helpers and the login path only need a PATH scan.  Windows keeps ``shutil.which`` (PATHEXT and
the current directory have their own rules there).
"""

from __future__ import annotations

import os
import sys

__all__ = ["which"]


def which(program: str) -> str | None:
    """The first executable file named ``program`` in a ``PATH`` directory (an empty entry is the
    current directory, as for ``shutil.which``), or None."""
    if sys.platform == "win32":
        import shutil

        return shutil.which(program)
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or ".", program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None
