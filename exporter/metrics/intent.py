"""The intent families (docs/intent.md, docs/metrics.md): teams and allowlisted namespace
labels on netfence_namespace_info, guardrail violations, exception expiry, baseline
drift. Built from the IntentReport of the cluster's last good scan."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

from exporter.core.intent import UNOWNED, DriftState

if TYPE_CHECKING:
    from exporter.metrics.collector import ClusterMetrics

_PREFIX = "netfence_"
_FROM_SCAN = " Value from the last scheduled scan (see netfence_scan_timestamp_seconds)."
_INVALID = re.compile(r"[^a-zA-Z0-9_]")

INTENT_FAMILIES: dict[str, tuple[str, str]] = {
    "namespace_info": (
        "gauge",
        "1 per namespace, with its owning team from the intent file (unowned when none "
        "names one) and the allowlisted namespace labels as label_<name>." + _FROM_SCAN,
    ),
    "guardrail_violations": (
        "gauge",
        "Violations of the intent file's guardrail in the namespace that no exception in "
        "force covers (0 where the guardrail applies and is met)." + _FROM_SCAN,
    ),
    "guardrail_exception_expiry_timestamp_seconds": (
        "gauge",
        "End of the last day (UTC) a guardrail exception holds, in seconds since the epoch; "
        "in the past: expired." + _FROM_SCAN,
    ),
    "baseline_drift": (
        "gauge",
        "1 for the baseline policy's current state in the namespace (in_sync, missing, "
        "modified, present_elsewhere, unknown), 0 for the others; namespace is empty for "
        "cluster-wide policies." + _FROM_SCAN,
    ),
}


def label_name(key: str) -> str:
    """The Prometheus label for a namespace label, as kube-state-metrics names them:
    `label_` + the key with every character outside [a-zA-Z0-9_] replaced by `_`."""
    return "label_" + _INVALID.sub("_", key)


def _gauge(name: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(_PREFIX + name, INTENT_FAMILIES[name][1], labels=list(labels))


def intent_families(results: Sequence[ClusterMetrics]) -> Iterator[Metric]:
    allowlist: list[str] = []
    for r in results:
        if r.intent is not None:
            allowlist += [k for k in r.intent.label_allowlist if k not in allowlist]
    info = _gauge("namespace_info", ["cluster", "namespace", "team", *map(label_name, allowlist)])
    violations = _gauge("guardrail_violations", ["cluster", "namespace", "team", "guardrail"])
    expiry = _gauge(
        "guardrail_exception_expiry_timestamp_seconds",
        ["cluster", "namespace", "guardrail", "object"],
    )
    drift = _gauge("baseline_drift", ["cluster", "namespace", "policy", "state"])
    for r in results:
        if r.timestamp is None:
            continue  # no successful scan yet
        c = r.cluster
        report = r.intent
        teams = report.teams.namespaces if report is not None else {}
        labels = report.namespace_labels if report is not None else {}
        for ns in r.namespaces:
            values = labels.get(ns.name, {})
            info.add_metric(
                [c, ns.name, teams.get(ns.name, UNOWNED), *(values.get(k, "") for k in allowlist)],
                1,
            )
        if report is None:
            continue
        counted = Counter(
            (v.namespace, v.team, v.guardrail) for v in report.violations if not v.excepted
        )
        for guardrail, namespaces in report.scope.items():
            for ns_name in namespaces:
                team = teams.get(ns_name, UNOWNED)
                counted.setdefault((ns_name, team, guardrail), 0)
        for (ns_name, team, guardrail), n in sorted(counted.items()):
            violations.add_metric([c, ns_name, team, guardrail], n)
        seen: set[tuple[str, str, str]] = set()
        for s in report.exceptions:
            key = (s.exception.namespace, s.guardrail, s.exception.object or "")
            if key not in seen:  # two exceptions for one object: the first one decides
                seen.add(key)
                expiry.add_metric([c, *key], end_of_day(s.exception.expires))
        for d in report.drift:
            for state in DriftState:
                drift.add_metric(
                    [c, d.namespace, d.policy, str(state)], 1 if d.state is state else 0
                )
    yield from (info, violations, expiry, drift)


def end_of_day(day: dt.date) -> float:
    """Seconds since the epoch at the end of `day` (UTC): the next day's midnight."""
    return float(calendar.timegm((day + dt.timedelta(days=1)).timetuple()))
