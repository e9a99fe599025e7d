"""docs/metrics.md marks every family STABLE or EXPERIMENTAL (as kube-state-metrics does),
and the families of the metric contract in docs/architecture.md are STABLE."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (netfence_\w+) \| \w+ \| [^|]* \| (\w+) \| .* \|$")
CONTRACT = {
    "netfence_build_info",
    "netfence_scan_success",
    "netfence_scan_timestamp_seconds",
    "netfence_scan_duration_seconds",
    "netfence_scan_errors_total",
    "netfence_namespaces",
    "netfence_namespace_default_deny",
    "netfence_namespace_pods",
    "netfence_namespace_isolated_pods",
    "netfence_exposures",
    "netfence_internet_egress_workloads",
    "netfence_policies",
    "netfence_findings",
    "netfence_policy_verdicts_total",
    "netfence_denied_flows_total",
    "netfence_hubble_up",
    "netfence_hubble_lost_events_total",
}


def _stability() -> dict[str, str]:
    text = (ROOT / "docs" / "metrics.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| netfence_")]
    found = {m.group(1): m.group(2) for m in map(ROW.match, rows) if m}
    assert len(found) == len(rows), [r for r in rows if not ROW.match(r)]
    return found


def test_every_family_has_a_stability() -> None:
    stability = _stability()
    assert stability, "no metric rows found"
    wrong = {name: s for name, s in stability.items() if s not in ("STABLE", "EXPERIMENTAL")}
    assert wrong == {}


def test_the_metric_contract_is_stable() -> None:
    stability = _stability()
    assert {name for name in CONTRACT if stability.get(name) != "STABLE"} == set()
