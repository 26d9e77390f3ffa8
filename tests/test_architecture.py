"""The package's floor plan holds: layers one way, no import cycle, imports at the top.

``lint-imports`` (the contracts in ``pyproject.toml``) checks that no layer imports one
above it. Two things it does not see are checked here: a cycle *inside* a layer, and an
import of the app's own modules hidden inside a function, which is how cycles used to
be papered over.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "moderation"

#: Function-local imports of the app's own modules that stay, and why. Keys are
#: (module file relative to the repository, imported module).
LOCAL_IMPORT_ALLOWLIST: dict[tuple[str, str], str] = {
    ("moderation/__init__.py", "moderation.services"):
        "the package loads before Django's app registry; services imports the models",
    ("moderation/__init__.py", "moderation.scanning"):
        "importing the package (from a settings module) must not load Pillow and numpy",
    ("moderation/apps.py", "moderation.checks"):
        "apps.py loads before the models exist; checks are registered in ready()",
    ("moderation/apps.py", "moderation.signal_handlers"):
        "apps.py loads before the models exist; handlers are connected in ready()",
}
#: Modules that import torch at the top: reaching them from a function is the guard that
#: keeps the training sub-app's admin page and commands usable without the train extra.
TORCH_MODULES = ("moderation.training.backbone", "moderation.training.export",
                 "moderation.training.features", "moderation.training.heads",
                 "moderation.training.train", "moderation.training.trainable",
                 "moderation.training.aligned")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("moderation", exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _local_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every ``moderation`` import made inside a function body.

    ``from moderation.x import y`` yields ``moderation.x.y``: ``y`` may be a submodule.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "moderation" or node.module.startswith("moderation."):
                    for alias in node.names:
                        yield node.lineno, f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("moderation"):
                        yield node.lineno, alias.name


def test_import_layers_contract_is_kept() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_no_import_cycle_anywhere_in_the_app() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    """The checker itself: a graph with a cycle added back is reported."""
    graph = _graph()
    graph.add_import(importer="moderation.constants", imported="moderation.tasks")
    assert any("moderation.constants" in component for component in _cycles(graph))


def test_own_modules_are_imported_at_the_top() -> None:
    unexpected = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        for line, target in _local_imports(path):
            if any(rel == file and target.startswith(module)
                   for file, module in LOCAL_IMPORT_ALLOWLIST):
                continue
            if target.startswith(TORCH_MODULES) and rel.startswith("moderation/training/"):
                continue
            unexpected.append(f"{rel}:{line} imports {target} inside a function")
    assert not unexpected, "\n".join(unexpected)


def test_allowlist_entries_are_still_needed() -> None:
    """A stale allowlist entry would hide the next local import of the same module."""
    present = [
        (path.relative_to(ROOT).as_posix(), target)
        for path in PACKAGE.rglob("*.py") for _, target in _local_imports(path)
    ]
    stale = [entry for entry in LOCAL_IMPORT_ALLOWLIST
             if not any(rel == entry[0] and target.startswith(entry[1])
                        for rel, target in present)]
    assert not stale


def test_every_top_level_module_has_a_layer() -> None:
    """A new module outside the contract would be free to import anything."""
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layers = contract["tool"]["importlinter"]["contracts"][0]["layers"]
    named = {part.strip() for line in layers for part in line.replace("|", ":").split(":")}
    tops = {module.split(".")[1] for module in _graph().modules if module.count(".") >= 1}
    assert tops - named - {"migrations"} == set()
