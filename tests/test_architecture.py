"""Every arrow one way: geo → layers; scripts → geo, layers; dashboard → geo, layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What each package may import from the project (besides itself).
ALLOWED = {
    "layers": set(),
    "geo": {"layers"},
    "dashboard": {"geo", "layers"},
    "scripts": {"geo", "layers", "dashboard"},
}


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for n in names:
            top = n.split(".")[0]
            if top in ALLOWED:
                found.add(top)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for top in _project_imports(path) - ALLOWED[package] - {package}:
            bad.append(f"{path.relative_to(ROOT)} imports {top}")
    assert bad == []


def test_nothing_but_the_entry_points_imports_scripts():
    importers = [
        str(p.relative_to(ROOT))
        for pkg in ("geo", "layers", "dashboard")
        for p in (ROOT / pkg).rglob("*.py")
        if "scripts" in _project_imports(p)
    ]
    assert importers == []
