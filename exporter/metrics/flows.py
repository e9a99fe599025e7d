"""Prometheus families of the Hubble flow aggregation (docs/hubble.md, "Metrics").

Counters come from `exporter.core.flows.FlowSnapshot` (monotonic since the process
started, labels bounded per namespace); they change continuously, so this collector is
rendered on every scrape (register it next to the process collector, in the `extra`
registry of `exporter.metrics.exposition`), never cached with the scan result.

Every series carries `cluster` and `shard` (the consumer process when one cluster's
flows are split across processes; dashboards `sum without (shard)`).

`exporter.serve.server` passes `FlowCollector(lambda: [consumer.metrics() ...])` to
`exporter.metrics.exposition(..., fresh=[...])`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.core.flows import (
    DENIED_LABELS,
    DROPPED_PACKETS_LABELS,
    L7_LABELS,
    MATRIX_LABELS,
    POLICY_VERDICTS_LABELS,
    WORKLOAD_VERDICTS_LABELS,
    FlowSnapshot,
)

__all__ = ["FLOW_FAMILIES", "FlowCollector", "FlowMetrics"]

PREFIX = "netfence_"

# name (without prefix) -> (type, HELP, labels after cluster and shard)
FLOW_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "policy_verdicts_total": (
        "counter",
        "Connections by Hubble policy verdict (policy-verdict events: one per connection "
        "and enforcing endpoint), by the enforcing endpoint's namespace.",
        POLICY_VERDICTS_LABELS,
    ),
    "denied_flows_total": (
        "counter",
        "Connections denied by network policy (dropped policy verdicts); policy is the "
        "named deny policy, default-deny when no rule allowed it, other beyond the top N.",
        DENIED_LABELS,
    ),
    "workload_policy_verdicts_total": (
        "counter",
        "Connections by verdict per enforcing workload (top N per namespace, the rest "
        "under workload=other).",
        WORKLOAD_VERDICTS_LABELS,
    ),
    "dropped_packets_total": (
        "counter",
        "Packets dropped by the datapath (drop events, one per packet) by reason.",
        DROPPED_PACKETS_LABELS,
    ),
    "l7_requests_total": (
        "counter",
        "L7 requests (HTTP, DNS, Kafka) by proxy verdict: dropped means an L7 rule denied it.",
        L7_LABELS,
    ),
    "namespace_flows_total": (
        "counter",
        "Connections between namespaces by verdict; direction is where the verdict was "
        "enforced (a connection enforced on both sides counts once per side). Non-pod "
        "peers appear as reserved:world, reserved:host, ...",
        MATRIX_LABELS,
    ),
    "hubble_lost_events_total": (
        "counter",
        "Events Hubble or Relay reported lost (counts are a lower bound while this grows).",
        ("source",),
    ),
    "hubble_decode_errors_total": (
        "counter",
        "Hubble events that could not be decoded (bad lines of replayed files: not UTF-8, "
        "not JSON, nested too deeply), skipped and counted.",
        (),
    ),
    "hubble_up": ("gauge", "1 while the Hubble Relay stream of the cluster is up.", ()),
    "hubble_events_total": (
        "counter",
        "Events the flow consumer read from Relay or replayed files (counted or ignored).",
        (),
    ),
    "hubble_last_event_timestamp_seconds": (
        "gauge",
        "Time of the newest event read from the Relay stream (the consumer's lag is "
        "time() minus this).",
        (),
    ),
    "unused_exposures": (
        "gauge",
        "Permitted exposures (last scan) that no admitted connection used in the "
        "configured window, by namespace and exposure category.",
        ("namespace", "exposure"),
    ),
    "policy_allowed_flows_total": (
        "counter",
        "Connections Hubble says the policy allowed (forwarded policy verdicts naming it in "
        "ingress_allowed_by / egress_allowed_by); top N policies per namespace, the rest "
        "under policy=other.",
        ("namespace", "policy"),
    ),
    "policy_last_used_timestamp_seconds": (
        "gauge",
        "End of the last hour in which Hubble saw the policy (last scan, Cilium-enforced, "
        "with an allow rule) allow a connection; absent: no use recorded.",
        ("namespace", "policy"),
    ),
    "unused_policies": (
        "gauge",
        "Policies of the last scan with an allow rule that allowed no connection in the "
        "unused-policy window (90 days); absent until flows cover the whole window.",
        ("namespace",),
    ),
    "policy_usage_observed_since_timestamp_seconds": (
        "gauge",
        "When netfence first counted flows for the cluster: unused policies are known "
        "once this is a whole window (90 days) ago.",
        (),
    ),
    "default_deny_forwarded_flows": (
        "gauge",
        "Connections admitted by an allow-all rule or in policy-audit mode, during the "
        "signal window, where the last scan says default-deny is in force: the scan and "
        "the datapath disagree when this is above 0.",
        ("namespace", "direction"),
    ),
}


@dataclass(frozen=True, slots=True)
class FlowMetrics:
    """What one consumer (cluster, shard) exports; immutable, replaced as a whole."""

    snapshot: FlowSnapshot
    up: bool | None
    """Whether the Relay stream is up; None when there is no stream (replayed files only):
    no `netfence_hubble_up` series then."""
    unused_exposures: Mapping[tuple[str, str], int] = field(default_factory=dict)
    default_deny_forwarded: Mapping[tuple[str, str], int] = field(default_factory=dict)
    policy_allowed: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(namespace, policy or `other`) -> allowed connections (bounded, monotonic)."""
    policy_last_used: Mapping[tuple[str, str], float] = field(default_factory=dict)
    unused_policies: Mapping[tuple[str], int] = field(default_factory=dict)
    """Empty while unknown (flows do not cover the window yet)."""
    observed_since: float | None = None
    decode_errors: int = 0
    """Events (replayed lines) that could not be decoded, since the process started."""
    last_event: float | None = None
    """Time of the newest event of the Relay stream; None before one (or replay only)."""


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    kind, help_text, labels = FLOW_FAMILIES[name]
    names = ["cluster", "shard", *labels]
    if kind == "counter":
        return CounterMetricFamily(PREFIX + name.removesuffix("_total"), help_text, labels=names)
    return GaugeMetricFamily(PREFIX + name, help_text, labels=names)


class FlowCollector(Collector):
    def __init__(self, provider: Callable[[], Sequence[FlowMetrics]]) -> None:
        self._provider = provider

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        fams = {name: _family(name) for name in FLOW_FAMILIES}
        for m in self._provider():
            s = m.snapshot
            base = [s.cluster, s.shard]
            for name, data in (
                ("policy_verdicts_total", s.policy_verdicts),
                ("denied_flows_total", s.denied),
                ("workload_policy_verdicts_total", s.workload_verdicts),
                ("dropped_packets_total", s.dropped_packets),
                ("l7_requests_total", s.l7),
                ("namespace_flows_total", s.namespace_matrix),
                ("unused_exposures", m.unused_exposures),
                ("default_deny_forwarded_flows", m.default_deny_forwarded),
                ("policy_allowed_flows_total", m.policy_allowed),
                ("policy_last_used_timestamp_seconds", m.policy_last_used),
                ("unused_policies", m.unused_policies),
            ):
                fam = fams[name]
                for labels, value in sorted(data.items()):
                    fam.add_metric([*base, *labels], value)
            for source, value in sorted(s.lost_events.items()):
                fams["hubble_lost_events_total"].add_metric([*base, source], value)
            if m.observed_since is not None:
                fams["policy_usage_observed_since_timestamp_seconds"].add_metric(
                    base, m.observed_since
                )
            fams["hubble_decode_errors_total"].add_metric(base, m.decode_errors)
            if m.up is not None:
                fams["hubble_up"].add_metric(base, 1 if m.up else 0)
            fams["hubble_events_total"].add_metric(base, s.flows + s.ignored)
            if m.last_event is not None:
                fams["hubble_last_event_timestamp_seconds"].add_metric(base, m.last_event)
        yield from fams.values()
