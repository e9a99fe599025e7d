"""The snapshot tables of schemas 1 and 2, as released: only migrations use them.

Migration 1 created them and migration 3 converts their rows into intervals, then drops
them. Never edit these definitions: they describe databases that exist.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

scans_v1 = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", String(128), nullable=False),
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
    Column("version", String(64), nullable=False, default=""),
    Index("ix_scans_cluster_started", "cluster", "started_at"),
    Index("ix_scans_started", "started_at"),
)


def _scan_fk() -> Column[int]:
    return Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)


scan_namespaces = Table(
    "scan_namespaces",
    metadata,
    _scan_fk(),
    Column("namespace", String(253), primary_key=True),
    Column("pods", Integer, nullable=False),
    Column("ingress_default_deny", Boolean, nullable=False),
    Column("egress_default_deny", Boolean, nullable=False),
    Column("ingress_isolated_pods", Integer, nullable=False),
    Column("egress_isolated_pods", Integer, nullable=False),
    Column("internet_egress_workloads", Integer, nullable=False, default=0),
)

scan_exposures = Table(
    "scan_exposures",
    metadata,
    _scan_fk(),
    Column("namespace", String(253), primary_key=True),
    Column("exposure", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)

scan_findings = Table(
    "scan_findings",
    metadata,
    _scan_fk(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("namespace", String(253), nullable=False),
    Column("check", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("object", Text, nullable=False),
    Column("message", Text, nullable=False),
)

scan_policies = Table(
    "scan_policies",
    metadata,
    _scan_fk(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(128), nullable=False),
    Column("api_version", String(128), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("name", String(253), nullable=False),
    Column("sha256", String(64), nullable=False),
)

SNAPSHOT_TABLES = (scan_namespaces, scan_exposures, scan_findings, scan_policies)
