"""A corpus of broken ``config.json`` files.  Rule: each case breaks one thing, says what happens.

Reusable: ``corpus(dir)`` returns the cases; ``case.setup(path)`` builds one at ``path`` (a file in
a fresh directory); ``probe(path, unprivileged=...)`` runs ``load`` and an ``update`` that changes
something and reports what each raised; ``snapshot(path)`` captures what must stay unchanged.

Root bypasses permission bits, so the ``unreadable`` and ``readonly_dir`` cases are marked
``needs_unprivileged``: ``probe`` then runs them in a child process without CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH (``setpriv``; still uid 0, so the test's own directories stay reachable).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BrokenCase",
    "corpus",
    "privilege_drop_prefix",
    "probe",
    "snapshot",
]

_SECRET_USER = "brokenuser"
_SECRET_PASSWORD = "S3cretPassw0rd-for-broken-files"
_VALID = {
    "auths": {
        "127.0.0.1:5000": {"auth": base64.b64encode(b"brokenuser:" + _SECRET_PASSWORD.encode()).decode()},
        "registry.example:443": {"auth": base64.b64encode(b"other:pw").decode()},
    },
    "unknownKey": {"kept": True},
}
_VALID_TEXT = json.dumps(_VALID, indent="\t")


@dataclass(frozen=True)
class BrokenCase:
    """One broken (or awkward) config file.

    ``load_fails`` / ``update_fails``: whether ``load`` / a changing ``update`` raise ConfigError.
    ``secrets``: strings that must never appear in a message.  ``needs_unprivileged``: root would
    bypass the breakage.  ``posix_only``: cannot be built on Windows.  ``note``: why it is here.
    """

    name: str
    setup: Callable[[Path], None]
    load_fails: bool = True
    update_fails: bool = True
    secrets: tuple[str, ...] = ()
    needs_unprivileged: bool = False
    posix_only: bool = False
    note: str = ""
    expect: str = ""  # a fragment the error message must contain
    tags: tuple[str, ...] = field(default=())


def _writer(content: bytes) -> Callable[[Path], None]:
    def setup(path: Path) -> None:
        path.write_bytes(content)

    return setup


def _text(content: str) -> Callable[[Path], None]:
    return _writer(content.encode("utf-8"))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _auth_doc(auth: str) -> Callable[[Path], None]:
    return _text(json.dumps({"auths": {"h:1": {"auth": auth}}}))


def _huge(path: Path) -> None:
    size = 50 * 1024 * 1024
    with open(path, "wb") as f:
        f.write(b'{"pad": "')
        f.write(b"x" * (size - 12))
        f.write(b'"}')


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("{}")


def _symlink_loop(path: Path) -> None:
    other = path.with_name("loop-partner")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def _dangling(target: str) -> Callable[[Path], None]:
    def setup(path: Path) -> None:
        os.symlink(target, path)

    return setup


def _unreadable(path: Path) -> None:
    path.write_text(_VALID_TEXT)
    os.chmod(path, 0)


def _readonly_dir(path: Path) -> None:
    path.write_text(_VALID_TEXT)
    os.chmod(path.parent, 0o555)


def _readonly_dir_with_lock(path: Path) -> None:
    path.with_name(path.name + ".lock").write_bytes(b"")
    _readonly_dir(path)


def _fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def _deep(path: Path) -> None:
    path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


def corpus(directory: Path) -> list[BrokenCase]:
    """Every broken-file case (``directory``: scratch space; cases build themselves at ``path``)."""
    del directory  # the cases need nothing beyond their own path's directory
    pw = _SECRET_PASSWORD
    valid_b64 = _b64(f"{_SECRET_USER}:{pw}".encode())
    truncated = _VALID_TEXT[: len(_VALID_TEXT) // 2]
    return [
        BrokenCase("truncated", _text(truncated), secrets=(pw, valid_b64), expect="invalid JSON"),
        BrokenCase("bom", _writer(b"\xef\xbb\xbf" + _VALID_TEXT.encode()), expect="BOM"),
        BrokenCase("invalid_utf8", _writer(b'{"psFormat": "\xff\xfe"}'), expect="UTF-8"),
        BrokenCase("nan", _text('{"auths": {}, "x": NaN}'), expect="NaN"),
        BrokenCase("infinity", _text('{"auths": {}, "x": -Infinity}'), expect="Infinity"),
        BrokenCase("duplicate_top_key", _text('{"auths": {}, "auths": {}}'), expect='duplicate key "auths"'),
        BrokenCase(
            "duplicate_nested_key",
            _text(f'{{"auths": {{"h:1": {{"auth": "{valid_b64}", "auth": "{valid_b64}"}}}}}}'),
            secrets=(pw, valid_b64),
            expect='duplicate key "auth"',
        ),
        BrokenCase(
            "duplicate_deep_key",
            _text('{"auths": {}, "unknown": [1, {"y": {"z": 1, "q": 2, "z": 3}}]}'),
            expect='duplicate key "z"',
            note="inside a key regauth does not know: still refused (Go keeps the last value silently)",
        ),
        BrokenCase(
            "duplicate_escaped_key",
            _text('{"auths": {}, "k": 1, "\\u006b": 2}'),
            expect='duplicate key "k"',
            note="the same key spelled with an escape",
        ),
        BrokenCase("extra_data", _text('{"auths": {}}{"auths": {}}'), expect="Extra data"),
        BrokenCase("control_char", _text('{"psFormat": "a\x01b"}'), expect="invalid JSON"),
        BrokenCase("deeply_nested", _deep, expect="invalid JSON"),
        BrokenCase("top_level_array", _text("[]"), expect="top level"),
        BrokenCase("top_level_null", _text("null"), expect="top level"),
        BrokenCase("auths_not_object", _text('{"auths": ["h:1"]}'), expect='"auths"'),
        BrokenCase("entry_not_object", _text('{"auths": {"h:1": "x"}}'), expect='auths["h:1"]'),
        BrokenCase("entry_null", _text('{"auths": {"h:1": null}}'), expect='auths["h:1"]'),
        BrokenCase(
            "auth_not_base64",
            _auth_doc(pw + "!!"),
            secrets=(pw,),
            expect="not valid base64",
        ),
        BrokenCase(
            "auth_without_colon",
            _auth_doc(_b64(pw.encode())),
            secrets=(pw, _b64(pw.encode())),
            expect="no ':' separator",
        ),
        BrokenCase(
            "auth_empty_username",
            _auth_doc(_b64(b":" + pw.encode())),
            secrets=(pw, _b64(b":" + pw.encode())),
            expect="empty username",
        ),
        BrokenCase(
            "auth_not_utf8",
            _auth_doc(_b64(b"user:\xff" + pw.encode())),
            secrets=(pw,),
            expect="UTF-8",
        ),
        BrokenCase("auth_not_string", _text('{"auths": {"h:1": {"auth": 42}}}'), expect=".auth"),
        BrokenCase(
            "identitytoken_not_string",
            _text('{"auths": {"h:1": {"identitytoken": ["tok"]}}}'),
            expect=".identitytoken",
        ),
        BrokenCase("creds_store_number", _text('{"credsStore": 1}'), expect='"credsStore"'),
        BrokenCase("cred_helpers_not_object", _text('{"credHelpers": "pass"}'), expect='"credHelpers"'),
        BrokenCase(
            "cred_helpers_non_string",
            _text('{"credHelpers": {"h:1": true}}'),
            expect='credHelpers["h:1"]',
        ),
        BrokenCase("huge_50mb", _huge, expect="too large"),
        BrokenCase("directory", _directory, expect="directory"),
        BrokenCase("symlink_loop", _symlink_loop, posix_only=True, expect="symlink loop"),
        BrokenCase(
            "dangling_symlink",
            _dangling("gone/deeper/config.json"),
            load_fails=False,
            posix_only=True,
            expect="dangling symbolic link to gone/deeper/config.json",
            note="reads as missing (as Docker); a save is refused: Docker creates the target and its parents",
        ),
        BrokenCase(
            "dangling_symlink_same_dir",
            _dangling("elsewhere.json"),
            load_fails=False,
            posix_only=True,
            expect="dangling symbolic link to elsewhere.json",
            note="the target's directory exists: Docker writes a new file there; regauth refuses",
        ),
        BrokenCase("fifo", _fifo, posix_only=True, expect="not a regular file"),
        BrokenCase(
            "unreadable",
            _unreadable,
            needs_unprivileged=True,
            posix_only=True,
            secrets=(pw, valid_b64),
            expect="permission denied",
            note="chmod 000; root bypasses it, so probed without CAP_DAC_*",
        ),
        BrokenCase(
            "readonly_dir",
            _readonly_dir,
            load_fails=False,
            needs_unprivileged=True,
            posix_only=True,
            secrets=(pw, valid_b64),
            expect="cannot write",
            note="valid file in a 0555 directory: load works, a save must fail, file untouched",
        ),
        BrokenCase(
            "readonly_dir_with_lock",
            _readonly_dir_with_lock,
            load_fails=False,
            needs_unprivileged=True,
            posix_only=True,
            secrets=(pw, valid_b64),
            expect="cannot write",
            note="as readonly_dir, but the lock file exists: the temp file cannot be created",
        ),
        BrokenCase(
            "creds_store_missing_helper",
            _text('{"auths": {}, "credsStore": "regauth-no-such-helper"}'),
            load_fails=False,
            update_fails=False,
            note="valid JSON: a missing helper is the store layer's error (CLI-level test)",
            tags=("store-layer",),
        ),
    ]


def privilege_drop_prefix() -> list[str] | None:
    """argv prefix running a command without the root permission bypass ([] if not root).

    None when running as root and ``setpriv`` is missing.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


_PROBE = r"""
import sys
from pathlib import Path
from regauth.config.file import load, update
from regauth.errors import ConfigError
path = Path(sys.argv[1])
def change(cfg):
    cfg.set_auth("probe.example", {})
    return True
for action in (lambda: load(path), lambda: update(path, change, lock_timeout=5)):
    try:
        action()
        print("OK")
    except ConfigError as exc:
        print("ERR " + str(exc).replace("\n", "\\n"))
"""


def probe(path: Path, *, unprivileged: bool = False) -> tuple[str | None, str | None]:
    """Run ``load(path)`` then a changing ``update(path, ...)``; each result is None or the error.

    With ``unprivileged`` the probe runs in a child process without the root permission bypass.
    """
    if not unprivileged:
        from regauth.config.file import load, update
        from regauth.errors import ConfigError

        results: list[str | None] = []

        def change(cfg: object) -> bool:
            cfg.set_auth("probe.example", {})  # type: ignore[attr-defined]
            return True

        for action in (lambda: load(path), lambda: update(path, change, lock_timeout=5)):
            try:
                action()
                results.append(None)
            except ConfigError as exc:
                results.append(str(exc))
        return results[0], results[1]
    prefix = privilege_drop_prefix()
    if prefix is None:
        raise RuntimeError("setpriv is needed to drop the root permission bypass")
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", _PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        raise RuntimeError(f"probe failed: rc={proc.returncode} stderr={proc.stderr[-2000:]}")
    return tuple(None if line == "OK" else line[4:] for line in lines)  # type: ignore[return-value]


def snapshot(path: Path) -> tuple[object, ...]:
    """What must not change: type, mode, content hash (files), link target, directory listing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ("missing",)
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return ("dir", mode, sorted(os.listdir(path)))
    if stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
        except PermissionError:  # unreadable to a non-root tester: size, inode and mtime still count
            digest.update(b"unreadable")
        return ("file", mode, info.st_size, info.st_ino, info.st_mtime_ns, digest.hexdigest())
    return ("other", stat.S_IFMT(info.st_mode), mode)
