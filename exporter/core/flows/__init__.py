"""Verdict aggregation over decoded Hubble flows (standard library only, no gRPC).

The Hubble source (`exporter.sources.hubble`) decodes each flow and calls one of
`Aggregator.connection` (policy-verdict events, event type 5: one per connection and
enforcing endpoint), `Aggregator.drop` (drop events, type 1: one per dropped packet) or
`Aggregator.l7` (L7 access-log requests, type 129) with plain ints and strings. The hot
path is one dict increment keyed by a tuple; everything else (label bounding, the
cross-namespace matrix, hourly roll-ups, joins with the static scan) happens when a
snapshot is taken or on `tick`, a few times a minute.

Threading: one consumer thread calls `connection`/`drop`/`l7`/`lost`/`tick`; any thread
may call `snapshot`. Copies of the counters are taken under a lock that `tick` also
holds while it moves closed hours out, so a scrape never sees a flow twice or not at all.

Semantics (docs/hubble.md):
- `namespace`/`workload` are those of the endpoint that enforced the verdict: the
  destination for ingress, the source for egress (docs/architecture.md, metric contract).
- `policy` is the named deny policy for POLICY_DENY (181), `default-deny` for
  POLICY_DENIED (133, no rule allowed it: attributable only to the policies that
  isolate the endpoint, which `netfence explain --to NS/WORKLOAD` lists), "" for
  other verdicts (allowing policies are not read: only denials are attributed).
- Label cardinality is bounded: per namespace only the top N workloads and policies
  (by flows so far) get their own label; the rest is counted under `other`. Namespaces
  are bounded the same way: the `max_namespaces` busiest enforcing namespaces get their
  own label, the rest is counted under `_other` (not a valid namespace name, so it never
  collides with one), with `other` workloads and policies. In the cross-namespace matrix
  the `matrix_top_n` busiest namespace pairs keep both names; beyond them the peer
  namespace becomes `_other` (reserved peers such as `reserved:world` are few and always
  kept). Admission is sticky and counters stay monotonic (what was counted under
  `other` / `_other` stays there).

Modules: vocabulary.py (event types, verdicts, reasons, reserved peers), aggregator.py
(Aggregator, FlowSnapshot, RollupRow), joins.py (with the static scan), resume.py
(reconnects without double counting).
"""

from exporter.core.flows.aggregator import (
    DEFAULT_NAMESPACE_TTL_SECONDS,
    DEFAULT_TOP_N,
    DENIED_LABELS,
    DROPPED_PACKETS_LABELS,
    L7_LABELS,
    MATRIX_LABELS,
    MAX_POLICIES,
    POLICY_VERDICTS_LABELS,
    WORKLOAD_VERDICTS_LABELS,
    Aggregator,
    FlowsConfig,
    FlowSnapshot,
    Key,
    Labels,
    RollupRow,
)
from exporter.core.flows.joins import (
    INTERNET_PEERS,
    ExposureLike,
    default_deny_disagreements,
    peer_category,
    unused_exposures,
)
from exporter.core.flows.resume import (
    ResumeWindow,
)
from exporter.core.flows.vocabulary import (
    DEFAULT_DENY,
    DIRECTIONS,
    DROP_REASONS,
    EVENT_DROP,
    EVENT_L7,
    EVENT_POLICY_VERDICT,
    HOUR,
    LOST_EVENT_SOURCES,
    MATCH_ALL,
    OTHER,
    OTHER_NAMESPACE,
    VERDICTS,
    pod_workload,
    reserved_peer,
)

__all__ = [
    "DEFAULT_DENY",
    "DEFAULT_NAMESPACE_TTL_SECONDS",
    "DEFAULT_TOP_N",
    "DENIED_LABELS",
    "DIRECTIONS",
    "DROPPED_PACKETS_LABELS",
    "DROP_REASONS",
    "EVENT_DROP",
    "EVENT_L7",
    "EVENT_POLICY_VERDICT",
    "HOUR",
    "INTERNET_PEERS",
    "L7_LABELS",
    "LOST_EVENT_SOURCES",
    "MATCH_ALL",
    "MATRIX_LABELS",
    "MAX_POLICIES",
    "OTHER",
    "OTHER_NAMESPACE",
    "POLICY_VERDICTS_LABELS",
    "VERDICTS",
    "WORKLOAD_VERDICTS_LABELS",
    "Aggregator",
    "ExposureLike",
    "FlowSnapshot",
    "FlowsConfig",
    "Key",
    "Labels",
    "ResumeWindow",
    "RollupRow",
    "default_deny_disagreements",
    "peer_category",
    "pod_workload",
    "reserved_peer",
    "unused_exposures",
]
