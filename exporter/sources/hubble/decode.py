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
    is given (live streams; replays of files need no window)."""

    __slots__ = ("agg", "node_events", "window")

    def __init__(self, agg: Aggregator, window: ResumeWindow | None = None) -> None:
        self.agg = agg
        self.window = window
        self.node_events = 0

    def response(self, resp: observer_pb2.GetFlowsResponse | observer_pb2.ExportEvent) -> None:
        which = resp.WhichOneof("response_types")
        if which == "flow":
            self.flow(resp.flow)
        elif which == "lost_events":
            lost = resp.lost_events
            self.agg.lost(lost.source, lost.num_events_lost)
        elif which == "node_status":
            self.node_events += 1
        else:
            self.agg.ignore()

    def flow(self, f: flow_pb2.Flow) -> None:
        agg = self.agg
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
        elif direction == _INGRESS or f.destination.namespace:
            local, peer = f.destination, f.source
        else:
            local, peer = f.source, f.destination
        ns = local.namespace or reserved_peer(local.identity, local.labels)
        workloads = local.workloads
        workload = workloads[0].name if workloads else pod_workload(local.pod_name)
        other = peer.namespace or reserved_peer(peer.identity, peer.labels)
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
                if direction == _INGRESS:
                    policy = policy_label(f.ingress_allowed_by)
                elif direction == _EGRESS:
                    policy = policy_label(f.egress_allowed_by)
                else:
                    policy = ""
            agg.connection(seconds, ns, workload, direction, verdict, detail, policy, other)
        elif event == EVENT_DROP:
            agg.drop(seconds, ns, workload, direction, f.drop_reason_desc, other)
        elif event == EVENT_L7:
            record = f.l7.WhichOneof("record") or ""
            agg.l7(seconds, ns, workload, direction, f.verdict, record, other)
        else:
            agg.ignore()
