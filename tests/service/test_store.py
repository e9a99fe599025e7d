"""The history store, on SQLite and on a real PostgreSQL (see conftest.postgres_url)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from exporter.config import ClusterConfig
from exporter.core.flows import RollupRow
from exporter.serve.clusters import Cluster, SourceRead, manifests_reader
from exporter.serve.scans import Scanner, policy_digests
from exporter.sources.manifests import read_objects
from exporter.store import (
    SCHEMA_VERSION,
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanRecord,
    Store,
    StoreError,
)
from exporter.store.sql import engine_url, policies_digest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"

DAY = 86400.0


def _record(cluster: str, at: float, namespaces: int = 2) -> ScanRecord:
    return ScanRecord(
        cluster=cluster,
        started_at=at,
        duration_seconds=0.25,
        success=True,
        namespaces=tuple(
            NamespaceRow(f"ns-{i}", 3, True, i % 2 == 0, 3, 1, {"internet": i, "ingress": 1}, i)
            for i in range(namespaces)
        ),
        findings=(FindingRow("ns-0", "no-default-deny", "high", "Namespace/ns-0", "m"),),
        policies=(PolicyDigest("NetworkPolicy", "networking.k8s.io/v1", "ns-0", "p", "a" * 64),),
        version="test",
    )


def test_a_scan_round_trips(store_url: str) -> None:
    store = Store.open(store_url, clock=lambda: 10 * DAY)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        scan_id = store.record(_record("prod", 10 * DAY, namespaces=3))
        (stored,) = store.scans("prod")
        assert stored.id == scan_id and stored.success and stored.namespaces == 3
        assert stored.pods == 9 and stored.findings == 1 and stored.policies == 1
        assert stored.policies_sha256 == policies_digest(store.policies(scan_id))
        rows = store.namespaces(scan_id)
        assert [r.namespace for r in rows] == ["ns-0", "ns-1", "ns-2"]
        assert rows[2].exposure == {"internet": 2, "ingress": 1}
        assert rows[0].exposure == {"ingress": 1}  # zero counts are not stored
        assert rows[1].internet_egress_workloads == 1 and not rows[1].egress_default_deny
        assert store.findings(scan_id)[0].check == "no-default-deny"
        assert store.policies(scan_id)[0].sha256 == "a" * 64
        assert store.scans("other") == []
    finally:
        store.close()


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    first = Store.open(store_url, clock=time.time)
    first.record(_record("a", 1.0))
    first.close()
    again = Store.open(store_url, clock=time.time)  # a restart: nothing re-applied, data kept
    try:
        assert again.schema_version() == SCHEMA_VERSION
        assert len(again.scans()) == 1
        assert {"scans", "scan_namespaces", "netfence_schema_migrations"} <= set(again.tables())
    finally:
        again.close()
    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO netfence_schema_migrations (version, description, applied_at) "
                "VALUES (999, 'from the future', 0)"
            )
        )
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this netfence"):
        Store.open(store_url, clock=time.time)


def test_retention_prunes_old_scans(store_url: str) -> None:
    now = 1000 * DAY
    store = Store.open(store_url, clock=lambda: now)
    try:
        for age in (500, 401, 399, 1):
            store.record(_record("c", now - age * DAY))
        assert store.prune(400) == 2
        assert [round((now - s.started_at) / DAY) for s in store.scans()] == [399, 1]
        # children went with their scans
        engine = create_engine(engine_url(store_url))
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT COUNT(DISTINCT scan_id) FROM scan_namespaces")
            ).scalar()
        engine.dispose()
        assert left == 2
    finally:
        store.close()


def test_concurrent_writers(store_url: str) -> None:
    """Many clusters (threads) and many instances (stores) writing to one database."""
    stores = [Store.open(store_url, clock=time.time) for _ in range(3)]
    errors: list[BaseException] = []

    def write(store: Store, cluster: str) -> None:
        try:
            for i in range(5):
                store.record(_record(cluster, float(i), namespaces=20))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(stores[i % 3], f"c{i}")) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        scans = stores[0].scans()
        assert len(scans) == 30 and len({s.id for s in scans}) == 30
    finally:
        for s in stores:
            s.close()


def test_policy_digest_is_the_same_from_a_file_and_from_the_api() -> None:
    raws, _ = read_objects([DEMO])
    from_files = policy_digests(raws)
    assert from_files and all(len(p.sha256) == 64 for p in from_files)
    # as the API server would return them: extra metadata, status, managed fields
    api_like = []
    for r in raws:
        obj = dict(r.obj)
        obj["metadata"] = {**obj["metadata"], "resourceVersion": "42", "uid": "x", "generation": 3}
        obj["status"] = {}
        api_like.append(type(r)(obj, "https://api/x"))
    assert policy_digests(api_like) == from_files


_KILL_SCRIPT = """
import sys, time
from exporter.store import NamespaceRow, ScanRecord, Store
store = Store.open(sys.argv[1], clock=time.time)
rows = tuple(NamespaceRow(f"ns-{i}", 1, True, True, 1, 1) for i in range(200))
i = 0
while True:
    store.record(ScanRecord("killed", float(i), 0.1, True, namespaces=rows))
    i += 1
    print(i, flush=True)
"""


def test_kill_9_loses_at_most_the_scan_in_flight(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    written = 0
    deadline = time.monotonic() + 30
    while written < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        written = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert written >= 5, "the writer did not get going"
    store = Store.open(url, clock=time.time)  # restart: recovers the WAL, goes on
    try:
        scans = store.scans("killed")
        assert written <= len(scans) <= written + 1
        for scan in scans:  # every recorded scan is whole
            assert len(store.namespaces(scan.id)) == 200
        store.record(_record("killed", 1e9))
        assert len(store.scans("killed")) == len(scans) + 1
    finally:
        store.close()


def test_the_service_records_every_scan(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}", clock=lambda: 5000.0)
    calls = {"n": 0}
    good = manifests_reader(ClusterConfig("demo", manifests=(DEMO,)))

    def flaky() -> SourceRead:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("API server went away")
        return good()

    svc = Scanner([Cluster("demo", flaky, "test")], store, clock=lambda: 5000.0)
    assert svc.scan("demo") is not None
    assert svc.scan("demo") is None
    try:
        first, second = store.scans("demo")
        assert first.success and first.namespaces == 10 and first.policies > 0
        assert not second.success and "went away" in second.error
        assert len(store.policies(first.id)) == first.policies
    finally:
        store.close()


def test_a_version_1_store_gains_the_flow_tables(store_url: str) -> None:
    """A store written before the Hubble roll-ups (schema 1) is migrated in place."""
    Store.open(store_url, clock=time.time).close()
    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:  # back to what netfence with schema 1 left behind
        conn.execute(text("DROP TABLE flow_hourly"))
        conn.execute(text("DROP TABLE flow_exposure_use"))
        conn.execute(text("DELETE FROM netfence_schema_migrations WHERE version = 2"))
    engine.dispose()
    store = Store.open(store_url, clock=time.time)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 2
        assert {"flow_hourly", "flow_exposure_use"} <= set(store.tables())
    finally:
        store.close()


def test_retention_prunes_old_flow_rollups(store_url: str) -> None:
    now = 1000 * DAY
    store = Store.open(store_url, clock=lambda: now)
    try:
        rows = [
            RollupRow(int(now - age * DAY), "connection", "shop", "ingress", "dropped",
                      "POLICY_DENIED", "default-deny", "batch", 2)
            for age in (401, 399)
        ]  # fmt: skip
        store.flows.add_rollups("c", "0", rows)
        store.prune(400)
        (left,) = store.flows.denied("c", 0, int(now))
        assert left.hour == int(now - 399 * DAY) and left.count == 2
    finally:
        store.close()


def test_flow_rollups_and_exposure_use_on_each_database(store_url: str) -> None:
    """The Hubble tables on SQLite and on PostgreSQL: increments add up per hour, and the
    last use of an exposure only moves forward."""
    store = Store.open(store_url, clock=time.time)
    try:
        flows = store.flows
        hour = 1_700_002_800
        row = RollupRow(hour, "connection", "shop", "ingress", "dropped", "POLICY_DENIED",
                        "default-deny", "batch", 3)  # fmt: skip
        flows.add_rollups("c", "0", [row])
        flows.add_rollups("c", "1", [row])  # another shard, the same hour
        (point,) = flows.denied("c", hour, hour + 3600)
        assert point.count == 6 and point.policy == "default-deny"
        flows.record_exposure_use("c", {("shop", "cart", "web"): hour, ("a", "b", "c"): hour})
        flows.record_exposure_use("c", {("shop", "cart", "web"): hour + 3600})
        flows.record_exposure_use("c", {("a", "b", "c"): hour - 3600})  # older: ignored
        assert flows.exposure_use("c") == {
            ("shop", "cart", "web"): hour + 3600,
            ("a", "b", "c"): hour,
        }
        assert flows.exposure_use("other") == {}
    finally:
        store.close()
