"""The whole-cluster connectivity (precomputed per-class maps and rule targets) must
give exactly what the one-connection path (`Engine.connection`, used by explain)
gives, for every pair, on every mixed-API scenario and ANP golden case."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.core.engine import Engine
from exporter.core.ports import NONE
from exporter.sources.manifests import load_manifests

TESTS = Path(__file__).parents[1]
CASES = sorted(p for p in (TESTS / "scenarios").glob("mixed-*") if p.is_dir()) + sorted(
    p / "input" for p in (TESTS / "fixtures" / "netpol-analyzer").glob("anp_*") if p.is_dir()
)


@pytest.mark.parametrize(
    "case", CASES, ids=lambda p: p.parent.name if p.name == "input" else p.name
)
@pytest.mark.parametrize("plugin", [None, "cilium", "calico", "generic"])
def test_connectivity_equals_pairwise_connection(case: Path, plugin: str | None) -> None:
    result = load_manifests(sorted(case.rglob("*.yaml")))
    engine = Engine(result.snapshot, network_plugin=plugin)
    fast = {(id(s), id(d)): p for s, d, p in engine.class_connectivity()}
    endpoints = [*engine.classes, *engine.atoms]
    for src in endpoints:
        for dst in endpoints:
            if src is dst or (src in engine.atoms and dst in engine.atoms):
                continue
            slow = engine.connection(src, dst)[0]
            assert fast.get((id(src), id(dst)), NONE) == slow, (src, dst)
