"""Writing a config file atomically, the way Docker saves ``config.json``, plus fsync.

Docker's procedure (docs/config-file.md, "Save"; github.com/docker/cli cli/config/configfile/file.go):
create the directory 0700, write a 0600 temporary file in the target's directory, resolve symlinks
so the link target is what gets replaced, copy the old file's mode and, when both are above 0, its
uid and gid, then rename over the target.  regauth adds an fsync of the file before the rename and
of the directory after it, so a crash leaves the old file or the new one, never a torn or empty
one, and removes temporary files that killed writers left behind.

regauth differs from Docker in two places (docs/config-file.md, "Symlinks and modes"):

- a dangling symlink on the path (the file itself, or a missing directory level) is refused before
  anything is created (:func:`refuse_dangling`); Docker follows it and creates the target, and its
  missing directories, wherever the link points;
- a file that gets a secret (``private=True``) while group or others may access it ends 0600;
  Docker keeps the old mode.

Readers never see a partial file: the rename is atomic.  Writers exclude each other with the lock
in :mod:`regauth.config.lock`, which the caller holds.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys

from regauth.errors import ConfigError

__all__ = ["PRIVATE_MODE", "TEMP_INFIX", "describe_os_error", "make_dirs", "refuse_dangling", "write_atomic"]

#: Temporary files are ``<name>.tmp-<random hex>`` beside the file they replace.
TEMP_INFIX = ".tmp-"

#: The mode of a file that holds secrets (and of every new file).
PRIVATE_MODE = 0o600


def describe_os_error(exc: OSError) -> str:
    """A short, one-line wording of a file-system error for messages."""
    code = exc.errno
    if code == errno.ELOOP:
        return "too many levels of symbolic links (symlink loop)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EISDIR:
        return "is a directory, not a file"
    if code == errno.ENOTDIR:
        return "a parent of the path is not a directory"
    return exc.strerror or type(exc).__name__


def refuse_dangling(path: str) -> None:
    """Raise ConfigError when ``path`` or a missing directory above it is a dangling symlink.

    Only the levels that do not exist are looked at, from ``path`` upwards: an existing level
    resolves, a missing plain name is created later (0700 directories, as Docker).  A symlink among
    the missing levels points nowhere; writing through it would create the target, and its parents,
    wherever the link says, so the save is refused with one line naming the link and its target.
    """
    current = path
    while current and not os.path.exists(current):
        if os.path.islink(current):
            try:
                os.stat(current)
            except FileNotFoundError:
                pass
            except OSError as exc:  # a loop, or a level that is not a directory
                raise ConfigError(f"{path}: {describe_os_error(exc)}", path) from None
            try:
                target = os.readlink(current)
            except OSError:
                target = "?"
            where = "" if current == path else f"directory {current} "
            raise ConfigError(
                f"{path}: {where}is a dangling symbolic link to {target} (it does not exist); "
                "refusing to write through it: create the target or remove the link",
                path,
            )
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent


def make_dirs(directory: str) -> None:
    """Go's ``MkdirAll(directory, 0700)``: each missing level is created 0700 (less the umask, as in
    Go); existing levels keep their mode."""
    missing: list[str] = []
    current = directory
    while current and not os.path.exists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another writer
            os.mkdir(level, 0o700)


def write_atomic(path: str, content: bytes, *, private: bool = False) -> int | None:
    """Replace the file at ``path`` (or its symlink target) by ``content``, atomically.

    The old file's mode is kept, except that with ``private`` (the content holds a secret) a mode
    giving group or others any access becomes 0600: the old mode is then returned (else None).
    Raises ConfigError naming ``path`` when it cannot, or when a dangling symlink is on the way
    (:func:`refuse_dangling`); the old file is then left intact and no temporary file remains.
    """
    refuse_dangling(path)
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    temp = os.path.join(directory, f"{name}{TEMP_INFIX}{os.urandom(8).hex()}")  # unguessable, O_EXCL
    fd = -1
    try:
        make_dirs(directory)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, PRIVATE_MODE)
        tightened = _copy_metadata(fd, target, private)
        with open(fd, "wb", closefd=False) as stream:
            stream.write(content)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, target)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ConfigError(f"{path}: cannot write: {describe_os_error(exc)}", str(path)) from None
    _fsync_dir(directory)
    _remove_stale_temps(directory, name)
    return tightened


def _copy_metadata(fd: int, target: str, private: bool) -> int | None:
    """Give the new file the old one's mode and owner (POSIX; 0600 when there is no old file).

    As Docker: the owner is copied only when uid and gid are both above 0, and a refusal (not
    permitted) is ignored, so the file then belongs to the writer with the old mode.  Unlike Docker,
    a ``private`` file whose old mode lets group or others in gets 0600; that old mode is returned.
    """
    if sys.platform == "win32":  # no POSIX mode bits or owners to copy
        return None
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is None or not stat.S_ISREG(old.st_mode):
        os.fchmod(fd, PRIVATE_MODE)  # os.open's mode is masked by the umask
        return None
    mode = stat.S_IMODE(old.st_mode)
    tightened = private and (mode & 0o077) != 0
    os.fchmod(fd, PRIVATE_MODE if tightened else mode)
    if hasattr(os, "fchown") and old.st_uid > 0 and old.st_gid > 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, old.st_uid, old.st_gid)
    return mode if tightened else None


def _fsync_dir(directory: str) -> None:
    """Make the rename durable; directories cannot be opened (or need not be synced) on Windows."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(directory: str, name: str) -> None:
    """Remove temporary files of writers that were killed mid-save (they may hold credentials).

    Called right after our own rename, still under the caller's lock: writers create temporary
    files only while holding the lock, so any left now belongs to a writer that died.
    """
    prefix = name + TEMP_INFIX
    try:
        with os.scandir(directory) as entries:
            stale = [entry for entry in entries if entry.name.startswith(prefix)]
    except OSError:
        return
    for entry in stale:
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass
