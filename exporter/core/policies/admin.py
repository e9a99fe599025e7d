"""AdminNetworkPolicy / BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1)
and ClusterNetworkPolicy (v1alpha2) -> normal form.

Rules implemented here (docs/semantics.md §2, sources cited there):
- §2.1 ANP: `priority` 0-1000, lower first; `subject` is exactly one of `namespaces`
  or `pods {namespaceSelector, podSelector}`; rules in list order with action Allow,
  Deny or Pass; peers `namespaces`, `pods`, and for egress `networks` (which also
  cover pods when they span the whole family), `nodes`, `domainNames` (named, not
  modelled). An unrecognised peer fails closed: an Allow rule matches nothing, a
  Deny/Pass rule matches everything. No implicit isolation.
- §2.1 BANP: singleton named `default`, Allow/Deny only, after NetworkPolicy.
- §2.3 ClusterNetworkPolicy: `tier` Admin or Baseline, actions Accept/Deny/Pass,
  `protocols` (tcp/udp/sctp `destinationPort` number or range, `destinationNamedPort`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.core.addresses import IPBlock
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.policies.kinds import kinds_of
from exporter.core.policies.kubernetes import PolicyError, _covers_every_port, _list, _network
from exporter.core.policies.normal_form import (
    ADMIN_TIER,
    BASELINE_TIER,
    Action,
    NamedPeer,
    NamedPort,
    NetworkPeer,
    Peer,
    PodPeer,
    Policy,
    PolicyAPI,
    PortMatch,
    PortRange,
    Rule,
)
from exporter.core.selectors import EVERYTHING, LabelSelector, SelectorError, parse_label_selector

ANP = "AdminNetworkPolicy"
BANP = "BaselineAdminNetworkPolicy"
CNP = "ClusterNetworkPolicy"
KINDS = kinds_of(PolicyAPI.ADMIN)
_PROTOCOLS = {p.value: p for p in Protocol}
_ACTIONS = {
    ANP: {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS},
    BANP: {"Allow": Action.ALLOW, "Deny": Action.DENY},
    CNP: {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS},
}


def is_admin_policy(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return obj.get("kind") in KINDS and (
        not isinstance(api, str) or api.startswith("policy.networking.k8s.io/")
    )


def parse_admin_policy(obj: Mapping[str, Any], ref: ObjectRef) -> Policy:
    kind = ref.kind
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise PolicyError("spec: expected a mapping")
    notes: list[str] = []
    if kind == BANP:
        if ref.name != "default":
            raise PolicyError("metadata.name: a BaselineAdminNetworkPolicy must be named default")
        tier, order, priority = "baseline", BASELINE_TIER, 0.0
    elif kind == ANP:
        tier, order, priority = "admin", ADMIN_TIER, _priority(spec)
    else:
        tier_text = spec.get("tier")
        if tier_text not in ("Admin", "Baseline"):
            raise PolicyError(f"spec.tier: {tier_text!r} is not Admin or Baseline")
        tier = "admin" if tier_text == "Admin" else "baseline"
        order = ADMIN_TIER if tier == "admin" else BASELINE_TIER
        priority = _priority(spec)
    ns_selector, pod_selector = _subject(spec.get("subject"))
    rules = {
        d: tuple(_rule(kind, r, d, i, notes) for i, r in enumerate(_list(spec, d.value)))
        for d in Direction
    }
    return Policy(
        ref=ref,
        namespace="",
        pod_selector=pod_selector,
        isolates=frozenset(),
        ingress=rules[Direction.INGRESS],
        egress=rules[Direction.EGRESS],
        api=PolicyAPI.ADMIN,
        cluster_scoped=True,
        namespace_selector=ns_selector,
        tier=tier,
        tier_order=order,
        priority=priority,
        ordered=True,
        notes=tuple(notes),
    )


def _priority(spec: Mapping[str, Any]) -> float:
    value = spec.get("priority")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise PolicyError(f"spec.priority: {value!r} must be a number from 0 to 1000")
    return float(value)


def _sel(raw: object, where: str) -> LabelSelector:
    try:
        return parse_label_selector(raw, where)
    except SelectorError as exc:
        raise PolicyError(str(exc)) from None


def _subject(raw: object) -> tuple[LabelSelector, LabelSelector]:
    """(namespace selector, pod selector) of the subject."""
    if not isinstance(raw, dict) or len(raw) != 1 or not {"namespaces", "pods"} & set(raw):
        raise PolicyError("spec.subject: exactly one of namespaces or pods is required")
    if "namespaces" in raw:
        return _sel(raw["namespaces"] or {}, "spec.subject.namespaces"), EVERYTHING
    pods = raw["pods"]
    if not isinstance(pods, dict):
        raise PolicyError("spec.subject.pods: expected a mapping")
    return (
        _sel(pods.get("namespaceSelector") or {}, "spec.subject.pods.namespaceSelector"),
        _sel(pods.get("podSelector") or {}, "spec.subject.pods.podSelector"),
    )


def _rule(kind: str, raw: object, direction: Direction, index: int, notes: list[str]) -> Rule:
    where = f"spec.{direction.value}[{index}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    action_text = raw.get("action")
    action = _ACTIONS[kind].get(str(action_text))
    if action is None:
        raise PolicyError(
            f"{where}.action: {action_text!r} is not one of {', '.join(_ACTIONS[kind])}"
        )
    key = "from" if direction is Direction.INGRESS else "to"
    peers_raw = raw.get(key)
    if not isinstance(peers_raw, list) or not peers_raw:
        raise PolicyError(f"{where}.{key}: at least one peer is required")
    peers: list[Peer] = []
    unknown = False
    for i, p in enumerate(peers_raw):
        found = _peer(p, f"{where}.{key}[{i}]", direction, notes)
        if found is None:
            unknown = True
        else:
            peers.extend(found)
    peer_tuple: tuple[Peer, ...] | None = tuple(peers)
    if unknown and action is not Action.ALLOW:
        # Fail closed (§2.1): an unrecognised peer in a Deny/Pass rule matches everything.
        peer_tuple = None
    if kind == CNP:
        ports = _protocols(raw.get("protocols"), f"{where}.protocols")
    else:
        ports = _ports(raw.get("ports"), f"{where}.ports")
    name = raw.get("name")
    return Rule(
        direction=direction,
        index=index,
        peers=peer_tuple,
        ports=ports,
        all_ports=ports is None or _covers_every_port(ports),
        action=action,
        label=f"{direction.value}[{index}]" + (f" {name}" if name else ""),
    )


def _peer(raw: object, where: str, direction: Direction, notes: list[str]) -> list[Peer] | None:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PolicyError(f"{where}: exactly one peer type is required")
    ((key, value),) = raw.items()
    if key == "namespaces":
        if isinstance(value, dict) and "namespaceSelector" in value:
            value = value["namespaceSelector"]  # the pre-2023 v1alpha1 layout
        return [PodPeer(EVERYTHING, _sel(value or {}, f"{where}.namespaces"), "")]
    if key == "pods":
        if not isinstance(value, dict):
            raise PolicyError(f"{where}.pods: expected a mapping")
        ns = value.get("namespaceSelector") or value.get("namespaces") or {}
        if isinstance(ns, dict) and "namespaceSelector" in ns:
            ns = ns["namespaceSelector"]
        return [
            PodPeer(
                _sel(value.get("podSelector") or {}, f"{where}.pods.podSelector"),
                _sel(ns, f"{where}.pods.namespaceSelector"),
                "",
            )
        ]
    if direction is Direction.EGRESS and key == "networks":
        if not isinstance(value, list) or not value:
            raise PolicyError(f"{where}.networks: expected a list of CIDRs")
        blocks = [IPBlock(_network(c, f"{where}.networks[{i}]")) for i, c in enumerate(value)]
        everything = any(b.cidr.prefixlen == 0 for b in blocks)
        return [NetworkPeer(tuple(blocks), pods=everything)]
    if direction is Direction.EGRESS and key in ("nodes", "domainNames"):
        notes.append(f"{where}: {key} peers are not modelled (they match no pod or address)")
        return [NamedPeer(key, str(value))]
    notes.append(f"{where}: unknown peer type {key!r}; treated as failing closed")
    return None


def _ports(raw: object, where: str) -> tuple[PortMatch, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: expected a list")
    if not raw:
        return None
    out: list[PortMatch] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise PolicyError(f"{at}: exactly one of portNumber, portRange, namedPort")
        ((key, value),) = item.items()
        if key == "namedPort":
            if not isinstance(value, str) or not value:
                raise PolicyError(f"{at}.namedPort: expected a port name")
            out.extend(NamedPort(p, value) for p in Protocol)
        elif key == "portNumber":
            if not isinstance(value, dict):
                raise PolicyError(f"{at}.portNumber: expected a mapping")
            proto = _proto(value.get("protocol"), f"{at}.portNumber.protocol")
            port = _number(value.get("port"), f"{at}.portNumber.port")
            out.append(PortRange(proto, port, port))
        elif key == "portRange":
            if not isinstance(value, dict):
                raise PolicyError(f"{at}.portRange: expected a mapping")
            proto = _proto(value.get("protocol"), f"{at}.portRange.protocol")
            start = _number(value.get("start"), f"{at}.portRange.start")
            end = _number(value.get("end"), f"{at}.portRange.end")
            if end < start:
                raise PolicyError(f"{at}.portRange: end {end} is below start {start}")
            out.append(PortRange(proto, start, end))
        else:
            raise PolicyError(f"{at}: unknown port type {key!r}")
    return tuple(out)


def _protocols(raw: object, where: str) -> tuple[PortMatch, ...] | None:
    """v1alpha2 `protocols`: [{tcp|udp|sctp: {destinationPort: {number}|{range}}},
    {destinationNamedPort: name}]."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: expected a list")
    if not raw:
        return None
    out: list[PortMatch] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise PolicyError(f"{at}: exactly one of tcp, udp, sctp, destinationNamedPort")
        ((key, value),) = item.items()
        if key == "destinationNamedPort":
            if not isinstance(value, str) or not value:
                raise PolicyError(f"{at}.destinationNamedPort: expected a port name")
            out.extend(NamedPort(p, value) for p in Protocol)
            continue
        proto = _PROTOCOLS.get(str(key).upper())
        if proto is None:
            raise PolicyError(f"{at}: unknown protocol {key!r} (want tcp, udp or sctp)")
        dest = (value or {}).get("destinationPort") if isinstance(value, dict | None) else None
        if dest is None:
            out.append(PortRange(proto, 1, 65535))
        elif isinstance(dest, dict) and "number" in dest:
            port = _number(dest["number"], f"{at}.{key}.destinationPort.number")
            out.append(PortRange(proto, port, port))
        elif isinstance(dest, dict) and isinstance(dest.get("range"), dict):
            rng = dest["range"]
            start = _number(rng.get("start"), f"{at}.{key}.destinationPort.range.start")
            end = _number(rng.get("end"), f"{at}.{key}.destinationPort.range.end")
            if end < start:
                raise PolicyError(f"{at}.{key}.destinationPort.range: end below start")
            out.append(PortRange(proto, start, end))
        else:
            raise PolicyError(f"{at}.{key}.destinationPort: want number or range")
    return tuple(out)


def _proto(raw: object, where: str) -> Protocol:
    proto = _PROTOCOLS.get(str(raw or "TCP").upper())
    if proto is None:
        raise PolicyError(f"{where}: {raw!r} is not TCP, UDP or SCTP")
    return proto


def _number(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 65535:
        raise PolicyError(f"{where}: {raw!r} is not a port number 1-65535")
    return raw
