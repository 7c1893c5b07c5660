"""Client of docker-credential-<name> helpers.  Rule: secrets on stdin only; every run times out.

Protocol: docs/credential-stores.md "Helper client protocol"; Go helper quirks: docs/credential-helpers.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable

from regauth.credentials import Credentials
from regauth.errors import HelperError
from regauth.stores.wire import (
    ERR_NOT_FOUND,
    TOKEN_USERNAME,
    decode_creds,
    decode_list,
    encode_creds,
)

__all__ = ["HelperStore", "Runner", "run_helper"]

Runner = Callable[[list[str], bytes, float], tuple[int, bytes]]
"""(argv, stdin bytes, timeout seconds) -> (returncode, stdout bytes); raises TimeoutError."""

_MAX_OUTPUT_LINE = 300
_PASS_MISSING = "is not in the password store."


def run_helper(argv: list[str], stdin: bytes, timeout: float) -> tuple[int, bytes]:
    """Run a helper: stdin fed, stdout captured, stderr passed through; kill its group on timeout.

    Raises TimeoutError after the helper's whole process group (POSIX) or process tree
    (Windows, via its own process group) was killed; OSError when it cannot be started.
    """
    if os.name == "nt":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, creationflags=flags)
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)
        raise TimeoutError(f"timed out after {timeout:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if os.name == "nt":
        proc.kill()
        return
    try:
        os.killpg(proc.pid, 9)  # SIGKILL; start_new_session made pid the group id
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _first_line(out: bytes) -> str:
    text = out.decode("utf-8", "replace").strip()
    line = text.splitlines()[0].strip() if text else ""
    return line if len(line) <= _MAX_OUTPUT_LINE else line[:_MAX_OUTPUT_LINE] + "…"


class HelperStore:
    """A :class:`~regauth.stores.Store` backed by ``docker-credential-<name>``.

    Args:
        name: the helper suffix (``pass`` runs ``docker-credential-pass``).
        timeout: seconds allowed per helper run (Docker's Go client has none).
        runner: replaces :func:`run_helper` (tests of the parsing).
        config_key: where the name came from (``credsStore`` or ``credHelpers``), for messages.
    """

    def __init__(
        self,
        name: str,
        *,
        timeout: float = 30.0,
        runner: Runner | None = None,
        config_key: str = "credsStore",
    ) -> None:
        self.name = name
        self.program = f"docker-credential-{name}"
        self.timeout = timeout
        self.config_key = config_key
        self._runner = runner

    def __repr__(self) -> str:
        return f"HelperStore({self.name!r})"

    # -- running ------------------------------------------------------------------------------
    def _argv(self, action: str) -> list[str]:
        if self._runner is not None:
            return [self.program, action]
        path = shutil.which(self.program)
        if path is None:
            candidates = [os.path.join(d, self.program) for d in os.environ.get("PATH", "").split(os.pathsep)]
            if any(os.path.isfile(c) for c in candidates):
                raise HelperError(
                    f"{self.program} is on PATH but not executable "
                    f"(named by {self.config_key} in the Docker config)",
                    helper=self.name,
                )
            raise HelperError(
                f"{self.program} not found on PATH (named by {self.config_key} in the Docker config)",
                helper=self.name,
            )
        return [path, action]

    def _run(self, action: str, stdin: bytes) -> tuple[int, bytes]:
        argv = self._argv(action)
        runner = self._runner or run_helper
        try:
            return runner(argv, stdin, self.timeout)
        except TimeoutError:
            raise HelperError(
                f'helper "{self.name}" ({self.program} {action}) did not answer within '
                f"{self.timeout:g} s; it was killed",
                helper=self.name,
            ) from None
        except OSError as exc:
            raise HelperError(
                f'cannot run helper "{self.name}" ({self.program}): {exc.strerror or exc}',
                helper=self.name,
            ) from None

    def _fail(self, doing: str, out: bytes, code: int, secret: str = "") -> HelperError:
        line = _first_line(out)
        if secret and secret in line:  # a helper that echoes its input must not leak the secret
            line = line.replace(secret, "***")
        detail = line or f"exit status {code}"
        return HelperError(f'error {doing} helper "{self.name}": {detail}', helper=self.name, output=line)

    # -- Store ------------------------------------------------------------------------------------
    def get(self, server: str) -> Credentials | None:
        """Ask the helper; None when it has nothing for ``server``."""
        code, out = self._run("get", server.encode("utf-8"))
        if code != 0:
            if _first_line(out) == ERR_NOT_FOUND:
                return None
            raise self._fail("getting credentials from", out, code)
        try:
            _, username, secret = decode_creds(out)
        except (ValueError, UnicodeDecodeError):
            raise HelperError(
                f'helper "{self.name}" answered get with output that is not credentials JSON',
                helper=self.name,
            ) from None
        if not username and not secret:  # Go pass 0.6.4 answers a miss with exit 0
            return None
        if username == TOKEN_USERNAME:
            return Credentials(identity_token=secret, server=server)
        return Credentials(username=username, password=secret, server=server)

    def store(self, creds: Credentials) -> None:
        """Hand ``creds`` to the helper (an identity token goes as Username ``<token>``)."""
        if creds.identity_token:
            payload = encode_creds(creds.server, TOKEN_USERNAME, creds.identity_token)
        else:
            payload = encode_creds(creds.server, creds.username, creds.password)
        code, out = self._run("store", payload)
        if code != 0:
            secret = creds.identity_token or creds.password
            raise self._fail("storing credentials in", out, code, secret)

    def erase(self, server: str) -> bool:
        """Erase ``server``; True only if the helper had something.  Never asks ``get``.

        ``get`` would decrypt the secret only to delete it (a passphrase prompt, a keychain
        dialog), so whether the helper held ``server`` comes from ``list``, which decrypts
        nothing, and from ``erase``'s own answer.  Helpers disagree on a missing entry
        (docs/credential-helpers.md "Observed: helpers 0.6.4"): pass exits 1 with ``… is not in
        the password store.``, secretservice and regauth's helpers exit 0, others may answer with
        the protocol's ``credentials not found in native keychain``.  ``erase`` always runs, so a
        failure is reported and a secret ``list`` shows under another spelling still goes.
        """
        before = self._names()
        code, out = self._run("erase", server.encode("utf-8"))
        if code != 0:
            line = _first_line(out)
            if line == ERR_NOT_FOUND or line.endswith(_PASS_MISSING):
                return False
            raise self._fail("erasing credentials from", out, code)
        if before is None or server in before:
            return True
        after = self._names()  # exit 0 for an unlisted key: did the erase remove anything?
        return after is None or not set(before) <= set(after)

    def _names(self) -> dict[str, str] | None:
        """What ``list`` reports; None when the helper refuses to list (ecr-login cannot).

        Raises HelperError when the helper cannot be run or hangs: ``erase`` would too.
        """
        code, out = self._run("list", b"unused")
        if code != 0:
            return None
        try:
            return decode_list(out)
        except (ValueError, UnicodeDecodeError):
            return None

    def list(self) -> dict[str, str]:
        """Every server -> username the helper reports."""
        code, out = self._run("list", b"unused")
        if code != 0:
            raise self._fail("listing credentials of", out, code)
        try:
            return decode_list(out)
        except (ValueError, UnicodeDecodeError):
            raise HelperError(
                f'helper "{self.name}" answered list with output that is not a JSON object',
                helper=self.name,
            ) from None
