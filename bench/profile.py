"""Rule: where regauth's start-up goes: ``python -X importtime`` per command, summed by import tree.

``python -m bench.profile`` runs each start-up path (``--version``, ``login --help``, the helpers'
``get`` of a missing entry: the import path is the same as for a hit) with ``-X importtime`` and
prints, per command, the total import time and the imports that regauth modules trigger
(cumulative, biggest first): those are the ones a lazy import can move off the path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["COMMANDS", "ImportNode", "main", "parse_importtime", "triggered_by_regauth"]

_HELPER = "import sys; from regauth.helpers.{0} import main; sys.exit(main())"
COMMANDS: dict[str, list[str]] = {
    "--version": ["-m", "regauth", "--version"],
    "login --help": ["-m", "regauth", "login", "--help"],
    "pass get": ["-c", _HELPER.format("pass_"), "get"],
    "secretservice get": ["-c", _HELPER.format("secretservice"), "get"],
}


@dataclass
class ImportNode:
    """One line of ``-X importtime`` output (microseconds)."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: str | None


def parse_importtime(stderr: str) -> list[ImportNode]:
    """Parse ``-X importtime`` lines; parents are resolved from the indentation."""
    rows: list[tuple[str, int, int, int]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        raw = parts[2]
        name = raw.strip()
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        rows.append((name, int(parts[0]), int(parts[1]), depth))
    # importtime prints children before their parent: walk backwards to find parents.
    nodes: list[ImportNode] = []
    open_parents: dict[int, str] = {}
    for name, self_us, cum, depth in reversed(rows):
        parent = open_parents.get(depth - 1) if depth > 0 else None
        nodes.append(ImportNode(name, self_us, cum, depth, parent))
        open_parents[depth] = name
        for deeper in [d for d in open_parents if d > depth]:
            del open_parents[deeper]
    nodes.reverse()
    return nodes


def triggered_by_regauth(nodes: Sequence[ImportNode]) -> list[ImportNode]:
    """Non-regauth imports whose direct importer is a regauth module, plus regauth modules."""
    return sorted(
        (
            n
            for n in nodes
            if n.name.startswith("regauth") or (n.parent is not None and n.parent.startswith("regauth"))
        ),
        key=lambda n: -n.cumulative_us,
    )


def _profile(label: str, args: list[str], top: int) -> None:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="regauth-profile-") as tmp:
        env.update(DOCKER_CONFIG=tmp, PASSWORD_STORE_DIR=os.path.join(tmp, "nostore"))
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *args],
            input=b"nothing.invalid",
            capture_output=True,
            env=env,
            timeout=60,
        )
    nodes = parse_importtime(done.stderr.decode(errors="replace"))
    total = sum(n.cumulative_us for n in nodes if n.depth == 0)
    print(f"== {label}: {total / 1000:.1f} ms of imports ({len(nodes)} modules)")
    for node in triggered_by_regauth(nodes)[:top]:
        via = f"  (imported by {node.parent})" if node.parent else ""
        print(f"   {node.cumulative_us / 1000:7.1f} ms  {node.name}{via}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench.profile``."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--top", type=int, default=12, help="imports shown per command")
    args = parser.parse_args(argv)
    for label, command in COMMANDS.items():
        _profile(label, command, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
