"""`connectivity(engine, EndpointFilter(namespaces=...))`, which narrows the engine's
walk itself, is exactly the full list restricted to connections
with a workload of those namespaces at one end (what `netfence diff` compares)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from exporter.core.connectivity import Connection, EndpointFilter, connectivity
from exporter.core.engine import Engine
from exporter.sources.manifests import load_manifests

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ROOT / "examples" / "demo-cluster",
    *sorted(
        p
        for p in (ROOT / "tests" / "scenarios").iterdir()
        if (p / "expected-connectivity.json").is_file()
    ),
]


def _namespace(endpoint: str) -> str | None:
    return endpoint.split("/", 1)[0] if endpoint.endswith("]") else None


def _involves(c: Connection, namespaces: set[str]) -> bool:
    return _namespace(c.src) in namespaces or _namespace(c.dst) in namespaces


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_subset_equals_filtered_full_list(case: Path) -> None:
    paths = sorted(case.rglob("*.yaml")) if case.parent.name == "scenarios" else [case]
    engine = Engine(load_manifests(paths).snapshot)
    full = connectivity(engine)
    assert full, case.name
    names = sorted({c.namespace for c in engine.classes})
    subsets = [set(s) for n in (1, 2) for s in itertools.combinations(names, n)][:12]
    for subset in [*subsets, set(names)]:
        expected = [c for c in full if _involves(c, subset)]
        keep = EndpointFilter(namespaces=tuple(sorted(subset)))
        assert connectivity(engine, keep) == expected, (case.name, subset)
