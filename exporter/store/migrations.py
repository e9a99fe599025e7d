"""Schema migrations of the scan history, applied in order by `Store.migrate`.

1. scans with per-scan snapshots (namespaces, exposures, findings, policy digests);
2. hourly Hubble roll-ups and last use of exposures (exporter.store.flows);
3. the change log: every stored snapshot is replayed, oldest first, through the same
   code that records a live scan (exporter.store.changelog), so the intervals, policy
   versions and pod-count samples are what recording those scans today would have
   written; failed scans stay as scan rows. The snapshot tables are then dropped.
   Exposures were stored as per-namespace counts only, so migrated history has those
   counts (in the namespace intervals) but no object-by-object exposure intervals
   before the first scan recorded by schema 3.
4. the last use of each policy Hubble names as allowing a connection, and when flows were
   first counted per cluster (exporter.store.flows; stale policies).
5. namespace labels in the namespace intervals (`labels`, canonical JSON). Rows written
   before have NULL: labels not recorded, so a control scoped by a label selector cannot
   place those namespaces ("not verifiable"). The next scan of each cluster records the
   labels (a new namespace interval; no change event, default-deny is unchanged).

Append only; never edit a released migration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, inspect, select, text

from exporter.store import changelog
from exporter.store.flows import flow_exposure_use, flow_hourly, flow_observed, flow_policy_use
from exporter.store.flows import metadata as flow_tables
from exporter.store.legacy import (
    SNAPSHOT_TABLES,
    scan_exposures,
    scan_findings,
    scan_namespaces,
    scan_policies,
    scans_v1,
)
from exporter.store.legacy import metadata as legacy_tables
from exporter.store.records import FindingRow, NamespaceRow, PolicyDigest, ScanRecord
from exporter.store.schema import SCHEMA_3_TABLES, cluster_heads
from exporter.store.schema import metadata as current_tables

DEFAULT_SAMPLE_INTERVAL = 3600.0


def insert_ignore(conn: Connection) -> Callable[[Table], Any]:
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda table: pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda table: sqlite_insert(table).on_conflict_do_nothing()


def _v1(conn: Connection) -> None:
    legacy_tables.create_all(conn, tables=[scans_v1, *SNAPSHOT_TABLES])


def _v2(conn: Connection) -> None:
    flow_tables.create_all(conn, tables=[flow_hourly, flow_exposure_use])


def _v3(conn: Connection) -> None:
    postgres = conn.dialect.name == "postgresql"
    false = "false" if postgres else "0"
    conn.execute(text(f"ALTER TABLE scans ADD COLUMN degraded BOOLEAN NOT NULL DEFAULT {false}"))
    conn.execute(text("ALTER TABLE scans ADD COLUMN interval_seconds FLOAT NOT NULL DEFAULT 0"))
    if postgres:  # names of any length (exporter.store.text)
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("ALTER TABLE scans ALTER COLUMN cluster TYPE TEXT"))
        conn.execute(text("ALTER TABLE scans ALTER COLUMN version TYPE TEXT"))
    current_tables.create_all(conn, tables=list(SCHEMA_3_TABLES))
    ignore = insert_ignore(conn)
    clusters = conn.execute(select(scans_v1.c.cluster).distinct()).scalars().all()
    for cluster in clusters:
        state = changelog.OpenState(None)
        last_at: float | None = None
        ids = conn.execute(
            select(scans_v1.c.id, scans_v1.c.started_at)
            .where(scans_v1.c.cluster == cluster, scans_v1.c.success.is_(True))
            .order_by(scans_v1.c.started_at, scans_v1.c.id)
        ).all()
        for scan_id, started_at in ids:
            record = _snapshot(conn, str(cluster), int(scan_id), float(started_at))
            applied = changelog.apply(
                conn, ignore, str(cluster), int(scan_id), record, state, DEFAULT_SAMPLE_INTERVAL
            )
            state = applied.state
            last_at = float(started_at)
        conn.execute(
            cluster_heads.insert().values(
                cluster=cluster,
                scan_id=state.scan_id,
                at=last_at,
                sample_at=None if state.frame is None else state.frame.full_at,
            )
        )
    for table in reversed(SNAPSHOT_TABLES):
        table.drop(conn)


def _v4(conn: Connection) -> None:
    flow_tables.create_all(conn, tables=[flow_policy_use, flow_observed])


def _v5(conn: Connection) -> None:
    # Migration 3 creates the interval tables from the current schema: a store migrated
    # from 1 or 2 by this version already has the column.
    columns = {c["name"] for c in inspect(conn).get_columns("namespace_intervals")}
    if "labels" not in columns:
        conn.execute(text("ALTER TABLE namespace_intervals ADD COLUMN labels TEXT"))


def _snapshot(conn: Connection, cluster: str, scan_id: int, at: float) -> ScanRecord:
    exposure: dict[str, dict[str, int]] = {}
    for r in conn.execute(select(scan_exposures).where(scan_exposures.c.scan_id == scan_id)):
        exposure.setdefault(r.namespace, {})[r.exposure] = int(r._mapping["count"])
    namespaces = tuple(
        NamespaceRow(
            namespace=r.namespace,
            pods=int(r.pods),
            ingress_default_deny=bool(r.ingress_default_deny),
            egress_default_deny=bool(r.egress_default_deny),
            ingress_isolated_pods=int(r.ingress_isolated_pods),
            egress_isolated_pods=int(r.egress_isolated_pods),
            exposure=exposure.get(r.namespace, {}),
            internet_egress_workloads=int(r.internet_egress_workloads),
        )
        for r in conn.execute(select(scan_namespaces).where(scan_namespaces.c.scan_id == scan_id))
    )
    findings = tuple(
        FindingRow(r.namespace, r.check, r.severity, r.object, r.message)
        for r in conn.execute(select(scan_findings).where(scan_findings.c.scan_id == scan_id))
    )
    policies = tuple(
        PolicyDigest(r.kind, r.api_version, r.namespace, r.name, r.sha256)
        for r in conn.execute(select(scan_policies).where(scan_policies.c.scan_id == scan_id))
    )
    return ScanRecord(
        cluster, at, 0.0, True, namespaces=namespaces, findings=findings, policies=policies
    )


# (version, description, apply). Append only; never edit a released migration.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "scans with namespaces, exposures, findings and policy digests", _v1),
    (2, "hourly Hubble verdict roll-ups and last use of exposures", _v2),
    (3, "history as a change log: intervals, policy versions, pod-count samples", _v3),
    (4, "last use of each policy Hubble names as allowing traffic (stale policies)", _v4),
    (5, "namespace labels in the namespace intervals (label-scoped controls)", _v5),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
