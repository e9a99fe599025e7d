"""`connectivity` streamed a source namespace at a time (issue 11: 2,000 namespaces
were 1 GB held at once): the blocks, concatenated, are exactly the sorted list."""

from __future__ import annotations

from pathlib import Path

from exporter.core.connectivity import connectivity_blocks
from exporter.core.engine import Engine
from exporter.sources.manifests import load_manifests

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def test_blocks_are_one_source_namespace_each_and_sorted_overall() -> None:
    engine = Engine(load_manifests([DEMO]).snapshot)
    seen: list[tuple[int, int]] = []
    blocks = list(connectivity_blocks(engine, progress=lambda d, t: seen.append((d, t))))
    flat = [c for b in blocks for c in b]
    keys = [(c.src, c.dst) for c in flat]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert len(blocks) > 5
    for block in blocks:
        sources = {c.src.split("/")[0] if "[" in c.src else "(outside)" for c in block}
        assert len(sources) == 1, sources
    assert seen[-1] == (len(engine.classes_by_ns), len(engine.classes_by_ns))
