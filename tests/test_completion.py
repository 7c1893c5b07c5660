"""``regauth completion bash|zsh|fish``: scripts generated from the declaration that builds the parser."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess

import pytest

from regauth.cli.completion import script
from regauth.cli.parser import COMMANDS, build_parser
from tests.cliutil import regauth
from tests.support.require import require


def bash_complete(line: str) -> list[str]:
    """Source the script in bash and run its function as readline would for ``line``."""
    require(shutil.which("bash") is not None, "bash is not installed")
    text = script("bash")
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


def _flags_in_help() -> dict[str, list[str]]:
    """Command -> every flag its ``--help`` shows, asked of the argparse parser itself."""
    found: dict[str, list[str]] = {}
    for command in COMMANDS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([command.name, "--help"])
        found[command.name] = sorted(set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", out.getvalue())))
    return found


def test_completion_knows_what_the_parser_accepts() -> None:
    """Every command, and every flag its help shows, is in each shell's script."""
    accepted = _flags_in_help()
    assert {"login", "logout", "status", "list", "get", "migrate", "export", "completion", "token"} <= set(
        accepted
    )
    scripts = {shell: script(shell) for shell in ("bash", "zsh", "fish")}
    for name, flags in accepted.items():
        for shell, text in scripts.items():
            assert f"{name})" in text or f" {name} " in text or f"-a {name}" in text, (shell, name)
            for flag in flags:
                assert flag in text or f"-l {flag[2:]}" in text or f"-s {flag[1:]}" in text, (
                    shell,
                    name,
                    flag,
                )


def test_bash_completes_every_flag_of_every_command() -> None:
    for name, flags in _flags_in_help().items():
        assert sorted(bash_complete(f"regauth {name} -")) == flags, name


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_script_syntax(shell: str) -> None:
    """Parsed by the real shell when it is installed (``-n``: syntax only)."""
    require(shutil.which(shell) is not None, f"{shell} is not installed")
    text = script(shell)
    proc = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
