"""Our helpers and the Go helpers 0.6.4 read each other's entries (docs/credential-helpers.md).

Our secretservice helper is run twice over: as installed (an encrypted session) and with
``cryptography`` blocked (the ``plain`` fallback); tests/test_helper_secretservice.py checks on the
bus which session each negotiates.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regauth.helpers.pass_ import encode_server, refusal
from tests.support.gpg import pass_env  # noqa: F401
from tests.support.keyring_env import secretservice_env, write_plain_helper  # noqa: F401
from tests.support.require import require

pytestmark = pytest.mark.real
VENV_BIN = os.path.dirname(sys.executable)


def _setup(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *programs: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for program in programs:
        require(shutil.which(program) is not None, f"{program} not on PATH")


@pytest.fixture
def penv(pass_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:  # noqa: F811
    _setup(monkeypatch, pass_env, "docker-credential-pass", "pass", "gpg")
    yield pass_env


@pytest.fixture
def senv(
    secretservice_env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    _setup(monkeypatch, secretservice_env, "docker-credential-secretservice", "secret-tool")
    write_plain_helper(str(tmp_path))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    yield secretservice_env


def run(program: str, action: str, stdin: str = "") -> str:
    done = subprocess.run(
        [program, action], input=stdin.encode(), capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stdout
    return done.stdout.decode()


def creds(server: str, user: str, secret: str) -> str:
    return f'{{"ServerURL":"{server}","Username":"{user}","Secret":"{secret}"}}'


def server() -> str:
    return f"127.0.0.1:{uuid.uuid4().int % 50000 + 10000}/{uuid.uuid4().hex[:6]}"


GO = {"pass": "docker-credential-pass", "ss": "docker-credential-secretservice"}
OURS = {"pass": "docker-credential-regauth-pass", "ss": "docker-credential-regauth-secretservice"}
GO["ss-plain"] = GO["ss"]
OURS["ss-plain"] = "docker-credential-regauth-secretservice-plain"  # write_plain_helper


@pytest.mark.parametrize("kind", ["pass", "ss", "ss-plain"])
@pytest.mark.parametrize("direction", ["go-to-ours", "ours-to-go"])
def test_each_reads_the_other(kind: str, direction: str, request: pytest.FixtureRequest) -> None:
    """What one writes, the other gets and lists (layouts: docs/credential-helpers.md)."""
    request.getfixturevalue("penv" if kind == "pass" else "senv")
    writer, reader = (GO[kind], OURS[kind]) if direction == "go-to-ours" else (OURS[kind], GO[kind])
    s = server()
    run(writer, "store", creds(s, "testuser", "pw-<&>-ü"))
    token_s = server()
    run(writer, "store", creds(token_s, "<token>", "refresh-tok"))
    assert run(reader, "get", s) == (
        f'{{"ServerURL":"{s}","Username":"testuser","Secret":"pw-\\u003c\\u0026\\u003e-ü"}}\n'
    )
    assert run(reader, "get", token_s) == (
        f'{{"ServerURL":"{token_s}","Username":"\\u003ctoken\\u003e","Secret":"refresh-tok"}}\n'
    )
    listed = json.loads(run(reader, "list"))
    assert listed[s] == "testuser" and listed[token_s] == "<token>"
    run(reader, "erase", s)
    assert s not in json.loads(run(writer, "list"))


def test_pass_layout_modes_and_pass_show(penv: dict[str, str]) -> None:
    """Our file: <enc>/<user>.gpg, 0600/0700, decrypts to the bare secret (docs/credential-helpers.md)."""
    s = "127.0.0.1:5001"
    run(OURS["pass"], "store", creds(s, "testuser", "testpassword"))
    store = Path(penv["PASSWORD_STORE_DIR"])
    folder = store / "docker-credential-helpers" / "MTI3LjAuMC4xOjUwMDE="
    assert encode_server(s) == folder.name
    entry = folder / "testuser.gpg"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["testuser.gpg"]
    shown = subprocess.run(
        ["pass", "show", f"docker-credential-helpers/{folder.name}/testuser"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert shown.stdout == b"testpassword"  # no trailing newline
    run(OURS["pass"], "erase", s)
    assert not folder.exists()


def _fresh_store(gpg_env: dict[str, str]) -> tuple[dict[str, str], Path]:
    """An environment whose PASSWORD_STORE_DIR is a new, initialised store (same gpg key)."""
    root = Path(tempfile.mkdtemp(prefix="regauth-pass-"))
    shutil.copyfile(Path(gpg_env["PASSWORD_STORE_DIR"]) / ".gpg-id", root / ".gpg-id")
    path = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **gpg_env, "PASSWORD_STORE_DIR": str(root), "PATH": path}, root


def _call(env: dict[str, str], program: str, action: str, stdin: str) -> tuple[int, str]:
    done = subprocess.run(
        [program, action], input=stdin.encode(), env=env, capture_output=True, timeout=30, check=False
    )
    return done.returncode, done.stdout.decode("utf-8", "replace")


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _round_trip(env: dict[str, str], root: Path, writer: str, reader: str, user: str) -> None:
    """``writer`` stores ``user``; ``reader`` gets and lists exactly it, then erases the file."""
    s = "127.0.0.1:5001"
    request = json.dumps({"ServerURL": s, "Username": user, "Secret": "pw"})
    assert _call(env, writer, "store", request) == (0, "")
    code, out = _call(env, reader, "get", s)
    assert code == 0 and json.loads(out) == {"ServerURL": s, "Username": user, "Secret": "pw"}, out
    code, out = _call(env, reader, "list", "")
    assert code == 0 and json.loads(out) == {s: user}, out
    assert _call(env, reader, "erase", s)[0] == 0
    assert _tree(root) == [".gpg-id", "docker-credential-helpers"]


def _go_reads_back(env: dict[str, str], user: str) -> bool:
    """Whether the Go helper stores ``user`` and gets the same username and secret back."""
    s = "127.0.0.1:5002"
    if _call(env, GO["pass"], "store", json.dumps({"ServerURL": s, "Username": user, "Secret": "pw"}))[0]:
        return False
    code, out = _call(env, GO["pass"], "get", s)
    return code == 0 and json.loads(out) == {"ServerURL": s, "Username": user, "Secret": "pw"}


def check_username(gpg_env: dict[str, str], user: str) -> None:
    """Every username round-trips Go → ours and ours → Go, or ours refuses it and Go loses it too."""
    env, root = _fresh_store(gpg_env)
    try:
        if refusal(user) is None:
            _round_trip(env, root, GO["pass"], OURS["pass"], user)
            _round_trip(env, root, OURS["pass"], GO["pass"], user)
            return
        request = json.dumps({"ServerURL": "127.0.0.1:5001", "Username": user, "Secret": "pw"})
        code, out = _call(env, OURS["pass"], "store", request)
        assert code == 1 and out.startswith("username cannot be stored in pass: ") and out.count("\n") == 1
        assert _tree(root) == [".gpg-id"]  # nothing written, not even a directory
        assert not _go_reads_back(env, user)  # the refusal costs nothing the Go helper offers
    finally:
        shutil.rmtree(root, ignore_errors=True)


LONG = "\u00e9" * 100  # 200 bytes of UTF-8


@pytest.mark.parametrize(
    "user",
    [
        ".hidden",
        "..",
        ".",
        "a/b",
        "%2F",
        "a%2Fb%25",
        " lead",
        "\u00fcn\u00ef",
        LONG,
        "x" * 251,
        "x" * 252,
        "/a",
        "a/",
        "-n",
        "<token>",
        "a\nb",
    ],
)
def test_pass_usernames_round_trip_or_are_refused(pass_env: dict[str, str], user: str) -> None:  # noqa: F811
    """A username the Go helper keeps (dot-files too) round-trips both ways; one it loses
    (``/``, ``.``, ``..``, over 251 bytes) is refused by our store with one line, nothing written."""
    require(shutil.which(GO["pass"]) is not None, "docker-credential-pass not on PATH")
    check_username(pass_env, user)


_PIECES = st.sampled_from(
    [".", "..", "/", "%", "%2F", "%25", " ", "\u00fc", "\u65e5", "\U0001f600", "-", "a", "\\"]
)
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
USERNAMES = st.one_of(
    st.lists(_PIECES | _CHARS, min_size=1, max_size=10).map("".join),
    st.tuples(st.sampled_from(["", ".", "\u00e9", "\u65e5"]), st.integers(240, 256)).map(
        lambda t: t[0] + "x" * (t[1] - len(t[0].encode()))  # t[1] bytes, near the 251-byte limit
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user=USERNAMES)
def test_pass_generated_usernames_against_go(pass_env: dict[str, str], user: str) -> None:  # noqa: F811
    """Generated usernames (dots, ``/``, ``%``, spaces, unicode, long) against the Go helper."""
    require(shutil.which(GO["pass"]) is not None, "docker-credential-pass not on PATH")
    check_username(pass_env, user)


def test_pass_go_two_users_ours_picks_first_by_name(penv: dict[str, str]) -> None:
    """Go keeps both usernames; ours reads the alphabetically first, like Go."""
    s = server()
    run(GO["pass"], "store", creds(s, "zed", "pz"))
    run(GO["pass"], "store", creds(s, "amy", "pa"))
    assert '"Username":"amy","Secret":"pa"' in run(OURS["pass"], "get", s)
    run(OURS["pass"], "store", creds(s, "zed", "pz2"))  # ours replaces the server's entry
    assert '"Username":"zed","Secret":"pz2"' in run(GO["pass"], "get", s)


def test_pass_list_skips_foreign_directory(penv: dict[str, str]) -> None:
    """An undecodable directory name does not break our list (Go fails the list)."""
    bad = Path(penv["PASSWORD_STORE_DIR"]) / "docker-credential-helpers" / "not base64!"
    bad.mkdir(mode=0o700)
    try:
        s = server()
        run(OURS["pass"], "store", creds(s, "u", "p"))
        assert s in run(OURS["pass"], "list")
    finally:
        bad.rmdir()


def test_secretservice_item_shape(senv: dict[str, str]) -> None:
    """Our item, as secret-tool shows it: label = ServerURL, Docker attributes and schema."""
    s = server()
    run(OURS["ss"], "store", creds(s, "testuser", "testpassword"))
    done = subprocess.run(
        ["secret-tool", "search", "--all", "server", s],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    text = done.stdout + done.stderr
    for line in (
        f"label = {s}",
        "secret = testpassword",
        "schema = io.docker.Credentials",
        "attribute.username = testuser",
        f"attribute.server = {s}",
        "attribute.docker_cli = 1",
        "attribute.label = Docker Credentials",
    ):
        assert line in text
    assert text.count("[/") == 1


def test_secretservice_go_two_users_ours_deterministic(senv: dict[str, str]) -> None:
    """Go keeps two items; ours picks the newest, ties → smallest username (module docstring)."""
    s = server()
    run(GO["ss"], "store", creds(s, "zed", "pz"))
    run(GO["ss"], "store", creds(s, "amy", "pa"))
    first = run(OURS["ss"], "get", s)
    assert all(run(OURS["ss"], "get", s) == first for _ in range(3))
    assert '"Username":"amy"' in first or '"Username":"zed"' in first
    run(OURS["ss"], "store", creds(s, "bob", "pb"))
    assert '"Username":"bob","Secret":"pb"' in run(GO["ss"], "get", s)
    run(OURS["ss"], "erase", s)
    done = subprocess.run([GO["ss"], "get"], input=s.encode(), capture_output=True, timeout=30, check=False)
    assert (done.returncode, done.stdout) == (1, b"credentials not found in native keychain\n")


def test_pass_get_reply_bytes_equal_go(penv: dict[str, str]) -> None:
    """Our ``get`` reply is byte for byte the Go helper's, escapes included
    (``<>&``, U+2028/2029, ``\\b``/``\\f`` as ``\\u00XX``, other control characters, UTF-8 kept)."""
    s = server()
    user = "u<s>er&é"
    secret = 'pw\x08\x0c\x01\x1f\x7f"\\/<>&\u2028\u2029\t\r ü😀'
    payload = json.dumps({"ServerURL": s, "Username": user, "Secret": secret})
    run(GO["pass"], "store", payload)
    go = subprocess.run([GO["pass"], "get"], input=s.encode(), capture_output=True, timeout=30)
    ours = subprocess.run([OURS["pass"], "get"], input=s.encode(), capture_output=True, timeout=30)
    assert go.returncode == ours.returncode == 0
    assert ours.stdout == go.stdout
    assert json.loads(ours.stdout) == {"ServerURL": s, "Username": user, "Secret": secret}
    run(OURS["pass"], "erase", s)


@pytest.mark.parametrize("kind", ["pass", "ss"])
def test_lone_surrogate_read_as_go_reads_it(kind: str, request: pytest.FixtureRequest) -> None:
    """A ``\\ud800`` escape (half a surrogate pair) is stored as U+FFFD, as Go's encoding/json reads it."""
    request.getfixturevalue("penv" if kind == "pass" else "senv")
    payload = '{"ServerURL":"%s","Username":"u\\udc00","Secret":"a\\ud800b"}'
    replies = []
    for writer in (GO[kind], OURS[kind]):
        s = server()
        run(writer, "store", payload % s)
        replies.append(run(GO[kind], "get", s).replace(s, "SERVER"))
        run(GO[kind], "erase", s)
    assert replies[0] == replies[1] == '{"ServerURL":"SERVER","Username":"u\ufffd","Secret":"a\ufffdb"}\n'
