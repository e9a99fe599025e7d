"""Turning one scan into interval changes: the write half of the history.

A successful scan is compared with the open intervals of its cluster (what the previous
successful scan saw); only what differs is written: an interval that no longer holds is
closed (`end_at`, `end_scan`), a new state opens a new interval. A scan that changed
nothing writes no interval row at all. Failed scans never get here.

The open intervals of a cluster are kept in memory between scans and checked against
the cluster's head row (the id of the last scan applied), which every write locks: if
another process wrote the cluster meanwhile, or a transaction was rolled back, the copy
is reloaded from the database. The copy is only replaced after the transaction commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update

from exporter.store import samples
from exporter.store.records import ScanRecord
from exporter.store.schema import (
    exposure_intervals,
    finding_intervals,
    namespace_intervals,
    pod_sample_names,
    pod_samples,
    policy_intervals,
)
from exporter.store.text import clean

Open = dict[Any, tuple[int, Any]]
"""key -> (interval id, state) of one kind's open intervals."""


@dataclass(slots=True)
class OpenState:
    """One cluster's open intervals and last pod-count frame, as of scan `scan_id`."""

    scan_id: int | None
    namespaces: Open = field(default_factory=dict)
    policies: Open = field(default_factory=dict)
    findings: Open = field(default_factory=dict)
    exposures: Open = field(default_factory=dict)
    frame: samples.Frame | None = None


@dataclass(frozen=True, slots=True)
class _Kind:
    table: Table
    key_columns: tuple[str, ...]
    state_columns: tuple[str, ...]
    attr: str


NAMESPACES = _Kind(
    namespace_intervals,
    ("namespace",),
    ("ingress_default_deny", "egress_default_deny", "exposures", "internet_egress_workloads"),
    "namespaces",
)
POLICIES = _Kind(
    policy_intervals, ("kind", "api_version", "namespace", "name"), ("sha256",), "policies"
)
FINDINGS = _Kind(
    finding_intervals, ("namespace", "check", "severity", "object", "message"), (), "findings"
)
EXPOSURES = _Kind(exposure_intervals, ("namespace", "object", "category"), (), "exposures")
KINDS = (NAMESPACES, POLICIES, FINDINGS, EXPOSURES)


def exposures_json(counts: Mapping[str, int]) -> str:
    return json.dumps({clean(k): int(v) for k, v in sorted(counts.items()) if v}, sort_keys=True)


def scan_state(record: ScanRecord) -> dict[str, dict[Any, Any]]:
    """What the scan saw, per kind: key -> state (keys and states as stored)."""
    namespaces = {
        (clean(n.namespace),): (
            n.ingress_default_deny,
            n.egress_default_deny,
            exposures_json(n.exposure),
            int(n.internet_egress_workloads),
        )
        for n in record.namespaces
    }
    policies = {
        (clean(p.kind), clean(p.api_version), clean(p.namespace), clean(p.name)): (p.sha256,)
        for p in record.policies
    }
    findings = {
        (
            clean(f.namespace),
            clean(f.check),
            clean(f.severity),
            clean(f.object),
            clean(f.message),
        ): ()
        for f in record.findings
    }
    exposures = {
        (clean(e.namespace), clean(e.object), clean(e.category)): () for e in record.exposures
    }
    return {
        "namespaces": namespaces,
        "policies": policies,
        "findings": findings,
        "exposures": exposures,
    }


def pod_counts(record: ScanRecord) -> dict[str, samples.Counts]:
    return {
        clean(n.namespace): (int(n.pods), int(n.ingress_isolated_pods), int(n.egress_isolated_pods))
        for n in record.namespaces
    }


def load_open(conn: Connection, cluster: str, scan_id: int | None) -> OpenState:
    state = OpenState(scan_id)
    for kind in KINDS:
        t = kind.table
        cols = [t.c.id, *(t.c[c] for c in kind.key_columns), *(t.c[c] for c in kind.state_columns)]
        rows = conn.execute(select(*cols).where(t.c.cluster == cluster, t.c.end_at.is_(None)))
        nk = len(kind.key_columns)
        target: Open = getattr(state, kind.attr)
        for row in rows:
            values = tuple(row)
            target[values[1 : 1 + nk]] = (int(values[0]), _state(kind, values[1 + nk :]))
    state.frame = load_frame(conn, cluster, None)
    return state


def _state(kind: _Kind, values: tuple[Any, ...]) -> tuple[Any, ...]:
    if kind is NAMESPACES:
        idd, edd, exposures, internet = values
        return (
            None if idd is None else bool(idd),
            None if edd is None else bool(edd),
            str(exposures),
            int(internet),
        )
    return tuple(values)


def load_frame(conn: Connection, cluster: str, at: float | None) -> samples.Frame | None:
    """The latest pod-count frame of `cluster` (at or before `at` when given)."""
    s, n = pod_samples, pod_sample_names
    query = (
        select(s.c.at, s.c.counts, n.c.names)
        .join(n, (n.c.cluster == s.c.cluster) & (n.c.sha256 == s.c.names_sha256))
        .where(s.c.cluster == cluster)
        .order_by(s.c.at.desc(), s.c.id.desc())
        .limit(1)
    )
    if at is not None:
        query = query.where(s.c.at <= at)
    row = conn.execute(query).first()
    return None if row is None else samples.decode(float(row.at), row.names, row.counts)


@dataclass(slots=True)
class Applied:
    """What one scan changed (after commit it becomes the cluster's open state)."""

    state: OpenState
    opened: int = 0
    closed: int = 0


def apply(
    conn: Connection,
    insert_ignore: Callable[[Table], Any],
    cluster: str,
    scan_id: int,
    record: ScanRecord,
    previous: OpenState,
    sample_interval: float,
) -> Applied:
    """Write the differences between `previous` and the scan; returns the new state.

    `previous` is not modified (a rollback must leave it valid for a reload check)."""
    at = record.started_at
    baseline = previous.scan_id is None
    seen = scan_state(record)
    unreadable = {clean(k) for k in record.unreadable_kinds}
    result = Applied(OpenState(scan_id))
    for kind in KINDS:
        old: Open = getattr(previous, kind.attr)
        new = seen[kind.attr]
        keep: Callable[[Any], bool] | None = None
        if kind is POLICIES and unreadable:
            keep = lambda key: key[0] in unreadable  # noqa: E731 - not seen, not gone
        merged, closes, opens = _diff(old, new, keep)
        if closes:
            t = kind.table
            conn.execute(
                update(t)
                .where(t.c.id == bindparam("_id"))
                .values(end_at=bindparam("_end"), end_scan=bindparam("_scan")),
                [{"_id": i, "_end": at, "_scan": scan_id} for i in closes],
            )
        if opens:
            t = kind.table
            rows = [
                {
                    "cluster": cluster,
                    "start_at": at,
                    "start_scan": scan_id,
                    "baseline": baseline,
                    **dict(zip(kind.key_columns, key, strict=True)),
                    **dict(zip(kind.state_columns, value, strict=True)),
                }
                for key, value in opens
            ]
            ids = conn.execute(
                t.insert().returning(t.c.id, sort_by_parameter_order=True), rows
            ).scalars()
            for (key, value), new_id in zip(opens, ids, strict=True):
                merged[key] = (int(new_id), value)
        setattr(result.state, kind.attr, merged)
        result.opened += len(opens)
        result.closed += len(closes)
    counts = pod_counts(record)
    result.state.frame = previous.frame
    if samples.due(previous.frame, counts, at, sample_interval):
        names = sorted(counts)
        digest, names_blob = samples.names_blob(names)
        conn.execute(
            insert_ignore(pod_sample_names),
            [{"cluster": cluster, "sha256": digest, "names": names_blob}],
        )
        conn.execute(
            pod_samples.insert().values(
                cluster=cluster,
                at=at,
                names_sha256=digest,
                counts=samples.counts_blob(names, counts),
            )
        )
        result.state.frame = samples.Frame(at, counts)
    return result


def _diff(
    old: Open, new: Mapping[Hashable, Any], keep: Callable[[Any], bool] | None
) -> tuple[Open, list[int], list[tuple[Any, Any]]]:
    merged: Open = {}
    closes: list[int] = []
    for key, (interval, value) in old.items():
        seen = new.get(key, _MISSING)
        if (seen is _MISSING and keep is not None and keep(key)) or seen == value:
            merged[key] = (interval, value)
        else:
            closes.append(interval)
    opens = [(k, v) for k, v in new.items() if k not in merged]
    return merged, closes, opens


_MISSING = object()


def tally(record: ScanRecord) -> dict[str, Any]:
    """The scan row's counts."""
    return {
        "namespaces": len(record.namespaces),
        "pods": sum(int(n.pods) for n in record.namespaces),
        "findings": len(record.findings),
        "policies": len(record.policies),
    }
