"""Control mapping: which netfence evidence speaks to which control (pure, no I/O).

A mapping (reports/controls/*.yaml, loaded by reports.control_files) lists controls of a
framework and, for each, the evidence netfence can show. A control may be scoped to the
namespaces that match a label selector and/or name patterns (PCI DSS's cardholder data
environment); its figures are then computed over that subset only.

The result is evidence for an auditor, never a verdict: each line says what was checked,
what was observed and where in the evidence bundle the numbers are.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from exporter.core.selectors import LabelSelector


class Evidence(StrEnum):
    """The closed vocabulary of evidence a control can cite."""

    DEFAULT_DENY_INGRESS = "default-deny-ingress"
    DEFAULT_DENY_EGRESS = "default-deny-egress"
    EXPOSURES = "exposures"
    INTERNET_EXPOSURE = "internet-exposure"
    INTERNET_EGRESS = "internet-egress"
    CROSS_NAMESPACE_EXPOSURE = "cross-namespace-exposure"
    DENIED_CONNECTIONS = "denied-connections"
    POLICY_CHANGES = "policy-changes"
    EVIDENCE_COMPLETENESS = "evidence-completeness"
    UNREADABLE_KINDS = "unreadable-kinds"
    REVIEW = "review"


PER_NAMESPACE = frozenset(Evidence) - {
    Evidence.EVIDENCE_COMPLETENESS,
    Evidence.UNREADABLE_KINDS,
    Evidence.REVIEW,
}
"""Evidence computed over the namespaces in a control's scope."""


@dataclass(frozen=True, slots=True)
class Scope:
    selector: LabelSelector | None = None
    names: tuple[str, ...] = ()
    description: str = ""

    @property
    def everything(self) -> bool:
        return self.selector is None and not self.names

    def matches(self, name: str, labels: Mapping[str, str] | None) -> bool | None:
        """True / False, or None when only the (unrecorded) labels could tell."""
        if self.everything:
            return True
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.names):
            return True
        if self.selector is None:
            return False
        if labels is None:
            return None
        return self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class Control:
    framework: str
    id: str
    title: str
    """A paraphrase of the control's subject, not the standard's wording."""
    evidence: tuple[Evidence, ...]
    scope: Scope = Scope()
    reference: str = ""
    """Where the publisher defines it (URL or document and edition)."""
    note: str = ""
    source: str = ""
    """The mapping file it came from (shipped or the user's)."""


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    evidence: Evidence
    checked: str
    observed: str
    pointer: str
    """Bundle file (and report section) holding the numbers."""
    verifiable: bool = True


@dataclass(frozen=True, slots=True)
class ControlResult:
    control: Control
    scope: str
    """Which namespaces the figures cover, said in words."""
    lines: tuple[EvidenceLine, ...]


@dataclass(frozen=True, slots=True)
class NamespaceFacts:
    """What one namespace contributes to control figures (built by reports.model)."""

    cluster: str
    namespace: str
    labels: Mapping[str, str] | None
    present_at_end: bool
    ingress_end: bool | None
    egress_end: bool | None
    ingress_whole: bool
    egress_whole: bool
    losses: int
    """Losses of default-deny in the period, both directions."""
    exposures_end: Mapping[str, int] | None
    internet_egress_end: int | None
    denied: int | None
    policy_changes: int
    ingress_losses: int = 0
    egress_losses: int = 0


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    completeness: float | None
    gaps: int
    degraded_scans: int
    scans: int


def scoped(control: Control, facts: Sequence[NamespaceFacts]) -> tuple[list[NamespaceFacts], int]:
    """The namespaces in scope, and how many could not be placed (labels unrecorded)."""
    inside: list[NamespaceFacts] = []
    unknown = 0
    for f in facts:
        m = control.scope.matches(f.namespace, f.labels)
        if m is None:
            unknown += 1
        elif m:
            inside.append(f)
    return inside, unknown


def evaluate(
    control: Control, facts: Sequence[NamespaceFacts], cluster: ClusterFacts
) -> ControlResult:
    inside, unknown = scoped(control, facts)
    scope = (
        "all namespaces"
        if control.scope.everything
        else (control.scope.description or "namespaces matching the control's scope")
    )
    scope += f" ({len(inside)} namespaces)"
    if unknown:
        scope += (
            f"; {unknown} namespaces could not be placed in or out of scope: their labels "
            "were not recorded"
        )
    lines = tuple(_line(e, inside, cluster) for e in control.evidence)
    # A namespace at period end that cannot be placed may be in scope: every figure over
    # the scope's namespaces is then incomplete, so not verifiable (never "no namespace").
    unplaced = sum(
        1
        for f in facts
        if f.present_at_end and control.scope.matches(f.namespace, f.labels) is None
    )
    if unplaced:
        why = (
            f"not verifiable: {unplaced} namespaces at period end could not be placed in or "
            "out of the scope (their labels were not recorded)"
        )
        lines = tuple(
            dataclasses.replace(line, observed=why, pointer="tables/namespaces.csv",
                                verifiable=False)
            if line.evidence in PER_NAMESPACE
            else line
            for line in lines
        )  # fmt: skip
    return ControlResult(control, scope, lines)


def _pct(n: int, d: int) -> str:
    return f"{n} of {d} ({100.0 * n / d:.1f}%)" if d else "0 of 0"


def _line(e: Evidence, ns: list[NamespaceFacts], cluster: ClusterFacts) -> EvidenceLine:
    present = [f for f in ns if f.present_at_end]
    if e in (Evidence.DEFAULT_DENY_INGRESS, Evidence.DEFAULT_DENY_EGRESS):
        d = "ingress" if e is Evidence.DEFAULT_DENY_INGRESS else "egress"
        ends = [f.ingress_end if d == "ingress" else f.egress_end for f in present]
        known = [v for v in ends if v is not None]
        whole = sum(1 for f in ns if (f.ingress_whole if d == "ingress" else f.egress_whole))
        losses = sum(f.ingress_losses if d == "ingress" else f.egress_losses for f in ns)
        checked = f"{d} default-deny per namespace (exact semantics, docs/semantics.md)"
        if not present:
            return EvidenceLine(e, checked, "no namespace in scope at period end", "", False)
        if not known:
            return EvidenceLine(
                e,
                checked,
                "not verifiable: no evidence at period end",
                "tables/namespaces.csv",
                False,
            )
        observed = (
            f"{_pct(sum(known), len(known))} namespaces default-deny for {d} at period end; "
            f"{whole} default-deny for the whole period with no gap in evidence; "
            f"{losses} loss(es) of default-deny during the period"
        )
        if len(known) < len(ends):
            observed += f"; {len(ends) - len(known)} namespaces unknown (not verifiable)"
        return EvidenceLine(e, checked, observed, "tables/namespaces.csv, tables/losses.csv")
    if e in (Evidence.EXPOSURES, Evidence.INTERNET_EXPOSURE, Evidence.CROSS_NAMESPACE_EXPOSURE):
        cats = {
            Evidence.INTERNET_EXPOSURE: ("internet",),
            Evidence.CROSS_NAMESPACE_EXPOSURE: ("other_namespaces", "all_namespaces"),
        }.get(e)
        known_exp = [f.exposures_end for f in present if f.exposures_end is not None]
        checked = "permitted exposures at period end: " + (
            ", ".join(cats) if cats else "every category"
        )
        if not known_exp:
            return EvidenceLine(e, checked, "not verifiable: no evidence at period end", "", False)
        totals: dict[str, int] = {}
        for exp in known_exp:
            for cat, n in exp.items():
                if cats is None or cat in cats:
                    totals[cat] = totals.get(cat, 0) + n
        parts = ", ".join(f"{cat} {n}" for cat, n in sorted(totals.items())) or "none"
        exposed = sum(
            1
            for exp in known_exp
            if any(n for cat, n in exp.items() if cats is None or cat in cats)
        )
        observed = f"{parts}; in {exposed} of {len(known_exp)} namespaces"
        return EvidenceLine(e, checked, observed, "tables/exposures_end.csv")
    if e is Evidence.INTERNET_EGRESS:
        vals = [f.internet_egress_end for f in present if f.internet_egress_end is not None]
        checked = "workloads permitted to reach the internet at period end"
        if not vals:
            return EvidenceLine(e, checked, "not verifiable: no evidence at period end", "", False)
        observed = f"{sum(vals)} workloads in {sum(1 for v in vals if v)} namespaces"
        return EvidenceLine(e, checked, observed, "tables/namespaces.csv")
    if e is Evidence.DENIED_CONNECTIONS:
        vals = [f.denied for f in ns if f.denied is not None]
        checked = "connections denied by policy (Cilium Hubble) during the period"
        if not vals:
            return EvidenceLine(
                e,
                checked,
                "not verifiable: no flow records for these namespaces",
                "tables/denied_by_policy.csv",
                False,
            )
        return EvidenceLine(
            e, checked, f"{sum(vals):,} denied connections", "tables/denied_by_policy.csv"
        )
    if e is Evidence.POLICY_CHANGES:
        n = sum(f.policy_changes for f in ns)
        return EvidenceLine(
            e,
            "policy objects created, modified or deleted during the period (change log)",
            f"{n} policy changes recorded, each with its time",
            "tables/policy_changes.csv",
        )
    if e is Evidence.EVIDENCE_COMPLETENESS:
        checked = "share of the period covered by successful scans, and gaps"
        if cluster.completeness is None:
            return EvidenceLine(e, checked, "no successful scan in the period", "", False)
        return EvidenceLine(
            e,
            checked,
            f"{100.0 * cluster.completeness:.1f}% of the period covered by {cluster.scans} "
            f"scans; {cluster.gaps} gap(s)",
            "tables/evidence_gaps.csv, tables/scans.csv",
        )
    if e is Evidence.UNREADABLE_KINDS:
        return EvidenceLine(
            e,
            "scans in which a policy kind the network plugin enforces was unreadable",
            f"{cluster.degraded_scans} of {cluster.scans} scans",
            "tables/scans.csv",
        )
    return EvidenceLine(
        e,
        "periodic review of network policy configuration",
        "this report covers the period's configuration, its changes and their times; "
        "the sign-off page records the review",
        "report.json, tables/policy_changes.csv",
    )
