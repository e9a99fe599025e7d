"""Decoded Hubble responses -> `exporter.core.flows.Aggregator` calls.

The one place that knows the protobuf field names. Kept flat and branch-light: this runs
for every flow (docs/hubble.md, "Throughput").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from exporter.core.flows import (
    DEFAULT_DENY,
    Aggregator,
    Key,
    ResumeWindow,
    pod_workload,
    reserved_peer,
)
from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.netfence import counted_pb2
from exporter.sources.hubble._pb.observer import observer_pb2

__all__ = ["FlowHandler", "Response", "policy_label"]

_INGRESS, _EGRESS = 1, 2
_DROPPED = 2
_POLICY_DENIED, _POLICY_DENY = 133, 181
_L7_REQUEST = 1


class _Named(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...


Response = observer_pb2.GetFlowsResponse | observer_pb2.ExportEvent | counted_pb2.CountedResponse
"""What the handler reads: the upstream messages (replay, tests) or netfence's decoding
view of the same bytes (the live stream, see proto/netfence/counted.proto)."""


def policy_label(policies: Sequence[_Named]) -> str:
    """`namespace/name` of the first policy (`name` when cluster-scoped), "" if none."""
    if not policies:
        return ""
    p = policies[0]
    return f"{p.namespace}/{p.name}" if p.namespace else p.name


def _reserved(ep: flow_pb2.Endpoint | counted_pb2.CountedEndpoint) -> str:
    """Label of an endpoint without a namespace. The live stream's decoding view has no
    `labels` (identity alone decides); replayed upstream messages have them."""
    return reserved_peer(ep.identity, getattr(ep, "labels", ()))


class FlowHandler:
    """Feeds one stream's responses into an aggregator, de-duplicating when `window`
    is given (live streams; replays of files need no window).

    Throughput notes (docs/hubble.md): every protobuf field read costs 60-200 ns with
    the upb backend, more than the dict update it feeds, so this reads each field once,
    skips `WhichOneof` for flows, and caches pod name -> workload name (the `workloads`
    list is the most expensive read). Allowing policies (`*_allowed_by`) are read only
    on forwarded policy verdicts, for the last use of each policy (stale policies); the
    verdict families attribute denials only."""

    __slots__ = ("_counts", "_workloads", "agg", "node_events", "window")

    MAX_CACHED_PODS = 200_000

    def __init__(self, agg: Aggregator, window: ResumeWindow | None = None) -> None:
        self.agg = agg
        self.window = window
        self.node_events = 0
        self._workloads: dict[str, str] = {}
        self._counts = agg.counts

    def response(self, resp: Response) -> None:
        """Counts one response. The flow path is one flat function on purpose: each
        call or attribute read here costs ~2-4 % of the aggregation throughput."""
        f = resp.flow  # an empty default Flow when the response is something else
        event = f.event_type.type
        if not event and not self._not_typed(resp):
            return
        t = f.time
        seconds = t.seconds
        window = self.window
        if window is not None and window.duplicate(
            f.uuid or (seconds, t.nanos, f.node_name), seconds
        ):
            return
        if event == 129 and f.l7.type != 1:  # L7: count requests, not responses
            self.agg.ignore()
            return
        direction = f.traffic_direction
        if direction == 2:  # egress: the source enforced it
            local, peer = f.source, f.destination
            ns = local.namespace
        elif direction == 1:
            local, peer = f.destination, f.source
            ns = local.namespace
        else:
            local, peer = f.destination, f.source
            ns = local.namespace
            if not ns:
                local, peer = peer, local
                ns = local.namespace
        if not ns:
            ns = _reserved(local)
        pod = local.pod_name
        workload = self._workloads.get(pod)
        if workload is None:
            workload = self._workload(local, pod)
        other = peer.namespace or _reserved(peer)
        # Aggregator.connection / drop / l7, inlined (same Key layout).
        if event == 5:
            verdict = f.verdict
            if verdict == 2:
                detail: int = f.drop_reason_desc
                if detail == 133:
                    policy = DEFAULT_DENY
                elif detail == 181:
                    policy = policy_label(
                        f.ingress_denied_by if direction == 1 else f.egress_denied_by
                    )
                else:
                    policy = ""
            else:
                detail = f.policy_match_type
                policy = ""
                allowed = f.ingress_allowed_by if direction == 1 else f.egress_allowed_by
                if allowed:  # which policies allowed it: stale-policy review
                    for p in allowed:
                        self.agg.allowed_by(seconds, p.namespace, p.name)
            key: Key = (5, seconds // 3600, ns, workload, direction, verdict, detail, policy, other)
        elif event == 1 or not event:  # 0: an untyped drop (see _not_typed)
            reason = f.drop_reason_desc
            key = (1, seconds // 3600, ns, workload, direction, 2, reason, "", other)
        elif event == 129:
            record = f.l7.WhichOneof("record") or ""
            key = (129, seconds // 3600, ns, workload, direction, f.verdict, 0, record, other)
        else:
            self.agg.ignore()
            return
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    def _not_typed(self, resp: Response) -> bool:
        """A response that is not a typed flow: lost events, node status, or a flow from
        an exporter file written with a field mask that dropped `event_type` (counted as
        a drop event when it has a drop reason). True when it is to be counted as a
        drop (the caller reads event 0 as a drop)."""
        which = resp.WhichOneof("response_types")
        if which == "flow":
            f = resp.flow
            if f.verdict == _DROPPED and f.drop_reason_desc:
                return True
        elif which == "lost_events":
            lost = resp.lost_events
            self.agg.lost(lost.source, lost.num_events_lost)
            return False
        elif which == "node_status":
            self.node_events += 1
            return False
        self.agg.ignore()
        return False

    def _workload(self, ep: flow_pb2.Endpoint | counted_pb2.CountedEndpoint, pod: str) -> str:
        """Cache miss of the pod name -> workload name lookup inlined in `response`."""
        if not pod:
            return ""
        workloads = ep.workloads
        workload = workloads[0].name if workloads else pod_workload(pod)
        if len(self._workloads) >= self.MAX_CACHED_PODS:
            self._workloads.clear()
        self._workloads[pod] = workload
        return workload
