"""The report's view model: every number, table and series of the auditor report.

PURE (standard library and exporter.core only): it asks a `HistoryReader` (the read
contract in exporter/core/history.py) a fixed set of questions and computes everything
the templates show, so templates only lay out values, and report.json / the evidence
bundle hold exactly what the pages say. `None` means "not verifiable" (no evidence),
and is never shown or summed as 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from exporter.core.history import (
    Change,
    ChangeKind,
    ClusterState,
    DefaultDenyFraction,
    HistoryReader,
    ScanInfo,
)
from exporter.core.intent.schema import Teams
from reports.controls import ClusterFacts, Control, ControlResult, NamespaceFacts, evaluate
from reports.period import Period
from reports.runtime import RuntimeFacts, runtime_facts
from reports.tables import Column, Kind, Line, Row, Series, Table
from reports.teams import findings_table, guardrail_findings, team_summary

DAY = 86_400.0
WEEK = 7 * DAY
EPSILON = 0.001
"""Seconds before a period boundary at which "the state at the end" is read: periods
are half-open, so a scan at exactly `until` belongs to the next period."""
DIRECTIONS = ("ingress", "egress")
CATEGORIES = ("internet", "ingress", "gateway", "other_namespaces", "all_namespaces")
SEVERITY_WEIGHT = {"critical": 4, "high": 3, "medium": 2, "low": 1}


class NoEvidence(LookupError):
    """No successful scan in the period for any selected cluster: nothing to report."""


@dataclass(frozen=True, slots=True)
class Options:
    top_n: int = 50
    """Rows of the namespace table shown in the PDF (the bundle holds every row)."""
    controls: tuple[Control, ...] = ()
    timezone: str = "UTC"
    teams: Teams | None = None
    """The intent file's team rules (docs/intent.md): the per-team summary table."""
    team: str | None = None
    """A team's report: the reader is already a `reports.teams.TeamHistory` (job.py)."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """Default-deny coverage in one direction at the end of a period."""

    direction: str
    namespaces: int | None
    protected: int | None
    unknown: int
    pods: int | None
    isolated_pods: int | None

    @property
    def fraction(self) -> float | None:
        if self.namespaces is None or self.protected is None or not self.namespaces:
            return None
        return self.protected / self.namespaces

    @property
    def pods_fraction(self) -> float | None:
        if self.pods is None or self.isolated_pods is None or not self.pods:
            return None
        return self.isolated_pods / self.pods


@dataclass(frozen=True, slots=True)
class Headline:
    """The summary page's figures."""

    coverage_end: tuple[Coverage, ...]
    coverage_previous: tuple[Coverage, ...]
    protected_whole_period: dict[str, int]
    observed_namespaces: int
    losses: int
    internet_services_end: int | None
    denied: int | None
    denied_previous: int | None
    default_deny_drops: int | None
    unused_exposures: int | None
    admitted_under_default_deny: int | None
    completeness: float | None
    gaps: int
    gap_seconds: float
    scans: int
    failed_scans: int
    degraded_scans: int
    first_evidence: float | None
    last_evidence: float | None

    @property
    def denied_delta(self) -> int | None:
        if self.denied is None or self.denied_previous is None:
            return None
        return self.denied - self.denied_previous


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    clusters: tuple[str, ...]
    period: Period
    previous: Period
    generated_at: float
    version: str
    timezone: str
    partial: tuple[str, ...]
    """Why the evidence does not cover the whole period (empty: it does)."""
    headline: Headline
    tables: dict[str, Table]
    series: dict[str, Series]
    controls: tuple[ControlResult, ...]
    top_denied_namespaces: tuple[tuple[str, int], ...] = field(default=())


def build(
    reader: HistoryReader,
    period: Period,
    *,
    clusters: Sequence[str] | None,
    generated_at: float,
    version: str,
    options: Options | None = None,
) -> Report:
    """Compute the whole report; raises NoEvidence when the period has no successful scan."""
    options = options or Options()
    names = tuple(sorted(clusters if clusters else reader.clusters()))
    previous = period.previous()
    end = min(period.until, generated_at)
    all_scans = [s for c in names for s in reader.scans(c, period.since, end)]
    if not any(s.success for s in all_scans):
        raise NoEvidence(
            f"no successful scan of {', '.join(names) or 'any cluster'} between "
            f"{_iso(period.since)} and {_iso(end)}: the period has no evidence"
        )
    at_end = {c: reader.state_at(c, end - EPSILON) for c in names}
    at_prev_end = {c: reader.state_at(c, period.since - EPSILON) for c in names}
    at_start = {c: _start_state(reader, c, period, all_scans) for c in names}
    changes = list(reader.changes(None, period.since, end))
    changes = [ch for ch in changes if ch.cluster in names]
    fractions = [f for c in names for f in reader.default_deny_fractions(c, period.since, end)]
    runtime = runtime_facts(reader, names, period, previous, end)

    completeness, gap_rows, partial = _completeness(
        reader, names, period, end, generated_at, all_scans, at_prev_end
    )
    losses = _losses(changes, end)
    ns_facts, ns_table = _namespaces(names, at_end, fractions, changes, losses, runtime, options)
    scans_ok = [s for s in all_scans if s.success]
    cluster_facts = ClusterFacts(
        completeness=completeness[0] if completeness[1] else None,
        gaps=len(gap_rows),
        degraded_scans=sum(1 for s in scans_ok if s.degraded),
        scans=len(all_scans),
    )
    controls = tuple(evaluate(c, ns_facts, cluster_facts) for c in options.controls)
    cov_end = tuple(_coverage(at_end, d) for d in DIRECTIONS)
    cov_prev = tuple(_coverage(at_prev_end, d) for d in DIRECTIONS)
    internet_end = [
        (c, e.namespace, e.object, e.since)
        for c, st in at_end.items()
        for e in st.exposures
        if e.category == "internet"
    ]
    headline = Headline(
        coverage_end=cov_end,
        coverage_previous=cov_prev,
        protected_whole_period={
            d: sum(1 for f in fractions if f.direction == d and f.whole_period) for d in DIRECTIONS
        },
        observed_namespaces=len(
            {(f.cluster, f.namespace) for f in fractions if f.fraction is not None}
        ),
        losses=len(losses),
        internet_services_end=(
            len(internet_end) if any(st.scan for st in at_end.values()) else None
        ),
        denied=runtime.denied_total,
        denied_previous=runtime.denied_previous,
        default_deny_drops=runtime.default_deny_drops,
        unused_exposures=runtime.unused_exposures,
        admitted_under_default_deny=runtime.admitted_under_default_deny,
        completeness=cluster_facts.completeness,
        gaps=len(gap_rows),
        gap_seconds=sum(r[3] for r in gap_rows),  # type: ignore[misc]
        scans=len(all_scans),
        failed_scans=sum(1 for s in all_scans if not s.success),
        degraded_scans=cluster_facts.degraded_scans,
        first_evidence=min(s.started_at for s in scans_ok),
        last_evidence=max(s.started_at for s in scans_ok),
    )
    tables = _tables(
        [
            *_coverage_table(cov_end, cov_prev),
            _whole_period_table(headline, fractions),
            _losses_table(losses, options.top_n),
            _exposure_summary(at_start, at_end),
            Table(
                "internet_services",
                "Internet-exposed services at period end",
                (
                    Column("cluster", "Cluster"),
                    Column("namespace", "Namespace"),
                    Column("object", "Object"),
                    Column("since", "Exposed since", Kind.TIME),
                ),
                tuple(sorted(internet_end)),
                shown=options.top_n,
            ),
            Table(
                "evidence_gaps",
                "Gaps in evidence (no successful scan)",
                (
                    Column("cluster", "Cluster"),
                    Column("start", "From", Kind.TIME),
                    Column("end", "To", Kind.TIME),
                    Column("seconds", "Length", Kind.DURATION),
                ),
                tuple(gap_rows),
            ),
            _scans_per_cluster(names, all_scans, completeness[2]),
            _all_scans(all_scans),
            ns_table,
            _exposures_end(at_end),
            _findings_end(at_end),
            guardrail_findings(at_end),
            team_summary(options.teams, at_end),
            *_change_tables(changes, options.top_n),
            *runtime.tables,
            _controls_table(controls),
        ]
    )
    series = {
        s.key: s
        for s in (
            _daily_coverage(reader, names, period, end),
            _daily_exposures(reader, names, period, end),
            runtime.weekly,
        )
    }
    return Report(
        title="Network policy compliance evidence"
        + (f" for team {options.team}" if options.team else ""),
        clusters=names,
        period=period,
        previous=previous,
        generated_at=generated_at,
        version=version,
        timezone=options.timezone,
        partial=tuple(partial),
        headline=headline,
        tables=tables,
        series=series,
        controls=controls,
        top_denied_namespaces=runtime.top_namespaces,
    )


def _tables(items: Sequence[Table]) -> dict[str, Table]:
    return {t.key: t for t in items}


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _start_state(
    reader: HistoryReader, cluster: str, period: Period, scans: Sequence[ScanInfo]
) -> ClusterState:
    """The state at the period's start, or at its first successful scan when none came
    before (a cluster first scanned mid-period): the table says which."""
    st = reader.state_at(cluster, period.since)
    if st.scan is not None:
        return st
    first = min((s.started_at for s in scans if s.cluster == cluster and s.success), default=None)
    return st if first is None else reader.state_at(cluster, first)


def _coverage(states: dict[str, ClusterState], direction: str) -> Coverage:
    known_any = False
    ns = prot = unknown = 0
    pods = iso = 0
    pods_known = True
    for st in states.values():
        if st.scan is None:
            continue
        known_any = True
        for n in st.namespaces:
            v = n.ingress_default_deny if direction == "ingress" else n.egress_default_deny
            if v is None:
                unknown += 1
                continue
            ns += 1
            prot += int(v)
            p = n.pods
            i = n.ingress_isolated_pods if direction == "ingress" else n.egress_isolated_pods
            if p is None or i is None:
                pods_known = False
            else:
                pods += p
                iso += i
    if not known_any:
        return Coverage(direction, None, None, 0, None, None)
    return Coverage(
        direction, ns, prot, unknown, pods if pods_known else None, iso if pods_known else None
    )


def _completeness(
    reader: HistoryReader,
    names: Sequence[str],
    period: Period,
    end: float,
    generated_at: float,
    scans: Sequence[ScanInfo],
    at_prev_end: dict[str, ClusterState],
) -> tuple[tuple[float, float, dict[str, float | None]], list[Row], list[str]]:
    """Share of the period covered by successful scans (over all clusters), gap rows and
    the reasons the cover calls the period partial."""
    partial: list[str] = []
    if period.until > generated_at:
        partial.append(f"the period has not ended: figures up to {_iso(generated_at)}")
    length = max(end - period.since, 0.0)
    gap_rows: list[Row] = []
    covered_total = 0.0
    per_cluster: dict[str, float | None] = {}
    for c in names:
        ok = sorted(s.started_at for s in scans if s.cluster == c and s.success)
        holes: list[tuple[float, float]] = []
        if not ok:
            holes.append((period.since, end))
            partial.append(f"cluster {c}: no successful scan in the period")
        elif at_prev_end[c].scan is None and ok[0] > period.since:
            holes.append((period.since, ok[0]))
            partial.append(f"cluster {c}: evidence starts {_iso(ok[0])}")
        for g in reader.gaps(c, period.since, end):
            holes.append((max(g.start, period.since), min(g.end, end)))
        merged = _merge(holes)
        missing = sum(b - a for a, b in merged)
        for a, b in merged:
            gap_rows.append((c, a, b, b - a))
        covered = max(length - missing, 0.0)
        covered_total += covered
        per_cluster[c] = covered / length if length else None
        n_gaps = len([h for h in merged if not (h[0] == period.since and not ok)])
        if ok and n_gaps:
            partial.append(f"cluster {c}: {n_gaps} gap(s) in evidence, {_duration(missing)} in all")
    total = length * len(names)
    return (covered_total / total if total else 0.0, total, per_cluster), gap_rows, partial


def _merge(holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(h for h in holes if h[1] > h[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    if not days:
        parts.append(f"{minutes} min")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Loss:
    cluster: str
    namespace: str
    direction: str
    lost_at: float
    ended_at: float | None
    how_ended: str
    seconds: float
    cause: str


def _losses(changes: Sequence[Change], end: float) -> list[Loss]:
    """Each loss of default-deny in the period, paired with what ended it."""
    policy_at: dict[tuple[str, str, float], list[str]] = defaultdict(list)
    for ch in changes:
        if ch.kind in (
            ChangeKind.POLICY_CREATED,
            ChangeKind.POLICY_MODIFIED,
            ChangeKind.POLICY_DELETED,
        ):
            policy_at[(ch.cluster, ch.namespace, ch.at)].append(
                f"{ch.kind.value.removeprefix('policy-')} {ch.subject}"
            )
    open_: dict[tuple[str, str, str], Change] = {}
    out: list[Loss] = []

    def close(key: tuple[str, str, str], at: float | None, how: str) -> None:
        lost = open_.pop(key)
        cause = lost.detail or "; ".join(
            policy_at.get((lost.cluster, lost.namespace, lost.at), [])
            + policy_at.get((lost.cluster, "", lost.at), [])
        )
        stop = end if at is None else at
        out.append(
            Loss(
                lost.cluster,
                lost.namespace,
                key[2],
                lost.at,
                at,
                how,
                stop - lost.at,
                cause or "not recorded",
            )
        )

    for ch in changes:
        direction = ch.direction or ch.subject
        key = (ch.cluster, ch.namespace, direction)
        if ch.kind is ChangeKind.DEFAULT_DENY_LOST:
            if key not in open_:
                open_[key] = ch
        elif ch.kind is ChangeKind.DEFAULT_DENY_GAINED and key in open_:
            close(key, ch.at, "regained")
        elif ch.kind is ChangeKind.DEFAULT_DENY_UNKNOWN and key in open_:
            close(key, ch.at, "became unknown")
        elif ch.kind is ChangeKind.NAMESPACE_DELETED:
            for d in DIRECTIONS:
                if (ch.cluster, ch.namespace, d) in open_:
                    close((ch.cluster, ch.namespace, d), ch.at, "namespace deleted")
    for key in list(open_):
        close(key, None, "still without default-deny at period end")
    out.sort(key=lambda loss: (loss.lost_at, loss.cluster, loss.namespace, loss.direction))
    return out


def _losses_table(losses: Sequence[Loss], top_n: int) -> Table:
    return Table(
        "losses",
        "Namespaces that lost default-deny during the period",
        (
            Column("cluster", "Cluster"),
            Column("namespace", "Namespace"),
            Column("direction", "Direction"),
            Column("lost_at", "Lost at", Kind.TIME),
            Column("ended_at", "Until", Kind.TIME),
            Column("how_ended", "Ended by"),
            Column("seconds", "For", Kind.DURATION),
            Column("cause", "Change that caused it"),
        ),
        tuple(
            (
                x.cluster,
                x.namespace,
                x.direction,
                x.lost_at,
                x.ended_at,
                x.how_ended,
                x.seconds,
                x.cause,
            )
            for x in sorted(losses, key=lambda x: (-x.seconds, x.lost_at, x.namespace))
        ),
        shown=top_n,
        note="Longest first." if len(losses) > 1 else "",
    )


def _coverage_table(end: Sequence[Coverage], prev: Sequence[Coverage]) -> list[Table]:
    ns_rows, pod_rows = [], []
    for e, p in zip(end, prev, strict=True):
        delta = None if e.fraction is None or p.fraction is None else e.fraction - p.fraction
        pdelta = (
            None
            if e.pods_fraction is None or p.pods_fraction is None
            else e.pods_fraction - p.pods_fraction
        )
        ns_rows.append(
            (e.direction, e.protected, e.namespaces, e.unknown, e.fraction, p.fraction, delta)
        )
        pod_rows.append(
            (e.direction, e.isolated_pods, e.pods, e.pods_fraction, p.pods_fraction, pdelta)
        )
    return [
        Table(
            "coverage",
            "Namespaces default-deny at period end vs the previous period end",
            (
                Column("direction", "Direction"),
                Column("protected", "Namespaces default-deny", Kind.COUNT),
                Column("namespaces", "of known", Kind.COUNT),
                Column("unknown", "Unknown", Kind.COUNT),
                Column("fraction", "Share at end", Kind.FRACTION),
                Column("previous", "Previous period end", Kind.FRACTION),
                Column("delta", "Change", Kind.POINTS),
            ),
            tuple(ns_rows),
        ),
        Table(
            "coverage_pods",
            "Pods isolated at period end vs the previous period end",
            (
                Column("direction", "Direction"),
                Column("isolated_pods", "Pods isolated", Kind.COUNT),
                Column("pods", "of pods", Kind.COUNT),
                Column("fraction", "Share at end", Kind.FRACTION),
                Column("previous", "Previous period end", Kind.FRACTION),
                Column("delta", "Change", Kind.POINTS),
            ),
            tuple(pod_rows),
        ),
    ]


def _whole_period_table(h: Headline, fractions: Sequence[DefaultDenyFraction]) -> Table:
    def always(d: str) -> int:
        return sum(1 for f in fractions if f.direction == d and f.fraction == 1.0)

    return Table(
        "protected_whole_period",
        "Namespaces default-deny for the whole period",
        (
            Column("direction", "Direction"),
            Column("whole_period", "Whole period, no gap in evidence", Kind.COUNT),
            Column("whenever_observed", "Whenever observed", Kind.COUNT),
            Column("observed", "of observed", Kind.COUNT),
        ),
        tuple(
            (d, h.protected_whole_period[d], always(d), h.observed_namespaces) for d in DIRECTIONS
        ),
        note="A gap in evidence anywhere in the period rules out 'whole period'; "
        "'whenever observed' counts namespaces default-deny in every successful scan.",
    )


def _exposure_totals(states: dict[str, ClusterState]) -> dict[str, int] | None:
    if not any(st.scan for st in states.values()):
        return None
    totals = dict.fromkeys(CATEGORIES, 0)
    for st in states.values():
        for n in st.namespaces:
            for cat, v in n.exposures.items():
                totals[cat] = totals.get(cat, 0) + v
    return totals


def _exposure_summary(start: dict[str, ClusterState], end: dict[str, ClusterState]) -> Table:
    s, e = _exposure_totals(start), _exposure_totals(end)
    cats = sorted(set(s or {}) | set(e or {}) | set(CATEGORIES), key=_category_order)
    starts = [st.at for st in start.values() if st.scan]
    rows = tuple(
        (
            cat,
            None if s is None else s.get(cat, 0),
            None if e is None else e.get(cat, 0),
            None if s is None or e is None else e.get(cat, 0) - s.get(cat, 0),
        )
        for cat in cats
    )
    note = ""
    if starts and max(starts) > min(st.at for st in start.values()):
        note = "Start figures are from the first scan in the period (none before it)."
    return Table(
        "exposures_summary",
        "Permitted exposures per category, period start vs end",
        (
            Column("category", "Category"),
            Column("start", "Start", Kind.COUNT),
            Column("end", "End", Kind.COUNT),
            Column("delta", "Change", Kind.COUNT),
        ),
        rows,
        note=note,
    )


def _category_order(cat: str) -> tuple[int, str]:
    return (CATEGORIES.index(cat) if cat in CATEGORIES else len(CATEGORIES), cat)


def _namespaces(
    names: Sequence[str],
    at_end: dict[str, ClusterState],
    fractions: Sequence[DefaultDenyFraction],
    changes: Sequence[Change],
    losses: Sequence[Loss],
    runtime: RuntimeFacts,
    options: Options,
) -> tuple[list[NamespaceFacts], Table]:
    frac: dict[tuple[str, str], dict[str, DefaultDenyFraction]] = defaultdict(dict)
    for f in fractions:
        frac[(f.cluster, f.namespace)][f.direction] = f
    end_ns = {(c, n.namespace): n for c, st in at_end.items() for n in st.namespaces}
    findings: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c, st in at_end.items():
        for fd in st.findings:
            findings[(c, fd.namespace)].append(fd.severity)
    n_changes: dict[tuple[str, str], int] = defaultdict(int)
    n_policy: dict[tuple[str, str], int] = defaultdict(int)
    for ch in changes:
        n_changes[(ch.cluster, ch.namespace)] += 1
        if ch.kind.value.startswith("policy-"):
            n_policy[(ch.cluster, ch.namespace)] += 1
    n_losses: dict[tuple[str, str], int] = defaultdict(int)
    by_direction: dict[tuple[str, str, str], int] = defaultdict(int)
    for loss in losses:
        n_losses[(loss.cluster, loss.namespace)] += 1
        by_direction[(loss.cluster, loss.namespace, loss.direction)] += 1
    keys = sorted(set(frac) | set(end_ns))
    facts: list[NamespaceFacts] = []
    rows: list[tuple[tuple[float | str, ...], Row]] = []
    for key in keys:
        c, ns = key
        cur = end_ns.get(key)
        fi, fe = frac[key].get("ingress"), frac[key].get("egress")
        scanned = at_end[c].scan is not None
        exposures = dict(cur.exposures) if cur is not None else None
        sev = findings.get(key, [])
        denied = runtime.denied_by_namespace.get(key) if runtime.flows_collected.get(c) else None
        if runtime.flows_collected.get(c) and denied is None:
            denied = 0
        facts.append(
            NamespaceFacts(
                cluster=c,
                namespace=ns,
                labels=cur.labels if cur else None,
                present_at_end=cur is not None,
                ingress_end=cur.ingress_default_deny if cur else None,
                egress_end=cur.egress_default_deny if cur else None,
                ingress_whole=bool(fi and fi.whole_period),
                egress_whole=bool(fe and fe.whole_period),
                losses=n_losses[key],
                ingress_losses=by_direction[(c, ns, "ingress")],
                egress_losses=by_direction[(c, ns, "egress")],
                exposures_end=exposures,
                internet_egress_end=cur.internet_egress_workloads if cur else None,
                denied=denied,
                policy_changes=n_policy[key],
            )
        )
        fin = fi.fraction if fi else None
        feg = fe.fraction if fe else None
        internet = exposures.get("internet", 0) if exposures is not None else None
        total_exp = sum(exposures.values()) if exposures is not None else None
        weight = sum(SEVERITY_WEIGHT.get(s, 0) for s in sev)
        worst = max(sev, key=lambda s: SEVERITY_WEIGHT.get(s, 0)) if sev else ""
        known = [v for v in (fin, feg) if v is not None]
        lowest = min(known) if known else -1.0  # never observed: riskiest, as unknown
        risk = (lowest, -(internet or 0), -weight, -(total_exp or 0), c, ns)
        row = (
            c,
            ns,
            "yes" if cur else ("no" if scanned else "unknown"),
            fin,
            feg,
            bool(fi and fi.whole_period),
            bool(fe and fe.whole_period),
            n_changes[key],
            n_losses[key],
            total_exp,
            internet,
            cur.internet_egress_workloads if cur else None,
            len(sev) if cur else None,
            worst,
            denied,
        )
        rows.append((risk, row))
    rows.sort(key=lambda r: r[0])
    table = Table(
        "namespaces",
        "Namespaces, riskiest first",
        (
            Column("cluster", "Cluster"),
            Column("namespace", "Namespace"),
            Column("present", "At end"),
            Column("ingress_fraction", "Ingress default-deny share", Kind.FRACTION),
            Column("egress_fraction", "Egress default-deny share", Kind.FRACTION),
            Column("ingress_whole", "Ingress whole period", Kind.FLAG),
            Column("egress_whole", "Egress whole period", Kind.FLAG),
            Column("changes", "Changes", Kind.COUNT),
            Column("losses", "Losses", Kind.COUNT),
            Column("exposures", "Exposures", Kind.COUNT),
            Column("internet", "Internet", Kind.COUNT),
            Column("internet_egress", "Internet egress", Kind.COUNT),
            Column("findings", "Findings", Kind.COUNT),
            Column("worst", "Worst"),
            Column("denied", "Denied", Kind.COUNT),
        ),
        tuple(r for _, r in rows),
        shown=options.top_n,
        note="Ordered by the lowest share of the observed period default-deny in either "
        "direction (never observed first), then internet exposures at end, open findings "
        "weighted by severity, and exposures at end.",
    )
    return facts, table


def _exposures_end(at_end: dict[str, ClusterState]) -> Table:
    rows = sorted(
        (c, e.namespace, e.object, e.category, e.since)
        for c, st in at_end.items()
        for e in st.exposures
    )
    return Table(
        "exposures_end",
        "Every permitted exposure at period end",
        (
            Column("cluster", "Cluster"),
            Column("namespace", "Namespace"),
            Column("object", "Object"),
            Column("category", "Category"),
            Column("since", "Since", Kind.TIME),
        ),
        tuple(rows),
    )


def _findings_end(at_end: dict[str, ClusterState]) -> Table:
    return findings_table("findings_end", "Open findings at period end", at_end)


def _change_tables(changes: Sequence[Change], top_n: int) -> list[Table]:
    cols = (
        Column("at", "Time", Kind.TIME),
        Column("cluster", "Cluster"),
        Column("namespace", "Namespace"),
        Column("change", "Change"),
        Column("subject", "Subject"),
        Column("detail", "Detail"),
    )

    def pick(prefix: tuple[str, ...]) -> tuple[Row, ...]:
        return tuple(
            (ch.at, ch.cluster, ch.namespace, ch.kind.value, ch.subject, ch.detail)
            for ch in changes
            if ch.kind.value.startswith(prefix)
        )

    return [
        Table(
            "default_deny_changes",
            "Newly protected and newly unprotected namespaces",
            cols,
            pick(("default-deny-",)),
            shown=top_n,
        ),
        Table(
            "exposure_changes", "New and removed exposures", cols, pick(("exposure-",)), shown=top_n
        ),
        Table(
            "policy_changes",
            "Policies created, modified and deleted",
            cols,
            pick(("policy-",)),
            shown=top_n,
        ),
        Table("changes", "Every change in the period (change log)", cols, pick(("",)), shown=0),
    ]


def _scans_per_cluster(
    names: Sequence[str], scans: Sequence[ScanInfo], per_cluster: dict[str, float | None]
) -> Table:
    rows = []
    for c in names:
        mine = [s for s in scans if s.cluster == c]
        ok = [s.started_at for s in mine if s.success]
        rows.append(
            (
                c,
                len(mine),
                len(ok),
                len(mine) - len(ok),
                sum(1 for s in mine if s.success and s.degraded),
                min(ok, default=None),
                max(ok, default=None),
                per_cluster.get(c),
            )
        )
    return Table(
        "evidence",
        "Evidence per cluster",
        (
            Column("cluster", "Cluster"),
            Column("scans", "Scans", Kind.COUNT),
            Column("successful", "Successful", Kind.COUNT),
            Column("failed", "Failed", Kind.COUNT),
            Column("degraded", "Kinds unreadable", Kind.COUNT),
            Column("first", "First", Kind.TIME),
            Column("last", "Last", Kind.TIME),
            Column("completeness", "Period covered", Kind.FRACTION),
        ),
        tuple(rows),
    )


def _all_scans(scans: Sequence[ScanInfo]) -> Table:
    return Table(
        "scans",
        "Every scan in the period",
        (
            Column("cluster", "Cluster"),
            Column("started_at", "Started", Kind.TIME),
            Column("duration", "Seconds", Kind.COUNT),
            Column("success", "Success", Kind.FLAG),
            Column("degraded", "Kinds unreadable", Kind.FLAG),
            Column("error", "Error"),
            Column("namespaces", "Namespaces", Kind.COUNT),
            Column("policies", "Policies", Kind.COUNT),
            Column("policies_sha256", "Policies SHA-256"),
            Column("version", "netfence"),
        ),
        tuple(
            sorted(
                (
                    s.cluster,
                    s.started_at,
                    s.duration_seconds,
                    s.success,
                    s.degraded,
                    s.error,
                    s.namespaces,
                    s.policies,
                    s.policies_sha256,
                    s.version,
                )
                for s in scans
            )
        ),
        shown=0,
    )


def _days(period: Period, end: float) -> tuple[float, ...]:
    out = []
    t = period.since
    while t < end:
        out.append(t)
        t += DAY
    return tuple(out)


def _daily_coverage(
    reader: HistoryReader, names: Sequence[str], period: Period, end: float
) -> Series:
    days = _days(period, end)
    num: dict[str, list[float | None]] = {d: [0.0] * len(days) for d in DIRECTIONS}
    den: list[float | None] = [0.0] * len(days)
    index = {d: i for i, d in enumerate(days)}
    seen = [set() for _ in days]  # type: list[set[str]]
    for c in names:
        for p in reader.daily(c, period.since, end):
            i = index.get(p.day)
            if i is None:
                continue
            seen[i].add(c)
            for d, v in (
                ("ingress", p.ingress_default_deny_namespaces),
                ("egress", p.egress_default_deny_namespaces),
            ):
                cur = num[d][i]
                num[d][i] = None if v is None or cur is None else cur + v
            cur_den = den[i]
            den[i] = None if p.namespaces is None or cur_den is None else cur_den + p.namespaces
    lines = []
    for d in DIRECTIONS:
        vals: list[float | None] = []
        for i in range(len(days)):
            n, t = num[d][i], den[i]
            ok = len(seen[i]) == len(names) and n is not None and t
            vals.append(n / t if ok and n is not None and t else None)
        lines.append(Line(d, tuple(vals)))
    return Series(
        "coverage_daily", "Namespaces default-deny per day (share)", "fraction", days, tuple(lines)
    )


def _daily_exposures(
    reader: HistoryReader, names: Sequence[str], period: Period, end: float
) -> Series:
    days = _days(period, end)
    index = {d: i for i, d in enumerate(days)}
    totals: dict[str, list[float]] = {c: [0.0] * len(days) for c in CATEGORIES}
    seen = [0] * len(days)
    for c in names:
        for p in reader.daily(c, period.since, end):
            i = index.get(p.day)
            if i is None or p.namespaces is None:
                continue
            seen[i] += 1
            for cat, v in p.exposures.items():
                totals.setdefault(cat, [0.0] * len(days))[i] += v
    lines = tuple(
        Line(cat, tuple(v if seen[i] == len(names) else None for i, v in enumerate(vals)))
        for cat, vals in sorted(totals.items(), key=lambda kv: _category_order(kv[0]))
    )
    return Series(
        "exposures_daily", "Permitted exposures per category per day", "count", days, lines
    )


def _controls_table(results: Sequence[ControlResult]) -> Table:
    rows = tuple(
        (
            r.control.framework,
            r.control.id,
            r.control.title,
            r.scope,
            line.evidence.value,
            line.checked,
            line.observed,
            line.verifiable,
            line.pointer,
        )
        for r in results
        for line in r.lines
    )
    return Table(
        "controls",
        "Control mapping: evidence per control",
        (
            Column("framework", "Framework"),
            Column("id", "Control"),
            Column("title", "Subject"),
            Column("scope", "Scope"),
            Column("evidence", "Evidence"),
            Column("checked", "Checked"),
            Column("observed", "Observed"),
            Column("verifiable", "Verifiable", Kind.FLAG),
            Column("pointer", "In the bundle"),
        ),
        rows,
    )
