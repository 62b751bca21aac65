"""The import direction of docs/DESIGN.md: capture -> pose -> geometry -> measure -> pipeline
-> store -> services -> api / web / cli, assembled by sotmeasure.app. A module may import
only packages to its left; api and web never import each other (every import counts, also
one inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sotmeasure"

#: package -> packages (and top-level modules) of sotmeasure it must not import
FORBIDDEN: dict[str, set[str]] = {
    "capture": {"store", "jobs", "services", "api", "web", "cli", "app"},
    "measure": {"store", "jobs", "services", "api", "web", "cli", "app"},
    "store": {"jobs", "services", "api", "web", "cli", "app"},
    "jobs": {"services", "api", "web", "cli", "app"},
    "services": {"api", "web", "cli", "app"},
    "report": {"store", "jobs", "api", "web", "cli", "app"},
    "api": {"web", "cli", "app"},
    "web": {"api", "cli", "app"},
}


def _imports(path: Path) -> set[str]:
    """The sotmeasure packages a module imports (`sotmeasure.x...` -> `x`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sotmeasure" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package: str) -> None:
    wrong = {
        str(path.relative_to(SRC)): sorted(_imports(path) & FORBIDDEN[package])
        for path in sorted((SRC / package).rglob("*.py"))
        if "migrations" not in path.parts
    }
    assert {name: bad for name, bad in wrong.items() if bad} == {}


def test_services_do_not_know_the_web_framework() -> None:
    for path in (SRC / "services").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not modules & {"fastapi", "starlette"}, path
