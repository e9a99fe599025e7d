"""cilium.io/v2 CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy -> normal form.

Rules implemented here (docs/semantics.md §3, sources cited there):
- §3.1 `spec` and/or `specs`: each rule becomes one `Policy` (part `specs[i]`); a rule
  has `endpointSelector` xor `nodeSelector`; nodeSelector rules are host policies,
  reported and never applied to pods.
- §3.2 selector keys: `k8s:`/`any:` prefixes are dropped (pod labels are `k8s:` labels);
  other sources (`reserved:`, `cidr:`) stay and never match a pod.
- §3.3 scoping: a CNP selects only its own namespace; its peer selectors without a
  namespace key get the policy's namespace; CCNP peer selectors get
  `io.kubernetes.pod.namespace` Exists (every pod); `reserved:` selectors are untouched.
- §3.4 default deny per direction: `enableDefaultDeny.<d>` when set, otherwise
  "has rules or deny rules for d".
- §3.5 absent peer list = wildcard only with `toPorts`/`icmps`; present-but-empty = no
  peer; so `ingress: [{}]` is deny-all. Deny rules win over every allow.
- §3.6 entities; §3.7 CIDR peers never match pods; §3.8 ports: protocol omitted or ANY
  = TCP+UDP+SCTP, port "0"/omitted = all ports; L7 rules allow the L4 port (noted);
  `toFQDNs`/`toServices` are named destinations (noted).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from exporter.core.addresses import IPBlock
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.policies.kinds import kinds_of
from exporter.core.policies.kubernetes import (
    _IANA_SVC_NAME,
    PolicyError,
    _covers_every_port,
    _list,
    _network,
)
from exporter.core.policies.normal_form import (
    Action,
    EndpointPeer,
    Entity,
    EntityPeer,
    IPBlockPeer,
    LabelView,
    NamedPeer,
    NamedPort,
    Peer,
    Policy,
    PolicyAPI,
    PortMatch,
    PortRange,
    Rule,
)
from exporter.core.selectors import (
    EVERYTHING,
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    parse_label_selector,
)

KINDS = kinds_of(PolicyAPI.CILIUM)
CLUSTERWIDE = "CiliumClusterwideNetworkPolicy"
NAMESPACE_KEY = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS = "io.cilium.k8s.namespace.labels."
_STRIP = ("k8s:", "any:")
_ALL_PROTOCOLS = (Protocol.TCP, Protocol.UDP, Protocol.SCTP)
_UNMODELLED_PROTOCOLS = frozenset({"ICMP", "ICMPV6", "VRRP", "IGMP"})
_L3 = {
    Direction.INGRESS: (
        "fromEndpoints",
        "fromCIDR",
        "fromCIDRSet",
        "fromEntities",
        "fromGroups",
        "fromNodes",
        "fromRequires",
    ),
    Direction.EGRESS: (
        "toEndpoints",
        "toCIDR",
        "toCIDRSet",
        "toEntities",
        "toServices",
        "toFQDNs",
        "toGroups",
        "toNodes",
        "toRequires",
    ),
}
_RULE_FIELDS = {
    d: frozenset({*keys, "toPorts", "icmps", "authentication"}) for d, keys in _L3.items()
}
_ENTITIES = {e.value: e for e in Entity}


def is_cilium_policy(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return obj.get("kind") in KINDS and (not isinstance(api, str) or api.startswith("cilium.io/"))


def parse_cilium_policy(obj: Mapping[str, Any], ref: ObjectRef) -> list[Policy]:
    """One `Policy` per rule of `spec`/`specs`; PolicyError names the bad field."""
    clusterwide = ref.kind == CLUSTERWIDE
    namespace = "" if clusterwide else (ref.namespace or "default")
    entries: list[tuple[str, object]] = []
    spec = obj.get("spec")
    specs = obj.get("specs")
    if spec is not None:
        entries.append(("spec", spec))
    if specs is not None:
        if not isinstance(specs, list):
            raise PolicyError("specs: expected a list")
        entries.extend((f"specs[{i}]", s) for i, s in enumerate(specs))
    if not entries:
        raise PolicyError("spec or specs is required")
    many = len(entries) > 1
    return [
        _parse_spec(raw, where, ref, namespace, clusterwide, where if many else "")
        for where, raw in entries
    ]


def _parse_spec(
    raw: object, where: str, ref: ObjectRef, namespace: str, clusterwide: bool, part: str
) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    notes: list[str] = []
    has_endpoints = "endpointSelector" in raw
    has_nodes = "nodeSelector" in raw
    if has_endpoints == has_nodes:
        raise PolicyError(f"{where}: exactly one of endpointSelector or nodeSelector is required")
    if has_nodes and not clusterwide:
        raise PolicyError(
            f"{where}.nodeSelector: only CiliumClusterwideNetworkPolicy selects nodes"
        )
    sections = {k: _list(raw, k, where) for k in ("ingress", "ingressDeny", "egress", "egressDeny")}
    if not any(k in raw for k in sections):
        raise PolicyError(
            f"{where}: rule must have at least one of ingress, ingressDeny, egress, egressDeny"
        )
    selector_raw = raw.get("nodeSelector" if has_nodes else "endpointSelector")
    selector = _selector(
        selector_raw, f"{where}.{'nodeSelector' if has_nodes else 'endpointSelector'}"
    )
    if not clusterwide:
        kept = tuple(r for r in selector.requirements if r.key != NAMESPACE_KEY)
        if len(kept) != len(selector.requirements):
            notes.append(
                f"{where}.endpointSelector names a namespace; a CiliumNetworkPolicy only "
                f"selects pods of its own namespace {namespace}"
            )
        selector = LabelSelector(kept)
    if has_nodes:
        notes.append(
            f"{where}: host policy (nodeSelector [{selector}]) applies to nodes with the host "
            "firewall enabled; not evaluated for pods"
        )
    default_deny = raw.get("enableDefaultDeny")
    if default_deny is not None and not isinstance(default_deny, dict):
        raise PolicyError(f"{where}.enableDefaultDeny: expected a mapping")
    isolates: set[Direction] = set()
    rules: dict[Direction, list[Rule]] = {Direction.INGRESS: [], Direction.EGRESS: []}
    for direction in Direction:
        allow_key = direction.value
        deny_key = f"{direction.value}Deny"
        explicit = (default_deny or {}).get(direction.value)
        if explicit is not None and not isinstance(explicit, bool):
            raise PolicyError(f"{where}.enableDefaultDeny.{direction.value}: expected a boolean")
        if explicit if explicit is not None else bool(sections[allow_key] or sections[deny_key]):
            isolates.add(direction)
        index = 0
        for key, action in ((deny_key, Action.DENY), (allow_key, Action.ALLOW)):
            for i, item in enumerate(sections[key]):
                rule = _parse_rule(
                    item, direction, action, f"{where}.{key}[{i}]", namespace, clusterwide, notes
                )
                rules[direction].append(replace(rule, index=index, label=f"{key}[{i}]"))
                index += 1
    return Policy(
        ref=ref,
        namespace=namespace,
        pod_selector=selector,
        isolates=frozenset(isolates),
        ingress=tuple(rules[Direction.INGRESS]),
        egress=tuple(rules[Direction.EGRESS]),
        api=PolicyAPI.CILIUM,
        cluster_scoped=clusterwide,
        view=LabelView.CILIUM,
        part=part,
        host_policy=has_nodes,
        notes=tuple(notes),
    )


def _strip(key: str) -> str:
    for prefix in _STRIP:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _selector(raw: object, where: str) -> LabelSelector:
    """A Cilium endpoint selector over identity labels (prefixes `k8s:`/`any:` dropped)."""
    if raw is None:
        return EVERYTHING
    raw = _normalise_operators(raw)
    try:
        parsed = parse_label_selector(raw, where)
    except SelectorError as exc:
        raise PolicyError(str(exc)) from None
    if not any(r.key != _strip(r.key) for r in parsed.requirements):
        return parsed
    reqs = sorted(
        (replace(r, key=_strip(r.key)) for r in parsed.requirements),
        key=lambda r: (r.key, r.operator.value, sorted(r.values)),
    )
    return LabelSelector(tuple(reqs))


_OPERATORS = {"in": "In", "notin": "NotIn", "exists": "Exists", "doesnotexist": "DoesNotExist"}


def _normalise_operators(raw: object) -> object:
    """Cilium's own examples write `operator: "in"` (examples/policies/l3/match-expressions);
    operators are read case-insensitively so such policies load."""
    if not isinstance(raw, dict) or not isinstance(raw.get("matchExpressions"), list):
        return raw
    exprs = []
    for e in raw["matchExpressions"]:
        if isinstance(e, dict) and isinstance(e.get("operator"), str):
            e = {**e, "operator": _OPERATORS.get(e["operator"].lower(), e["operator"])}
        exprs.append(e)
    return {**raw, "matchExpressions": exprs}


def _endpoint_peer(raw: object, where: str, namespace: str, clusterwide: bool) -> EndpointPeer:
    selector = _selector(raw, where)
    keys = {r.key for r in selector.requirements}
    scoped = NAMESPACE_KEY in keys or any(k.startswith(NAMESPACE_LABELS) for k in keys)
    reserved = any(k.startswith("reserved:") for k in keys)
    local: str | None = None
    if not scoped and not reserved:
        if clusterwide:
            req = Requirement(NAMESPACE_KEY, Operator.EXISTS)
        else:
            req = Requirement(NAMESPACE_KEY, Operator.IN, frozenset({namespace}))
            local = namespace
        selector = LabelSelector(
            tuple(
                sorted(
                    (*selector.requirements, req),
                    key=lambda r: (r.key, r.operator.value, sorted(r.values)),
                )
            )
        )
    hint: frozenset[str] | None = None
    for r in selector.requirements:
        if r.key == NAMESPACE_KEY and r.operator is Operator.IN:
            hint = r.values if hint is None else hint & r.values
    return EndpointPeer(selector, LabelView.CILIUM, namespace=local, namespaces_hint=hint)


def _parse_rule(
    raw: object,
    direction: Direction,
    action: Action,
    where: str,
    namespace: str,
    clusterwide: bool,
    notes: list[str],
) -> Rule:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    unknown = set(raw) - _RULE_FIELDS[direction]
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    l3 = [k for k in _L3[direction] if k in raw]
    peers: list[Peer] = []
    for key in l3:
        items = raw.get(key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise PolicyError(f"{where}.{key}: expected a list")
        for i, item in enumerate(items):
            peers.extend(
                _peer(key, item, f"{where}.{key}[{i}]", namespace, clusterwide, action, notes)
            )
    ports = _ports(raw, where, action, notes)
    wildcard_peer = not l3 and ("toPorts" in raw or "icmps" in raw)
    all_entity = any(isinstance(p, EntityPeer) and p.entity is Entity.ALL for p in peers)
    if "icmps" in raw and "toPorts" not in raw:
        notes.append(f"{where}: ICMP rules are not modelled (only TCP, UDP and SCTP)")
        ports = ()
    peer_tuple: tuple[Peer, ...] | None = None if wildcard_peer or all_entity else tuple(peers)
    return Rule(
        direction=direction,
        index=0,
        peers=peer_tuple,
        ports=ports,
        all_ports=ports is None or _covers_every_port(ports),
        action=action,
    )


def _peer(
    key: str,
    item: object,
    where: str,
    namespace: str,
    clusterwide: bool,
    action: Action,
    notes: list[str],
) -> list[Peer]:
    if key in ("fromEndpoints", "toEndpoints"):
        return [_endpoint_peer(item, where, namespace, clusterwide)]
    if key in ("fromEntities", "toEntities"):
        entity = _ENTITIES.get(str(item))
        if entity is None:
            raise PolicyError(f"{where}: unknown entity {item!r}")
        if entity not in (
            Entity.WORLD,
            Entity.WORLD_IPV4,
            Entity.WORLD_IPV6,
            Entity.CLUSTER,
            Entity.ALL,
            Entity.HOST,
            Entity.REMOTE_NODE,
        ):
            notes.append(f"{where}: entity {entity} stands for nothing netfence models")
        return [EntityPeer(entity)]
    if key in ("fromCIDR", "toCIDR"):
        return [IPBlockPeer(IPBlock(_network(item, where)))]
    if key in ("fromCIDRSet", "toCIDRSet"):
        return [_cidr_set(item, where, notes)]
    if key == "toFQDNs":
        if action is Action.DENY:
            raise PolicyError(f"{where}: toFQDNs cannot be used in deny rules")
        if not isinstance(item, dict):
            raise PolicyError(f"{where}: expected a mapping")
        name = item.get("matchName") or item.get("matchPattern")
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{where}: matchName or matchPattern is required")
        notes.append(f"{where}: egress to FQDN {name} (a named external destination)")
        return [NamedPeer("fqdn", name)]
    if key == "toServices":
        if not isinstance(item, dict):
            raise PolicyError(f"{where}: expected a mapping")
        svc = item.get("k8sService")
        if isinstance(svc, dict):
            name = f"{svc.get('namespace') or namespace or 'default'}/{svc.get('serviceName')}"
        else:
            name = f"selector {item.get('k8sServiceSelector')}"
        notes.append(f"{where}: egress to service {name} (selector-less services only)")
        return [NamedPeer("service", name)]
    if key in ("fromRequires", "toRequires"):
        notes.append(f"{where}: {key} is deprecated and not evaluated")
        return []
    notes.append(f"{where}: {key} peers are not evaluated")
    return [NamedPeer(key, str(item))]


def _cidr_set(item: object, where: str, notes: list[str]) -> Peer:
    if not isinstance(item, dict):
        raise PolicyError(f"{where}: expected a mapping")
    if item.get("cidrGroupRef") or item.get("cidrGroupSelector"):
        group = item.get("cidrGroupRef") or item.get("cidrGroupSelector")
        notes.append(f"{where}: CIDR group {group} is not resolved")
        return NamedPeer("cidrGroup", str(group))
    cidr = _network(item.get("cidr"), f"{where}.cidr")
    excepts_raw = item.get("except") or []
    if not isinstance(excepts_raw, list):
        raise PolicyError(f"{where}.except: expected a list")
    excepts: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for i, text in enumerate(excepts_raw):
        exc = _network(text, f"{where}.except[{i}]")
        if exc.version != cidr.version or not exc.subnet_of(cidr):  # type: ignore[arg-type]
            raise PolicyError(f"{where}.except[{i}]: {exc} is not inside cidr {cidr}")
        excepts.append(exc)
    return IPBlockPeer(IPBlock(cidr, tuple(excepts)))


def _ports(
    raw: Mapping[str, Any], where: str, action: Action, notes: list[str]
) -> tuple[PortMatch, ...] | None:
    to_ports = raw.get("toPorts")
    if to_ports is None:
        return None
    if not isinstance(to_ports, list):
        raise PolicyError(f"{where}.toPorts: expected a list")
    out: list[PortMatch] = []
    for i, entry in enumerate(to_ports):
        at = f"{where}.toPorts[{i}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{at}: expected a mapping")
        items = entry.get("ports")
        if entry.get("rules"):
            if action is Action.DENY:
                raise PolicyError(f"{at}.rules: deny rules cannot carry L7 rules")
            kinds = (
                ", ".join(sorted(map(str, entry["rules"])))
                if isinstance(entry["rules"], dict)
                else "L7"
            )
            notes.append(
                f"{at}: L7 rules ({kinds}) are treated as allowing the L4 port; the L7 "
                "limits are not evaluated"
            )
        if not items:
            return None
        if not isinstance(items, list):
            raise PolicyError(f"{at}.ports: expected a list")
        for j, port in enumerate(items):
            out.extend(_port(port, f"{at}.ports[{j}]", notes))
    return tuple(out)


def _port(raw: object, where: str, notes: list[str]) -> list[PortMatch]:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    proto_text = str(raw.get("protocol") or "ANY").upper()
    if proto_text in _UNMODELLED_PROTOCOLS:
        notes.append(f"{where}: protocol {proto_text} is not modelled")
        return []
    if proto_text == "ANY":
        protocols: tuple[Protocol, ...] = _ALL_PROTOCOLS
    else:
        try:
            protocols = (Protocol(proto_text),)
        except ValueError:
            raise PolicyError(
                f"{where}.protocol: {raw.get('protocol')!r} is not TCP, UDP, SCTP or ANY"
            ) from None
    port = raw.get("port")
    end = raw.get("endPort")
    text = "0" if port is None else str(port)
    if text.isdigit():
        start = int(text)
        if start == 0:
            return [PortRange(p, 1, 65535) for p in protocols]
        if start > 65535:
            raise PolicyError(f"{where}.port: {start} is out of range 1-65535")
        stop = start
        if end is not None and end != 0:
            if isinstance(end, bool) or not isinstance(end, int) or not start <= end <= 65535:
                raise PolicyError(f"{where}.endPort: {end!r} must be between {start} and 65535")
            stop = end
        return [PortRange(p, start, stop) for p in protocols]
    if len(text) > 15 or not _IANA_SVC_NAME.match(text):
        raise PolicyError(f"{where}.port: {text!r} is not a port number or name")
    return [NamedPort(p, text) for p in protocols]
