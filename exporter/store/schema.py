"""The tables of the scan history (schema 3; labels: 5): scans, intervals, pod-count samples.

- `scans`: one small row per scan, successful or not (the only thing a scan that
  changed nothing writes, with its cluster's `cluster_heads` row).
- `cluster_heads`: per cluster, the last successful scan applied to the intervals and
  the time of the last pod-count sample. Writers lock this row (PostgreSQL `FOR
  UPDATE`), so two instances recording the same cluster queue instead of interleaving,
  and a writer knows whether its in-memory copy of the open intervals is still current.
- `*_intervals`: one row per state of one thing, [start_at, end_at); end_at NULL while
  open. `baseline` marks rows opened by a cluster's first successful scan: what was
  already there when netfence started watching, not a change.
- `pod_samples` + `pod_sample_names`: the volatile counts (pods, isolated pods) as
  periodic frames (see exporter.store.samples).

Names are unbounded text (see exporter.store.text); indexes never cover them, so no
length can overflow an index entry.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

migrations_table = Table(
    "netfence_schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", Float, nullable=False),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("namespaces", Integer, nullable=False, default=0),
    Column("pods", Integer, nullable=False, default=0),
    Column("findings", Integer, nullable=False, default=0),
    Column("policies", Integer, nullable=False, default=0),
    Column("policies_sha256", String(64), nullable=False, default=""),
    Column("input_errors", Integer, nullable=False, default=0),
    Column("version", Text, nullable=False, default=""),
    # added by migration 3
    Column("degraded", Boolean, nullable=False, default=False),
    Column("interval_seconds", Float, nullable=False, default=0.0),
    Index("ix_scans_cluster_started", "cluster", "started_at"),
    Index("ix_scans_started", "started_at"),
)

cluster_heads = Table(
    "cluster_heads",
    metadata,
    Column("cluster", Text, primary_key=True),
    Column("scan_id", Integer, nullable=True),  # last successful scan in the intervals
    Column("at", Float, nullable=True),
    Column("sample_at", Float, nullable=True),
)


def _interval(name: str, *columns: Column[object]) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("cluster", Text, nullable=False),
        Column("start_at", Float, nullable=False),
        Column("end_at", Float, nullable=True),
        Column("start_scan", Integer, nullable=False),
        Column("end_scan", Integer, nullable=True),
        Column("baseline", Boolean, nullable=False, default=False),
        *columns,
        Index(f"ix_{name}_start", "cluster", "start_at"),
        Index(f"ix_{name}_end", "cluster", "end_at"),
    )


namespace_intervals = _interval(
    "namespace_intervals",
    Column("namespace", Text, nullable=False),
    Column("ingress_default_deny", Boolean, nullable=True),
    Column("egress_default_deny", Boolean, nullable=True),
    Column("exposures", Text, nullable=False, default="{}"),
    Column("internet_egress_workloads", Integer, nullable=False, default=0),
    # added by migration 5: canonical JSON of the labels; NULL: not recorded
    Column("labels", Text, nullable=True),
)

policy_intervals = _interval(
    "policy_intervals",
    Column("kind", Text, nullable=False),
    Column("api_version", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
)

finding_intervals = _interval(
    "finding_intervals",
    Column("namespace", Text, nullable=False),
    Column("check", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("object", Text, nullable=False),
    Column("message", Text, nullable=False),
)

exposure_intervals = _interval(
    "exposure_intervals",
    Column("namespace", Text, nullable=False),
    Column("object", Text, nullable=False),
    Column("category", Text, nullable=False),
)

INTERVAL_TABLES = (namespace_intervals, policy_intervals, finding_intervals, exposure_intervals)

pod_samples = Table(
    "pod_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("full", Boolean, nullable=False),
    Column("names_sha256", String(64), nullable=False),
    Column("counts", LargeBinary, nullable=False),
    Index("ix_pod_samples_cluster_at", "cluster", "at"),
)

pod_sample_names = Table(
    "pod_sample_names",
    metadata,
    Column("cluster", Text, primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("names", LargeBinary, nullable=False),
)

SCHEMA_3_TABLES = (cluster_heads, *INTERVAL_TABLES, pod_samples, pod_sample_names)
