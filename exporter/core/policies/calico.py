"""Calico NetworkPolicy / GlobalNetworkPolicy (projectcalico.org/v3,
crd.projectcalico.org/v1) and Tier -> normal form.

Rules implemented here (docs/semantics.md §4, sources cited there):
- `tier` (default `default`, order 1,000,000; other tiers from Tier objects, unknown
  tiers sort after `default`), `order` (lower first, absent = last), `selector` in the
  Calico selector language (exporter.core.calico_selectors), GlobalNetworkPolicy
  `namespaceSelector`; `types` defaulting: [Ingress] unless there are egress rules
  only ([Egress]) or both (both).
- Rules in order, first Allow/Deny decides, Log decides nothing, Pass skips to the next
  tier; a tier whose policies select the pod denies what they leave undecided unless
  the Tier's `defaultAction` is Pass.
- EntityRule: `selector`, `notSelector`, `namespaceSelector` (in a NetworkPolicy
  absent = the policy's namespace), `serviceAccounts.names`, `nets`/`notNets`,
  `ports`/`notPorts` (numbers, `"lo:hi"` ranges, names; need `protocol`).
- Not evaluated (reported as notes): source ports, `http` matches, destination
  constraints of ingress rules (they narrow the selected pods), service-account
  label selectors, `services` peers, host-endpoint options (preDNAT, doNotTrack).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from exporter.core.addresses import IPBlock
from exporter.core.calico_selectors import (
    ALL,
    CalicoSelector,
    CalicoSelectorError,
    Op,
    parse_calico_selector,
)
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.policies.kinds import kinds_of
from exporter.core.policies.kubernetes import PolicyError, _covers_every_port, _list, _network
from exporter.core.policies.normal_form import (
    DEFAULT_TIER,
    Action,
    EndpointPeer,
    LabelView,
    NamedPeer,
    NamedPort,
    NetworkPeer,
    Peer,
    Policy,
    PolicyAPI,
    PortMatch,
    PortRange,
    Rule,
)
from exporter.core.ports import PortSet

KINDS = kinds_of(PolicyAPI.CALICO)
TIER_KIND = "Tier"
_GROUPS = ("projectcalico.org/", "crd.projectcalico.org/")
_ACTIONS = {a.value: a for a in Action}
_PROTO_NAMES = {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "SCTP": Protocol.SCTP}
_PROTO_NUMBERS = {6: Protocol.TCP, 17: Protocol.UDP, 132: Protocol.SCTP}
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def is_calico(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return isinstance(api, str) and api.startswith(_GROUPS)


def parse_tier(obj: Mapping[str, Any]) -> tuple[float, bool]:
    """(order, defaultAction is Pass) of a Tier object."""
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise PolicyError("spec: expected a mapping")
    order = spec.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
        raise PolicyError(f"spec.order: {order!r} is not a number")
    action = spec.get("defaultAction") or "Deny"
    if action not in ("Deny", "Pass"):
        raise PolicyError(f"spec.defaultAction: {action!r} is not Deny or Pass")
    return (float("inf") if order is None else float(order)), action == "Pass"


def apply_tiers(
    policies: Iterable[Policy], tiers: Mapping[str, tuple[float, bool]]
) -> list[Policy]:
    """Give Calico policies their tier's order and default action (Tier objects are
    read after the policies that name them)."""
    out = []
    for p in policies:
        if p.api is PolicyAPI.CALICO and p.tier != "default":
            order, passes = tiers.get(p.tier, (float("inf"), False))
            notes = p.notes
            if p.tier not in tiers:
                notes = (*notes, f"tier {p.tier} is not defined; ordered after the default tier")
                order = DEFAULT_TIER + 1
            p = replace(p, tier_order=order, tier_passes=passes, notes=notes)
        out.append(p)
    return out


def parse_calico_policy(obj: Mapping[str, Any], ref: ObjectRef) -> Policy:
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise PolicyError("spec: expected a mapping")
    global_ = ref.kind == "GlobalNetworkPolicy"
    namespace = "" if global_ else (ref.namespace or "default")
    notes: list[str] = []
    if ref.kind == "StagedNetworkPolicy":
        notes.append("staged policies are not enforced")
    selector = _selector(spec.get("selector"), "spec.selector")
    ns_selector = (
        _namespace_selector(spec["namespaceSelector"], "spec.namespaceSelector")
        if global_ and spec.get("namespaceSelector")
        else None
    )
    if spec.get("serviceAccountSelector"):
        accounts = _account_selector(spec["serviceAccountSelector"], "spec.serviceAccountSelector")
        if accounts is not None:
            selector = _both(selector, accounts)
        else:
            notes.append(
                "spec.serviceAccountSelector matches service-account labels, which netfence "
                "does not read: the policy is taken to select every pod its selector matches"
            )
    host = False
    for flag in ("doNotTrack", "preDNAT"):
        if spec.get(flag):
            notes.append(f"spec.{flag}: applies to host endpoints only; not evaluated for pods")
            host = True
    ingress_raw = _list(spec, "ingress")
    egress_raw = _list(spec, "egress")
    types = _types(spec.get("types"), bool(ingress_raw), bool(egress_raw))
    order = spec.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
        raise PolicyError(f"spec.order: {order!r} is not a number")
    tier = spec.get("tier") or "default"
    if not isinstance(tier, str):
        raise PolicyError("spec.tier: expected a tier name")
    rules = {
        Direction.INGRESS: tuple(
            _rule(r, Direction.INGRESS, i, namespace, notes) for i, r in enumerate(ingress_raw)
        ),
        Direction.EGRESS: tuple(
            _rule(r, Direction.EGRESS, i, namespace, notes) for i, r in enumerate(egress_raw)
        ),
    }
    return Policy(
        ref=ref,
        namespace=namespace,
        pod_selector=selector,
        isolates=frozenset(types),
        ingress=rules[Direction.INGRESS],
        egress=rules[Direction.EGRESS],
        policy_types_explicit=spec.get("types") is not None,
        api=PolicyAPI.CALICO,
        cluster_scoped=global_,
        namespace_selector=ns_selector,
        view=LabelView.CALICO,
        tier=tier,
        tier_order=DEFAULT_TIER,
        priority=float("inf") if order is None else float(order),
        ordered=True,
        host_policy=host or ref.kind == "StagedNetworkPolicy",
        notes=tuple(notes),
    )


CALICO_NAME = "projectcalico.org/name"
"""Calico's implicit label on Namespaces and ServiceAccounts: the object's name
(docs/semantics.md §6.7)."""
_NAMESPACE_NAME = "kubernetes.io/metadata.name"
_POD_SERVICE_ACCOUNT = "projectcalico.org/serviceaccount"


def _renamed(selector: CalicoSelector, old: str, new: str) -> CalicoSelector:
    if selector.children:
        children = tuple(_renamed(c, old, new) for c in selector.children)
        return replace(selector, children=children)
    return replace(selector, key=new) if selector.key == old else selector


def _namespace_selector(raw: object, where: str) -> CalicoSelector:
    """A namespaceSelector; `projectcalico.org/name` is the namespace's name, which every
    namespace also carries as kubernetes.io/metadata.name (set from its name)."""
    return _renamed(_selector(raw, where), CALICO_NAME, _NAMESPACE_NAME)


def _account_selector(raw: object, where: str) -> CalicoSelector | None:
    """A serviceAccountSelector as a selector over the pod's Calico labels, when it names
    only the implicit `projectcalico.org/name` (the account's name, which the pod carries
    as projectcalico.org/serviceaccount); None when it needs service-account labels,
    which netfence does not read."""
    selector = _selector(raw, where)
    if selector.keys() <= {CALICO_NAME}:
        return _renamed(selector, CALICO_NAME, _POD_SERVICE_ACCOUNT)
    return None


def _both(a: CalicoSelector, b: CalicoSelector) -> CalicoSelector:
    return b if a.is_empty else CalicoSelector(Op.AND, children=(a, b))


def _selector(raw: object, where: str) -> CalicoSelector:
    try:
        return parse_calico_selector(raw if raw != "" else None, where)
    except CalicoSelectorError as exc:
        raise PolicyError(str(exc)) from None


def _types(raw: object, has_ingress: bool, has_egress: bool) -> set[Direction]:
    if raw is None or raw == []:
        if has_egress and not has_ingress:
            return {Direction.EGRESS}
        if has_egress:
            return {Direction.INGRESS, Direction.EGRESS}
        return {Direction.INGRESS}
    if not isinstance(raw, list):
        raise PolicyError("spec.types: expected a list")
    out: set[Direction] = set()
    for t in raw:
        if t not in ("Ingress", "Egress"):
            raise PolicyError(f"spec.types: unknown type {t!r} (want Ingress or Egress)")
        out.add(Direction.INGRESS if t == "Ingress" else Direction.EGRESS)
    return out


def _rule(raw: object, direction: Direction, index: int, namespace: str, notes: list[str]) -> Rule:
    where = f"spec.{direction.value}[{index}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    action = _ACTIONS.get(str(raw.get("action")))
    if action is None:
        raise PolicyError(f"{where}.action: {raw.get('action')!r} is not Allow, Deny, Pass or Log")
    protocols = _protocols(raw, where)
    source = _entity(raw.get("source"), f"{where}.source")
    dest = _entity(raw.get("destination"), f"{where}.destination")
    peer_side, local_side = (source, dest) if direction is Direction.INGRESS else (dest, source)
    peer_where = f"{where}.{'source' if direction is Direction.INGRESS else 'destination'}"
    local_where = f"{where}.{'destination' if direction is Direction.INGRESS else 'source'}"
    local_fields = set(local_side) - (
        {"ports", "notPorts"} if direction is Direction.INGRESS else set()
    )
    if local_fields:
        notes.append(
            f"{local_where}: {', '.join(sorted(local_fields))} narrow the selected pods; "
            "not evaluated"
        )
    if source.get("ports") or source.get("notPorts"):
        notes.append(f"{where}.source: source ports are not evaluated")
    if raw.get("http"):
        notes.append(f"{where}.http: HTTP matches are treated as allowing the L4 port")
    ports = _rule_ports(dest, protocols, f"{where}.destination")
    peers = _peers(peer_side, peer_where, namespace, notes)
    return Rule(
        direction=direction,
        index=index,
        peers=peers,
        ports=ports,
        all_ports=ports is None or _covers_every_port(ports),
        action=action,
    )


def _entity(raw: object, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    return raw


def _protocols(raw: Mapping[str, Any], where: str) -> tuple[Protocol, ...] | None:
    """The modelled protocols a rule matches; None: every protocol."""
    proto = raw.get("protocol")
    not_proto = raw.get("notProtocol")
    chosen: tuple[Protocol, ...] | None = None
    if proto is not None:
        one = _protocol(proto, f"{where}.protocol")
        chosen = (one,) if one is not None else ()
    if not_proto is not None:
        excluded = _protocol(not_proto, f"{where}.notProtocol")
        base = tuple(Protocol) if chosen is None else chosen
        chosen = tuple(p for p in base if p is not excluded)
    return chosen


def _protocol(raw: object, where: str) -> Protocol | None:
    if isinstance(raw, bool):
        raise PolicyError(f"{where}: {raw!r} is not a protocol")
    if isinstance(raw, int):
        if not 1 <= raw <= 255:
            raise PolicyError(f"{where}: {raw} is not a protocol number")
        return _PROTO_NUMBERS.get(raw)
    if not isinstance(raw, str) or not raw:
        raise PolicyError(f"{where}: expected a protocol name or number")
    text = raw.upper()
    if text in _PROTO_NAMES:
        return _PROTO_NAMES[text]
    if text in ("ICMP", "ICMPV6", "UDPLITE"):
        return None
    raise PolicyError(f"{where}: unknown protocol {raw!r}")


def _port_items(raw: object, where: str) -> list[tuple[int, int] | str]:
    if not isinstance(raw, list):
        raise PolicyError(f"{where}: expected a list")
    out: list[tuple[int, int] | str] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, bool):
            raise PolicyError(f"{at}: {item!r} is not a port")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str) and ":" in item:
            lo_text, _, hi_text = item.partition(":")
            if not (lo_text.isdigit() and hi_text.isdigit()):
                raise PolicyError(f"{at}: {item!r} is not a port range (want lo:hi)")
            lo, hi = int(lo_text), int(hi_text)
        elif isinstance(item, str) and item.isdigit():
            lo = hi = int(item)
        elif isinstance(item, str) and item:
            out.append(item)
            continue
        else:
            raise PolicyError(f"{at}: {item!r} is not a port")
        if not 0 <= lo <= hi <= 65535:
            raise PolicyError(f"{at}: {item!r} is out of range 0-65535")
        out.append((max(lo, 1), hi))
    return out


def _rule_ports(
    dest: Mapping[str, Any], protocols: tuple[Protocol, ...] | None, where: str
) -> tuple[PortMatch, ...] | None:
    ports = dest.get("ports")
    not_ports = dest.get("notPorts")
    if (ports or not_ports) and protocols is None:
        raise PolicyError(f"{where}: ports need the rule's protocol (TCP, UDP or SCTP)")
    if protocols is None:
        return None
    if not ports and not not_ports:
        if set(protocols) == set(Protocol):
            return None
        return tuple(PortRange(p, 1, 65535) for p in protocols)
    out: list[PortMatch] = []
    items = _port_items(ports, f"{where}.ports") if ports else [(1, 65535)]
    excluded = PortSet()
    for item in _port_items(not_ports, f"{where}.notPorts") if not_ports else []:
        if isinstance(item, str):
            continue  # a named notPort resolves per pod; not modelled
        for p in protocols:
            excluded = excluded | PortSet.of(p, item[0], item[1])
    for p in protocols:
        for item in items:
            if isinstance(item, str):
                out.append(NamedPort(p, item))
                continue
            remaining = PortSet.of(p, item[0], item[1]) - excluded
            out.extend(PortRange(p, lo, hi) for lo, hi in remaining.ranges(p))
    return tuple(out)


def _peers(
    side: Mapping[str, Any], where: str, namespace: str, notes: list[str]
) -> tuple[Peer, ...] | None:
    endpoint_keys = {"selector", "notSelector", "namespaceSelector", "serviceAccounts"}
    if not set(side) & (endpoint_keys | {"nets", "notNets", "services"}):
        return None
    if side.get("services"):
        svc = side["services"]
        name = (
            f"{svc.get('namespace') or namespace or 'default'}/{svc.get('name')}"
            if isinstance(svc, dict)
            else str(svc)
        )
        notes.append(f"{where}.services: service {name} is a named destination, not evaluated")
        return (NamedPeer("service", name),)
    endpoint: EndpointPeer | None = None
    if set(side) & endpoint_keys:
        endpoint = _endpoint(side, where, namespace, notes)
    nets = [
        IPBlock(_network(n, f"{where}.nets[{i}]")) for i, n in enumerate(side.get("nets") or [])
    ]
    not_nets = [
        IPBlock(_network(n, f"{where}.notNets[{i}]"))
        for i, n in enumerate(side.get("notNets") or [])
    ]
    if not nets and not not_nets:
        assert endpoint is not None
        return (endpoint,)
    if endpoint is not None:
        notes.append(f"{where}: nets/notNets together with selectors are not evaluated for pods")
        return (endpoint,)
    if not nets:
        families = {b.cidr.version for b in not_nets}
        nets = [IPBlock(ipaddress.ip_network("0.0.0.0/0" if f == 4 else "::/0")) for f in families]
    pods = any(b.cidr.prefixlen == 0 for b in nets) and not any(
        b.cidr.overlaps(p) for b in not_nets for p in _PRIVATE if p.version == b.cidr.version
    )
    return (NetworkPeer(tuple(nets), tuple(not_nets), pods=pods),)


def _endpoint(
    side: Mapping[str, Any], where: str, namespace: str, notes: list[str]
) -> EndpointPeer:
    selector = _selector(side.get("selector"), f"{where}.selector")
    not_selector = (
        _selector(side["notSelector"], f"{where}.notSelector") if side.get("notSelector") else None
    )
    ns_raw = side.get("namespaceSelector")
    ns_selector: CalicoSelector | None = None
    local: str | None = None
    if ns_raw:
        ns_selector = _namespace_selector(ns_raw, f"{where}.namespaceSelector")
        if ns_selector.op is Op.GLOBAL:
            ns_selector = CalicoSelector(Op.NOT, children=(ALL,))  # non-namespaced: no pod
    elif namespace:
        local = namespace
    accounts: frozenset[str] | None = None
    sa = side.get("serviceAccounts")
    if sa is not None:
        if not isinstance(sa, dict):
            raise PolicyError(f"{where}.serviceAccounts: expected a mapping")
        names = sa.get("names")
        if names:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise PolicyError(f"{where}.serviceAccounts.names: expected a list of names")
            accounts = frozenset(names)
        if sa.get("selector"):
            by_name = _account_selector(sa["selector"], f"{where}.serviceAccounts.selector")
            if by_name is not None:
                selector = _both(selector, by_name)
            else:
                notes.append(
                    f"{where}.serviceAccounts.selector: service-account labels not evaluated"
                )
    return EndpointPeer(
        selector,
        LabelView.CALICO,
        namespace=local,
        namespace_selector=ns_selector,
        not_selector=not_selector,
        service_accounts=accounts,
    )
