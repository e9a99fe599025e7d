"""One scan's distance to the intent: teams, guardrail violations and exceptions,
intended exposures and baseline drift, as one immutable result that `scan` prints,
`serve` exports and reports read."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exporter.core.coverage import NamespaceCoverage
from exporter.core.engine import Engine
from exporter.core.exposure import Exposure, ExposureReport, InternetEgress
from exporter.core.findings import Finding
from exporter.core.intent.drift import BaselinePolicy, DriftEntry, DriftState, baseline_drift
from exporter.core.intent.guardrails import ExceptionStatus, Violation, evaluate_guardrails
from exporter.core.intent.schema import Intent
from exporter.core.intent.teams import TeamMap, team_map
from exporter.core.verification import VERIFIED, Verification

_NO_FINDING = frozenset({DriftState.IN_SYNC, DriftState.UNKNOWN})
INTERNET_EGRESS = "internet_egress"
"""The intended-exposure kind for a workload's internet egress."""


@dataclass(frozen=True, slots=True)
class IntentReport:
    teams: TeamMap
    namespace_labels: Mapping[str, Mapping[str, str]]
    """namespace -> allowlisted label -> value (netfence_namespace_info)."""
    label_allowlist: tuple[str, ...]
    guardrails: tuple[str, ...] = ()
    """Every guardrail's name, in file order (those without violations too)."""
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """guardrail -> the namespaces it applies to."""
    violations: Sequence[Violation] = ()
    exceptions: Sequence[ExceptionStatus] = ()
    drift: Sequence[DriftEntry] = ()
    intended: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    """(namespace, name, category or internet_egress) -> reason, for exposures present."""
    notes: Sequence[str] = ()
    """What could not be evaluated, and why."""
    findings: Sequence[Finding] = ()

    def intended_counts(self, exposures: Sequence[Exposure]) -> dict[str, dict[str, int]]:
        """namespace -> category -> permitted exposures declared intended."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for e in exposures:
            if e.permitted and (e.namespace, e.name, str(e.category)) in self.intended:
                out[e.namespace][str(e.category)] = out[e.namespace].get(str(e.category), 0) + 1
        return dict(out)

    def intended_egress_counts(self, egress: Sequence[InternetEgress]) -> dict[str, int]:
        """namespace -> workloads whose internet egress is declared intended."""
        out: dict[str, int] = defaultdict(int)
        for e in egress:
            if (e.namespace, e.workload, INTERNET_EGRESS) in self.intended:
                out[e.namespace] += 1
        return dict(out)

    def lines(self) -> list[str]:
        """The scan table's intent sections."""
        out: list[str] = []
        rows: list[tuple[str, ...]] = [
            ("GUARDRAIL", "NAMESPACE", "TEAM", "RULE", "OBJECT", "STATUS")
        ]
        for v in self.violations:
            status = "excepted" if v.excepted else str(v.severity)
            if v.exception is not None and not v.excepted:
                status += f" (exception expired {v.exception.expires})"
            rows.append((v.guardrail, v.namespace, v.team, v.rule, v.target, status))
        counted = Counter(v.guardrail for v in self.violations if not v.excepted)
        passing = [g for g in self.guardrails if not counted[g]]
        out.append(
            f"\nGUARDRAILS ({len(self.guardrails)}; {sum(counted.values())} violations, "
            f"{sum(1 for v in self.violations if v.excepted)} excepted; "
            f"met: {', '.join(passing) or 'none'})"
        )
        if len(rows) > 1:
            out += _table(rows)
        if self.exceptions:
            out.append(f"\nEXCEPTIONS ({len(self.exceptions)})")
            rows = [("GUARDRAIL", "NAMESPACE", "OBJECT", "OWNER", "EXPIRES", "MATCHED")]
            for e in self.exceptions:
                x = e.exception
                expires = x.expires.isoformat() + (" EXPIRED" if e.expired else "")
                rows.append(
                    (e.guardrail, x.namespace, x.object or "*", x.owner, expires, str(e.matched))
                )
            out += _table(rows)
        if self.drift:
            states = Counter(str(d.state) for d in self.drift)
            summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            out.append(f"\nBASELINE DRIFT ({len(self.drift)} checked: {summary})")
            rows = [("NAMESPACE", "POLICY", "STATE")]
            rows += [
                (d.namespace or "(cluster)", d.policy, str(d.state))
                for d in self.drift
                if d.state is not DriftState.IN_SYNC
            ]
            if len(rows) > 1:
                out += _table(rows)
        if self.intended:
            out.append(f"\nINTENDED EXPOSURES ({len(self.intended)})")
            out += [
                f"  {ns}/{name} {cat}: {reason}"
                for (ns, name, cat), reason in sorted(self.intended.items())
            ]
        teams: dict[str, list[str]] = defaultdict(list)
        for ns, team in self.teams.namespaces.items():
            teams[team].append(ns)
        out.append(f"\nTEAMS ({len(teams)})")
        out += [f"  {t}: {', '.join(sorted(n))}" for t, n in sorted(teams.items())]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "guardrails": list(self.guardrails),
            "teams": self.teams.to_json(),
            "namespace_labels": {ns: dict(v) for ns, v in self.namespace_labels.items()},
            "guardrail_violations": [v.to_json() for v in self.violations],
            "exceptions": [e.to_json() for e in self.exceptions],
            "baseline_drift": [d.to_json() for d in self.drift],
            "intended_exposures": [
                {"namespace": ns, "name": name, "exposure": cat, "reason": reason}
                for (ns, name, cat), reason in sorted(self.intended.items())
            ],
            "notes": list(self.notes),
        }


def evaluate_intent(
    intent: Intent,
    baseline: Sequence[BaselinePolicy],
    engine: Engine,
    coverage: Sequence[NamespaceCoverage],
    exposure: ExposureReport | None,
    today: dt.date,
    verification: Verification = VERIFIED,
) -> IntentReport:
    """`today` is the date exceptions are checked against (an injected clock);
    `verification` says which answers are unknown (never reported as met or violated)."""
    teams = team_map(intent.teams, engine)
    labels = {
        name: {k: ns.labels[k] for k in intent.namespace_labels if k in ns.labels}
        for name, ns in engine.namespaces.items()
    }
    result = evaluate_guardrails(intent, engine, coverage, exposure, teams, today, verification)
    drift: list[DriftEntry] = []
    if intent.baseline is not None:
        drift = baseline_drift(
            intent.baseline,
            baseline,
            engine.namespaces,
            engine.snapshot.policies,
            {(g.kind.rpartition("/")[2], g.namespace) for g in verification.unverified},
        )
    intended: dict[tuple[str, str, str], str] = {}
    if exposure is not None:
        for e in exposure.exposures:
            hit = intent.intended(e.namespace, e.name, str(e.category))
            if hit is not None and e.permitted:
                intended[(e.namespace, e.name, str(e.category))] = hit.reason
        for eg in exposure.internet_egress:
            name = eg.workload.split("/", 1)[-1].split("[", 1)[0]
            hit = intent.intended(eg.namespace, name, INTERNET_EGRESS)
            if hit is not None:
                intended[(eg.namespace, eg.workload, INTERNET_EGRESS)] = hit.reason
    findings = [v.finding() for v in result.violations if not v.excepted]
    findings += [s.finding() for s in result.exceptions if s.expired]
    findings += [d.finding() for d in drift if d.state not in _NO_FINDING]
    return IntentReport(
        teams=teams,
        namespace_labels=labels,
        label_allowlist=intent.namespace_labels,
        guardrails=tuple(g.name for g in intent.guardrails),
        scope=result.scope,
        violations=result.violations,
        exceptions=result.exceptions,
        drift=drift,
        intended=intended,
        notes=result.notes,
        findings=findings,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
