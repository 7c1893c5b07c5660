"""``regauth completion bash|zsh|fish`` (issue 5 item 11): generated from the argparse tree."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from regauth.cli.completion import describe, script
from regauth.cli.main import _build_parser
from tests.cliutil import regauth
from tests.support.require import require


def bash_complete(line: str) -> list[str]:
    """Source the script in bash and run its function as readline would for ``line``."""
    require(shutil.which("bash") is not None, "bash is not installed")
    text = script("bash", _build_parser())
    words = line.split(" ")
    program = (
        f"{text}\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_regauth; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True)
    return [w for w in out.stdout.splitlines() if w]


def test_bash_script_registers() -> None:
    r = regauth("completion", "bash")
    assert r.code == 0
    probe = subprocess.run(
        ["bash", "-c", 'source /dev/stdin <<< "$SCRIPT"; complete -p regauth'],
        capture_output=True, text=True, timeout=30, env={"SCRIPT": r.out, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "complete -o default -F _regauth regauth"


def test_bash_completes_from_the_parser() -> None:
    assert bash_complete("regauth lo") == ["login", "logout"]
    assert bash_complete("regauth --config /tmp st") == ["status"]
    assert bash_complete("regauth status --format ") == ["table", "json"]
    assert "--username-only" in bash_complete("regauth get --")
    assert bash_complete("regauth logout --a") == ["--all"]
    assert bash_complete("regauth export ") == ["kubernetes"]
    assert bash_complete("regauth completion ") == ["bash", "zsh", "fish"]


def test_every_command_in_every_shell() -> None:
    spec = describe(_build_parser())
    names = [c.name for c in spec.commands]
    assert {"login", "logout", "status", "list", "get", "migrate", "export", "completion"} <= set(names)
    for shell in ("zsh", "fish"):
        text = script(shell, _build_parser())
        for name in names:
            assert name in text
        assert "username-only" in text and "identity-token-stdin" in text


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_script_syntax(shell: str) -> None:
    """Parsed by the real shell when it is installed (``-n``: syntax only)."""
    require(shutil.which(shell) is not None, f"{shell} is not installed")
    text = script(shell, _build_parser())
    proc = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
