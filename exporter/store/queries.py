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

import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

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
from exporter.store import runtime_joins
from exporter.store.changelog import load_frame
from exporter.store.flows import flow_hourly
from exporter.store.query_rows import (
    _ORDER,
    DAY,
    Segment,
    _bool,
    _categories,
    _covering,
    _default_deny_changes,
    _events,
    _exposures,
    _kind_name,
    _labels,
    _last_scan_per_day,
    _overlap,
    _policy,
    _scan_info,
    _sweep,
    _touching,
)
from exporter.store.schema import (
    exposure_intervals,
    finding_intervals,
    namespace_intervals,
    policy_intervals,
    scans,
)

DEFAULT_INTERVAL = 300.0


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
                          n.c.egress_default_deny, n.c.exposures, n.c.internet_egress_workloads,
                          n.c.labels)
            )  # fmt: skip
            for name, idd, edd, exposed, internet, labels in rows:
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
                        labels=_labels(labels),
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

    # -- runtime joins (reports.runtime.RuntimeReader; exporter.store.runtime_joins) -------

    def unused_exposures(self, cluster: str, since: float, until: float) -> int | None:
        """Permitted exposures at `until` that no admitted connection could have used in
        [since, until); None when not verifiable."""
        return runtime_joins.unused_exposures(self._engine, self.state_at, cluster, since, until)

    def admitted_under_default_deny(self, cluster: str, since: float, until: float) -> int | None:
        """Connections admitted in hours the scans say were default-deny in the direction
        that admitted them; None when not verifiable."""
        return runtime_joins.admitted_under_default_deny(
            self._engine, self.evidence, self._clock, cluster, since, until
        )
