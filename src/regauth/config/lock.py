"""An inter-process lock on ``<file>.lock``: it dies with its holder and never blocks forever.

POSIX uses ``fcntl.flock``, Windows ``msvcrt.locking`` on byte 0 of the lock file.  The operating
system releases both when the holding process dies, so a lock file left behind by a killed process
never blocks anyone.  The lock file is created 0600 and never unlinked: unlinking races with a
process that has just opened it, and two processes would then hold "the" lock on different files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from typing import TYPE_CHECKING

from regauth.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LOCK_SUFFIX", "LockUnavailableError", "file_lock", "lock_path_for"]

LOCK_SUFFIX = ".lock"

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


class LockUnavailableError(ConfigError):
    """The lock file cannot be created or opened (e.g. a read-only directory); nobody holds it."""

    def __init__(self, message: str, path: str = "", reason: str = "") -> None:
        super().__init__(message, path)
        self.reason = reason


def lock_path_for(path: str | os.PathLike[str]) -> str:
    """The lock file guarding ``path``: ``<resolved path>.lock`` beside the real file."""
    return os.path.realpath(path) + LOCK_SUFFIX


def _open_lock_file(lock: str) -> int:
    flags = os.O_RDWR | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
    try:
        fd = os.open(lock, flags | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return os.open(lock, flags)
    if hasattr(os, "fchmod"):  # os.open's mode is masked by the umask; Windows has no mode bits
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
    return fd


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], timeout: float = 30.0) -> Iterator[str]:
    """Hold the exclusive lock guarding ``path`` (see :func:`lock_path_for`) for a ``with`` block.

    Polls with a short back-off and yields the lock file's path.  Raises :class:`ConfigError` after
    ``timeout`` seconds, and :class:`LockUnavailableError` when the lock file cannot be opened.
    """
    path = os.fspath(path)
    lock = lock_path_for(path)
    try:
        fd = _open_lock_file(lock)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LockUnavailableError(
            f"{path}: cannot open the lock file {lock}: {reason}", path, reason
        ) from None
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not _try_lock(fd):
            now = time.monotonic()
            if now >= deadline:
                raise ConfigError(f"{path}: timed out after {timeout:g}s waiting for the lock {lock}", path)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 0.05)
        try:
            yield lock
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
