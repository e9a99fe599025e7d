"""The vocabulary of Hubble events as netfence counts them: event types, verdicts,
directions, drop reasons, lost-event sources, reserved peers and pod -> workload names
(docs/hubble.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

EVENT_DROP = 1
EVENT_POLICY_VERDICT = 5
EVENT_L7 = 129

VERDICTS = {
    0: "unknown",
    1: "forwarded",
    2: "dropped",
    3: "error",
    4: "audit",
    5: "redirected",
    6: "traced",
    7: "translated",
}
FORWARDED, DROPPED, AUDIT, REDIRECTED = 1, 2, 4, 5
DIRECTIONS = {0: "unknown", 1: "ingress", 2: "egress"}
INGRESS, EGRESS = 1, 2
POLICY_DENIED, POLICY_DENY = 133, 181
MATCH_ALL = 4
"""policy_match_type 4: an allow-all rule (wildcard L3 and L4) matched."""
DROP_REASONS = {
    0: "DROP_REASON_UNKNOWN",
    130: "INVALID_SOURCE_MAC",
    131: "INVALID_DESTINATION_MAC",
    132: "INVALID_SOURCE_IP",
    133: "POLICY_DENIED",
    134: "INVALID_PACKET_DROPPED",
    135: "CT_TRUNCATED_OR_INVALID_HEADER",
    136: "CT_MISSING_TCP_ACK_FLAG",
    137: "CT_UNKNOWN_L4_PROTOCOL",
    139: "UNSUPPORTED_L3_PROTOCOL",
    140: "MISSED_TAIL_CALL",
    142: "UNKNOWN_L4_PROTOCOL",
    150: "UNKNOWN_L3_TARGET_ADDRESS",
    151: "STALE_OR_UNROUTABLE_IP",
    155: "CT_MAP_INSERTION_FAILED",
    157: "IP_FRAGMENTATION_NOT_SUPPORTED",
    158: "SERVICE_BACKEND_NOT_FOUND",
    160: "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT",
    163: "UNKNOWN_CONNECTION_TRACKING_STATE",
    165: "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION",
    169: "FIB_LOOKUP_FAILED",
    171: "INVALID_IDENTITY",
    172: "UNKNOWN_SENDER",
    174: "IS_A_CLUSTERIP",
    176: "FORBIDDEN_ICMPV6_MESSAGE",
    177: "DENIED_BY_LB_SRC_RANGE_CHECK",
    181: "POLICY_DENY",
    182: "VLAN_FILTERED",
    189: "AUTH_REQUIRED",
    194: "NO_EGRESS_GATEWAY",
    195: "UNENCRYPTED_TRAFFIC",
    196: "TTL_EXCEEDED",
    197: "NO_NODE_ID",
    198: "DROP_RATE_LIMITED",
    202: "DROP_HOST_NOT_READY",
    203: "DROP_EP_NOT_READY",
    204: "DROP_NO_EGRESS_IP",
    205: "DROP_PUNT_PROXY",
}
LOST_EVENT_SOURCES = {
    0: "unknown",
    1: "perf_event_ring_buffer",
    2: "observer_events_queue",
    3: "hubble_ring_buffer",
}
DEFAULT_DENY = "default-deny"
OTHER = "other"
OTHER_NAMESPACE = "_other"
"""Namespace label of what the namespace bounds leave out (not a valid DNS label)."""
HOUR = 3600

# Reserved identities (cilium pkg/identity/numericidentity.go) -> peer label value.
# Namespaces cannot contain ":", so these never collide with a namespace name.
_RESERVED_IDS = {
    1: "reserved:host",
    2: "reserved:world",
    3: "reserved:unmanaged",
    4: "reserved:health",
    5: "reserved:init",
    6: "reserved:remote-node",
    7: "reserved:kube-apiserver",
    8: "reserved:ingress",
    9: "reserved:world",
    10: "reserved:world",
}
_CIDR_IDENTITY_BIT = 1 << 24


def reserved_peer(identity: int, labels: Iterable[str]) -> str:
    """The peer label value of an endpoint without a namespace (host, world, ...).

    Any `reserved:world*` label means the internet (dual-stack clusters use world-ipv4 /
    world-ipv6, CIDR identities carry it next to their `cidr:` labels)."""
    name = _RESERVED_IDS.get(identity)
    if name is not None:
        return name
    first = ""
    for label in labels:
        if label.startswith("reserved:world"):
            return "reserved:world"
        if not first and label.startswith("reserved:"):
            first = label
    if first:
        return first
    # CIDR/FQDN identities (bit 24) always carry reserved:world (cilium pkg/labels/cidr.go).
    return "reserved:world" if identity & _CIDR_IDENTITY_BIT else "reserved:unknown"


_POD_SUFFIX = re.compile(
    r"^(?P<base>.+?)(?:-[0-9a-f]{8,10}|-[bcdfghjklmnpqrstvwxz2456789]{6,10})?-[a-z0-9]{5}$"
)
_STATEFUL = re.compile(r"^(?P<base>.+)-\d+$")


@lru_cache(maxsize=65_536)
def pod_workload(pod_name: str) -> str:
    """Best-effort workload name of a pod when Hubble sends no `workloads` (Cilium before
    1.10): strips the ReplicaSet hash and pod suffix (`web-7f9c6d8b5-x2x7q` -> `web`),
    a DaemonSet/Job suffix (`node-local-dns-88zrp` -> `node-local-dns`) or a StatefulSet
    ordinal (`db-0` -> `db`)."""
    m = _POD_SUFFIX.match(pod_name) or _STATEFUL.match(pod_name)
    return m.group("base") if m else pod_name
