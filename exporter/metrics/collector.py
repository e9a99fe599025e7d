"""The Prometheus view of the latest scan results (metric contract: docs/architecture.md,
reference: docs/metrics.md).

The Collector reads whatever immutable `ClusterMetrics` the provider hands it at scrape
time; scrapes never trigger scans. A cluster whose last scan failed keeps its last good
values, with `netfence_scan_success` 0 and `netfence_scan_timestamp_seconds` telling
their age.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.core.coverage import NamespaceCoverage
from exporter.core.exposure import Category, Exposure
from exporter.core.findings import Finding
from exporter.core.intent import IntentReport
from exporter.core.model import Direction
from exporter.metrics.intent import INTENT_FAMILIES, intent_families

PREFIX = "netfence_"
SCAN_STATES = ("success", "degraded", "failure")
_FROM_SCAN = " Value from the last scheduled scan (see netfence_scan_timestamp_seconds)."


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """Everything exported for one cluster: the last good result plus scan health."""

    cluster: str
    success: bool
    """Whether the last scan attempt succeeded."""
    timestamp: float | None = None
    """When the last successful scan started (seconds since the epoch)."""
    duration: float | None = None
    """How long the last scan attempt took."""
    errors: Mapping[str, int] = field(default_factory=dict)
    """stage -> errors counted since the process started (monotonic)."""
    namespaces: Sequence[NamespaceCoverage] = ()
    findings: Sequence[Finding] = ()
    exposure: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    internet_egress_workloads: Mapping[str, int] = field(default_factory=dict)
    policies_by_kind: Mapping[tuple[str, str], int] = field(default_factory=dict)
    unreadable_kinds: Sequence[str] = ()
    degraded: bool = False
    """The last scan attempt produced results, but some answers are unknown (below)."""
    unknown_coverage: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    """namespace -> (kind, reason) making its default-deny and isolation unknown."""
    unknown_exposure: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    """namespace -> (kind, reason) making its exposure and internet egress unknown."""
    intent: IntentReport | None = None
    """The distance to the intent file (serve --intent), when one is configured."""
    intended_exposure: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """namespace -> category -> permitted exposures the intent declares intended."""
    intended_egress: Mapping[str, int] = field(default_factory=dict)
    """namespace -> workloads whose internet egress the intent declares intended."""
    exposures: Sequence[Exposure] = ()
    """Every exposure of the last scan (permitted ones become `netfence_exposure_info`)."""
    interval: float | None = None
    """The configured scan interval (seconds), for staleness alerts."""


EXPOSURE_INFO_LIMIT = 10_000
"""Default cap of `netfence_exposure_info` series per cluster (docs/metrics.md)."""

# Which exposures the cap keeps first: the widest audience first.
_CATEGORY_RANK = {
    Category.INTERNET: 0,
    Category.INGRESS: 1,
    Category.GATEWAY: 2,
    Category.ALL_NAMESPACES: 3,
    Category.OTHER_NAMESPACES: 4,
}


# name (without prefix) -> (type, HELP). The single source of the exported families:
# docs/metrics.md is checked against it by a test.
FAMILIES: dict[str, tuple[str, str]] = {
    "build_info": ("gauge", "netfence build information; always 1."),
    "scan_success": (
        "gauge",
        "1 if the last scheduled scan of the cluster succeeded with every answer verified, "
        "else 0 (failed or degraded: see netfence_scan_state).",
    ),
    "scan_state": (
        "gauge",
        "1 for the state of the last scheduled scan: success, degraded (some answers "
        "unknown: an enforced kind was unreadable or unparsable) or failure.",
    ),
    "scan_timestamp_seconds": (
        "gauge",
        "Start of the last successful scheduled scan, in seconds since the epoch.",
    ),
    "scan_duration_seconds": ("gauge", "Duration of the last scheduled scan attempt."),
    "scan_errors_total": (
        "counter",
        "Errors counted by scans since the process started, by stage "
        "(list: API refused a kind; load: unusable object; scan: whole scan failed; "
        "store: history not written; scheduler: job missed or crashed).",
    ),
    "scan_unreadable_kinds": (
        "gauge",
        "1 for each kind the API refused (403) in the last scan: not analysed." + _FROM_SCAN,
    ),
    "namespaces": ("gauge", "Namespaces in the cluster." + _FROM_SCAN),
    "namespace_coverage_known": (
        "gauge",
        "1 if the namespace's default-deny and isolation were verified; 0 if unknown "
        "(absent netfence_namespace_default_deny; why: netfence_namespace_unverified_kinds)."
        + _FROM_SCAN,
    ),
    "namespace_exposure_known": (
        "gauge",
        "1 if the namespace's exposure and internet egress were verified; 0 if unknown "
        "(absent netfence_exposures)." + _FROM_SCAN,
    ),
    "namespace_unverified_kinds": (
        "gauge",
        "1 for each kind whose objects could not be read (reason unreadable: 403; "
        "unparsable: input error) and that decides an answer of the namespace." + _FROM_SCAN,
    ),
    "namespace_default_deny": (
        "gauge",
        "1 if default-deny is in force in the namespace for the direction, else 0." + _FROM_SCAN,
    ),
    "namespace_pods": ("gauge", "Pods in the namespace." + _FROM_SCAN),
    "namespace_isolated_pods": (
        "gauge",
        "Pods of the namespace isolated in the direction by some policy." + _FROM_SCAN,
    ),
    "scan_interval_seconds": (
        "gauge",
        "Configured interval between scheduled scans of the cluster (alert on staleness "
        "relative to it).",
    ),
    "exposures": (
        "gauge",
        "Permitted exposures of the namespace's objects (Services, and workloads with "
        "hostNetwork/hostPort) by category; intended=true: declared intended in the intent "
        "file. Categories overlap: all_namespaces is a subset of other_namespaces and one "
        "object can be in several, so never sum across exposure." + _FROM_SCAN,
    ),
    "exposure_info": (
        "gauge",
        "1 for each permitted exposure of an object, by category; capped per cluster "
        "(widest categories kept first), see netfence_exposure_info_dropped." + _FROM_SCAN,
    ),
    "exposure_info_dropped": (
        "gauge",
        "Permitted exposures left out of netfence_exposure_info by its per-cluster cap in "
        "the last scan (0 when complete)." + _FROM_SCAN,
    ),
    "internet_egress_workloads": (
        "gauge",
        "Workloads of the namespace that can reach public addresses; intended=true: "
        "declared intended in the intent file." + _FROM_SCAN,
    ),
    "policies": ("gauge", "Policy objects by namespace and kind." + _FROM_SCAN),
    "findings": (
        "gauge",
        "Findings by namespace, check, severity and direction (empty when the check has "
        "none). Every namespace has a series (0) for each check, severity and direction "
        "found anywhere in the cluster." + _FROM_SCAN,
    ),
    **INTENT_FAMILIES,
}


def _gauge(name: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, FAMILIES[name][1], labels=list(labels))


class NetfenceCollector(Collector):
    def __init__(
        self,
        provider: Callable[[], Sequence[ClusterMetrics]],
        version: str,
        exposure_info_limit: int = EXPOSURE_INFO_LIMIT,
    ) -> None:
        self._provider = provider
        self._version = version
        self._exposure_info_limit = exposure_info_limit

    def describe(self) -> Iterator[Metric]:
        return iter(())  # families depend on data; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        return self.collect_from(self._provider())

    def collect_from(self, results: Sequence[ClusterMetrics]) -> Iterator[Metric]:
        build = _gauge("build_info", ["version"])
        build.add_metric([self._version], 1)
        yield build

        success = _gauge("scan_success", ["cluster"])
        timestamp = _gauge("scan_timestamp_seconds", ["cluster"])
        duration = _gauge("scan_duration_seconds", ["cluster"])
        interval = _gauge("scan_interval_seconds", ["cluster"])
        errors = CounterMetricFamily(
            PREFIX + "scan_errors", FAMILIES["scan_errors_total"][1], labels=["cluster", "stage"]
        )
        unreadable = _gauge("scan_unreadable_kinds", ["cluster", "kind"])
        state = _gauge("scan_state", ["cluster", "state"])
        coverage_known = _gauge("namespace_coverage_known", ["cluster", "namespace"])
        exposure_known = _gauge("namespace_exposure_known", ["cluster", "namespace"])
        unverified = _gauge(
            "namespace_unverified_kinds", ["cluster", "namespace", "kind", "reason"]
        )
        namespaces = _gauge("namespaces", ["cluster"])
        default_deny = _gauge("namespace_default_deny", ["cluster", "namespace", "direction"])
        pods = _gauge("namespace_pods", ["cluster", "namespace"])
        isolated = _gauge("namespace_isolated_pods", ["cluster", "namespace", "direction"])
        exposed = _gauge("exposures", ["cluster", "namespace", "exposure", "intended"])
        info = _gauge("exposure_info", ["cluster", "namespace", "object", "kind", "exposure"])
        info_dropped = _gauge("exposure_info_dropped", ["cluster"])
        egress = _gauge("internet_egress_workloads", ["cluster", "namespace", "intended"])
        policies = _gauge("policies", ["cluster", "namespace", "kind"])
        findings = _gauge("findings", ["cluster", "namespace", "check", "severity", "direction"])

        directions = [(d, str(d)) for d in Direction]
        for r in results:
            c = r.cluster
            success.add_metric([c], 1 if r.success and not r.degraded else 0)
            current = "failure" if not r.success else "degraded" if r.degraded else "success"
            for name in SCAN_STATES:
                state.add_metric([c, name], 1 if name == current else 0)
            if r.timestamp is not None:
                timestamp.add_metric([c], r.timestamp)
            if r.duration is not None:
                duration.add_metric([c], r.duration)
            if r.interval is not None:
                interval.add_metric([c], r.interval)
            for stage, count in sorted(r.errors.items()):
                errors.add_metric([c, stage], count)
            if r.timestamp is None:
                continue  # no successful scan yet: no data series, only the health ones
            for kind in sorted(set(r.unreadable_kinds)):
                unreadable.add_metric([c, kind], 1)
            namespaces.add_metric([c], len(r.namespaces))
            for ns in r.namespaces:
                pods.add_metric([c, ns.name], ns.pods)
                known = ns.name not in r.unknown_coverage
                coverage_known.add_metric([c, ns.name], 1 if known else 0)
                exposure_known.add_metric([c, ns.name], 0 if ns.name in r.unknown_exposure else 1)
                if not known:
                    continue  # unknown: no value rather than a guessed 0 or 1
                for d, label in directions:
                    cov = ns.direction(d)
                    default_deny.add_metric([c, ns.name, label], 1 if cov.default_deny else 0)
                    isolated.add_metric([c, ns.name, label], cov.isolated_pods)
            for ns_name, gaps in sorted(r.unknown_exposure.items()):
                for kind, reason in sorted(set(gaps)):
                    unverified.add_metric([c, ns_name, kind, reason], 1)
            # Every namespace gets every per-namespace family, zeros included, so that
            # `count(x == 0)` and `x == 0` joins are right (kube-state-metrics does the same);
            # except where the answer is unknown: no value rather than a guessed 0.
            names = [ns.name for ns in r.namespaces]
            categories = [str(cat) for cat in Category]
            for ns_name in _with_extra(names, r.exposure):
                if ns_name in r.unknown_exposure:
                    continue
                by_category = r.exposure.get(ns_name, {})
                meant = r.intended_exposure.get(ns_name, {})
                for category in _with_extra(categories, by_category):
                    count, n = by_category.get(category, 0), meant.get(category, 0)
                    exposed.add_metric([c, ns_name, category, "false"], count - n)
                    exposed.add_metric([c, ns_name, category, "true"], n)
            for ns_name in _with_extra(names, r.internet_egress_workloads):
                if ns_name in r.unknown_exposure:
                    continue
                count = r.internet_egress_workloads.get(ns_name, 0)
                n = r.intended_egress.get(ns_name, 0)
                egress.add_metric([c, ns_name, "false"], count - n)
                egress.add_metric([c, ns_name, "true"], n)
            listed = set(names)
            by_kind = r.policies_by_kind
            kinds = sorted({"NetworkPolicy"} | {k for (n, k) in by_kind if n})
            for ns_name in names:
                for kind in kinds:
                    policies.add_metric([c, ns_name, kind], by_kind.get((ns_name, kind), 0))
            for (ns_name, kind), count in sorted(by_kind.items()):
                if ns_name not in listed:  # cluster-scoped ("") or not in the namespace list
                    policies.add_metric([c, ns_name, kind], count)
            counted = Counter(
                (f.namespace, str(f.check), str(f.severity), f.direction) for f in r.findings
            )
            combos = sorted({k[1:] for k in counted if k[0]})
            for ns_name in names:
                for combo in combos:
                    findings.add_metric([c, ns_name, *combo], counted.get((ns_name, *combo), 0))
            for key, count in sorted(counted.items()):
                if key[0] not in listed:  # cluster-scoped ("") or not in the namespace list
                    findings.add_metric([c, *key], count)
            verified = [e for e in r.exposures if e.namespace not in r.unknown_exposure]
            kept, dropped = _exposure_info(verified, self._exposure_info_limit)
            for labels in kept:
                info.add_metric([c, *labels], 1)
            info_dropped.add_metric([c], dropped)
        yield from (
            success,
            state,
            timestamp,
            duration,
            interval,
            errors,
            unreadable,
            namespaces,
            coverage_known,
            exposure_known,
            unverified,
            default_deny,
            pods,
            isolated,
            exposed,
            info,
            info_dropped,
            egress,
            policies,
            findings,
        )
        yield from intent_families(results)


def _with_extra(names: Sequence[str], data: Mapping[str, object]) -> list[str]:
    """`names` in order, then any key of `data` they lack (sorted): nothing is dropped."""
    known = set(names)
    return [*names, *sorted(k for k in data if k not in known)]


def _exposure_info(
    exposures: Sequence[Exposure], limit: int
) -> tuple[list[tuple[str, str, str, str]], int]:
    """(namespace, object, kind, exposure) of the permitted exposures, the widest
    categories first, at most `limit`; and how many the cap left out."""
    rows = sorted(
        {(e.namespace, e.name, e.kind, e.category) for e in exposures if e.permitted},
        key=lambda r: (_CATEGORY_RANK.get(r[3], 9), r[0], r[1], r[2]),
    )
    kept = [(ns, name, kind, str(cat)) for ns, name, kind, cat in rows[: max(limit, 0)]]
    kept.sort()
    return kept, len(rows) - len(kept)
