"""A `HistoryReader` over history held in memory (pure): for the view model's unit tests
and the report benchmark, which must not depend on a database.

It is given the scans with the state each successful one saw, the change log, the gaps
and the flow roll-ups, and answers the read contract's queries from them with the
contract's semantics (state at T = the last successful scan at or before T).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from exporter.core.history import (
    Change,
    ClusterState,
    DailyPoint,
    DefaultDenyFraction,
    DeniedFlows,
    EvidenceGap,
    ScanInfo,
)

DAY = 86_400.0


@dataclass
class StaticHistory:
    states: list[ClusterState] = field(default_factory=list)
    """One per successful scan (its `scan` set), any order."""
    failed: list[ScanInfo] = field(default_factory=list)
    change_log: list[Change] = field(default_factory=list)
    evidence_gaps: list[EvidenceGap] = field(default_factory=list)
    flows: list[DeniedFlows] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_cluster: dict[str, list[ClusterState]] = {}
        for st in sorted(self.states, key=lambda s: s.at):
            self._by_cluster.setdefault(st.cluster, []).append(st)
        self._times = {c: [s.at for s in v] for c, v in self._by_cluster.items()}

    def clusters(self) -> Sequence[str]:
        return sorted(set(self._by_cluster) | {s.cluster for s in self.failed})

    def scans(self, cluster: str | None, since: float, until: float) -> Sequence[ScanInfo]:
        ok = [st.scan for st in self.states if st.scan is not None]
        return sorted(
            (
                s
                for s in (*ok, *self.failed)
                if (cluster is None or s.cluster == cluster) and since <= s.started_at < until
            ),
            key=lambda s: s.started_at,
        )

    def state_at(self, cluster: str, at: float) -> ClusterState:
        times = self._times.get(cluster, [])
        i = bisect_right(times, at)
        if not i:
            return ClusterState(cluster, at, None)
        st = self._by_cluster[cluster][i - 1]
        return ClusterState(
            cluster, at, st.scan, st.namespaces, st.policies, st.findings, st.exposures
        )

    def changes(
        self, cluster: str | None, since: float, until: float, namespace: str | None = None
    ) -> Sequence[Change]:
        return sorted(
            (
                c
                for c in self.change_log
                if (cluster is None or c.cluster == cluster)
                and since <= c.at < until
                and (namespace is None or c.namespace == namespace)
            ),
            key=lambda c: c.at,
        )

    def gaps(self, cluster: str, since: float, until: float) -> Sequence[EvidenceGap]:
        return [
            g
            for g in self.evidence_gaps
            if g.cluster == cluster and g.end > since and g.start < until
        ]

    def default_deny_fractions(
        self, cluster: str, since: float, until: float
    ) -> Sequence[DefaultDenyFraction]:
        """Each state holds until the next scan; gaps count as unobserved time."""
        states = self._by_cluster.get(cluster, [])
        holes = [(g.start, g.end) for g in self.gaps(cluster, since, until)]
        acc: dict[tuple[str, str], list[float]] = {}
        for i, st in enumerate(states):
            a = max(st.at, since)
            b = min(states[i + 1].at if i + 1 < len(states) else until, until)
            if i + 1 < len(states) and states[i + 1].at <= since:
                continue
            if b <= a:
                continue
            length = b - a - sum(max(0.0, min(b, y) - max(a, x)) for x, y in holes)
            for n in st.namespaces:
                for d, v in (
                    ("ingress", n.ingress_default_deny),
                    ("egress", n.egress_default_deny),
                ):
                    cell = acc.setdefault((n.namespace, d), [0.0, 0.0, 0.0])
                    if v is None:
                        cell[2] += length
                        continue
                    cell[0] += length
                    cell[1] += length if v else 0.0
        first = states[0].at if states else until
        whole_possible = first <= since and not holes
        out = []
        for (ns, d), (observed, protected, _unknown) in sorted(acc.items()):
            out.append(
                DefaultDenyFraction(
                    cluster,
                    ns,
                    d,
                    protected / observed if observed else None,
                    whole_possible and observed >= until - since - 1e-6 and protected == observed,
                    observed,
                )
            )
        return out

    def daily(self, cluster: str, since: float, until: float) -> Sequence[DailyPoint]:
        out = []
        day = since
        gaps = self.gaps(cluster, since, until)
        while day < until:
            end = min(day + DAY, until)
            st = self.state_at(cluster, end - 0.001)
            fresh = st.scan is not None and not any(g.start <= end - 0.001 < g.end for g in gaps)
            if fresh:
                exp: dict[str, int] = {}
                for n in st.namespaces:
                    for cat, v in n.exposures.items():
                        exp[cat] = exp.get(cat, 0) + v
                ins = [n.ingress_default_deny for n in st.namespaces]
                egs = [n.egress_default_deny for n in st.namespaces]
                out.append(
                    DailyPoint(
                        cluster,
                        day,
                        len(st.namespaces),
                        None if None in ins else sum(1 for v in ins if v),
                        None if None in egs else sum(1 for v in egs if v),
                        exp,
                    )
                )
            day += DAY
        return out

    def denied_flows(
        self, cluster: str | None, since: float, until: float
    ) -> Sequence[DeniedFlows]:
        return [
            f
            for f in self.flows
            if (cluster is None or f.cluster == cluster) and since <= f.hour < until
        ]
