"""Teams in the report (docs/intent.md, "Reports"): a team's report, its per-team summary
and the guardrail section.

A team's report (`netfence report --intent FILE --team T`) is the same report computed
over a `TeamHistory`: the history read through a filter that keeps the team's
namespaces only, so every figure, table and chart of the full report is the team's,
with no second code path. A namespace's team comes from the intent's `teams` rules over
the namespace labels the history recorded (the explicit map, then the label; the
annotation rule needs annotations, which the history does not keep). Membership is read
at the period's start and end: a namespace that belonged to the team at either is in.

PURE (standard library and exporter.core only), like the rest of the view model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from exporter.core.history import (
    Change,
    ClusterState,
    DailyPoint,
    DefaultDenyFraction,
    DeniedFlows,
    EvidenceGap,
    HistoryReader,
    NamespaceState,
    ScanInfo,
)
from exporter.core.intent.schema import UNOWNED, Teams
from reports.tables import Column, Kind, Table

DAY = 86_400.0
EPSILON = 0.001
INTENT_CHECKS = ("guardrail-violation", "exception-expired", "baseline-drift")


def team_of(teams: Teams | None, ns: NamespaceState) -> str:
    """The namespace's team by the intent's rules (the annotation rule is not available
    from history: a namespace named only by annotation is `unowned` here)."""
    if teams is None:
        return UNOWNED
    team = teams.namespaces.get(ns.namespace)
    if team is None and teams.namespace_label and ns.labels:
        team = ns.labels.get(teams.namespace_label)
    return team or UNOWNED


class TeamHistory:
    """A HistoryReader over one team's namespaces (cluster-scoped objects left out)."""

    def __init__(
        self, reader: HistoryReader, teams: Teams | None, team: str, since: float, until: float
    ) -> None:
        self._reader = reader
        self.team = team
        self._members: dict[str, frozenset[str]] = {}
        for cluster in reader.clusters():
            found: set[str] = set()
            for at in (since, until - EPSILON):
                st = reader.state_at(cluster, at)
                found |= {n.namespace for n in st.namespaces if team_of(teams, n) == team}
            self._members[cluster] = frozenset(found)

    def members(self, cluster: str) -> frozenset[str]:
        return self._members.get(cluster, frozenset())

    def clusters(self) -> Sequence[str]:
        return self._reader.clusters()

    def scans(self, cluster: str | None, since: float, until: float) -> Sequence[ScanInfo]:
        return self._reader.scans(cluster, since, until)  # evidence is per cluster

    def state_at(self, cluster: str, at: float) -> ClusterState:
        st = self._reader.state_at(cluster, at)
        keep = self.members(cluster)
        return replace(
            st,
            namespaces=tuple(n for n in st.namespaces if n.namespace in keep),
            policies=tuple(p for p in st.policies if p.namespace in keep),
            findings=tuple(f for f in st.findings if f.namespace in keep),
            exposures=tuple(e for e in st.exposures if e.namespace in keep),
        )

    def changes(
        self, cluster: str | None, since: float, until: float, namespace: str | None = None
    ) -> Sequence[Change]:
        return [
            c
            for c in self._reader.changes(cluster, since, until, namespace)
            if c.namespace in self.members(c.cluster)
        ]

    def default_deny_fractions(
        self, cluster: str, since: float, until: float
    ) -> Sequence[DefaultDenyFraction]:
        keep = self.members(cluster)
        return [
            f
            for f in self._reader.default_deny_fractions(cluster, since, until)
            if f.namespace in keep
        ]

    def gaps(self, cluster: str, since: float, until: float) -> Sequence[EvidenceGap]:
        return self._reader.gaps(cluster, since, until)

    def daily(self, cluster: str, since: float, until: float) -> Sequence[DailyPoint]:
        """The cluster's daily points recomputed over the team's namespaces from the state
        at each day's end (a day without evidence stays without: None, never 0)."""
        out = []
        for p in self._reader.daily(cluster, since, until):
            if p.namespaces is None:
                out.append(p)
                continue
            st = self.state_at(cluster, min(p.day + DAY, until) - EPSILON)
            ns = st.namespaces
            exposures: Counter[str] = Counter()
            for n in ns:
                exposures.update(n.exposures)
            pods = [n.pods for n in ns]
            out.append(
                DailyPoint(
                    cluster=cluster,
                    day=p.day,
                    namespaces=len(ns),
                    ingress_default_deny_namespaces=_count(n.ingress_default_deny for n in ns),
                    egress_default_deny_namespaces=_count(n.egress_default_deny for n in ns),
                    exposures=dict(exposures),
                    internet_egress_workloads=sum(n.internet_egress_workloads for n in ns),
                    pods=None if any(x is None for x in pods) else sum(x or 0 for x in pods),
                )
            )
        return out

    def denied_flows(
        self, cluster: str | None, since: float, until: float
    ) -> Sequence[DeniedFlows]:
        return [
            d
            for d in self._reader.denied_flows(cluster, since, until)
            if d.namespace in self.members(d.cluster)
        ]


def _count(values: object) -> int | None:
    """Namespaces with default-deny; None when any is unknown (never counted as 0)."""
    items = list(values)  # type: ignore[call-overload]
    if any(v is None for v in items):
        return None
    return sum(1 for v in items if v)


def team_summary(teams: Teams | None, at_end: Mapping[str, ClusterState]) -> Table:
    """Per team at period end: namespaces, default-deny per direction, internet
    exposures, open findings and the intent's (guardrail, exception, drift) findings."""
    rows: dict[str, list[int | None]] = {}
    for st in at_end.values():
        by_ns: dict[str, str] = {}
        for n in st.namespaces:
            team = team_of(teams, n)
            by_ns[n.namespace] = team
            row = rows.setdefault(team, [0, 0, 0, 0, 0, 0])
            row[0] = (row[0] or 0) + 1
            for i, dd in ((1, n.ingress_default_deny), (2, n.egress_default_deny)):
                if dd is None or row[i] is None:
                    row[i] = None
                else:
                    row[i] = (row[i] or 0) + (1 if dd else 0)
            row[3] = (row[3] or 0) + n.exposures.get("internet", 0)
        for f in st.findings:
            owner = by_ns.get(f.namespace)
            if owner is None:
                continue  # cluster-scoped: no team
            rows[owner][4] = (rows[owner][4] or 0) + 1
            if f.check in INTENT_CHECKS:
                rows[owner][5] = (rows[owner][5] or 0) + 1
    return Table(
        "teams",
        "Teams at period end",
        (
            Column("team", "Team"),
            Column("namespaces", "Namespaces", Kind.COUNT),
            Column("ingress_default_deny", "Ingress default-deny", Kind.COUNT),
            Column("egress_default_deny", "Egress default-deny", Kind.COUNT),
            Column("internet", "Internet exposures", Kind.COUNT),
            Column("findings", "Open findings", Kind.COUNT),
            Column("intent_findings", "Guardrail and drift findings", Kind.COUNT),
        ),
        tuple((team, *values) for team, values in sorted(rows.items())),
        note="Teams from the intent file's rules over the namespace labels recorded in the "
        f"history; namespaces no rule names are `{UNOWNED}`.",
    )


def guardrail_findings(at_end: Mapping[str, ClusterState]) -> Table:
    """The intent's findings open at period end: guardrail violations, expired
    exceptions, baseline drift (recorded by scans run with an intent file)."""
    return findings_table(
        "guardrails",
        "Guardrail violations, expired exceptions and baseline drift at period end",
        at_end,
        INTENT_CHECKS,
    )


def findings_table(
    name: str,
    title: str,
    at_end: Mapping[str, ClusterState],
    checks: Sequence[str] | None = None,
) -> Table:
    """The open findings at period end (of `checks` only, when given), one row each."""
    rows = sorted(
        (c, f.namespace, f.check, f.severity, f.object, f.message, f.since)
        for c, st in at_end.items()
        for f in st.findings
        if checks is None or f.check in checks
    )
    return Table(
        name,
        title,
        (
            Column("cluster", "Cluster"),
            Column("namespace", "Namespace"),
            Column("check", "Check"),
            Column("severity", "Severity"),
            Column("object", "Object"),
            Column("message", "Message"),
            Column("since", "Open since", Kind.TIME),
        ),
        tuple(rows),
    )
