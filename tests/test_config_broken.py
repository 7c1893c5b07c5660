"""Broken config files: load and update refuse with one line naming the file; nothing is written.

Reference: docs/config-file.md, "Known Docker defects": Docker overwrites a malformed file
(github.com/docker/cli/issues/5075; a truncated file plus a `docker login` lost the existing entries).
regauth refuses.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from regauth.config.file import ConfigFile, load, update
from regauth.errors import ConfigError
from tests.support.brokenfiles import BrokenCase, corpus, privilege_drop_prefix, probe, snapshot
from tests.support.require import require

CASES = corpus(Path(tempfile.gettempdir()))


def test_corpus_is_large_and_named_uniquely() -> None:
    """The corpus covers at least 20 kinds of broken file, each with a distinct name."""
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert sum(case.load_fails for case in CASES) >= 20


def _check_message(message: str, path: Path, case: BrokenCase) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{path}: "), message
    assert case.expect in message, (case.expect, message)
    for secret in case.secrets:
        assert secret not in message


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_broken_file_is_refused_and_left_untouched(case: BrokenCase, tmp_path: Path) -> None:
    """Never write over a file that failed to load; one line naming the file, no secret."""
    if case.posix_only and sys.platform == "win32":
        pytest.skip("cannot be built on Windows")
    if case.needs_unprivileged:
        prefix = privilege_drop_prefix()
        require(prefix is not None, "setpriv is needed to test permission errors as root")
    directory = tmp_path / "cfg"
    directory.mkdir()
    path = directory / "config.json"
    case.setup(path)
    try:
        before = snapshot(path)
        load_error, update_error = probe(path, unprivileged=case.needs_unprivileged)
        after = snapshot(path)
        leftovers = [n for n in os.listdir(directory) if ".tmp-" in n]
    finally:
        os.chmod(directory, 0o700)
        if case.name == "unreadable":
            os.chmod(path, 0o600)
    assert leftovers == []
    if case.load_fails:
        assert load_error is not None, "load accepted a broken file"
        _check_message(load_error, path, case)
    else:
        assert load_error is None, load_error
    if case.update_fails:
        assert update_error is not None, "update wrote over a broken file"
        _check_message(update_error, path, case)
        assert after == before
    else:
        assert update_error is None, update_error
        cfg = load(path)
        assert "probe.example" in cfg.auths()
        assert cfg.creds_store() == "regauth-no-such-helper"


def test_noop_update_on_broken_file_still_raises(tmp_path: Path) -> None:
    """A change that changes nothing must not hide a broken file either."""
    path = tmp_path / "config.json"
    path.write_text('{"auths": {')
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        update(path, lambda cfg: False)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert path.read_bytes() == before


def test_missing_file_is_empty_not_an_error(tmp_path: Path) -> None:
    """docs/config-file.md, "Location": a missing file means defaults."""
    cfg = load(tmp_path / "nope" / "config.json")
    assert not cfg.exists
    assert cfg.data == {}
    assert not cfg.contains_auth()


@pytest.mark.parametrize("content", [b"", b"\n", b" \n\t\r\n "], ids=["empty", "newline", "whitespace"])
def test_empty_or_whitespace_file_reads_as_empty(tmp_path: Path, content: bytes) -> None:
    """docs/config-file.md, "Loading": a 0-byte or whitespace-only file is ``{}`` (Docker and docker-py
    read it so; nothing in it can be lost); an update writes a normal file and keeps the mode."""
    path = tmp_path / "config.json"
    path.write_bytes(content)
    if sys.platform != "win32":
        os.chmod(path, 0o640)
    cfg = load(path)
    assert cfg.exists and cfg.data == {} and not cfg.contains_auth()

    def change(cfg: ConfigFile) -> bool:
        cfg.set_auth("h:1", {})
        return True

    assert update(path, change)
    assert path.read_text() == '{\n\t"auths": {\n\t\t"h:1": {}\n\t}\n}'
    if sys.platform != "win32":
        assert os.stat(path).st_mode & 0o777 == 0o640


def test_other_whitespace_is_not_empty(tmp_path: Path) -> None:
    """Only JSON's whitespace counts: a form feed or NULs (a crash artefact) are still refused."""
    for content in (b"\x0c\n", b"\x00" * 16):
        path = tmp_path / "config.json"
        path.write_bytes(content)
        with pytest.raises(ConfigError, match="invalid JSON"):
            load(path)


def test_dangling_symlink_loads_as_missing(tmp_path: Path) -> None:
    """A symlinked config.json whose target is gone loads as missing, as in Docker (a save is refused)."""
    if sys.platform == "win32":
        pytest.skip("symlinks need privileges on Windows")
    path = tmp_path / "config.json"
    os.symlink(tmp_path / "elsewhere.json", path)
    assert load(path).exists is False


def test_parent_is_a_file(tmp_path: Path) -> None:
    """A path whose parent is a regular file is refused with one line, not a traceback."""
    blocker = tmp_path / "notadir"
    blocker.write_text("x")
    path = blocker / "config.json"
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ")

    def change(cfg: ConfigFile) -> bool:
        cfg.set_auth("a", {})
        return True

    with pytest.raises(ConfigError):
        update(path, change)
    assert blocker.read_text() == "x"
