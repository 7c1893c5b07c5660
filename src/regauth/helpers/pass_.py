"""docker-credential-regauth-pass: entries byte-compatible with the Go ``pass`` helper's.

Layout (docs/credential-helpers.md): ``$PASSWORD_STORE_DIR`` (default ``~/.password-store``) +
``/docker-credential-helpers/<base64url(ServerURL), padded>/<Username>.gpg``; the file decrypts
to exactly the secret (no newline), encrypted to the ids of the nearest ``.gpg-id`` (walking up
to the store root, as ``pass`` does); files 0600, directories 0700.  ``gpg`` is run directly
(no ``pass`` shell script), with the secret on its stdin only.

Deliberate differences from the Go helper (documented, tested):

* ``store`` replaces the server's entry: other usernames of the same server are removed, so
  ``get`` returns what was stored last (Go keeps them and returns the alphabetically first).
* ``store`` refuses a username the Go helper could not read back (:func:`refusal`): one with
  ``/`` (``pass`` makes it a sub-directory, github.com/docker/docker-credential-helpers/issues/162),
  ``.`` or ``..`` (the path collapses onto the server's directory or its parent), a NUL, or one
  too long for a file name.  Every other username is the exact Go file name, dot-files included,
  so each helper reads what the other stored.
* ``list`` skips directory names that are not valid padded base64url instead of failing.
* ``erase`` of a missing server succeeds (exit 0); the Go helper exits 1.
* ``get`` of a missing server is ``credentials not found in native keychain``, exit 1 (the Go
  helper answers exit 0 with an empty username and secret).
* A git-managed store (``.git``) gets no commit (``pass`` itself would commit).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from regauth.helpers.serve import Backend, BackendError, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NAME", "PassBackend", "decode_server", "encode_server", "main", "refusal"]

NAME = "docker-credential-regauth-pass"
PREFIX = "docker-credential-helpers"
_SUFFIX = ".gpg"
# Longest file name, in bytes, on the filesystems a password store lives on (ext4, XFS, btrfs, APFS).
_NAME_MAX = 255


def encode_server(server: str) -> str:
    """Go's ``base64.URLEncoding`` (``-``/``_`` alphabet, ``=`` padding kept) of ``server``."""
    return base64.urlsafe_b64encode(server.encode("utf-8")).decode("ascii")


def decode_server(name: str) -> str | None:
    """Inverse of :func:`encode_server`; None when ``name`` is not a canonical encoding."""
    try:
        server = base64.b64decode(name, altchars=b"-_", validate=True).decode("utf-8")
    except ValueError:  # not ASCII, a character outside the alphabet, bad padding, not UTF-8
        return None
    # Accept only names that re-encode to themselves (no '+' or '/', no stray trailing bits).
    return server if encode_server(server) == name else None


def refusal(username: str) -> str | None:
    """Why ``username`` cannot be a pass entry the Go helper reads back; None when it can.

    The Go helper stores ``path.Join(ENC, username)`` and reads the first file name in ``ENC``
    (docs/credential-helpers.md), so the username must be one plain file name.
    """
    if "/" in username:
        return 'it contains "/", which pass turns into a sub-directory'
    if username in (".", ".."):
        return f'"{username}" names a directory, not a file'
    if "\0" in username:
        return "it contains a NUL character"
    size = len(username.encode("utf-8", "replace"))
    if size + len(_SUFFIX) > _NAME_MAX:
        return f"it is {size} bytes long; a pass entry name holds at most {_NAME_MAX - len(_SUFFIX)}"
    return None


class PassBackend(Backend):
    """The pass store of one ``PASSWORD_STORE_DIR`` (read from the environment)."""

    program = NAME
    exit_fast = True  # gpg has finished and every file is closed when the reply is written

    def __init__(self, store_dir: str | None = None) -> None:
        root = store_dir or os.environ.get("PASSWORD_STORE_DIR") or ""
        self.root = root or os.path.join(os.path.expanduser("~"), ".password-store")
        self.base = os.path.join(self.root, PREFIX)

    def _recipients_file(self, folder: str) -> str | None:
        """The nearest ``.gpg-id`` from ``folder`` up to the store root, as ``pass`` looks for it."""
        root = os.path.abspath(self.root)
        current = os.path.abspath(folder)
        while True:
            candidate = os.path.join(current, ".gpg-id")
            if os.path.isfile(candidate):
                return candidate
            if current == root or os.path.dirname(current) == current:
                return None
            current = os.path.dirname(current)

    @staticmethod
    def _gpg(what: str, *args: str, stdin: bytes = b"") -> bytes:
        """Run gpg with the store's options; its stdout, or BackendError(``what``: its last error line)."""
        gpg = shutil.which("gpg2") or shutil.which("gpg")
        if gpg is None:
            raise BackendError("gpg not found on PATH")
        opts = os.environ.get("PASSWORD_STORE_GPG_OPTS", "").split()
        argv = [gpg, *opts, "--batch", "--quiet", "--yes", *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            lines = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            raise BackendError(f"{what}: {lines[-1] if lines else 'gpg failed'}")
        return done.stdout

    @staticmethod
    def _entries(folder: str) -> list[str]:
        """The entry files of a server directory, sorted by name as Go's ``os.ReadDir`` sorts them.

        Dot-files are entries like any other: the Go helper stores and reads a username ``.x``.
        """
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [n for n in names if n.endswith(_SUFFIX) and os.path.isfile(os.path.join(folder, n))]

    def add(self, server: str, username: str, secret: str) -> None:
        """Encrypt ``secret`` to the store's recipients and write it atomically."""
        why = refusal(username)
        if why is not None:
            raise BackendError(f"username cannot be stored in pass: {why}")
        folder = os.path.join(self.base, encode_server(server))
        id_file = self._recipients_file(folder)
        if id_file is None:
            raise BackendError(f'pass not initialized: no .gpg-id in {self.root} (run "pass init <gpg-id>")')
        with open(id_file, encoding="utf-8") as fh:
            ids = [ln.split("#", 1)[0].strip() for ln in fh]
        recipients = [arg for i in ids if i for arg in ("--recipient", i)]
        if not recipients:
            raise BackendError(f"pass not initialized: {id_file} names no gpg id")
        import tempfile  # only store needs it (and its random); get and list stay light

        name = username + _SUFFIX
        old_umask = os.umask(0o077)  # as pass does: new directories 0700, new files 0600
        temp = None
        try:
            os.makedirs(self.base, mode=0o700, exist_ok=True)
            # The temporary file sits beside the server directories, not in one: a reader there
            # (the Go helper takes the first file name as the username) never sees it, and its
            # short name fits however long the username is.  Go's list skips plain files here.
            fd, temp = tempfile.mkstemp(prefix=".regauth-", suffix=".tmp", dir=self.base)
            os.close(fd)
            encrypt = ["--compress-algo=none", "--no-encrypt-to", "--encrypt", *recipients, "--output", temp]
            self._gpg("gpg could not encrypt", *encrypt, stdin=secret.encode("utf-8"))
            os.chmod(temp, 0o600)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.replace(temp, os.path.join(folder, name))
            temp = None
        except OSError as exc:
            raise BackendError(f"could not write the pass entry: {exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)
            if temp is not None and os.path.exists(temp):
                os.unlink(temp)
        for other in os.listdir(folder):  # one credential per server (see module docstring)
            if other != name:
                _remove(os.path.join(folder, other))

    def get(self, server: str) -> tuple[str, str] | None:
        """First entry by name in the server's directory, decrypted (trailing CR/LF trimmed)."""
        folder = os.path.join(self.base, encode_server(server))
        entries = self._entries(folder)
        if not entries:
            return None
        out = self._gpg("gpg could not decrypt", "--decrypt", os.path.join(folder, entries[0]))
        try:
            secret = out.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError:
            raise BackendError("stored secret is not valid UTF-8") from None
        return entries[0][: -len(_SUFFIX)], secret

    def delete(self, server: str) -> None:
        """Remove the server's directory (every username of it)."""
        folder = os.path.join(self.base, encode_server(server))
        if os.path.isdir(folder):
            _remove(folder)

    def list(self) -> dict[str, str]:
        """Decode every server directory; undecodable or empty ones are skipped."""
        result: dict[str, str] = {}
        try:
            names = sorted(os.listdir(self.base))
        except FileNotFoundError:
            return result
        for name in names:
            server = decode_server(name)
            entries = self._entries(os.path.join(self.base, name)) if server is not None else []
            if server is not None and entries:
                result[server] = entries[0][: -len(_SUFFIX)]
        return result


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-pass``."""
    return serve(PassBackend(), argv)


if __name__ == "__main__":
    sys.exit(main())
