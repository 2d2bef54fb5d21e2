"""The import direction of STYLE.md: core <- ingest, core <- retrieval <- evals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = frozenset(
    {"core", "ingest", "retrieval", "evals", "app", "cli", "bench", "tests", "scripts"}
)
# Which of our packages each package may import (itself always).
ALLOWED = {
    "core": frozenset(),
    "ingest": frozenset({"core"}),
    "retrieval": frozenset({"core"}),
    "evals": frozenset({"retrieval", "core"}),
}


def imported_packages(path: Path, package: str) -> set[str]:
    """Top-level names of our own packages that a module imports (relative imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # "from . import x" stays inside the package
                found.add(package)
            elif node.module:
                found.add(node.module.split(".")[0])
    return found & OURS


def test_imported_packages_reads_every_import_form(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import core.types\n"
        "import numpy as np\n"
        "from retrieval.search import x\n"
        "from . import sibling\n"
        "def f():\n"
        "    from evals import run\n",
        encoding="utf-8",
    )
    assert imported_packages(module, "ingest") == {"core", "retrieval", "ingest", "evals"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_layout_allows(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    allowed = ALLOWED[package] | {package}
    offending = {
        str(path.relative_to(REPO)): sorted(imported_packages(path, package) - allowed)
        for path in files
        if imported_packages(path, package) - allowed
    }
    assert offending == {}
