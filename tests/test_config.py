"""config.json: format, round trip, save procedure, location, auth field, and a differential vs Docker.

Reference: docs/config-file.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauth.config.document import loads
from regauth.config.file import (
    CONFIG_FILENAME,
    ConfigFile,
    check,
    config_dir,
    config_path,
    decode_auth,
    dumps,
    encode_auth,
    entry_credentials,
    load,
    update,
    update_config,
)
from regauth.config.lock import file_lock, lock_path_for
from regauth.config.settings import Settings, load_settings, settings_path
from regauth.errors import ConfigError
from tests.support.require import require

POSIX = sys.platform != "win32"
posix_only = pytest.mark.skipif(not POSIX, reason="POSIX modes and symlinks")


def _ordered(text: str) -> Any:
    """Parse keeping key order visible (lists of pairs) so order can be compared exactly."""
    return json.loads(text, object_pairs_hook=lambda pairs: [(k, v) for k, v in pairs])


def _add(key: str, entry: dict[str, Any] | None = None) -> Any:
    def change(cfg: ConfigFile) -> bool:
        cfg.set_auth(key, {} if entry is None else entry)
        return True

    return change


def _set_keys(*items: tuple[str, Any]) -> Any:
    def change(cfg: ConfigFile) -> bool:
        for name, value in items:
            cfg.set_key(name, value)
        return True

    return change


def _merge(data: dict[str, Any]) -> Any:
    def change(cfg: ConfigFile) -> bool:
        cfg.data.update(data)
        return True

    return change


# --------------------------------------------------------------------------- format


def test_dumps_matches_observed_login_file() -> None:
    """docs/config-file.md, "Save": tab indent, no trailing newline, byte for byte."""
    expected = (
        "{\n"
        '\t"auths": {\n'
        '\t\t"127.0.0.1:PORT": {\n'
        '\t\t\t"auth": "dGVzdHVzZXI6dGVzdHBhc3N3b3Jk"\n'
        "\t\t}\n"
        "\t}\n"
        "}"
    )
    data = {"auths": {"127.0.0.1:PORT": {"auth": encode_auth("testuser", "testpassword")}}}
    assert dumps(data) == expected


def test_dumps_empty_auths() -> None:
    """docs/config-file.md, "Observed rewrites": an emptied store is written as "auths": {}."""
    assert dumps({"auths": {}}) == '{\n\t"auths": {}\n}'
    assert dumps({"a": [], "b": [1, {}]}) == '{\n\t"a": [],\n\t"b": [\n\t\t1,\n\t\t{}\n\t]\n}'


def test_dumps_go_escapes() -> None:
    """docs/config-file.md, "Save": Go escapes <, >, &, U+2028/2029; other UTF-8 is kept."""
    value = 'a<b>&c\u2028\u2029 é€😀 \x01\t"\\ \x7f'
    expected = '"a\\u003cb\\u003e\\u0026c\\u2028\\u2029 é€😀 \\u0001\\t\\"\\\\ \x7f"'
    assert dumps({"k<&>": value}) == "{\n\t" + '"k\\u003c\\u0026\\u003e": ' + expected + "\n}"


def test_dumps_numbers_and_literals_round_trip(tmp_path: Path) -> None:
    """Numbers keep their original text (1.50, 1e5, -0, a big int); true/false/null kept."""
    text = (
        '{"n": [1.50, 1e5, -0, -0.0, 123456789012345678901234567890, 2.5E-3], '
        '"t": true, "f": false, "z": null}'
    )
    path = tmp_path / CONFIG_FILENAME
    path.write_text(text)
    out = dumps(load(path).data)
    assert out == (
        '{\n\t"n": [\n\t\t1.50,\n\t\t1e5,\n\t\t-0,\n\t\t-0.0,\n'
        "\t\t123456789012345678901234567890,\n\t\t2.5E-3\n\t],\n"
        '\t"t": true,\n\t"f": false,\n\t"z": null\n}'
    )


# --------------------------------------------------------------------------- round trip


ROUND_TRIP_INPUT = textwrap.dedent(
    """\
    {
      "unknownFirst": {"nested": {"z": 1, "a": [3, {"y": "<&>", "b": null}]}, "m": "x"},
      "auths": {
        "zeta.example": {"auth": "dXNlcjpwYXNz", "email": "u@example.com", "x-extra": {"q": 1}},
        "alpha.example:5000": {"identitytoken": "tok", "auth": "dXNlcjo=", "zz": true}
      },
      "credHelpers": {"b.example": "pass", "a.example": "secretservice"},
      "psFormat": "table {{.ID}}",
      "yetAnotherUnknown": "é😀\u2028"
    }"""
)


def test_round_trip_keeps_unknown_keys_and_order_at_every_level(tmp_path: Path) -> None:
    """Docker drops unknown keys (docs/config-file.md, "Loading"); we keep them, in file order, everywhere."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(ROUND_TRIP_INPUT, encoding="utf-8")
    assert update(path, _add("new.example", {"auth": encode_auth("n", "p")})) is True
    after = _ordered(path.read_text(encoding="utf-8"))
    before = _ordered(ROUND_TRIP_INPUT)
    # the unsorted auths keep their order; the new key is appended
    before_auths = dict(before)["auths"]
    expected_auths = [*before_auths, ("new.example", [("auth", encode_auth("n", "p"))])]
    expected = [(k, expected_auths if k == "auths" else v) for k, v in before]
    assert after == expected
    # and the output is Docker's format: tab indent, no trailing newline
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n\t"unknownFirst": {\n\t\t"nested"') and not text.endswith("\n")
    assert "\\u003c\\u0026\\u003e" in text


def test_dumps_load_is_stable(tmp_path: Path) -> None:
    """dumps(load(x)) written and loaded again gives the same text (a fixed point)."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(ROUND_TRIP_INPUT, encoding="utf-8")
    once = dumps(load(path).data)
    path.write_text(once, encoding="utf-8")
    assert dumps(load(path).data) == once


def test_set_auth_sorted_insert_and_unsorted_append() -> None:
    """Docker writes auths keys sorted; a sorted file stays sorted, an unsorted one gets new keys last."""
    cfg = ConfigFile(Path("x"), {"auths": {"a": {}, "c": {}}, "other": 1})
    cfg.set_auth("b", {"auth": ""})
    assert list(cfg.auths()) == ["a", "b", "c"]
    cfg.set_auth("a", {"identitytoken": "t"})  # replace keeps the position
    assert list(cfg.auths()) == ["a", "b", "c"] and cfg.auths()["a"] == {"identitytoken": "t"}
    unsorted = ConfigFile(Path("x"), {"auths": {"c": {}, "a": {}}})
    unsorted.set_auth("b", {})
    assert list(unsorted.auths()) == ["c", "a", "b"]
    assert unsorted.remove_auth("a") is True and unsorted.remove_auth("a") is False
    assert list(unsorted.auths()) == ["c", "b"]


def test_auths_created_first_when_missing() -> None:
    """auths() on a file without "auths" creates it as the first key (Docker writes it first)."""
    cfg = ConfigFile(Path("x"), {"psFormat": "p", "credsStore": "pass"})
    assert cfg.auths() == {}
    assert list(cfg.data) == ["auths", "psFormat", "credsStore"]


def test_set_key_puts_a_new_known_key_in_dockers_place() -> None:
    """A new top-level key Docker knows goes where Docker writes it; others keep their place."""
    cfg = ConfigFile(Path("x"), {"unknownFirst": 1, "auths": {}, "psFormat": "p", "credHelpers": {}})
    cfg.set_key("credsStore", "pass")  # Docker: ... psFormat, ..., credsStore, credHelpers
    cfg.set_key("HttpHeaders", {})  # Docker: auths, HttpHeaders, psFormat
    cfg.set_key("unknownLast", 2)
    cfg.set_key("psFormat", "q")  # present: replaced in place
    assert list(cfg.data) == [
        "unknownFirst", "auths", "HttpHeaders", "psFormat", "credsStore", "credHelpers", "unknownLast"
    ]
    assert cfg.data["psFormat"] == "q"
    # a file in another order keeps it; the new key goes before the first key Docker writes after it
    odd = ConfigFile(Path("x"), {"credHelpers": {}, "auths": {}})
    odd.set_key("credsStore", "pass")
    assert list(odd.data) == ["credsStore", "credHelpers", "auths"]


def test_accessors_and_contains_auth() -> None:
    """docs/config-file.md, "Default store detection": ContainsAuth = entries, credsStore or credHelpers."""
    assert not ConfigFile(Path("x"), {"auths": {}, "credHelpers": {}, "credsStore": ""}).contains_auth()
    assert ConfigFile(Path("x"), {"auths": {"h": {}}}).contains_auth()
    assert ConfigFile(Path("x"), {"credsStore": "pass"}).contains_auth()
    assert ConfigFile(Path("x"), {"credHelpers": {"h": "pass"}}).contains_auth()
    cfg = ConfigFile(Path("x"), {"credsStore": "pass", "credHelpers": {"h": "secretservice"}})
    assert cfg.creds_store() == "pass" and cfg.cred_helpers() == {"h": "secretservice"}
    assert ConfigFile(Path("x")).creds_store() == "" and ConfigFile(Path("x")).cred_helpers() == {}


def test_null_typed_fields_read_as_absent(tmp_path: Path) -> None:
    """Go reads null into a typed field as its zero value; so do we (documented decision)."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{"auths": {"h": {"auth": null}}, "credsStore": null, "credHelpers": null}')
    cfg = load(path)
    assert cfg.creds_store() == "" and cfg.cred_helpers() == {}
    assert entry_credentials("h", cfg.auths()["h"]).is_empty


# --------------------------------------------------------------------------- auth field


def test_encode_decode_auth() -> None:
    """docs/config-file.md, "Loading": std base64 of user:pass, split at the first ':', NULs trimmed."""
    assert encode_auth("testuser", "testpassword") == "dGVzdHVzZXI6dGVzdHBhc3N3b3Jk"
    assert decode_auth("dGVzdHVzZXI6dGVzdHBhc3N3b3Jk") == ("testuser", "testpassword")
    assert decode_auth(encode_auth("u", "p:a:ss")) == ("u", "p:a:ss")
    assert decode_auth(encode_auth("u", "\x00pw\x00")) == ("u", "pw")
    assert decode_auth(encode_auth("ü", "é")) == ("ü", "é")
    assert decode_auth(encode_auth("testuser", "")) == ("testuser", "")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("c2VjcmV0cGFzc3dvcmQ=", "no ':'"),  # base64("secretpassword")
        ("OnNlY3JldHBhc3N3b3Jk", "empty username"),  # base64(":secretpassword")
        ("secretpassword!", "base64"),
        ("c2VjcmV0cGFzc3dvcmQ", "base64"),  # padding missing
        ("dXNlcjr/c2VjcmV0cGFzc3dvcmQ=", "UTF-8"),
        ("sécret", "base64"),
    ],
)
def test_decode_auth_errors_carry_no_secret(value: str, problem: str) -> None:
    """Messages never contain the value or the decoded password."""
    with pytest.raises(ValueError) as info:
        decode_auth(value)
    message = str(info.value)
    assert problem in message
    assert value not in message and "secret" not in message


def test_entry_credentials() -> None:
    """docs/config-file.md, "Auth entries": auth + identitytoken; registrytoken kept; key is the server."""
    entry = {"auth": "dGVzdHVzZXI6", "identitytoken": "rt", "registrytoken": "bt", "email": "e"}
    creds = entry_credentials("127.0.0.1:5000", entry)
    assert (creds.username, creds.password, creds.identity_token, creds.registry_token) == (
        "testuser",
        "",
        "rt",
        "bt",
    )
    assert creds.server == "127.0.0.1:5000"
    assert entry_credentials("h", {}).is_empty
    assert entry_credentials("h", {"auth": ""}).is_empty


# --------------------------------------------------------------------------- location


def test_config_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/config-file.md, "Location": --config > $DOCKER_CONFIG > ~/.docker."""
    env = {"DOCKER_CONFIG": str(tmp_path / "env")}
    assert Path(config_dir(tmp_path / "flag", env)) == tmp_path / "flag"
    assert Path(config_dir(None, env)) == tmp_path / "env"
    assert Path(config_dir("", env)) == tmp_path / "env"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))
    assert Path(config_dir(None, {})) == tmp_path / "home" / ".docker"
    assert Path(config_dir(None, {"DOCKER_CONFIG": ""})) == tmp_path / "home" / ".docker"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "real-env"))
    assert Path(config_dir()) == tmp_path / "real-env"
    assert Path(config_path(None, env)) == tmp_path / "env" / "config.json"


# --------------------------------------------------------------------------- save procedure


_UMASK_SCRIPT = r"""
import os, sys
from pathlib import Path
from regauth.config.file import update
os.umask(int(sys.argv[2], 8))
update(Path(sys.argv[1]), lambda cfg: (cfg.set_auth("h:1", {"auth": "dTpw"}), True)[1])
"""


@posix_only
@pytest.mark.parametrize("umask", ["000", "077", "022"])
def test_new_file_0600_dirs_0700_whatever_the_umask(tmp_path: Path, umask: str) -> None:
    """docs/config-file.md, "Save": file 0600, missing dirs 0700; also with umask 000."""
    path = tmp_path / "a" / "b" / CONFIG_FILENAME
    subprocess.run([sys.executable, "-c", _UMASK_SCRIPT, str(path), umask], check=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(lock_path_for(path)).st_mode) == 0o600
    assert load(path).auths() == {"h:1": {"auth": "dTpw"}}


@posix_only
def test_existing_dir_mode_untouched(tmp_path: Path) -> None:
    """MkdirAll semantics: an existing directory keeps its mode."""
    os.chmod(tmp_path, 0o755)
    update(tmp_path / CONFIG_FILENAME, _add("h"))
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


@posix_only
def test_existing_mode_kept(tmp_path: Path) -> None:
    """docs/config-file.md, "Observed rewrites": the file mode is preserved (0644 stays 0644)."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{"auths": {}}')
    os.chmod(path, 0o644)
    inode = path.stat().st_ino
    update(path, _add("h"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert "h" in load(path).auths()


@posix_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_owner_kept_when_root_saves(tmp_path: Path) -> None:
    """docs/config-file.md, "Save": uid/gid copied when both > 0."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{"auths": {}}')
    os.chown(path, 4242, 4343)
    update(path, _add("h"))
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (4242, 4343)


@posix_only
def test_symlink_kept_and_target_replaced(tmp_path: Path) -> None:
    """docs/config-file.md, "Observed rewrites": a linked config.json stays a link; its target is replaced."""
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "actual.json"
    target.write_text('{"auths": {}}')
    link_dir = tmp_path / "cfg"
    link_dir.mkdir()
    link = link_dir / CONFIG_FILENAME
    os.symlink(os.path.relpath(target, link_dir), link)
    update(link, _add("h"))
    assert link.is_symlink()
    assert "h" in json.loads(target.read_text())["auths"]
    assert not list(link_dir.glob("*.tmp-*")) and not list(real_dir.glob("*.tmp-*"))
    assert lock_path_for(link) == str(real_dir / "actual.json.lock")


def _tree(root: Path) -> list[str]:
    """Every path under ``root`` (links not followed), to prove nothing was created."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@posix_only
@pytest.mark.parametrize("where", ["missing_parents", "existing_dir", "relative_chain"])
def test_dangling_symlink_refused_nothing_created(tmp_path: Path, where: str) -> None:
    """docs/config-file.md, "Symlinks and modes": a dangling config.json link is refused with one
    line naming the link and its target; no directory, lock file or temporary file is created."""
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    link = cfg_dir / CONFIG_FILENAME
    if where == "missing_parents":
        target = str(tmp_path / "nonexistent" / "deeper" / "x.json")
    elif where == "existing_dir":
        target = str(tmp_path / "x.json")
    else:  # a link to a link to nothing
        os.symlink("gone.json", cfg_dir / "hop.json")
        target = "hop.json"
    os.symlink(target, link)
    before = _tree(tmp_path)
    for action in (lambda: update(link, _add("h", {"auth": "dTpw"})), lambda: check(link)):
        with pytest.raises(ConfigError) as info:
            action()
        message = str(info.value)
        assert message.startswith(f"{link}: is a dangling symbolic link to {target} "), message
        assert "\n" not in message and info.value.path == str(link)
    assert _tree(tmp_path) == before
    assert load(link).exists is False  # reading: a missing file, as Docker reads it


@posix_only
def test_dangling_symlink_in_config_dir_refused(tmp_path: Path) -> None:
    """docs/config-file.md, "Symlinks and modes": a missing --config directory is created 0700, but a
    dangling link among the missing levels is refused (Docker's MkdirAll fails on it too)."""
    os.symlink(tmp_path / "nowhere" / "dir", tmp_path / "linkdir")
    path = tmp_path / "linkdir" / "sub" / CONFIG_FILENAME
    before = _tree(tmp_path)
    with pytest.raises(ConfigError) as info:
        update(path, _add("h"))
    link, target = tmp_path / "linkdir", tmp_path / "nowhere" / "dir"
    dangling = f"directory {link} is a dangling symbolic link to {target}"
    assert str(info.value).startswith(f"{path}: {dangling} ")
    assert _tree(tmp_path) == before
    plain = tmp_path / "plain" / "sub" / CONFIG_FILENAME  # no link: created as Docker does
    update(plain, _add("h"))
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o700 and plain.exists()


@posix_only
def test_symlink_loop_refused_by_update(tmp_path: Path) -> None:
    """A config.json link loop: one line saying so, nothing created."""
    os.symlink("b.json", tmp_path / CONFIG_FILENAME)
    os.symlink(CONFIG_FILENAME, tmp_path / "b.json")
    before = _tree(tmp_path)
    with pytest.raises(ConfigError, match="symlink loop"):
        update(tmp_path / CONFIG_FILENAME, _add("h"))
    assert _tree(tmp_path) == before


_SECRET_ENTRY = {"auth": "dTpwYXNzd29yZA=="}  # u:password


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666, 0o755], ids=lambda m: f"{m:04o}")
def test_secret_into_open_file_makes_it_0600(tmp_path: Path, mode: int) -> None:
    """docs/config-file.md, "Symlinks and modes": a secret written into a file group or others can
    access leaves it 0600, and the result names the old mode (Docker keeps 0644)."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{"auths": {}}')
    os.chmod(path, mode)
    saved = update_config(path, _add("h", _SECRET_ENTRY))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (saved.changed, saved.written, saved.tightened_from) == (True, True, mode)


@posix_only
@pytest.mark.parametrize("field", ["auth", "identitytoken"])
def test_secret_through_symlink_tightens_the_target(tmp_path: Path, field: str) -> None:
    """A linked config.json keeps working (the target is written) and the target ends 0600."""
    target = tmp_path / "real.json"
    target.write_text('{"auths": {"h": {}}}')
    os.chmod(target, 0o644)
    link = tmp_path / CONFIG_FILENAME
    os.symlink(target.name, link)
    saved = update_config(link, _add("h", {field: "c2VjcmV0OnNlY3JldA=="}))
    assert link.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert saved.tightened_from == 0o644


@posix_only
def test_mode_kept_without_a_new_secret(tmp_path: Path) -> None:
    """No secret goes in (a helper marker, a removal, the same secret again): the mode is kept."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(json.dumps({"auths": {"old": _SECRET_ENTRY}}))
    os.chmod(path, 0o644)
    assert update_config(path, _add("marker")).tightened_from is None
    assert update_config(path, lambda cfg: cfg.remove_auth("marker")).tightened_from is None
    assert update_config(path, _add("old", dict(_SECRET_ENTRY))).written is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    assert update_config(path, _add("new", _SECRET_ENTRY)).tightened_from is None  # already private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o400)  # owner-only but read-only: nothing to tighten, the mode is kept
    assert update_config(path, _add("other", _SECRET_ENTRY)).tightened_from is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o400


def test_skip_save_when_unchanged(tmp_path: Path) -> None:
    """docs/config-file.md, "Save" (v28+): no save when nothing changed; inode and mtime unchanged."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{\n  "auths": {"h": {}}\n}')
    before = path.stat()
    assert update(path, lambda cfg: cfg.remove_auth("absent")) is False
    # a change that reports True but yields identical bytes does not write either
    path.write_text(dumps({"auths": {"h": {}}}))
    before = path.stat()
    time.sleep(0.01)
    assert update(path, _add("h")) is True
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # a real change writes
    assert update(path, _add("i")) is True
    assert path.stat().st_ino != before.st_ino


def test_missing_file_noop_creates_nothing_but_dir(tmp_path: Path) -> None:
    """A logout of nothing on a missing file writes no config.json."""
    path = tmp_path / CONFIG_FILENAME
    assert update(path, lambda cfg: cfg.remove_auth("h")) is False
    assert not path.exists()


def test_lock_timeout_message(tmp_path: Path) -> None:
    """A held lock makes update wait, then fail with one line naming the lock."""
    path = tmp_path / CONFIG_FILENAME
    with file_lock(path, 1.0):
        start = time.monotonic()
        with pytest.raises(ConfigError) as info:
            update(path, _add("h"), lock_timeout=0.3)
        assert 0.25 < time.monotonic() - start < 5
    message = str(info.value)
    assert "timed out after 0.3s waiting for the lock" in message
    assert lock_path_for(path) in message and "\n" not in message
    assert not path.exists()


def test_update_waits_for_the_lock(tmp_path: Path) -> None:
    """update blocks while another holder has the lock, then proceeds on the fresh file."""
    path = tmp_path / CONFIG_FILENAME
    update(path, _add("a"))
    result: list[bool] = []
    with file_lock(path, 1.0):
        thread = threading.Thread(target=lambda: result.append(update(path, _add("b"))))
        thread.start()
        time.sleep(0.2)
        assert result == []
        path.write_text(dumps({"auths": {"a": {}, "z": {}}}))  # written by "the other holder"
    thread.join(10)
    assert result == [True]
    assert list(load(path).auths()) == ["a", "b", "z"]


def test_stale_temp_files_cleaned(tmp_path: Path) -> None:
    """Temp files of killed writers never block and are removed by the next save (under the lock)."""
    path = tmp_path / CONFIG_FILENAME
    old = tmp_path / "config.json.tmp-0123456789abcdef"
    recent = tmp_path / "config.json.tmp-fedcba9876543210"
    other = tmp_path / "unrelated.tmp-0123"
    for stray in (old, recent, other):
        stray.write_text("{")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(other, (two_hours_ago, two_hours_ago))
    update(path, _add("h"))
    assert not old.exists() and not recent.exists() and other.exists()


def test_write_failure_leaves_original_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing rename: ConfigError naming the file, original byte-identical, temp removed."""
    path = tmp_path / CONFIG_FILENAME
    original = b'{"auths": {"h": {}}, "keep": 1}'
    path.write_bytes(original)

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ConfigError) as info:
        update(path, _add("new"))
    monkeypatch.undo()
    assert str(info.value) == f"{path}: cannot write: No space left on device"
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


# --------------------------------------------------------------------------- differential vs Docker


def _docker_env(tmp_path: Path) -> dict[str, str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(docker, bindir / "docker")
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": str(bindir), "HOME": str(home), "DOCKER_CONFIG": str(tmp_path / "cfg")}


@pytest.mark.real
def test_docker_rewrite_of_our_file_equals_ours(tmp_path: Path) -> None:
    """Docker reads our file; its rewrite equals ours, byte for byte (docs/config-file.md, "Save").

    `docker logout 127.0.0.1:1` needs no registry; the file store is used (PATH holds only docker).
    """
    env = _docker_env(tmp_path)
    require(env is not None, "docker CLI not on PATH")
    assert env is not None
    path = Path(env["DOCKER_CONFIG"]) / CONFIG_FILENAME
    data: dict[str, Any] = {
        "auths": {
            "127.0.0.1:1": {"auth": encode_auth("gone", "pw")},
            "a.example:5000": {"auth": encode_auth("u", "p<&>w"), "email": "u@example.com"},
            "https://index.docker.io/v1/": {"auth": encode_auth("hub", "x")},
            "z.example": {"auth": encode_auth("t", ""), "identitytoken": "tok<&>\u2028é"},
        },
        "psFormat": "table {{.ID}}\t<&> é😀 \u2029",
        "detachKeys": "ctrl-x,x",
    }
    update(path, _merge(data))
    assert path.read_text(encoding="utf-8") == dumps(data)
    # known keys added later, in an order Docker does not use, go to Docker's places
    update(path, _set_keys(("credHelpers", {"nothing.invalid": "none"}), ("HttpHeaders", {"X-Meta": "v"})))
    assert list(load(path).data) == ["auths", "HttpHeaders", "psFormat", "detachKeys", "credHelpers"]

    proc = subprocess.run(
        ["docker", "logout", "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Removing login credentials for 127.0.0.1:1" in proc.stdout
    assert "WARNING" not in proc.stderr and "rror" not in proc.stderr, proc.stderr
    docker_text = path.read_text(encoding="utf-8")

    ours = tmp_path / "ours" / CONFIG_FILENAME
    update(ours, _merge(json.loads(json.dumps(data))))
    update(ours, _set_keys(("HttpHeaders", {"X-Meta": "v"}), ("credHelpers", {"nothing.invalid": "none"})))
    update(ours, lambda cfg: cfg.remove_auth("127.0.0.1:1"))
    assert docker_text == ours.read_text(encoding="utf-8")

    # we read Docker's file strictly, and write it back byte for byte
    assert load(path).data == load(ours).data
    assert dumps(load(path).data) == docker_text


# --------------------------------------------------------------------------- dumps against json


_GO = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _oracle(data: object) -> str:
    """Docker's format from the json module: tab indent, then Go's escapes and lone surrogates."""
    text = json.dumps(data, indent="\t", ensure_ascii=False)
    return "".join(_GO.get(ch) or (f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch) for ch in text)


_leaf = st.one_of(
    st.text(), st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)),
    max_leaves=30,
)


@given(st.dictionaries(st.text(), _value, max_size=6))
def test_dumps_equals_json_module_with_go_escapes(data: dict[str, object]) -> None:
    """Our writer against the stdlib's, plus Go's escapes (Go's MarshalIndent with a tab)."""
    assert dumps(data) == _oracle(data)


def test_dumps_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="NaN"):
        dumps({"x": float("nan")})
    with pytest.raises(TypeError):
        dumps({"x": {1, 2}})
    with pytest.raises(TypeError):
        dumps({"x": {1: "a"}})


def test_lone_surrogates_round_trip_as_escapes(tmp_path: Path) -> None:
    """A lone surrogate (only reachable as an escape) is written back as that escape: valid UTF-8."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text('{"x": "a\\ud800b", "y": "\\ud83d\\ude00"}')
    assert dumps(load(path).data) == '{\n\t"x": "a\\ud800b",\n\t"y": "\U0001f600"\n}'


# --------------------------------------------------------------------------- round trip, property

_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("<>&\u2028\u2029\"\\:")
)
_number_text = st.one_of(
    st.integers().map(str),
    st.sampled_from(["-0", "0.0", "-0.0", "1.50", "1e5", "2.5E-3", "1E+2", "123456789012345678901234567890"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_unknown = st.recursive(
    st.one_of(_text, st.none(), st.booleans(), _number_text.map(lambda t: ("number", t))),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=12,
)
_entry = st.fixed_dictionaries(
    {},
    optional={
        "auth": st.builds(encode_auth, st.text(min_size=1).filter(lambda u: ":" not in u), st.text()),
        "identitytoken": _text,
        "registrytoken": _text,
        "email": _text,
    },
)
_config = st.fixed_dictionaries(
    {"auths": st.dictionaries(_text, _entry, max_size=5)},
    optional={
        "credsStore": _text,
        "credHelpers": st.dictionaries(_text, _text, max_size=3),
        "psFormat": _text,
        "unknown": _unknown,
        "zzUnknown": _unknown,
    },
)


def _json_text(value: object, indent: str | None, ascii_only: bool) -> str:
    """JSON text of a generated value; ("number", text) pairs become that number's literal text."""
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, dict):
        members = [f"{json.dumps(k, ensure_ascii=ascii_only)}: {_json_text(v, indent, ascii_only)}"
                   for k, v in value.items()]
        separator = "," + ("\n" + indent if indent is not None else " ")
        return "{" + separator.join(members) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v, indent, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@given(_config, st.sampled_from([None, "  ", "\t"]), st.booleans(), st.permutations(range(7)))
def test_random_configs_round_trip_exactly(
    config: dict[str, Any], indent: str | None, ascii_only: bool, order: list[int]
) -> None:
    """load -> save -> load gives the same document, same key order at every level, same number
    text; the saved text is a fixed point; and the first load agrees with json.loads."""
    keys = list(config)
    shuffled = {keys[i]: config[keys[i]] for i in order if i < len(keys)}
    text = _json_text(shuffled, indent, ascii_only)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / CONFIG_FILENAME
        path.write_text(text, encoding="utf-8")
        first = load(path).data
        assert _ordered(json.dumps(first)) == _ordered(json.dumps(json.loads(text)))  # stdlib oracle
        saved = dumps(first)
        path.write_text(saved, encoding="utf-8")
        second = load(path).data
        assert _ordered(json.dumps(second)) == _ordered(json.dumps(first))
        assert dumps(second) == saved
    for literal in re.findall(r"\('number', '([^']*)'\)", repr(shuffled)):
        assert literal in saved  # numbers are written as they were read


# --------------------------------------------------------------------------- strict load


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"auths": {}, "auths": {}}', "auths"),
        ('{"auths": {"h": {"auth": "eDp5", "auth": "eDp5"}}}', "auth"),
        ('{"x": [1, {"y": {"z": 1, "q": 2, "z": 3}}]}', "z"),
        ('{"a\\nb": 1, "a\\nb": 2}', "a\\nb"),
        ('{"<&>": 1, "\\u003c&>": 2}', "\\u003c\\u0026\\u003e"),
    ],
)
def test_duplicate_keys_refused_at_any_depth(text: str, key: str, tmp_path: Path) -> None:
    """One line naming the file and the key; nothing is written over the file."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(text)
    for action in (lambda: load(path), lambda: update(path, _add("h"))):
        with pytest.raises(ConfigError) as info:
            action()
        assert str(info.value) == f'{path}: invalid JSON: duplicate key "{key}" in a JSON object'
    assert path.read_text() == text


_dup_key = st.text(alphabet="ab:é\"\\", max_size=2)
_doc = st.recursive(
    st.one_of(_dup_key, st.none(), st.integers(), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(_dup_key, inner), max_size=4).map(lambda pairs: ("object", pairs)),
    ),
    max_leaves=25,
)


def _has_duplicate(value: object) -> bool:
    if isinstance(value, tuple):
        keys = [k for k, _ in value[1]]
        return len(set(keys)) != len(keys) or any(_has_duplicate(v) for _, v in value[1])
    if isinstance(value, list):
        return any(_has_duplicate(v) for v in value)
    return False


def _doc_text(value: object) -> str:
    if isinstance(value, tuple):
        return "{" + ", ".join(f"{json.dumps(k)}: {_doc_text(v)}" for k, v in value[1]) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_doc_text(x) for x in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@given(_doc)
def test_loads_refuses_exactly_the_documents_with_a_duplicate_key(doc: object) -> None:
    """Generated objects as lists of pairs: refused if and only if some object repeats a key."""
    text = _doc_text(doc)
    if _has_duplicate(doc):
        with pytest.raises(ValueError, match="duplicate key"):
            loads(text)
    else:
        assert loads(text) == json.loads(text)


def test_duplicate_found_among_10000_entries() -> None:
    entries = [f'"r{i}:5000": {{"auth": "{encode_auth("u", "p")}"}}' for i in range(10_000)]
    entries.insert(7_000, '"r42:5000": {"auth": "eDp5"}')
    with pytest.raises(ValueError, match=r'^duplicate key "r42:5000" in a JSON object$'):
        loads('{"auths": {' + ", ".join(entries) + "}}")


_AUTH_VALUES = [
    "dGVzdHVzZXI6dGVzdHBhc3N3b3Jk",
    "dGVzdHVzZXI6\r\ndGVzdHBhc3N3b3Jk",  # CR/LF skipped, as Go's StdEncoding does
    "c2VjcmV0cGFzc3dvcmQ=",
    "OnNlY3JldHBhc3N3b3Jk",
    "secretpassword!",
    "c2VjcmV0cGFzc3dvcmQ",
    "dXNlcjr/c2VjcmV0cGFzc3dvcmQ=",
    "sécret",
    "",
]


@pytest.mark.parametrize("value", _AUTH_VALUES)
def test_load_checks_auth_exactly_as_decode_auth(value: str, tmp_path: Path) -> None:
    """load() accepts and refuses the auth values decode_auth does, with its wording."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(json.dumps({"auths": {"a": {"auth": encode_auth("u", "p")}, "b": {"auth": value}}}))
    try:
        decode_auth(value) if value else None
    except ValueError as exc:
        with pytest.raises(ConfigError) as info:
            load(path)
        assert str(info.value).endswith(f'auths["b"].auth {exc}')
    else:
        assert load(path).auths()["b"] == {"auth": value}


@pytest.mark.parametrize(
    ("entry", "field", "kind"),
    [
        ({"auth": 1}, "auth", "a number"),
        ({"identitytoken": ["x"]}, "identitytoken", "an array"),
        ({"auth": "eDp5", "registrytoken": {}}, "registrytoken", "an object"),
        ({"registrytoken": True, "auth": None, "identitytoken": 2}, "identitytoken", "a number"),
    ],
)
def test_entry_field_types_first_in_field_order(
    entry: dict[str, Any], field: str, kind: str, tmp_path: Path
) -> None:
    path = tmp_path / CONFIG_FILENAME
    path.write_text(json.dumps({"auths": {"h": entry}}))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).endswith(f'auths["h"].{field} must be a string, not {kind}')


def test_every_load_validates(tmp_path: Path) -> None:
    """Loads of the same or changed bytes are each validated (no stale verdict)."""
    good = tmp_path / "good.json"
    bad = tmp_path / "bad.json"
    good.write_text(json.dumps({"auths": {"h": {"auth": encode_auth("u", "p")}}}))
    bad.write_text(json.dumps({"auths": {"h": {"auth": "c2VjcmV0cGFzc3dvcmQ="}}}))
    for _ in range(2):
        assert load(good).auths()["h"]["auth"] == encode_auth("u", "p")
        with pytest.raises(ConfigError, match="no ':'"):
            load(bad)
    good.write_bytes(bad.read_bytes())
    with pytest.raises(ConfigError, match="no ':'"):
        load(good)


def test_update_after_check_reads_the_file_again(tmp_path: Path) -> None:
    """A login checks the file first; a change made after the check is not lost by the update."""
    path = tmp_path / CONFIG_FILENAME
    path.write_text(json.dumps({"auths": {"a": {"auth": encode_auth("u", "p")}}}))
    check(path)
    path.write_text(json.dumps({"auths": {"b": {"auth": encode_auth("v", "q")}}}))  # changed meanwhile
    update(path, _add("c"))
    assert list(json.loads(path.read_text())["auths"]) == ["b", "c"]
    path.write_text('{"auths": {')
    with pytest.raises(ConfigError, match="invalid JSON"):
        check(path)
    check(tmp_path / "missing.json")  # a missing file is fine


# --------------------------------------------------------------------------- regauth's settings file


def test_settings_missing_file_is_the_defaults(tmp_path: Path) -> None:
    env = {"REGAUTH_SETTINGS": str(tmp_path / "none.json")}
    assert settings_path(env) == str(tmp_path / "none.json")
    assert load_settings(env) == Settings()
    xdg = {"XDG_CONFIG_HOME": str(tmp_path)}
    if sys.platform != "win32":
        assert settings_path(xdg) == str(tmp_path / "regauth" / "settings.json")


def test_settings_read_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    env = {"REGAUTH_SETTINGS": str(path)}
    path.write_text('{"insecure-registries": ["a:5000", "b"], "other": 1}')
    assert load_settings(env) == Settings(insecure_registries=("a:5000", "b"))
    for text, problem in [
        ('{"insecure-registries": ["a"], "insecure-registries": []}', 'duplicate key "insecure-registries"'),
        ('{"insecure-registries": "a"}', "must be a list of strings"),
        ("[]", "must be a JSON object"),
        ('{"insecure-registries": [', "invalid JSON"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_settings(env)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
