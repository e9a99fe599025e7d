"""The pure core imports only the standard library and itself (docs/architecture.md, Layering).

import-linter guards the named third-party packages; this test closes the gap for
anything else a future change might pull into `exporter.core`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "exporter" / "core"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_only_stdlib_and_core(path: Path) -> None:
    foreign = [
        name
        for name in _imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and not (name == "exporter.core" or name.startswith("exporter.core."))
    ]
    assert foreign == [], f"{path.name} imports outside the standard library and core: {foreign}"


def test_the_layering_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml\nfrom exporter.sources import manifests\nimport json\n")
    assert _imports(bad) == ["yaml", "exporter.sources", "json"]
