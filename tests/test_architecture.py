"""The package's shape: no import cycles, and each stage's API is its subpackage's ``__init__``."""

import ast
import importlib
from pathlib import Path

import pytest

from tests._helpers import REPO

PACKAGE = REPO / "workbench"
STAGES = ("data", "labeling", "generate", "curate", "learn", "evaluate", "review", "export", "pipeline")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (REPO / name.replace(".", "/") / "__init__.py").exists()


def imported_modules(path: Path, name: str) -> set[str]:
    """Every workbench module ``path`` imports, at the top or inside functions.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, so those count too: a
    cycle through a package's ``__init__`` breaks imports as surely as a direct one.
    """
    found: set[str] = set()
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            if not target.startswith("workbench"):
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if is_package(candidate) or (REPO / (candidate.replace(".", "/") + ".py")).exists():
                    found.add(candidate)
    # A module's own packages are already being imported when it runs: importing a sibling
    # through them is no cycle. The front door imports the stages, never the reverse (checked below).
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return found - ancestors - {name}


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p, module_name(p)) for p in PACKAGE.rglob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_there_is_no_import_cycle_inside_workbench():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle_and_counts_package_inits():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # the pipeline's stages import workbench.curate._registry, which runs workbench/curate/__init__ first
    stages = PACKAGE / "pipeline" / "_stages.py"
    assert {"workbench.curate", "workbench.curate._registry"} <= imported_modules(stages, "workbench.pipeline._stages")


def test_no_module_imports_the_front_door():
    offenders = [m for m, p in ((module_name(p), p) for p in PACKAGE.rglob("*.py"))
                 if m != "workbench" and any(
                     isinstance(n, ast.ImportFrom) and n.module == "workbench" and n.level == 0
                     for n in ast.walk(ast.parse(p.read_text())))]
    assert offenders == []


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_exports_exactly_what_its_all_lists(stage):
    module = importlib.import_module(f"workbench.{stage}")
    assert module.__all__ == sorted(set(module.__all__))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_front_door_names_resolve():
    import workbench

    assert all(getattr(workbench, name) is not None for name in workbench.__all__)
