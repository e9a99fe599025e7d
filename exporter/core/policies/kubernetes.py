"""networking.k8s.io/v1 NetworkPolicy -> normal form.

Rules implemented here (docs/semantics.md §1, sources cited there):
- §1.2 policyTypes defaulting (kubernetes/kubernetes:pkg/apis/networking/v1/defaults.go):
  absent/empty -> [Ingress] plus Egress iff `egress` has at least one rule.
- §1.3 empty vs absent: `from`/`to` absent or [] = every peer; `ports` absent or [] =
  every port; `ingress: [{}]` = allow all.
- §1.4 peers: podSelector alone is namespace-local, namespaceSelector alone = all pods
  of matching namespaces, both in one peer = AND; ipBlock is exclusive with the others
  and `except` must lie strictly inside `cidr` (validation.go ValidateNetworkPolicyPeer).
- §1.5 ports: protocol defaults to TCP; number or IANA name; endPort needs a numeric
  port and endPort >= port (validation.go ValidateNetworkPolicyPort).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from exporter.core.addresses import IPBlock
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.policies.normal_form import (
    IPBlockPeer,
    NamedPort,
    Peer,
    PodPeer,
    Policy,
    PortMatch,
    PortRange,
    Rule,
)
from exporter.core.ports import NONE, PortSet
from exporter.core.selectors import EVERYTHING, SelectorError, parse_label_selector

KIND = "NetworkPolicy"
_IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_PEER_FIELDS = frozenset({"podSelector", "namespaceSelector", "ipBlock"})
_PROTOCOLS = {p.value: p for p in Protocol}


class PolicyError(ValueError):
    """An object the API server would reject; the message names the field."""


def parse_network_policy(obj: Mapping[str, Any], ref: ObjectRef) -> Policy:
    namespace = ref.namespace or "default"
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise PolicyError("spec: expected a mapping")
    try:
        pod_selector = parse_label_selector(spec.get("podSelector"), "spec.podSelector")
    except SelectorError as exc:
        raise PolicyError(str(exc)) from None

    ingress_raw = _list(spec, "ingress")
    egress_raw = _list(spec, "egress")
    types_raw = spec.get("policyTypes")
    if types_raw:
        if not isinstance(types_raw, list):
            raise PolicyError("spec.policyTypes: expected a list")
        isolates: set[Direction] = set()
        for t in types_raw:
            if t not in ("Ingress", "Egress"):
                raise PolicyError(f"spec.policyTypes: unknown type {t!r} (want Ingress or Egress)")
            isolates.add(Direction.INGRESS if t == "Ingress" else Direction.EGRESS)
        explicit = True
    else:
        isolates = {Direction.INGRESS}
        if egress_raw:
            isolates.add(Direction.EGRESS)
        explicit = False

    ingress = tuple(
        _parse_rule(r, Direction.INGRESS, i, namespace) for i, r in enumerate(ingress_raw)
    )
    egress = tuple(_parse_rule(r, Direction.EGRESS, i, namespace) for i, r in enumerate(egress_raw))
    return Policy(
        ref=ref,
        namespace=namespace,
        pod_selector=pod_selector,
        isolates=frozenset(isolates),
        ingress=ingress,
        egress=egress,
        policy_types_explicit=explicit,
        declared_empty_egress=(not explicit and "egress" in spec and not egress_raw),
    )


def _list(raw: Mapping[str, Any], key: str, where: str = "spec") -> list[Any]:
    """`raw[key]` as a list (absent or null: empty); shared by every policy API."""
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where}.{key}: expected a list")
    return value


_RULES: dict[tuple[str, Direction, int], tuple[Rule, tuple[int, ...]]] = {}
_LOCAL_PEER = "\x00policy-namespace"
"""Placeholder namespace in memoised rules, replaced by the policy's own namespace."""


def _parse_rule(raw: object, direction: Direction, index: int, namespace: str) -> Rule:
    """Rules are memoised without their namespace: Helm-stamped fleets repeat the same
    rules in thousands of namespaces, and only namespace-local peers differ."""
    key = (repr(raw), direction, index)
    found = _RULES.get(key)
    if found is None:
        template = _parse_rule_uncached(raw, direction, index)
        local = tuple(
            i
            for i, p in enumerate(template.peers or ())
            if isinstance(p, PodPeer) and p.namespace == _LOCAL_PEER
        )
        found = (template, local)
        if len(_RULES) < _CACHE_LIMIT:
            _RULES[key] = found
    template, local = found
    if not local:
        return template
    assert template.peers is not None
    peers = list(template.peers)
    for i in local:
        peer = peers[i]
        assert isinstance(peer, PodPeer)
        peers[i] = PodPeer(peer.pod_selector, peer.namespace_selector, namespace)
    return replace(template, peers=tuple(peers))


def _parse_rule_uncached(raw: object, direction: Direction, index: int) -> Rule:
    namespace = _LOCAL_PEER
    where = _Where("spec", f".{direction.value}[{index}]")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    peer_key = "from" if direction is Direction.INGRESS else "to"
    peers_raw = raw.get(peer_key)
    if peers_raw is not None and not isinstance(peers_raw, list):
        raise PolicyError(f"{where}.{peer_key}: expected a list")
    ports_raw = raw.get("ports")
    if ports_raw is not None and not isinstance(ports_raw, list):
        raise PolicyError(f"{where}.ports: expected a list")
    peers = (
        tuple(_parse_peer(p, where.at(peer_key, i), namespace) for i, p in enumerate(peers_raw))
        if peers_raw
        else None
    )
    ports = (
        tuple(_parse_port(p, where.at("ports", i)) for i, p in enumerate(ports_raw))
        if ports_raw
        else None
    )
    return Rule(
        direction=direction,
        index=index,
        peers=peers,
        ports=ports,
        all_ports=ports is None or _covers_every_port(ports),
    )


_EVERY_PORT: dict[tuple[PortMatch, ...], bool] = {}


def _covers_every_port(ports: tuple[PortMatch, ...]) -> bool:
    found = _EVERY_PORT.get(ports)
    if found is None:
        total = NONE
        for match in ports:
            if isinstance(match, PortRange):
                total = total | PortSet.of(match.protocol, match.start, match.end)
        found = total.is_all
        if len(_EVERY_PORT) < _CACHE_LIMIT:
            _EVERY_PORT[ports] = found
    return found


class _Where:
    """A field path, formatted only when an error needs it (parsing is the hot path)."""

    __slots__ = ("parent", "suffix")

    def __init__(self, parent: _Where | str, suffix: str) -> None:
        self.parent = parent
        self.suffix = suffix

    def at(self, key: str, index: int) -> _Where:
        return _Where(self, f".{key}[{index}]")

    def field(self, key: str) -> _Where:
        return _Where(self, f".{key}")

    def __str__(self) -> str:
        return f"{self.parent}{self.suffix}"

    def __format__(self, spec: str) -> str:
        return str(self)


def _parse_peer(raw: object, where: _Where, namespace: str) -> Peer:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    pod_raw = raw.get("podSelector")
    ns_raw = raw.get("namespaceSelector")
    block_raw = raw.get("ipBlock")
    if len(raw) > 3 or not _PEER_FIELDS.issuperset(raw):
        unknown = sorted(map(str, set(raw) - _PEER_FIELDS))
        raise PolicyError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if pod_raw is None and ns_raw is None and block_raw is None:
        raise PolicyError(f"{where}: a peer needs podSelector, namespaceSelector or ipBlock")
    if block_raw is not None:
        if pod_raw is not None or ns_raw is not None:
            raise PolicyError(f"{where}: ipBlock cannot be combined with other peer fields")
        return IPBlockPeer(_parse_ip_block(block_raw, where.field("ipBlock")))
    try:
        pods = (
            EVERYTHING
            if pod_raw is None
            else parse_label_selector(pod_raw, where.field("podSelector"))
        )
        namespaces = (
            None
            if ns_raw is None
            else parse_label_selector(ns_raw, where.field("namespaceSelector"))
        )
    except SelectorError as exc:
        raise PolicyError(str(exc)) from None
    return PodPeer(pod_selector=pods, namespace_selector=namespaces, namespace=namespace)


_BLOCKS: dict[str, IPBlock] = {}
_PORTS: dict[str, PortMatch] = {}
_CACHE_LIMIT = 100_000
T = TypeVar("T")


def _memoised(
    cache: dict[str, T], parse: Callable[[object, object], T], raw: object, where: object
) -> T:
    """Fleets repeat the same handful of CIDRs and ports in thousands of policies: each
    distinct value is parsed once (errors are not cached: they name `where`)."""
    key = repr(raw)
    found = cache.get(key)
    if found is None:
        found = parse(raw, where)
        if len(cache) < _CACHE_LIMIT:
            cache[key] = found
    return found


def _parse_ip_block(raw: object, where: object) -> IPBlock:
    return _memoised(_BLOCKS, _parse_ip_block_uncached, raw, where)


def _parse_ip_block_uncached(raw: object, where: object) -> IPBlock:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    cidr_text = raw.get("cidr")
    if not cidr_text:
        raise PolicyError(f"{where}: cidr is required (except needs a cidr to lie inside)")
    cidr = _network(cidr_text, f"{where}.cidr")
    excepts_raw = raw.get("except") or []
    if not isinstance(excepts_raw, list):
        raise PolicyError(f"{where}.except: expected a list")
    excepts = []
    for i, text in enumerate(excepts_raw):
        exc = _network(text, f"{where}.except[{i}]")
        if (
            exc.version != cidr.version
            or not exc.subnet_of(cidr)  # type: ignore[arg-type]
            or exc.prefixlen <= cidr.prefixlen
        ):
            raise PolicyError(f"{where}.except[{i}]: {exc} is not strictly inside cidr {cidr}")
        excepts.append(exc)
    return IPBlock(cidr, tuple(excepts))


def _network(text: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(text, str) or "/" not in text:
        raise PolicyError(f"{where}: {text!r} is not a CIDR (want e.g. 10.0.0.0/8)")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PolicyError(f"{where}: {text!r} is not a valid CIDR") from None


def _parse_port(raw: object, where: object) -> PortMatch:
    return _memoised(_PORTS, _parse_port_uncached, raw, where)


def _parse_port_uncached(raw: object, where: object) -> PortMatch:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    proto_text = raw.get("protocol") or "TCP"
    try:
        protocol = _PROTOCOLS[proto_text]
    except (KeyError, TypeError):
        raise PolicyError(f"{where}.protocol: {proto_text!r} is not TCP, UDP or SCTP") from None
    port = raw.get("port")
    end_port = raw.get("endPort")
    if port is None:
        if end_port is not None:
            raise PolicyError(f"{where}: endPort requires port")
        return PortRange(protocol, 1, 65535)
    if isinstance(port, bool) or not isinstance(port, int | str):
        raise PolicyError(f"{where}.port: expected a number or a port name")
    if isinstance(port, str):
        if end_port is not None:
            raise PolicyError(f"{where}: endPort requires a numeric port, not {port!r}")
        if len(port) > 15 or not _IANA_SVC_NAME.match(port):
            raise PolicyError(f"{where}.port: {port!r} is not a valid port name")
        return NamedPort(protocol, port)
    if not 1 <= port <= 65535:
        raise PolicyError(f"{where}.port: {port} is out of range 1-65535")
    if end_port is None:
        return PortRange(protocol, port, port)
    if isinstance(end_port, bool) or not isinstance(end_port, int):
        raise PolicyError(f"{where}.endPort: expected a number")
    if not port <= end_port <= 65535:
        raise PolicyError(f"{where}.endPort: {end_port} must be between port {port} and 65535")
    return PortRange(protocol, port, end_port)
