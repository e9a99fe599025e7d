"""One scan's distance to the intent: teams, guardrail violations and exceptions,
intended exposures and baseline drift, as one immutable result that `scan` prints,
`serve` exports and reports read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
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

INTERNET_EGRESS = "internet_egress"
"""The intended-exposure kind for a workload's internet egress."""


@dataclass(frozen=True, slots=True)
class IntentReport:
    teams: TeamMap
    namespace_labels: Mapping[str, Mapping[str, str]]
    """namespace -> allowlisted label -> value (netfence_namespace_info)."""
    label_allowlist: tuple[str, ...]
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

    def to_json(self) -> dict[str, object]:
        return {
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
) -> IntentReport:
    """`today` is the date exceptions are checked against (an injected clock)."""
    teams = team_map(intent.teams, engine)
    labels = {
        name: {k: ns.labels[k] for k in intent.namespace_labels if k in ns.labels}
        for name, ns in engine.namespaces.items()
    }
    result = evaluate_guardrails(intent, engine, coverage, exposure, teams, today)
    drift: list[DriftEntry] = []
    if intent.baseline is not None:
        drift = baseline_drift(
            intent.baseline, baseline, engine.namespaces, engine.snapshot.policies
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
    findings += [d.finding() for d in drift if d.state is not DriftState.IN_SYNC]
    return IntentReport(
        teams=teams,
        namespace_labels=labels,
        label_allowlist=intent.namespace_labels,
        violations=result.violations,
        exceptions=result.exceptions,
        drift=drift,
        intended=intended,
        notes=result.notes,
        findings=findings,
    )
