"""Symlinks and modes: ``login`` through odd config.json paths, regauth vs Docker CLI 28.

Each case builds a config directory (``cfg``) and sometimes things outside it (``outside``), runs one
``login`` against a loopback Basic registry, and looks at what happened on disk: paths created outside
the config directory, the secret left in a file group or others can read, seeded entries lost, and
exit 0 without the login being readable back (a false success).  regauth's expectations are asserted
(docs/config-file.md, "Symlinks and modes"); Docker's figures are recorded for the report.
Module-level checks are in tests/test_config.py and tests/test_config_broken.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cliutil import venv_path
from tests.reliability.fakes import FakeServer, basic_registry
from tests.reliability.figures import record
from tests.reliability.procs import regauth_exe
from tests.support.brokenfiles import privilege_drop_prefix
from tests.support.require import require

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks and modes")

USER, PASSWORD = "filesuser", "files-Login-Passw0rd"
SECRET_B64 = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
KEEP = {"auths": {"keep.example": {"auth": base64.b64encode(b"keep:keeppass").decode()}}}
PART = "symlinks and modes"


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _keep_file(mode: int) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        _write(root / "cfg" / "config.json", json.dumps(KEEP), mode)
        return root / "cfg"

    return setup


def _raw_file(content: str) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        _write(root / "cfg" / "config.json", content)
        return root / "cfg"

    return setup


def _link_to(target: str, make_outside: bool = False) -> Callable[[Path], Path]:
    def setup(root: Path) -> Path:
        (root / "cfg").mkdir()
        if make_outside:
            (root / "outside").mkdir()
        os.symlink(target.replace("ROOT", str(root)), root / "cfg" / "config.json")
        return root / "cfg"

    return setup


def _link_to_file(root: Path) -> Path:
    _write(root / "outside" / "real.json", json.dumps(KEEP))
    (root / "cfg").mkdir()
    os.symlink(root / "outside" / "real.json", root / "cfg" / "config.json")
    return root / "cfg"


def _link_loop(root: Path) -> Path:
    (root / "cfg").mkdir()
    os.symlink("other.json", root / "cfg" / "config.json")
    os.symlink("config.json", root / "cfg" / "other.json")
    return root / "cfg"


def _dangling_dir(root: Path) -> Path:
    os.symlink(root / "outside" / "gone", root / "cfg")
    return root / "cfg"


def _readonly_dir(root: Path) -> Path:
    _write(root / "cfg" / "config.json", json.dumps(KEEP))
    os.chmod(root / "cfg", 0o555)
    return root / "cfg"


@dataclass(frozen=True)
class Case:
    """One path or mode situation; ``ok``: regauth's login must succeed."""

    name: str
    setup: Callable[[Path], Path]
    ok: bool
    unprivileged: bool = False  # root would bypass the breakage
    expect: tuple[str, ...] = ()  # fragments regauth's stderr must hold (ROOT = the case directory)


CASES = [
    Case("dangling link, missing parents", _link_to("ROOT/outside/deep/x.json"), False,
         expect=("ROOT/cfg/config.json", "ROOT/outside/deep/x.json", "dangling")),
    Case("dangling link, existing dir", _link_to("ROOT/outside/x.json", make_outside=True), False,
         expect=("ROOT/cfg/config.json", "ROOT/outside/x.json", "dangling")),
    Case("dangling config dir link", _dangling_dir, False,
         expect=("ROOT/cfg", "ROOT/outside/gone", "dangling")),
    Case("link loop", _link_loop, False, expect=("ROOT/cfg/config.json", "symlink loop")),
    Case("link to a file", _link_to_file, True),
    Case("0644 file", _keep_file(0o644), True, expect=("ROOT/cfg/config.json", "0644", "0600")),
    Case("0640 file", _keep_file(0o640), True, expect=("ROOT/cfg/config.json", "0640", "0600")),
    Case("0600 file", _keep_file(0o600), True),
    Case("0-byte file", _raw_file(""), True),
    Case("newline-only file", _raw_file("\n"), True),
    Case("read-only dir", _readonly_dir, False, unprivileged=True, expect=("ROOT/cfg/config.json",)),
]  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What one login did to the disk."""

    case: Case
    root: Path
    code: int
    err: str
    created_outside: tuple[str, ...]  # new paths outside the config directory (lock files aside)
    exposed: bool  # the secret sits in a file group or others can access
    stored: bool  # the new login reads back through cfg/config.json
    lost: int  # seeded entries gone
    mode: int | None  # the real file's mode afterwards
    link_replaced: bool  # config.json was a symlink and is a regular file now


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _read_back(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    auths = data.get("auths") if isinstance(data, dict) else None
    return auths if isinstance(auths, dict) else {}


def _one(case: Case, exe: str, env: dict[str, str], base: Path, host: str) -> Outcome:
    root = base / case.name.replace(" ", "_")
    root.mkdir()
    config = case.setup(root)
    before = _tree(root)
    seeded = set(_read_back(config / "config.json"))
    was_link = (config / "config.json").is_symlink()
    prefix = privilege_drop_prefix() if case.unprivileged else []
    argv = [*(prefix or []), exe, "login", host, "-u", USER, "--password-stdin"]
    try:
        proc = subprocess.run(argv, input=PASSWORD, capture_output=True, text=True, timeout=20,
                              env=dict(env, DOCKER_CONFIG=str(config)), check=False)  # fmt: skip
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = -9, "<hung: killed after 20 s>"
    finally:
        if (root / "cfg").is_dir() and not (root / "cfg").is_symlink():
            os.chmod(root / "cfg", 0o700)
    new = sorted(_tree(root) - before)
    lock_beside_old = [n for n in new if n.endswith(".lock") and n[: -len(".lock")] in before]
    outside = tuple(n for n in new if not n.startswith("cfg") and n not in lock_beside_old)
    real = Path(os.path.realpath(config / "config.json"))
    try:
        info = real.stat()
        mode: int | None = stat.S_IMODE(info.st_mode)
        exposed = SECRET_B64 in real.read_text() and (mode or 0) & 0o077 != 0
    except OSError:
        mode, exposed = None, False
    auths = _read_back(config / "config.json")
    stored = host in auths
    replaced = was_link and not (config / "config.json").is_symlink()
    return Outcome(case, root, code, err, outside, exposed, stored, len(seeded - set(auths)), mode, replaced)


def _run(exe: str, env: dict[str, str], base: Path, host: str) -> list[Outcome]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda case: _one(case, exe, env, base, host), CASES))


def _record(impl: str, outcomes: list[Outcome]) -> None:
    def names(pick: Callable[[Outcome], bool]) -> str:
        return ", ".join(o.case.name for o in outcomes if pick(o)) or "none"

    record(
        PART,
        impl,
        tests=len(outcomes),
        faults=len(outcomes),
        lost=sum(o.lost for o in outcomes),
        corrupted=sum(bool(o.created_outside) for o in outcomes),
        secrets=sum(o.exposed for o in outcomes),
        false_ok=sum(o.code == 0 and not o.stored for o in outcomes),
        note=(
            f"created outside the config dir: {names(lambda o: bool(o.created_outside))}; "
            f"secret left readable by others: {names(lambda o: o.exposed)}; "
            f"link replaced by a file: {names(lambda o: o.link_replaced)}; "
            f"refused: {names(lambda o: o.code != 0)}"
        ),
    )


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeServer]:
    with FakeServer(basic_registry(USER, PASSWORD)) as server:
        yield server


def _need_privilege_drop() -> None:
    require(privilege_drop_prefix() is not None, "setpriv is needed to test a read-only directory as root")


def _problems(o: Outcome) -> list[str]:
    found: list[str] = []
    lines = [line for line in o.err.splitlines() if line.strip()]
    if o.case.ok != (o.code == 0):
        found.append(f"exit {o.code}: {o.err.strip()[-300:]}")
    if o.created_outside:
        found.append(f"created outside: {o.created_outside}")
    if o.exposed:
        found.append(f"secret left in a mode {o.mode:04o} file")
    if o.lost:
        found.append(f"{o.lost} seeded entries lost")
    if o.link_replaced:
        found.append("the config.json symlink was replaced by a file")
    if o.case.ok and not o.stored:
        found.append("login not readable back")
    if not o.case.ok and len(lines) != 1:
        found.append(f"{len(lines)} stderr lines: {lines[:3]}")
    for fragment in o.case.expect:
        if fragment.replace("ROOT", str(o.root)) not in o.err:
            found.append(f"stderr lacks {fragment!r}: {o.err.strip()[-300:]}")
    if PASSWORD in o.err or SECRET_B64 in o.err:
        found.append("secret in stderr")
    return found


def test_regauth_symlinks_and_modes(isolated_env: object, tmp_path: Path, registry: FakeServer) -> None:
    """Dangling links and loops refused with one line, nothing created; a link to a file works; a
    secret never stays in a file open to group or others; empty files are ``{}``."""
    _need_privilege_drop()
    outcomes = _run(regauth_exe(), dict(os.environ, PATH=venv_path()), tmp_path, registry.host)
    _record("regauth", outcomes)
    failures = {o.case.name: p for o in outcomes if (p := _problems(o))}
    assert failures == {}
    for o in outcomes:
        if o.case.name == "link to a file":
            assert (o.root / "cfg" / "config.json").is_symlink()
        if o.case.ok:
            assert o.mode == 0o600, (o.case.name, o.mode)
        if o.case.name in ("0644 file", "0640 file"):  # one line says what happened to the mode
            assert sum("was mode" in line for line in o.err.splitlines()) == 1, o.err
        if o.case.name == "0600 file":
            assert "was mode" not in o.err  # nothing tightened, nothing said


def test_docker_symlinks_and_modes(
    isolated_env: object, tmp_path: Path, registry: FakeServer, docker_only_path: str
) -> None:
    """The same cases through Docker CLI 28: recorded, not asserted."""
    _need_privilege_drop()
    docker = os.path.join(docker_only_path, "docker")
    outcomes = _run(docker, dict(os.environ, PATH=docker_only_path), tmp_path, registry.host)
    _record("docker", outcomes)
    for o in outcomes:
        mode = "-" if o.mode is None else f"{o.mode:04o}"
        print(f"\n{o.case.name}: exit {o.code}, mode {mode}, outside {o.created_outside}, "
              f"exposed {o.exposed}, stored {o.stored}, link replaced {o.link_replaced}")  # fmt: skip
