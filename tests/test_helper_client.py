"""HelperStore: parsing (fake runner) and failures (fake helper programs); docs/credential-stores.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regauth.credentials import Credentials
from regauth.errors import HelperError
from regauth.stores.base import Store
from regauth.stores.helper import HelperStore

FAKES = Path(__file__).parent / "fakehelpers"
SECRET = "hunter2-Sup3rSecret"


class FakeRunner:
    """Stands in for the subprocess: records calls, answers from a script of replies."""

    def __init__(self, *replies: tuple[int, bytes]) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[str], bytes, float]] = []

    def __call__(self, argv: list[str], stdin: bytes, timeout: float) -> tuple[int, bytes]:
        self.calls.append((argv, stdin, timeout))
        return self.replies.pop(0)


def store_with(*replies: tuple[int, bytes]) -> tuple[HelperStore, FakeRunner]:
    runner = FakeRunner(*replies)
    return HelperStore("x", timeout=7.0, runner=runner), runner


def test_is_a_store() -> None:
    assert isinstance(HelperStore("x"), Store)


def test_get_parses_reply_and_sends_raw_url() -> None:
    """get: stdin is the raw URL without newline; reply JSON."""
    store, runner = store_with(
        (0, b'{"ServerURL":"h:1","Username":"alice","Secret":"' + SECRET.encode() + b'"}\n')
    )
    got = store.get("h:1")
    assert got == Credentials("alice", SECRET, server="h:1")
    assert runner.calls == [(["docker-credential-x", "get"], b"h:1", 7.0)]


def test_get_not_found_is_none() -> None:
    store, _ = store_with((1, b"credentials not found in native keychain\n"))
    assert store.get("h:1") is None


def test_get_go_pass_empty_reply_is_none() -> None:
    """Go pass 0.6.4 answers a miss with exit 0 and empty Username/Secret."""
    store, _ = store_with((0, b'{"ServerURL":"h:1","Username":"","Secret":""}\n'))
    assert store.get("h:1") is None


def test_get_token_username_is_identity_token() -> None:
    store, _ = store_with((0, b'{"ServerURL":"h","Username":"\\u003ctoken\\u003e","Secret":"t"}'))
    got = store.get("h")
    assert got is not None
    assert (got.username, got.password, got.identity_token) == ("", "", "t")


def test_get_failure_carries_helper_line() -> None:
    store, _ = store_with((1, b"Cannot autolaunch D-Bus without X11 $DISPLAY\nmore\n"))
    with pytest.raises(HelperError) as info:
        store.get("h")
    assert str(info.value) == (
        'error getting credentials from helper "x": Cannot autolaunch D-Bus without X11 $DISPLAY'
    )
    assert info.value.output == "Cannot autolaunch D-Bus without X11 $DISPLAY"
    assert info.value.helper == "x"


def test_get_garbage_is_helper_error() -> None:
    store, _ = store_with((0, b"\xff\x00 nonsense"))
    with pytest.raises(HelperError, match="not credentials JSON"):
        store.get("h")


def test_store_payload_on_stdin_only() -> None:
    """store: Go-style JSON + newline on stdin; the secret never in argv."""
    store, runner = store_with((0, b""))
    store.store(Credentials("alice", SECRET, server="h:1"))
    argv, stdin, _ = runner.calls[0]
    assert argv == ["docker-credential-x", "store"]
    assert stdin == b'{"ServerURL":"h:1","Username":"alice","Secret":"' + SECRET.encode() + b'"}\n'


def test_store_identity_token_as_token_username() -> None:
    """An identity token goes as Username <token>."""
    store, runner = store_with((0, b""))
    store.store(Credentials("alice", "pw", identity_token="tok", server="h"))
    assert runner.calls[0][1] == b'{"ServerURL":"h","Username":"\\u003ctoken\\u003e","Secret":"tok"}\n'


def test_store_failure_message_hides_echoed_secret() -> None:
    store, _ = store_with((1, f"bad input {SECRET}".encode()))
    with pytest.raises(HelperError) as info:
        store.store(Credentials("alice", SECRET, server="h"))
    assert SECRET not in str(info.value) and SECRET not in info.value.output
    assert str(info.value).startswith('error storing credentials in helper "x": bad input')


def actions(runner: FakeRunner) -> list[str]:
    return [argv[1] for argv, _, _ in runner.calls]


def test_erase_never_asks_get() -> None:
    """get would decrypt the secret only to delete it: list (no secret) then erase."""
    store, runner = store_with((0, b'{"h":"u"}'), (0, b""))
    assert store.erase("h") is True
    assert [(c[0][1], c[1]) for c in runner.calls] == [("list", b"unused"), ("erase", b"h")]


def test_erase_missing_exit_0_is_false() -> None:
    """secretservice exits 0 for a missing entry: nothing listed before or after, so False."""
    store, runner = store_with((0, b'{"other":"u"}'), (0, b""), (0, b'{"other":"u"}'))
    assert store.erase("h") is False
    assert actions(runner) == ["list", "erase", "list"]


def test_erase_unlisted_key_that_goes_is_true() -> None:
    """A helper matching a spelling list does not show (osxkeychain by URL): the list shrank."""
    store, _ = store_with((0, b'{"https://h":"u"}'), (0, b""), (0, b"{}"))
    assert store.erase("h") is True


@pytest.mark.parametrize(
    "line",
    [
        b"exit status 1: Error: docker-credential-helpers/aA== is not in the password store.\n\n",
        b"credentials not found in native keychain\n",
    ],
)
def test_erase_not_found_answer_is_false(line: bytes) -> None:
    """Go pass and osxkeychain/wincred answer a missing entry with exit 1 and these lines."""
    store, runner = store_with((0, b"{}"), (1, line))
    assert store.erase("h") is False
    assert actions(runner) == ["list", "erase"]


def test_erase_when_list_is_refused() -> None:
    """A helper that cannot list (ecr-login): erase's own answer decides."""
    store, runner = store_with((1, b"not implemented"), (0, b""))
    assert store.erase("h") is True
    assert actions(runner) == ["list", "erase"]


def test_erase_failure_names_action() -> None:
    store, _ = store_with((0, b'{"h":"u"}'), (1, b"nope"))
    with pytest.raises(HelperError, match=r'^error erasing credentials from helper "x": nope$'):
        store.erase("h")


def test_erase_of_a_hung_helper_does_not_wait_twice() -> None:
    """A helper whose list times out is not asked to erase (it would hang again)."""
    asked: list[str] = []

    def hang(argv: list[str], stdin: bytes, timeout: float) -> tuple[int, bytes]:
        asked.append(argv[1])
        raise TimeoutError

    with pytest.raises(HelperError, match="did not answer"):
        HelperStore("x", timeout=1.0, runner=hang).erase("h")
    assert asked == ["list"]


def test_list_and_list_garbage() -> None:
    store, _ = store_with((0, b'{"a":"u1","b":"u2"}\n'), (0, b"[1,2]"), (1, b""))
    assert store.list() == {"a": "u1", "b": "u2"}
    with pytest.raises(HelperError, match="not a JSON object"):
        store.list()
    with pytest.raises(HelperError, match="exit status 1"):
        store.list()


def test_runner_timeout_is_helper_error() -> None:
    def runner(argv: list[str], stdin: bytes, timeout: float) -> tuple[int, bytes]:
        raise TimeoutError

    store = HelperStore("slow", timeout=1.5, runner=runner)
    with pytest.raises(HelperError, match=r'helper "slow" .*within 1.5 s'):
        store.get("h")


def test_long_output_line_is_bounded() -> None:
    store, _ = store_with((1, b"x" * 5000))
    with pytest.raises(HelperError) as info:
        store.get("h")
    assert len(str(info.value)) < 400


# -- real processes: fake helper programs ---------------------------------------------------------


@pytest.fixture
def fake_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ.get('PATH', '')}")


def _one_line_error(exc: HelperError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    assert SECRET not in text
    return text


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting for its (new) parent to reap it is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_hanging_helper_killed_with_its_children(
    fake_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_PIDFILE", str(pidfile))
    store = HelperStore("fakehang", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(HelperError) as info:
        store.store(Credentials("u", SECRET, server="h"))
    assert time.monotonic() - started < 10
    assert "fakehang" in _one_line_error(info.value) and "1 s" in str(info.value)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(grandchild), "the helper's grandchild survived the timeout"


def test_crashing_helper(fake_path: None) -> None:
    with pytest.raises(HelperError) as info:
        HelperStore("fakecrash").store(Credentials("u", SECRET, server="h"))
    assert _one_line_error(info.value) == ('error storing credentials in helper "fakecrash": exit status 3')


@pytest.mark.parametrize("action", ["get", "list"])
def test_garbage_helper(fake_path: None, action: str) -> None:
    store = HelperStore("fakegarbage")
    with pytest.raises(HelperError) as info:
        store.get("h") if action == "get" else store.list()
    _one_line_error(info.value)


def test_echoing_helper_does_not_leak(fake_path: None) -> None:
    with pytest.raises(HelperError) as info:
        HelperStore("fakeecho").store(Credentials("u", SECRET, server="h"))
    assert "rejected" in _one_line_error(info.value)


def test_missing_helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HelperError) as info:
        HelperStore("nosuchhelper", config_key="credHelpers").get("h")
    assert _one_line_error(info.value) == (
        "docker-credential-nosuchhelper not found on PATH (named by credHelpers in the Docker config)"
    )


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_not_executable_helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "docker-credential-noexec"
    shutil.copy(FAKES / "docker-credential-fakegarbage", target)
    target.chmod(0o644)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HelperError) as info:
        HelperStore("noexec").get("h")
    assert "not executable" in _one_line_error(info.value)


def test_fake_scripts_are_executable() -> None:
    """The fakes must keep their exec bit in git, or every test above tests the wrong thing."""
    for script in FAKES.glob("docker-credential-*"):
        assert os.access(script, os.X_OK), script
    done = subprocess.run(
        [str(FAKES / "docker-credential-fakegarbage"), "get"], input=b"h", capture_output=True
    )
    assert done.returncode == 0
