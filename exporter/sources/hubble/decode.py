"""Decoded Hubble responses -> `exporter.core.flows.Aggregator` calls.

The one place that knows the protobuf field names. Kept flat and branch-light: this runs
for every flow (docs/hubble.md, "Throughput").
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.core.flows import (
    DEFAULT_DENY,
    EVENT_DROP,
    EVENT_L7,
    EVENT_POLICY_VERDICT,
    Aggregator,
    Key,
    ResumeWindow,
    pod_workload,
    reserved_peer,
)
from exporter.sources.hubble._pb.flow import flow_pb2
from exporter.sources.hubble._pb.observer import observer_pb2

__all__ = ["FlowHandler", "policy_label"]

_INGRESS, _EGRESS = 1, 2
_DROPPED = 2
_POLICY_DENIED, _POLICY_DENY = 133, 181
_L7_REQUEST = 1


def policy_label(policies: Sequence[flow_pb2.Policy]) -> str:
    """`namespace/name` of the first policy (`name` when cluster-scoped), "" if none."""
    if not policies:
        return ""
    p = policies[0]
    return f"{p.namespace}/{p.name}" if p.namespace else p.name


class FlowHandler:
    """Feeds one stream's responses into an aggregator, de-duplicating when `window`
    is given (live streams; replays of files need no window).

    Throughput notes (docs/hubble.md): every protobuf field read costs 60-200 ns with
    the upb backend, more than the dict update it feeds, so this reads each field once,
    skips `WhichOneof` for flows, and caches pod name -> workload name (the `workloads`
    list is the most expensive read). Allowing policies (`*_allowed_by`) are not read:
    only denials are attributed."""

    __slots__ = ("_counts", "_workloads", "agg", "node_events", "window")

    MAX_CACHED_PODS = 200_000

    def __init__(self, agg: Aggregator, window: ResumeWindow | None = None) -> None:
        self.agg = agg
        self.window = window
        self.node_events = 0
        self._workloads: dict[str, str] = {}
        self._counts = agg.counts

    def response(self, resp: observer_pb2.GetFlowsResponse | observer_pb2.ExportEvent) -> None:
        f = resp.flow  # an empty default Flow when the response is something else
        event = f.event_type.type
        if event:
            self.flow(f, event)
            return
        which = resp.WhichOneof("response_types")
        if which == "flow":
            self.flow(f, 0)
        elif which == "lost_events":
            lost = resp.lost_events
            self.agg.lost(lost.source, lost.num_events_lost)
        elif which == "node_status":
            self.node_events += 1
        else:
            self.agg.ignore()

    def _workload(self, ep: flow_pb2.Endpoint) -> str:
        pod = ep.pod_name
        if not pod:
            return ""
        workload = self._workloads.get(pod)
        if workload is None:
            workloads = ep.workloads
            workload = workloads[0].name if workloads else pod_workload(pod)
            if len(self._workloads) >= self.MAX_CACHED_PODS:
                self._workloads.clear()
            self._workloads[pod] = workload
        return workload

    def flow(self, f: flow_pb2.Flow, event: int = -1) -> None:
        agg = self.agg
        if event < 0:
            event = f.event_type.type
        if not event:
            # Exporter files written with a field mask may lack event_type: a flow with
            # a drop reason is a drop event, anything else is not counted.
            if f.verdict == _DROPPED and f.drop_reason_desc:
                event = EVENT_DROP
            else:
                agg.ignore()
                return
        if event == EVENT_L7 and f.l7.type != _L7_REQUEST:
            agg.ignore()
            return
        t = f.time
        seconds = t.seconds
        window = self.window
        if window is not None:
            key: object = f.uuid or (seconds, t.nanos, f.node_name)
            if window.duplicate(key, seconds):
                return
        direction = f.traffic_direction
        if direction == _EGRESS:
            local, peer = f.source, f.destination
            ns = local.namespace
        elif direction == _INGRESS:
            local, peer = f.destination, f.source
            ns = local.namespace
        else:
            local, peer = f.destination, f.source
            ns = local.namespace
            if not ns:
                local, peer = peer, local
                ns = local.namespace
        if not ns:
            ns = reserved_peer(local.identity, local.labels)
        workload = self._workload(local)
        other = peer.namespace or reserved_peer(peer.identity, peer.labels)
        # The increments below are Aggregator.connection / drop / l7, inlined (hot path).
        counts = self._counts
        hour = seconds // 3600
        if event == EVENT_POLICY_VERDICT:
            verdict = f.verdict
            if verdict == _DROPPED:
                detail: int = f.drop_reason_desc
                if detail == _POLICY_DENIED:
                    policy = DEFAULT_DENY
                elif detail == _POLICY_DENY:
                    policy = policy_label(
                        f.ingress_denied_by if direction == _INGRESS else f.egress_denied_by
                    )
                else:
                    policy = ""
            else:
                detail = f.policy_match_type
                policy = ""
            ckey: Key = (
                EVENT_POLICY_VERDICT,
                hour,
                ns,
                workload,
                direction,
                verdict,
                detail,
                policy,
                other,
            )
        elif event == EVENT_DROP:
            ckey = (
                EVENT_DROP,
                hour,
                ns,
                workload,
                direction,
                _DROPPED,
                f.drop_reason_desc,
                "",
                other,
            )
        elif event == EVENT_L7:
            record = f.l7.WhichOneof("record") or ""
            ckey = (EVENT_L7, hour, ns, workload, direction, f.verdict, 0, record, other)
        else:
            agg.ignore()
            return
        counts[ckey] = counts.get(ckey, 0) + 1
