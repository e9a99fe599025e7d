"""The history store, on SQLite and on a real PostgreSQL (see conftest.postgres_url)."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from exporter.config import ClusterConfig
from exporter.core.flows import RollupRow
from exporter.core.history import ChangeKind
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
    legacy,
)
from exporter.store.migrations import MIGRATIONS
from exporter.store.scan_history import engine_url, policies_digest
from exporter.store.schema import migrations_table

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
        record = _record("prod", 10 * DAY, namespaces=3)
        scan_id = store.record(record)
        (stored,) = store.scans("prod")
        assert stored.id == scan_id and stored.success and stored.namespaces == 3
        assert stored.pods == 9 and stored.findings == 1 and stored.policies == 1
        assert stored.policies_sha256 == policies_digest(record.policies)
        state = store.history.state_at("prod", 10 * DAY)
        assert state.scan is not None and state.scan.started_at == 10 * DAY
        rows = state.namespaces
        assert [r.namespace for r in rows] == ["ns-0", "ns-1", "ns-2"]
        assert rows[2].exposures["internet"] == 2 and rows[2].exposures["ingress"] == 1
        assert rows[0].exposures["internet"] == 0  # every category, zeros too
        assert rows[1].internet_egress_workloads == 1 and rows[1].egress_default_deny is False
        assert rows[0].pods == 3 and rows[0].ingress_isolated_pods == 3
        assert state.findings[0].check == "no-default-deny"
        assert state.policies[0].sha256 == "a" * 64 and state.policies[0].since == 10 * DAY
        assert store.scans("other") == []
        assert store.history.state_at("other", 10 * DAY).scan is None
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
        assert {"scans", "namespace_intervals", "netfence_schema_migrations"} <= set(again.tables())
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
        # nothing changed since the first scan: every interval is open, none pruned
        state = store.history.state_at("c", now)
        assert len(state.namespaces) == 2 and len(state.policies) == 1
        assert state.policies[0].since == now - 500 * DAY
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


_SCENE = """
from exporter.store import NamespaceRow, PolicyDigest, ScanRecord

def scene(i):
    # scan i of the killed cluster: every scan changes some intervals
    namespaces = tuple(
        NamespaceRow(f"ns-{j}", 1 + (i + j) % 5, (i + j) // 7 % 2 == 0, True, 1, 1)
        for j in range(200)
    )
    policies = tuple(
        PolicyDigest("NetworkPolicy", "networking.k8s.io/v1", f"ns-{j}", "p",
                     f"{(i // 3 if j == i % 100 else 0):064d}")
        for j in range(100)
    )
    return ScanRecord("killed", 1000.0 + 300 * i, 0.1, True, namespaces=namespaces,
                      policies=policies, interval_seconds=300)
"""

_KILL_SCRIPT = (
    _SCENE
    + """
import sys, time
from exporter.store import Store
store = Store.open(sys.argv[1], clock=time.time, sample_interval=0)
done = store.scans("killed")
i = round((done[-1].started_at - 1000.0) / 300) + 1 if done else 0
while True:
    store.record(scene(i))
    print(i, flush=True)
    i += 1
"""
)


def _open_duplicates(url: str) -> list[tuple[str, int]]:
    """Keys with more than one open interval (must be none)."""
    engine = create_engine(engine_url(url))
    keys = {
        "namespace_intervals": "namespace",
        "policy_intervals": "kind, api_version, namespace, name",
    }
    try:
        with engine.connect() as conn:
            return [
                (table, int(n))
                for table, key in keys.items()
                for (n,) in conn.execute(
                    text(
                        f"SELECT COUNT(*) FROM {table} WHERE end_at IS NULL "
                        f"GROUP BY cluster, {key} HAVING COUNT(*) > 1"
                    )
                )
            ]
    finally:
        engine.dispose()


def test_kill_9_loses_at_most_the_scan_in_flight(tmp_path: Path) -> None:
    """Repeated kill -9 while intervals are being written: every committed scan is
    whole, the open intervals are exactly the last scan's state, the database passes
    its integrity check, and the next scan continues the same intervals."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    scope: dict[str, Any] = {}
    exec(_SCENE, scope)
    scene = scope["scene"]
    rng = random.Random(13)
    last = -1
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILL_SCRIPT, url], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        printed = last
        deadline = time.monotonic() + 60
        while printed < last + 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed = int(line)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside a later write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for line in proc.stdout.read().split():  # what it printed while we slept
            printed = int(line)
        assert printed >= last + 3, "the writer did not get going"
        store = Store.open(url, clock=time.time)
        try:
            recorded = store.scans("killed")
            assert printed + 1 <= len(recorded) <= printed + 2  # the one in flight, or not
            last = len(recorded) - 1
        finally:
            store.close()
    engine = create_engine(engine_url(url))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    assert _open_duplicates(url) == []
    store = Store.open(url, clock=time.time)
    try:
        expected = scene(last)
        state = store.history.state_at("killed", expected.started_at)
        assert state.scan is not None and state.scan.started_at == expected.started_at
        assert [(n.namespace, n.ingress_default_deny) for n in state.namespaces] == sorted(
            (n.namespace, n.ingress_default_deny) for n in expected.namespaces
        )
        assert {(p.namespace, p.sha256) for p in state.policies} == {
            (p.namespace, p.sha256) for p in expected.policies
        }
        starts = {n.namespace: n for n in state.namespaces}
        again = dataclasses.replace(expected, started_at=expected.started_at + 300)
        store.record(again)  # the next scan, unchanged: it continues every interval
        after = store.history.state_at("killed", again.started_at)
        assert {p.since for p in after.policies} == {p.since for p in state.policies}
        assert [n.namespace for n in after.namespaces] == list(starts)
        assert store.history.changes("killed", again.started_at, again.started_at + 1) == []
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
        state = store.history.state_at("demo", 5000.0)
        assert len(state.policies) == first.policies and len(state.namespaces) == 10
        labels = {n.namespace: n.labels for n in state.namespaces}
        assert labels["payments"] is not None  # examples/demo-cluster/payments/namespace.yaml
        assert labels["payments"].items() >= {"team": "payments", "env": "prod"}.items()
        assert state.exposures, "exposures are recorded object by object"
        assert all("/" in e.object for e in state.exposures)
    finally:
        store.close()


def test_a_version_2_store_is_migrated_to_intervals(store_url: str) -> None:
    """Migration 3: snapshots become intervals, nothing a report reads is lost, and the
    snapshot tables are gone."""
    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:  # what netfence with schema 2 left behind
        migrations_table.create(conn)
        for version, _, apply in MIGRATIONS[:2]:
            apply(conn)
            conn.execute(migrations_table.insert().values(version=version, description="",
                                                          applied_at=0.0))  # fmt: skip
        for i, (at, ok, dd) in enumerate(
            [(1000.0, True, True), (1300.0, True, True), (1600.0, False, True),
             (1900.0, True, False), (2200.0, True, False)]
        ):  # fmt: skip
            scan_id = conn.execute(
                legacy.scans_v1.insert()
                .values(cluster="old", started_at=at, duration_seconds=1.0, success=ok,
                        error="" if ok else "boom", namespaces=2, pods=5)
                .returning(legacy.scans_v1.c.id)
            ).scalar_one()  # fmt: skip
            if not ok:
                continue
            conn.execute(legacy.scan_namespaces.insert(), [
                {"scan_id": scan_id, "namespace": "a", "pods": 2 + i,
                 "ingress_default_deny": dd, "egress_default_deny": True,
                 "ingress_isolated_pods": 2, "egress_isolated_pods": 2,
                 "internet_egress_workloads": 0},
                {"scan_id": scan_id, "namespace": "b", "pods": 3,
                 "ingress_default_deny": False, "egress_default_deny": False,
                 "ingress_isolated_pods": 0, "egress_isolated_pods": 0,
                 "internet_egress_workloads": 1},
            ])  # fmt: skip
            conn.execute(legacy.scan_exposures.insert().values(
                scan_id=scan_id, namespace="b", exposure="internet", count=1))  # fmt: skip
            conn.execute(legacy.scan_policies.insert().values(
                scan_id=scan_id, seq=0, kind="NetworkPolicy",
                api_version="networking.k8s.io/v1", namespace="a", name="default-deny",
                sha256=("1" if dd else "2") * 64))  # fmt: skip
            conn.execute(legacy.scan_findings.insert().values(
                scan_id=scan_id, seq=0, namespace="b", check="no-default-deny",
                severity="high", object="Namespace/b", message="m"))  # fmt: skip
    engine.dispose()
    store = Store.open(store_url, clock=lambda: 2500.0)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 5
        tables = set(store.tables())
        assert not tables & {"scan_namespaces", "scan_exposures", "scan_findings",
                             "scan_policies"}  # fmt: skip
        assert [s.success for s in store.scans("old")] == [True, True, False, True, True]
        history = store.history
        before = history.state_at("old", 1700.0)
        assert before.scan is not None and before.scan.started_at == 1300.0
        a, b = before.namespaces
        assert a.ingress_default_deny is True and b.exposures["internet"] == 1
        assert a.labels is None and b.labels is None  # schema 2 kept no labels: unknown
        assert b.internet_egress_workloads == 1 and a.pods == 2  # sampled at 1000
        assert before.findings[0].object == "Namespace/b"
        after = history.state_at("old", 2200.0)
        assert after.namespaces[0].ingress_default_deny is False
        assert after.policies[0].sha256 == "2" * 64 and after.policies[0].since == 1900.0
        kinds = [(c.kind, c.namespace, c.subject) for c in history.changes("old", 0, 3000)]
        assert kinds == [
            (ChangeKind.DEFAULT_DENY_LOST, "a", "ingress"),
            (ChangeKind.POLICY_MODIFIED, "a", "NetworkPolicy/a/default-deny"),
        ]
        # a restart: nothing re-applied
        store.close()
        store = Store.open(store_url, clock=lambda: 2500.0)
        assert len(store.scans("old")) == 5
        # and the next scan continues the migrated intervals
        store.record(ScanRecord("old", 2500.0, 1.0, True, namespaces=(
            NamespaceRow("a", 2, False, True, 2, 2),
            NamespaceRow("b", 3, False, False, 0, 0, {"internet": 1}, 1),
        ), policies=(PolicyDigest("NetworkPolicy", "networking.k8s.io/v1", "a",
                                  "default-deny", "2" * 64),),
           findings=(FindingRow("b", "no-default-deny", "high", "Namespace/b", "m"),),
        ))  # fmt: skip
        assert history.changes("old", 2400.0, 3000.0) == []
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


def test_policy_last_use_and_observation_start_on_each_database(store_url: str) -> None:
    """Migration 4 (stale policies): a policy's last use only moves forward, and the start
    of observation is the first write's, never moved by later ones."""
    store = Store.open(store_url, clock=time.time)
    try:
        flows = store.flows
        hour = 1_700_002_800
        assert flows.policy_use("c") == ({}, None)
        flows.record_policy_use("c", {("shop", "p"): (5, hour), ("", "ccnp"): (1, hour)}, 100.0)
        flows.record_policy_use("c", {("shop", "p"): (9, hour + 3600)}, 200.0)
        flows.record_policy_use("c", {("", "ccnp"): (2, hour - 3600)}, 300.0)  # older: kept
        assert flows.policy_use("c") == ({("shop", "p"): hour + 3600, ("", "ccnp"): hour}, 100)
        assert flows.policy_use("other") == ({}, None)
    finally:
        store.close()
