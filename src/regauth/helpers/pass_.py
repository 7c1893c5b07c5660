"""docker-credential-regauth-pass.  Rule: byte-compatible with the Go pass helper 0.6.4's store.

Layout (observed.md §5): ``$PASSWORD_STORE_DIR`` (default ``~/.password-store``) +
``/docker-credential-helpers/<base64url(ServerURL), padded>/<Username>.gpg``; the file decrypts
to exactly the secret (no newline), encrypted to the ids of the nearest ``.gpg-id`` (walking up
to the store root, as ``pass`` does); files 0600, directories 0700.  ``gpg`` is run directly
(no ``pass`` shell script), with the secret on its stdin only.

Deliberate differences from the Go helper (documented, tested):

* ``store`` replaces the server's entry: other usernames of the same server are removed, so
  ``get`` returns what was stored last (Go keeps them and returns the alphabetically first).
* A username containing ``/`` (which breaks the Go layout, dch#162) is stored with ``%`` and
  ``/`` escaped as ``%25`` and ``%2F``; every other username keeps the exact Go file name.
  A file name containing ``%2F`` or ``%25`` is read back unescaped (a Go-written username that
  literally contains those sequences would be misread; no real registry username does).
* ``list`` skips directory names that are not valid padded base64url instead of failing.
* ``erase`` of a missing server succeeds (exit 0); the Go helper exits 1.
* ``get`` of a missing server is ``credentials not found in native keychain``, exit 1 (the Go
  helper answers exit 0 with an empty username and secret).
* A git-managed store (``.git``) gets no commit (``pass`` itself would commit).
"""

from __future__ import annotations

import binascii
import os
import sys

from regauth.helpers.serve import Backend, BackendError, serve
from regauth.stores.programs import which

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NAME", "PassBackend", "decode_server", "encode_server", "entry_name", "main"]

NAME = "docker-credential-regauth-pass"
PREFIX = "docker-credential-helpers"
_SUFFIX = ".gpg"


def encode_server(server: str) -> str:
    """Go's ``base64.URLEncoding`` (``-``/``_`` alphabet, ``=`` padding kept) of ``server``."""
    raw = binascii.b2a_base64(server.encode("utf-8"), newline=False).decode("ascii")
    return raw.replace("+", "-").replace("/", "_")


def decode_server(name: str) -> str | None:
    """Inverse of :func:`encode_server`; None when ``name`` is not a canonical encoding."""
    try:
        raw = binascii.a2b_base64(name.replace("-", "+").replace("_", "/").encode("ascii"))
        server = raw.decode("utf-8")
    except (ValueError, UnicodeError):
        return None
    # a2b_base64 is lenient (skips junk): accept only names that re-encode to themselves.
    return server if encode_server(server) == name else None


def entry_name(username: str) -> str:
    """File name (without ``.gpg``) for ``username``: Go's, unless it contains ``/``."""
    if "/" in username:
        return username.replace("%", "%25").replace("/", "%2F")
    return username


def _username(name: str) -> str:
    if "%2F" in name or "%25" in name:
        out, i = [], 0
        while i < len(name):
            if name.startswith("%2F", i):
                out.append("/")
                i += 3
            elif name.startswith("%25", i):
                out.append("%")
                i += 3
            else:
                out.append(name[i])
                i += 1
        return "".join(out)
    return name


def _run(argv: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    """Run ``argv`` feeding ``stdin``; (returncode, stdout, stderr).

    POSIX: ``os.posix_spawn`` + ``select`` (the ``subprocess`` import alone costs more than a
    gpg run on a small machine); elsewhere ``subprocess``.
    """
    if not hasattr(os, "posix_spawn"):
        import subprocess

        done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
        return done.returncode, done.stdout, done.stderr
    import select

    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, in_r, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
        )
    except OSError:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    readers = [out_r, err_r]
    writers = [in_w] if stdin else []
    if not stdin:
        os.close(in_w)
    pending = memoryview(stdin)
    while readers or writers:
        ready_r, ready_w, _ = select.select(readers, writers, [])
        for fd in ready_w:
            try:
                pending = pending[os.write(fd, pending[:65536]) :]
            except BrokenPipeError:
                pending = pending[:0]
            if not pending:
                os.close(fd)
                writers.remove(fd)
        for fd in ready_r:
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                os.close(fd)
                readers.remove(fd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code, b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _gpg_error(stderr: bytes, what: str) -> BackendError:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    detail = lines[-1] if lines else "gpg failed"
    return BackendError(f"{what}: {detail}")


class PassBackend(Backend):
    """The pass store of one ``PASSWORD_STORE_DIR`` (read from the environment)."""

    def __init__(self, store_dir: str | None = None) -> None:
        root = store_dir or os.environ.get("PASSWORD_STORE_DIR") or ""
        self.root = root or os.path.join(os.path.expanduser("~"), ".password-store")
        self.base = os.path.join(self.root, PREFIX)

    # -- helpers -------------------------------------------------------------------------------
    def _check_initialised(self) -> None:
        if not os.path.isfile(os.path.join(self.root, ".gpg-id")) and not self._recipients_file(self.base):
            raise BackendError(f'pass not initialized: no .gpg-id in {self.root} (run "pass init <gpg-id>")')

    def _recipients_file(self, folder: str) -> str | None:
        root = os.path.abspath(self.root)
        current = os.path.abspath(folder)
        while True:
            candidate = os.path.join(current, ".gpg-id")
            if os.path.isfile(candidate):
                return candidate
            if current == root or os.path.dirname(current) == current:
                return None
            current = os.path.dirname(current)

    def _gpg(self) -> list[str]:
        gpg = which("gpg2") or which("gpg")
        if gpg is None:
            raise BackendError("gpg not found on PATH")
        opts = os.environ.get("PASSWORD_STORE_GPG_OPTS", "").split()
        return [gpg, *opts, "--batch", "--quiet", "--yes"]

    @staticmethod
    def _entries(folder: str) -> list[str]:
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [
            n
            for n in names
            if n.endswith(_SUFFIX) and not n.startswith(".") and os.path.isfile(os.path.join(folder, n))
        ]

    # -- Backend ---------------------------------------------------------------------------------
    def add(self, server: str, username: str, secret: str) -> None:
        """Encrypt ``secret`` to the store's recipients and write it atomically."""
        self._check_initialised()
        os.umask(0o077)
        folder = os.path.join(self.base, encode_server(server))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        id_file = self._recipients_file(folder)
        if id_file is None:  # pragma: no cover - _check_initialised saw one
            raise BackendError(f"pass not initialized: no .gpg-id in {self.root}")
        with open(id_file, encoding="utf-8") as fh:
            ids = [ln.split("#", 1)[0].strip() for ln in fh]
        recipients = [arg for i in ids if i for arg in ("--recipient", i)]
        if not recipients:
            raise BackendError(f"pass not initialized: {id_file} names no gpg id")
        name = entry_name(username) + _SUFFIX
        target = os.path.join(folder, name)
        temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
        argv = [*self._gpg(), "--compress-algo=none", "--no-encrypt-to", "--encrypt"]
        argv += [*recipients, "--output", temp]
        try:
            code, _, err = _run(argv, secret.encode("utf-8"))
            if code != 0:
                raise _gpg_error(err, "gpg could not encrypt")
            os.chmod(temp, 0o600)
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
        for other in os.listdir(folder):  # one credential per server (see module docstring)
            if other != name and not other.startswith("."):
                _remove(os.path.join(folder, other))

    def get(self, server: str) -> tuple[str, str] | None:
        """First entry by name in the server's directory, decrypted (trailing CR/LF trimmed)."""
        folder = os.path.join(self.base, encode_server(server))
        entries = self._entries(folder)
        if not entries:
            return None
        code, out, err = _run([*self._gpg(), "--decrypt", os.path.join(folder, entries[0])], b"")
        if code != 0:
            raise _gpg_error(err, "gpg could not decrypt")
        try:
            secret = out.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError:
            raise BackendError("stored secret is not valid UTF-8") from None
        return _username(entries[0][: -len(_SUFFIX)]), secret

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
            if server is None:
                continue
            entries = self._entries(os.path.join(self.base, name))
            if entries:
                result[server] = _username(entries[0][: -len(_SUFFIX)])
        return result


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    else:
        os.unlink(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``docker-credential-regauth-pass``.

    Run as the helper process (``argv`` None), it ends the process as soon as the reply is flushed
    (``_exit.exit_process``: gpg has finished, the entry file is closed).  With ``argv`` it returns.
    """
    return serve(PassBackend, NAME, argv, fast_exit=True)


if __name__ == "__main__":
    sys.exit(main())
