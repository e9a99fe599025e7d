"""`netfence serve` freezes what a scan leaves alive (issue 11: scrapes waited up to
seconds behind the collector walking the scan's millions of objects once it was
re-enabled). Freezing is only safe if scans leave no cyclic garbage: frozen objects are
still freed by reference counting, but cycles among them would never be collected."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.config import ClusterConfig
from exporter.serve.clusters import Cluster, manifests_reader
from exporter.serve.scans import Scanner

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def _scanner(freeze: bool) -> Scanner:
    cluster = Cluster("demo", manifests_reader(ClusterConfig("demo", manifests=(DEMO,))), "t")
    return Scanner([cluster], freeze_heap=freeze)


def test_a_scan_leaves_no_cyclic_garbage(unfrozen: None) -> None:
    scanner = _scanner(freeze=False)
    scanner.scan("demo")  # imports, caches and first-use allocations happen here
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            assert scanner.scan("demo") is not None
        garbage = gc.collect()
    finally:
        gc.enable()
    # A handful of objects (a logging record's exception state, say) is noise; a scan
    # that built cyclic structures per namespace or per policy would leave one per
    # object at least (30 and more here).
    assert garbage < 10, garbage


def test_serve_scans_freeze_what_they_leave_alive(unfrozen: None) -> None:
    scanner = _scanner(freeze=True)
    gc.collect()
    assert gc.get_freeze_count() == 0
    result = scanner.scan("demo")
    assert result is not None and result.report.namespaces
    assert gc.isenabled()
    # The scan's result is out of the collector's sight: frozen, nothing left young.
    assert gc.get_freeze_count() > 10_000
    assert gc.get_count()[0] < 100
    before = gc.get_freeze_count()
    scanner.scan("demo")
    # The previous result, replaced, was freed by reference counting: the frozen
    # set does not grow scan after scan.
    assert gc.get_freeze_count() < before * 1.2


def test_plain_scanner_keeps_the_collector_as_it_was(unfrozen: None) -> None:
    scanner = _scanner(freeze=False)
    scanner.scan("demo")
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()
