"""The history's read API: `HistoryQueries` implements exporter.core.history.HistoryReader.

What is exact and what is sampled (docs/history.md says more):
- default-deny per direction, exposures (per object and per namespace and category),
  internet-egress workloads, policy versions and findings are intervals: exact to the
  scan that saw them change;
- pods and isolated pods are the latest sample at or before the time asked
  (exporter.store.samples), at most one sample interval old; scan rows carry each
  scan's exact pod total.

Evidence and gaps: a successful scan at time s is evidence for [s, s + N x interval),
N = `gap_intervals` (default 3) and interval the cluster's scan interval (as recorded by
the scans, else the median spacing of its successful scans, else 5 minutes). Time in a
period not covered by such evidence is a gap (`gaps`); failed scans are no evidence.
Time after the store's clock ("now") is neither evidence nor gap.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Table, and_, func, or_, select

from exporter.core.exposure import Category
from exporter.core.history import (
    Change,
    ChangeKind,
    ClusterState,
    DailyPoint,
    DefaultDenyFraction,
    DeniedFlows,
    EvidenceGap,
    ExposureRecord,
    NamespaceState,
    OpenFinding,
    PolicyVersion,
    ScanInfo,
)
from exporter.store.changelog import load_frame
from exporter.store.flows import flow_hourly
from exporter.store.schema import (
    exposure_intervals,
    finding_intervals,
    namespace_intervals,
    policy_intervals,
    scans,
)

DAY = 86400.0
DEFAULT_INTERVAL = 300.0
CATEGORIES = tuple(str(c) for c in Category)
DIRECTIONS = ("ingress", "egress")
Segment = tuple[float, float]


class HistoryQueries:
    """Answers the history questions from the intervals, scans and samples."""

    def __init__(
        self, engine: Engine, clock: Callable[[], float], gap_intervals: float = 3.0
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.gap_intervals = gap_intervals

    # -- scans and evidence ---------------------------------------------------------

    def clusters(self) -> Sequence[str]:
        with self._engine.connect() as conn:
            found = set(conn.execute(select(scans.c.cluster).distinct()).scalars())
            found |= set(conn.execute(select(flow_hourly.c.cluster).distinct()).scalars())
        return sorted(str(c) for c in found)

    def scans(self, cluster: str | None, since: float, until: float) -> Sequence[ScanInfo]:
        query = (
            select(scans)
            .where(scans.c.started_at >= since, scans.c.started_at < until)
            .order_by(scans.c.started_at, scans.c.id)
        )
        if cluster is not None:
            query = query.where(scans.c.cluster == cluster)
        with self._engine.connect() as conn:
            return [_scan_info(r._mapping) for r in conn.execute(query)]

    def last_scan(self, cluster: str, at: float) -> ScanInfo | None:
        """The last successful scan at or before `at`."""
        query = (
            select(scans)
            .where(scans.c.cluster == cluster, scans.c.success.is_(True), scans.c.started_at <= at)
            .order_by(scans.c.started_at.desc(), scans.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _scan_info(row._mapping)

    def max_silence(self, cluster: str, since: float, until: float) -> float:
        """How long one successful scan counts as evidence (see the module doc)."""
        return self.gap_intervals * self._interval(cluster, since, until)

    def _interval(self, cluster: str, since: float, until: float) -> float:
        with self._engine.connect() as conn:
            recorded = conn.execute(
                select(func.max(scans.c.interval_seconds)).where(
                    scans.c.cluster == cluster,
                    scans.c.started_at >= since - 7 * DAY,
                    scans.c.started_at < until,
                )
            ).scalar()
            if recorded:
                return float(recorded)
            times = (
                conn.execute(
                    select(scans.c.started_at)
                    .where(scans.c.cluster == cluster, scans.c.success.is_(True))
                    .where(scans.c.started_at < until)
                    .order_by(scans.c.started_at.desc())
                    .limit(200)
                )
                .scalars()
                .all()
            )
        spacing = [a - b for a, b in itertools.pairwise(times) if a > b]
        return float(statistics.median(spacing)) if spacing else DEFAULT_INTERVAL

    def evidence(self, cluster: str, since: float, until: float) -> list[Segment]:
        """The parts of [since, min(until, now)) covered by successful scans, merged."""
        end = min(until, self._clock())
        if end <= since:
            return []
        silence = self.max_silence(cluster, since, until)
        ok = and_(scans.c.cluster == cluster, scans.c.success.is_(True))
        with self._engine.connect() as conn:
            before = conn.execute(
                select(func.max(scans.c.started_at)).where(
                    ok, scans.c.started_at < since, scans.c.started_at >= since - silence
                )
            ).scalar()
            times = (
                conn.execute(
                    select(scans.c.started_at)
                    .where(ok, scans.c.started_at >= since, scans.c.started_at < end)
                    .order_by(scans.c.started_at)
                )
                .scalars()
                .all()
            )
        starts = ([float(before)] if before is not None else []) + [float(t) for t in times]
        covered: list[Segment] = []
        for s in starts:
            a, b = max(s, since), min(s + silence, end)
            if b <= a:
                continue
            if covered and a <= covered[-1][1]:
                covered[-1] = (covered[-1][0], max(covered[-1][1], b))
            else:
                covered.append((a, b))
        return covered

    def gaps(self, cluster: str, since: float, until: float) -> Sequence[EvidenceGap]:
        end = min(until, self._clock())
        out: list[EvidenceGap] = []
        cursor = since
        for a, b in self.evidence(cluster, since, until):
            if a > cursor:
                out.append(EvidenceGap(cluster, cursor, a))
            cursor = b
        if end > cursor:
            out.append(EvidenceGap(cluster, cursor, end))
        return out

    # -- state at T -----------------------------------------------------------------

    def state_at(self, cluster: str, at: float) -> ClusterState:
        scan = self.last_scan(cluster, at)
        if scan is None:
            return ClusterState(cluster, at, None, evidence_gap=True)
        in_gap = at - scan.started_at >= self.max_silence(cluster, at - DAY, at + 1)
        n, p, f, e = namespace_intervals, policy_intervals, finding_intervals, exposure_intervals
        with self._engine.connect() as conn:
            frame = load_frame(conn, cluster, at)
            counts = frame.counts if frame is not None else {}
            namespaces = []
            rows = conn.execute(
                _covering(n, cluster, at, n.c.namespace, n.c.ingress_default_deny,
                          n.c.egress_default_deny, n.c.exposures, n.c.internet_egress_workloads)
            )  # fmt: skip
            for name, idd, edd, exposed, internet in rows:
                sample = counts.get(name)
                namespaces.append(
                    NamespaceState(
                        namespace=name,
                        ingress_default_deny=_bool(idd),
                        egress_default_deny=_bool(edd),
                        exposures=_exposures(exposed),
                        internet_egress_workloads=int(internet),
                        pods=None if sample is None else sample[0],
                        ingress_isolated_pods=None if sample is None else sample[1],
                        egress_isolated_pods=None if sample is None else sample[2],
                    )
                )
            policies = [
                PolicyVersion(*row)
                for row in conn.execute(
                    _covering(p, cluster, at, p.c.kind, p.c.api_version, p.c.namespace,
                              p.c.name, p.c.sha256, p.c.start_at)
                )
            ]  # fmt: skip
            findings = [
                OpenFinding(*row)
                for row in conn.execute(
                    _covering(f, cluster, at, f.c.namespace, f.c.check, f.c.severity,
                              f.c.object, f.c.message, f.c.start_at)
                )
            ]  # fmt: skip
            exposures = [
                ExposureRecord(*row)
                for row in conn.execute(
                    _covering(e, cluster, at, e.c.namespace, e.c.object, e.c.category,
                              e.c.start_at)
                )
            ]  # fmt: skip
        return ClusterState(
            cluster=cluster,
            at=at,
            scan=scan,
            namespaces=tuple(sorted(namespaces, key=lambda n: n.namespace)),
            policies=tuple(sorted(policies, key=lambda p: (p.namespace, p.kind, p.name))),
            findings=tuple(sorted(findings, key=lambda f: (f.namespace, f.check, f.object))),
            exposures=tuple(sorted(exposures, key=lambda e: (e.namespace, e.object, e.category))),
            evidence_gap=in_gap,
            pods_sampled_at=None if frame is None else frame.at,
        )

    # -- changes --------------------------------------------------------------------

    def changes(
        self, cluster: str | None, since: float, until: float, namespace: str | None = None
    ) -> Sequence[Change]:
        """Every change in [since, until), oldest first. What a cluster's first scan
        found is its baseline, not a change."""
        out: list[Change] = []
        with self._engine.connect() as conn:
            ns_rows = _touching(conn, namespace_intervals, cluster, since, until, namespace)
            pol_rows = _touching(conn, policy_intervals, cluster, since, until, namespace)
            fin_rows = _touching(conn, finding_intervals, cluster, since, until, namespace)
            exp_rows = _touching(conn, exposure_intervals, cluster, since, until, namespace)
        policy_changes = _events(
            pol_rows,
            since,
            until,
            key=lambda r: (r.kind, r.api_version, r.namespace, r.name),
            opened=lambda r: Change(
                r.start_at, r.cluster, ChangeKind.POLICY_CREATED, r.namespace, _policy(r)
            ),
            closed=lambda r: Change(
                r.end_at, r.cluster, ChangeKind.POLICY_DELETED, r.namespace, _policy(r)
            ),
            replaced=lambda old, new: [
                Change(
                    new.start_at,
                    new.cluster,
                    ChangeKind.POLICY_MODIFIED,
                    new.namespace,
                    _policy(new),
                    detail=f"sha256 {old.sha256[:12]} -> {new.sha256[:12]}",
                )
            ],
        )
        out += policy_changes
        causes: dict[tuple[str, float, str], list[str]] = defaultdict(list)
        for c in policy_changes:
            verb = str(c.kind).removeprefix("policy-")
            causes[(c.cluster, c.at, c.namespace)].append(f"{_kind_name(c.subject)} {verb}")
            if not c.namespace:  # a cluster-scoped policy may change any namespace
                causes[(c.cluster, c.at, "*")].append(f"{_kind_name(c.subject)} {verb}")

        def cause(r: Any) -> str:
            found = causes.get((r.cluster, r.start_at, r.namespace), []) + causes.get(
                (r.cluster, r.start_at, "*"), []
            )
            return "; ".join(found)

        out += _events(
            ns_rows,
            since,
            until,
            key=lambda r: r.namespace,
            opened=lambda r: Change(
                r.start_at, r.cluster, ChangeKind.NAMESPACE_CREATED, r.namespace, r.namespace
            ),
            closed=lambda r: Change(
                r.end_at, r.cluster, ChangeKind.NAMESPACE_DELETED, r.namespace, r.namespace
            ),
            replaced=lambda old, new: _default_deny_changes(old, new, cause(new)),
        )
        out += _events(
            fin_rows,
            since,
            until,
            key=lambda r: (r.namespace, r.check, r.severity, r.object, r.message),
            opened=lambda r: Change(
                r.start_at,
                r.cluster,
                ChangeKind.FINDING_OPENED,
                r.namespace,
                f"{r.check} {r.object}",
                detail=f"{r.severity}: {r.message}",
            ),
            closed=lambda r: Change(
                r.end_at,
                r.cluster,
                ChangeKind.FINDING_RESOLVED,
                r.namespace,
                f"{r.check} {r.object}",
                detail=f"{r.severity}: {r.message}",
            ),
            replaced=lambda old, new: [],
        )
        out += _events(
            exp_rows,
            since,
            until,
            key=lambda r: (r.namespace, r.object, r.category),
            opened=lambda r: Change(
                r.start_at,
                r.cluster,
                ChangeKind.EXPOSURE_ADDED,
                r.namespace,
                f"{r.object} {r.category}",
            ),
            closed=lambda r: Change(
                r.end_at,
                r.cluster,
                ChangeKind.EXPOSURE_REMOVED,
                r.namespace,
                f"{r.object} {r.category}",
            ),
            replaced=lambda old, new: [],
        )
        out.sort(key=lambda c: (c.at, c.cluster, c.namespace, _ORDER[c.kind], c.subject))
        return out

    # -- default-deny over a period -------------------------------------------------

    def default_deny_fractions(
        self, cluster: str, since: float, until: float
    ) -> Sequence[DefaultDenyFraction]:
        end = min(until, self._clock())
        covered = self.evidence(cluster, since, until)
        t = namespace_intervals
        query = select(
            t.c.namespace, t.c.start_at, t.c.end_at, t.c.ingress_default_deny,
            t.c.egress_default_deny,
        ).where(
            t.c.cluster == cluster,
            t.c.start_at < end,
            or_(t.c.end_at.is_(None), t.c.end_at > since),
        )  # fmt: skip
        acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        with self._engine.connect() as conn:
            for name, start, stop, idd, edd in conn.execute(query):
                seen = _overlap(
                    covered, max(start, since), min(end, stop if stop is not None else end)
                )
                for direction, value in (("ingress", idd), ("egress", edd)):
                    entry = acc[(name, direction)]
                    if value is None:
                        continue
                    entry[0] += seen
                    if value:
                        entry[1] += seen
        length = end - since
        out = []
        for (name, direction), (observed, deny) in sorted(acc.items()):
            out.append(
                DefaultDenyFraction(
                    cluster=cluster,
                    namespace=name,
                    direction=direction,
                    fraction=deny / observed if observed > 0 else None,
                    whole_period=length > 0 and deny >= length - 1e-6,
                    observed_seconds=observed,
                )
            )
        return out

    # -- daily trend ----------------------------------------------------------------

    def daily(self, cluster: str, since: float, until: float) -> Sequence[DailyPoint]:
        """End-of-day figures: the state at each UTC day's last successful scan within
        [since, until); a day without one has every figure None."""
        first_day = since - since % DAY
        with self._engine.connect() as conn:
            last = {
                float(day): (float(at), int(pods))
                for day, at, pods in _last_scan_per_day(conn, cluster, since, until)
            }
            t = namespace_intervals
            rows = conn.execute(
                select(
                    t.c.start_at, t.c.end_at, t.c.ingress_default_deny, t.c.egress_default_deny,
                    t.c.exposures, t.c.internet_egress_workloads,
                ).where(
                    t.c.cluster == cluster,
                    t.c.start_at < until,
                    or_(t.c.end_at.is_(None), t.c.end_at > since),
                )
            ).all()  # fmt: skip
        points: list[DailyPoint] = []
        moments = sorted(at for at, _ in last.values())
        sums = _sweep(rows, moments)
        day = first_day
        while day < until:
            found = last.get(day)
            if found is None:
                points.append(DailyPoint(cluster, day, None, None, None, {}, None, None))
            else:
                at, pods = found
                s = sums[at]
                points.append(
                    DailyPoint(
                        cluster=cluster,
                        day=day,
                        namespaces=s.namespaces,
                        ingress_default_deny_namespaces=None if s.unknown[0] else s.deny[0],
                        egress_default_deny_namespaces=None if s.unknown[1] else s.deny[1],
                        exposures={c: s.exposures.get(c, 0) for c in _categories(s.exposures)},
                        internet_egress_workloads=s.internet,
                        pods=pods,
                    )
                )
            day += DAY
        return points

    # -- Hubble ---------------------------------------------------------------------

    def denied_flows(
        self, cluster: str | None, since: float, until: float
    ) -> Sequence[DeniedFlows]:
        t = flow_hourly
        total = func.sum(t.c.count)
        cols = (t.c.cluster, t.c.hour, t.c.namespace, t.c.direction, t.c.reason, t.c.policy)
        query = (
            select(*cols, total)
            .where(
                t.c.hour >= since,
                t.c.hour < until,
                t.c.verdict == "dropped",
                t.c.kind == "connection",
            )
            .group_by(*cols)
            .order_by(*cols)
        )
        if cluster is not None:
            query = query.where(t.c.cluster == cluster)
        with self._engine.connect() as conn:
            return [
                DeniedFlows(c, float(h), ns, d, r, p, int(n))
                for c, h, ns, d, r, p, n in conn.execute(query)
            ]


# -- helpers ---------------------------------------------------------------------------

_ORDER = {kind: i for i, kind in enumerate(ChangeKind)}


def _scan_info(r: Any) -> ScanInfo:
    return ScanInfo(
        cluster=str(r["cluster"]),
        started_at=float(r["started_at"]),
        duration_seconds=float(r["duration_seconds"]),
        success=bool(r["success"]),
        error=str(r["error"]),
        namespaces=int(r["namespaces"]),
        pods=int(r["pods"]),
        findings=int(r["findings"]),
        policies=int(r["policies"]),
        policies_sha256=str(r["policies_sha256"]),
        version=str(r["version"]),
        degraded=bool(r["degraded"]),
    )


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


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
