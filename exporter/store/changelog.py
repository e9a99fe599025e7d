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

import functools
import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, update

from exporter.store import samples
from exporter.store.records import ScanChanges, ScanRecord
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
    counts: dict[str, samples.Counts] | None = None
    """The last scan's pod counts (None after a reload: the frame's are used)."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """The last `ScanRecord`'s policies, findings and exposures as given: a scan that
    hands in equal tuples changed nothing there, and is not diffed key by key."""
    unreadable: frozenset[str] = frozenset()
    policies_sha256: str = ""


@dataclass(frozen=True, slots=True)
class _Kind:
    table: Table
    key_columns: tuple[str, ...]
    state_columns: tuple[str, ...]
    attr: str


NAMESPACES = _Kind(
    namespace_intervals,
    ("namespace",),
    (
        "ingress_default_deny",
        "egress_default_deny",
        "exposures",
        "internet_egress_workloads",
        "labels",
    ),
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


@functools.lru_cache(maxsize=4096)
def _exposures_json(items: tuple[tuple[str, int], ...]) -> str:
    return json.dumps({clean(k): int(v) for k, v in items if v}, sort_keys=True)


def exposures_json(counts: Mapping[str, int]) -> str:
    """Canonical JSON of one namespace's exposure counts (few distinct values: cached)."""
    return _exposures_json(tuple(sorted(counts.items()))) if counts else "{}"


@functools.lru_cache(maxsize=4096)
def _labels_json(items: tuple[tuple[str, str], ...]) -> str:
    return clean(json.dumps(dict(items), sort_keys=True, ensure_ascii=False))


def labels_json(labels: Mapping[str, str] | None) -> str | None:
    """Canonical JSON of one namespace's labels (any key or value storable: control
    characters are JSON escapes, lone surrogates backslash escapes); None: not recorded."""
    if labels is None:
        return None
    return _labels_json(tuple(sorted((str(k), str(v)) for k, v in labels.items())))


def _storable(keys: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """`keys` with every string passed through `clean`; checked in one pass over all
    of them first, since nearly every scan holds only plain ASCII names."""
    blob = "\x01".join(map("\x01".join, keys))
    if blob.isascii() and "\x00" not in blob:
        return keys
    return [tuple(clean(v) for v in key) for key in keys]


def _namespaces(record: ScanRecord) -> dict[Any, Any]:
    ns = record.namespaces
    return dict(
        zip(
            _storable([(n.namespace,) for n in ns]),
            [
                (
                    n.ingress_default_deny,
                    n.egress_default_deny,
                    exposures_json(n.exposure),
                    int(n.internet_egress_workloads),
                    labels_json(n.labels),
                )
                for n in ns
            ],
            strict=True,
        )
    )


def _policies(record: ScanRecord) -> dict[Any, Any]:
    pol = record.policies
    return dict(
        zip(
            _storable([(p.kind, p.api_version, p.namespace, p.name) for p in pol]),
            [(p.sha256,) for p in pol],
            strict=True,
        )
    )


def _findings(record: ScanRecord) -> dict[Any, Any]:
    return dict.fromkeys(
        _storable(
            [(f.namespace, f.check, f.severity, f.object, f.message) for f in record.findings]
        ),
        (),
    )


def _exposures(record: ScanRecord) -> dict[Any, Any]:
    return dict.fromkeys(
        _storable([(e.namespace, e.object, e.category) for e in record.exposures]), ()
    )


BUILDERS: dict[str, Callable[[ScanRecord], dict[Any, Any]]] = {
    "namespaces": _namespaces,
    "policies": _policies,
    "findings": _findings,
    "exposures": _exposures,
}


def scan_state(record: ScanRecord) -> dict[str, dict[Any, Any]]:
    """What the scan saw, per kind: key -> state (keys and states as stored)."""
    return {attr: build(record) for attr, build in BUILDERS.items()}


def pod_counts(record: ScanRecord) -> dict[str, samples.Counts]:
    ns = record.namespaces
    return dict(
        zip(
            [key[0] for key in _storable([(n.namespace,) for n in ns])],
            [(int(n.pods), int(n.ingress_isolated_pods), int(n.egress_isolated_pods)) for n in ns],
            strict=True,
        )
    )


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
    state.counts = dict(state.frame.counts) if state.frame is not None else None
    return state


def _state(kind: _Kind, values: tuple[Any, ...]) -> tuple[Any, ...]:
    if kind is NAMESPACES:
        idd, edd, exposures, internet, labels = values
        return (
            None if idd is None else bool(idd),
            None if edd is None else bool(edd),
            str(exposures),
            int(internet),
            None if labels is None else str(labels),
        )
    return tuple(values)


def load_frame(conn: Connection, cluster: str, at: float | None) -> samples.Frame | None:
    """The pod counts of `cluster` in force at `at` (default: the latest): the last full
    frame at or before it, with the partial frames after it laid over."""
    s, n = pod_samples, pod_sample_names
    last_full = select(func.max(s.c.at)).where(s.c.cluster == cluster, s.c.full.is_(True))
    if at is not None:
        last_full = last_full.where(s.c.at <= at)
    full_at = conn.execute(last_full).scalar()
    if full_at is None:
        return None
    query = (
        select(s.c.at, s.c.counts, n.c.names)
        .join(n, (n.c.cluster == s.c.cluster) & (n.c.sha256 == s.c.names_sha256))
        .where(s.c.cluster == cluster, s.c.at >= full_at)
        .order_by(s.c.at, s.c.full.desc(), s.c.id)
    )
    if at is not None:
        query = query.where(s.c.at <= at)
    counts: dict[str, samples.Counts] = {}
    latest = float(full_at)
    for row in conn.execute(query):
        counts.update(samples.decode(row.names, row.counts))
        latest = float(row.at)
    return samples.Frame(float(full_at), counts, latest)


@dataclass(slots=True)
class Applied:
    """What one scan changed (after commit it becomes the cluster's open state)."""

    state: OpenState
    opened: int = 0
    closed: int = 0


Diff = tuple[Open, list[int], list[tuple[Any, Any]]]
"""(open intervals after the scan, ids to close, (key, state) to open)."""


def apply(
    conn: Connection,
    insert_ignore: Callable[[Table], Any],
    cluster: str,
    scan_id: int,
    record: ScanRecord,
    previous: OpenState,
    sample_interval: float,
    known_same: frozenset[str] = frozenset(),
) -> Applied:
    """Write the differences between `previous` and the scan; returns the new state.
    `known_same`: kinds the caller already found equal to the previous scan's input.

    `previous` is not modified (a rollback must leave it valid for a reload check)."""
    unreadable = frozenset(clean(k) for k in record.unreadable_kinds)
    inputs = {
        "policies": record.policies,
        "findings": record.findings,
        "exposures": record.exposures,
    }
    diffs: dict[str, Diff] = {}
    for kind in KINDS:
        old: Open = getattr(previous, kind.attr)
        given = inputs.get(kind.attr)
        if (
            given is not None
            and previous.unreadable == unreadable
            and (kind.attr in known_same or previous.inputs.get(kind.attr) == given)
        ):
            diffs[kind.attr] = (old, [], [])  # the same as last time: nothing to compare
            continue
        keep: Callable[[Any], bool] | None = None
        if kind is POLICIES and unreadable:
            keep = lambda key: key[0] in unreadable  # noqa: E731 - not seen, not gone
        diffs[kind.attr] = _diff(old, BUILDERS[kind.attr](record), keep)
    applied = _write(
        conn, insert_ignore, cluster, scan_id, record.started_at, previous, diffs,
        pod_counts(record), sample_interval,
    )  # fmt: skip
    applied.state.inputs = inputs
    applied.state.unreadable = unreadable
    return applied


def apply_changes(
    conn: Connection,
    insert_ignore: Callable[[Table], Any],
    cluster: str,
    scan_id: int,
    changes: ScanChanges,
    previous: OpenState,
    sample_interval: float,
) -> Applied:
    """As `apply`, for a scan given as its differences from the previous one.

    Unlike `apply`, this updates `previous` in place: on failure the caller must drop
    it (Store does, and reloads from the database)."""
    upserts = scan_state(
        ScanRecord(
            cluster, changes.started_at, 0.0, True,
            namespaces=changes.namespaces, policies=changes.policies,
            findings=changes.findings_opened, exposures=changes.exposures_added,
        )
    )  # fmt: skip
    removals: dict[str, set[Any]] = {
        "namespaces": {(clean(n),) for n in changes.namespaces_gone},
        "policies": {tuple(clean(v) for v in key) for key in changes.policies_gone},
        "findings": set(
            scan_state(ScanRecord(cluster, 0.0, 0.0, True, findings=changes.findings_resolved))[
                "findings"
            ]
        ),
        "exposures": set(
            scan_state(ScanRecord(cluster, 0.0, 0.0, True, exposures=changes.exposures_removed))[
                "exposures"
            ]
        ),
    }
    diffs = {
        kind.attr: _diff_delta(getattr(previous, kind.attr), upserts[kind.attr],
                               removals[kind.attr])
        for kind in KINDS
    }  # fmt: skip
    counts = dict(previous.counts if previous.counts is not None else {})
    for (name,) in removals["namespaces"]:
        counts.pop(name, None)
    counts.update({clean(n): tuple(c) for n, c in changes.pods.items()})  # type: ignore[misc]
    counts.update(pod_counts(ScanRecord(cluster, 0.0, 0.0, True, namespaces=changes.namespaces)))
    return _write(
        conn, insert_ignore, cluster, scan_id, changes.started_at, previous, diffs, counts,
        sample_interval,
    )  # fmt: skip


def _write(
    conn: Connection,
    insert_ignore: Callable[[Table], Any],
    cluster: str,
    scan_id: int,
    at: float,
    previous: OpenState,
    diffs: Mapping[str, Diff],
    counts: dict[str, samples.Counts],
    sample_interval: float,
) -> Applied:
    baseline = previous.scan_id is None
    result = Applied(OpenState(scan_id))
    for kind in KINDS:
        merged, closes, opens = diffs[kind.attr]
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
    touched = {key[0] for key, _ in diffs[NAMESPACES.attr][2]}
    result.state.counts = counts
    result.state.frame = previous.frame
    planned = samples.plan(previous.frame, counts, at, sample_interval, touched)
    if planned is not None:
        full, written = planned
        names = sorted(written)
        digest, names_blob = samples.names_blob(names)
        conn.execute(
            insert_ignore(pod_sample_names),
            [{"cluster": cluster, "sha256": digest, "names": names_blob}],
        )
        conn.execute(
            pod_samples.insert().values(
                cluster=cluster,
                at=at,
                full=full,
                names_sha256=digest,
                counts=samples.counts_blob(names, written),
            )
        )
        result.state.frame = samples.after(previous.frame, full, written, at)
    return result


def _diff_delta(old: Open, upserts: Mapping[Any, Any], removals: set[Any]) -> Diff:
    """Applied to `old` in place (a year of scans would otherwise copy every open
    interval every scan): the writer drops its copy if the transaction fails."""
    merged = old
    closes: list[int] = []
    opens: list[tuple[Any, Any]] = []
    for key in removals:
        if key in merged:
            closes.append(merged.pop(key)[0])
    for key, value in upserts.items():
        current = merged.get(key)
        if current is not None and current[1] == value:
            continue
        if current is not None:
            closes.append(merged.pop(key)[0])
        opens.append((key, value))
    return merged, closes, opens


def _diff(old: Open, new: Mapping[Hashable, Any], keep: Callable[[Any], bool] | None) -> Diff:
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
