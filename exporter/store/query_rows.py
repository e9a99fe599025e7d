"""Row decoding, change events and time sweeps behind the history read API (queries.py).

Kept apart from `HistoryQueries` so the query methods read as queries; nothing here
opens a connection of its own except `_last_scan_per_day`, which takes one.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, and_, or_, select

from exporter.core.exposure import Category
from exporter.core.history import (
    Change,
    ChangeKind,
    ScanInfo,
)
from exporter.store.schema import (
    scans,
)

DAY = 86400.0
CATEGORIES = tuple(str(c) for c in Category)
DIRECTIONS = ("ingress", "egress")
Segment = tuple[float, float]


_ORDER = {kind: i for i, kind in enumerate(ChangeKind)}


def scan_fields(r: Any) -> dict[str, Any]:
    """The fields of a `scans` row that every reading of it shares: `ScanInfo` (the
    read contract) is exactly these; the store's own `StoredScan` adds its id, input
    error count and interval."""
    return {
        "cluster": str(r["cluster"]),
        "started_at": float(r["started_at"]),
        "duration_seconds": float(r["duration_seconds"]),
        "success": bool(r["success"]),
        "error": str(r["error"]),
        "namespaces": int(r["namespaces"]),
        "pods": int(r["pods"]),
        "findings": int(r["findings"]),
        "policies": int(r["policies"]),
        "policies_sha256": str(r["policies_sha256"]),
        "version": str(r["version"]),
        "degraded": bool(r["degraded"]),
    }


def _scan_info(r: Any) -> ScanInfo:
    return ScanInfo(**scan_fields(r))


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _labels(value: Any) -> dict[str, str] | None:
    """Stored labels (canonical JSON) -> a mapping; NULL (not recorded) -> None."""
    return None if value is None else {str(k): str(v) for k, v in json.loads(value).items()}


def _categories(counts: dict[str, int]) -> list[str]:
    return [*CATEGORIES, *sorted(k for k in counts if k not in CATEGORIES)]


@functools.lru_cache(maxsize=4096)
def _exposure_counts(raw: str) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = json.loads(raw or "{}")
    return tuple((c, int(counts.get(c, 0))) for c in _categories(counts))


def _exposures(raw: str) -> dict[str, int]:
    return dict(_exposure_counts(raw))


def _covering(t: Table, cluster: str, at: float, *columns: Any) -> Any:
    """The intervals of `cluster` in force at `at`."""
    return select(*columns).where(
        t.c.cluster == cluster,
        t.c.start_at <= at,
        or_(t.c.end_at.is_(None), t.c.end_at > at),
    )


def _touching(
    conn: Any, t: Table, cluster: str | None, since: float, until: float, namespace: str | None
) -> list[Any]:
    """Intervals that start or end in [since, until)."""
    starts = and_(t.c.start_at >= since, t.c.start_at < until)
    ends = and_(t.c.end_at >= since, t.c.end_at < until)
    rows = []
    for condition in (starts, ends):
        query = select(t).where(condition)
        if cluster is not None:
            query = query.where(t.c.cluster == cluster)
        if namespace is not None:
            query = query.where(t.c.namespace == namespace)
        rows += conn.execute(query).all()
    return list({r.id: r for r in rows}.values())


def _events(
    rows: Iterable[Any],
    since: float,
    until: float,
    key: Callable[[Any], Any],
    opened: Callable[[Any], Change],
    closed: Callable[[Any], Change],
    replaced: Callable[[Any, Any], list[Change]],
) -> list[Change]:
    """Pairs an interval closed by scan S with the one of the same key opened by S."""
    by_end = {(r.cluster, key(r), r.end_scan): r for r in rows if r.end_scan is not None}
    successors: set[int] = set()
    out: list[Change] = []
    for r in rows:
        if not since <= r.start_at < until or r.baseline:
            continue
        old = by_end.get((r.cluster, key(r), r.start_scan))
        if old is None:
            out.append(opened(r))
        else:
            successors.add(old.id)
            out += replaced(old, r)
    for r in rows:
        if r.end_at is None or not since <= r.end_at < until or r.id in successors:
            continue
        out.append(closed(r))
    return out


def _policy(r: Any) -> str:
    return f"{r.kind}/{r.namespace}/{r.name}" if r.namespace else f"{r.kind}/{r.name}"


def _kind_name(subject: str) -> str:
    """ "NetworkPolicy/payments/default-deny" -> "NetworkPolicy payments/default-deny"."""
    kind, _, rest = subject.partition("/")
    return f"{kind} {rest}"


def _default_deny_changes(old: Any, new: Any, cause: str) -> list[Change]:
    out = []
    for direction in DIRECTIONS:
        before = _bool(old._mapping[f"{direction}_default_deny"])
        after = _bool(new._mapping[f"{direction}_default_deny"])
        if before == after:
            continue
        kind = (
            ChangeKind.DEFAULT_DENY_UNKNOWN
            if after is None
            else ChangeKind.DEFAULT_DENY_GAINED
            if after
            else ChangeKind.DEFAULT_DENY_LOST
        )
        out.append(
            Change(new.start_at, new.cluster, kind, new.namespace, direction, direction, cause)
        )
    return out


def _overlap(covered: Sequence[Segment], a: float, b: float) -> float:
    """Length of [a, b) inside the sorted, disjoint segments."""
    if b <= a or not covered:
        return 0.0
    i = max(0, bisect.bisect_right(covered, (a, float("inf"))) - 1)
    total = 0.0
    while i < len(covered) and covered[i][0] < b:
        lo, hi = max(a, covered[i][0]), min(b, covered[i][1])
        if hi > lo:
            total += hi - lo
        i += 1
    return total


def _last_scan_per_day(conn: Any, cluster: str, since: float, until: float) -> list[Any]:
    """(UTC day, time, pods) of each day's last successful scan in [since, until)."""
    query = (
        select(scans.c.started_at, scans.c.pods)
        .where(
            scans.c.cluster == cluster,
            scans.c.success.is_(True),
            scans.c.started_at >= since,
            scans.c.started_at < until,
        )
        .order_by(scans.c.started_at, scans.c.id)
    )
    last: dict[float, tuple[float, float, int]] = {}
    for at, pods in conn.execute(query):
        day = float(at) - float(at) % DAY
        last[day] = (day, float(at), int(pods))
    return list(last.values())


class _Sums:
    __slots__ = ("deny", "exposures", "internet", "namespaces", "unknown")

    def __init__(self) -> None:
        self.namespaces = 0
        self.deny = [0, 0]
        self.unknown = [0, 0]
        self.exposures: dict[str, int] = {}
        self.internet = 0

    def copy(self) -> _Sums:
        c = _Sums()
        c.namespaces, c.deny, c.unknown = self.namespaces, list(self.deny), list(self.unknown)
        c.exposures, c.internet = dict(self.exposures), self.internet
        return c

    def add(self, row: Any, sign: int) -> None:
        self.namespaces += sign
        for i, value in enumerate((row[2], row[3])):
            if value is None:
                self.unknown[i] += sign
            elif value:
                self.deny[i] += sign
        for k, v in json.loads(row[4] or "{}").items():
            self.exposures[k] = self.exposures.get(k, 0) + sign * int(v)
        self.internet += sign * int(row[5])


def _sweep(rows: Sequence[Any], moments: Sequence[float]) -> dict[float, _Sums]:
    """Totals of the namespace intervals covering each moment (moments sorted)."""
    starts = sorted(rows, key=lambda r: r[0])
    ends = sorted((r for r in rows if r[1] is not None), key=lambda r: r[1])
    sums, out = _Sums(), {}
    i = j = 0
    for at in moments:
        while i < len(starts) and starts[i][0] <= at:
            sums.add(starts[i], +1)
            i += 1
        while j < len(ends) and ends[j][1] <= at:
            sums.add(ends[j], -1)
            j += 1
        out[at] = sums.copy()
    return out
