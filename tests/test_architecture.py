"""The shape of the source tree: public Python APIs only, one layer per package, no import cycles.

These read the source with :mod:`ast`; nothing is imported or run.  Each check is also run on a small
sample that breaks the rule, so a checker that stopped seeing anything would fail here too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "regauth"

#: Attributes that start with one underscore and are nevertheless documented public API.
PUBLIC_UNDERSCORE_ATTRIBUTES = frozenset(
    {
        "_exit",  # os._exit: documented; ends the process without interpreter finalisation
        "_replace",  # namedtuple API
        "_asdict",
        "_fields",
        "_make",
    }
)

#: Package -> rank.  A module may import its own package and packages of a strictly lower rank only.
RANKS = {
    "regauth.errors": 0,
    "regauth.credentials": 0,
    "regauth._version": 0,
    "regauth._exit": 0,
    "regauth.timestamps": 0,
    "regauth.registry": 1,
    "regauth.config": 2,
    "regauth.sources": 3,
    "regauth.stores": 4,
    "regauth.transport": 4,
    "regauth.api": 5,
    "regauth.helpers": 5,
    "regauth.testing": 5,
    "regauth.auth": 6,
    "regauth.kubelet": 6,
    "regauth.cli": 7,
}
#: The package's front door and ``python -m regauth`` may import anything below them.
UNRANKED = frozenset({"regauth", "regauth.__main__"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _is_type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (never executed)."""
    for child in ast.iter_child_nodes(tree):
        if _is_type_checking_block(child):
            assert isinstance(child, ast.If)
            for orelse in child.orelse:
                yield orelse
                yield from runtime_nodes(orelse)
            continue
        yield child
        yield from runtime_nodes(child)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, tree: ast.Module, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every runtime import; ``from pkg import submodule`` names the submodule."""
    is_package = f"{module}.__init__" in known or any(k.startswith(module + ".") for k in known)
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node)
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield (candidate if candidate in known else target), node.lineno


def private_uses(tree: ast.Module, own_private_names: set[str]) -> Iterator[str]:
    """Private modules imported, private names imported from outside regauth, private attributes read."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != "regauth" and any(p.startswith("_") and not p.startswith("__") for p in parts):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "__future__" or node.module.split(".")[0] == "regauth":
                continue
            if any(part.startswith("_") for part in node.module.split(".")):
                yield f"line {node.lineno}: from {node.module} import ..."
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"line {node.lineno}: from {node.module} import {alias.name}"
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in PUBLIC_UNDERSCORE_ATTRIBUTES:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if name in own_private_names:
                continue
            yield f"line {node.lineno}: .{name}"


def own_private_names(trees: dict[str, ast.Module]) -> set[str]:
    """Every ``_name`` regauth itself defines (functions, classes, attributes, module globals)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    # __slots__ strings and dataclass fields are covered by the Store/AnnAssign cases above.
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def rank_of(module: str) -> int | None:
    for prefix, rank in RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def package_of(module: str) -> str:
    for prefix in RANKS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return module


def layering_violations(trees: dict[str, ast.Module]) -> list[str]:
    known = set(trees)
    found: list[str] = []
    for module, tree in trees.items():
        if module in UNRANKED:
            continue
        own = rank_of(module)
        if own is None:
            found.append(f"{module}: not in RANKS (add it to a package or give it a rank)")
            continue
        for target, line in sorted(set(imports_of(module, tree, known))):
            if not target.startswith("regauth"):
                continue
            if target in UNRANKED:
                found.append(f"{module}:{line} imports {target} (only the front door imports it)")
                continue
            if package_of(target) == package_of(module):
                continue
            rank = rank_of(target)
            if rank is None or rank >= own:
                found.append(f"{module}:{line} imports {target} (rank {rank} is not below {own})")
    return found


def cycles(trees: dict[str, ast.Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    known = set(trees)
    graph = {
        module: sorted({t for t, _ in imports_of(module, tree, known) if t in known and t != "regauth"})
        for module, tree in trees.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is a few dozen modules deep at most
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


# -- the rules, applied to the source ------------------------------------------------------------


def test_no_private_python_modules_or_attributes() -> None:
    trees = source_modules()
    own = own_private_names(trees)
    found = [f"{module}: {use}" for module, tree in trees.items() for use in private_uses(tree, own)]
    assert found == []


def test_packages_import_only_lower_layers() -> None:
    assert layering_violations(source_modules()) == []


def test_no_import_cycles() -> None:
    assert cycles(source_modules()) == []


def test_no_module_is_much_over_500_lines() -> None:
    long = {
        module_name(path): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 550
    }
    assert long == {}


def test_sources_cite_only_what_the_repository_holds() -> None:
    """Comments point at docs/ or upstream, never at files outside the repository or at the tracker."""
    import re

    outside = re.compile(
        r"(?<!docs/)(docker-behaviour|observed|peers|hub-web-login)\.md|\bissue \d+|\(issue \d+|§"
    )
    found = [
        f"{path.relative_to(SRC.parent)}:{n}"
        for root in ("src", "tests", "bench", "fuzz")
        for path in sorted((SRC.parent / root).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line) and path.name != "test_architecture.py"
    ]
    assert found == []


# -- the checkers see what they must -------------------------------------------------------------

BAD_SAMPLE = '''
import _ssl
import json
from argparse import _SubParsersAction
from json import decoder
import sys
def f(parser):
    sys._getframe()
    return parser._actions
'''


def test_the_private_api_checker_sees_private_uses() -> None:
    uses = list(private_uses(ast.parse(BAD_SAMPLE), set()))
    assert sorted(use.split(": ", 1)[1] for use in uses) == [
        "._actions",
        "._getframe",
        "from argparse import _SubParsersAction",
        "import _ssl",
    ]


def test_the_cycle_checker_sees_a_cycle() -> None:
    trees = {
        "regauth.stores.a": ast.parse("from regauth.stores import b\n"),
        "regauth.stores.b": ast.parse("import regauth.api.c\n"),
        "regauth.api.c": ast.parse("def f():\n    from regauth.stores.a import x\n"),
        "regauth.api.d": ast.parse("if TYPE_CHECKING:\n    import regauth.api.c\n"),
    }
    assert cycles(trees) == [["regauth.api.c", "regauth.stores.a", "regauth.stores.b"]]


def test_the_layer_checker_sees_an_upward_import() -> None:
    trees = {
        "regauth.registry.flow": ast.parse("from regauth.transport.session import send\n"),
        "regauth.transport.session": ast.parse("from regauth.registry import flow\n"),
        "regauth.registry": ast.parse(""),
        "regauth.transport": ast.parse(""),
    }
    assert layering_violations(trees) == [
        "regauth.registry.flow:1 imports regauth.transport.session (rank 4 is not below 1)"
    ]


@pytest.mark.parametrize("name", ["regauth.registry.flow", "regauth.cli.main", "regauth"])
def test_every_module_has_a_rank_or_is_the_front_door(name: str) -> None:
    assert name in UNRANKED or rank_of(name) is not None
