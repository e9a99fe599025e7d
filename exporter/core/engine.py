"""Isolation and reachability over equivalence classes of pods.

A connection src -> dst is allowed only if egress at src and ingress at dst both allow
it (policy-semantics.md §0). For each side: a pod not isolated in that direction allows
everything; an isolated pod allows the union of the matching rules of the policies that
select it and isolate that direction (§1.1). Rules of a direction missing from a
policy's effective policyTypes have no effect (§1.2).

Peers outside the cluster are address *atoms* (see `addresses`). ipBlock peers never
match pods, and pod selectors never match hostNetwork pods (whose traffic is node
traffic, §1.6), which only rules without a peer restriction admit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.core.addresses import AddressRange, IPBlock, atoms
from exporter.core.model import ContainerPort, Direction, PodGroup, Protocol, Snapshot, Workload
from exporter.core.policies import IPBlockPeer, NamedPort, Peer, PodPeer, Policy, PortMatch, Rule
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.selectors import LabelSelector


@dataclass(frozen=True, slots=True, eq=False)
class PodClass:
    """Pods indistinguishable to policy: same namespace, labels, ports, host networking."""

    index: int
    namespace: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    groups: tuple[PodGroup, ...]

    @property
    def pods(self) -> int:
        return sum(g.pods for g in self.groups)

    @property
    def workloads(self) -> list[Workload]:
        return sorted({g.workload for g in self.groups}, key=lambda w: w.id)


Endpoint = PodClass | AddressRange


@dataclass(frozen=True, slots=True)
class RuleMatch:
    policy: Policy
    rule: Rule
    ports: PortSet


@dataclass(frozen=True, slots=True)
class SideDecision:
    """One side's verdict (egress at the source or ingress at the destination)."""

    direction: Direction
    applies: bool
    """False when this side is outside the cluster and enforces nothing we model."""
    isolated: bool
    ports: PortSet
    isolating: tuple[Policy, ...] = ()
    matches: tuple[RuleMatch, ...] = ()


@dataclass(slots=True)
class _DirectionMap:
    """Everything one class admits in one direction, precomputed for connectivity."""

    open: bool = False
    wild: list[tuple[PortMatch, ...] | None] = field(default_factory=list)
    by_class: dict[int, PortSet] = field(default_factory=dict)
    by_atom: dict[int, PortSet] = field(default_factory=dict)


class Engine:
    def __init__(self, snapshot: Snapshot, families: Iterable[int] | None = None) -> None:
        self.snapshot = snapshot
        self.namespaces = snapshot.namespaces
        keyed: dict[tuple[object, ...], list[PodGroup]] = defaultdict(list)
        for group in snapshot.pod_groups:
            keyed[group.class_key()].append(group)
        self.classes: list[PodClass] = []
        self.classes_by_ns: dict[str, list[PodClass]] = defaultdict(list)
        for i, groups in enumerate(keyed.values()):
            g = groups[0]
            cls = PodClass(i, g.namespace, g.labels, g.ports, g.host_network, tuple(groups))
            self.classes.append(cls)
            self.classes_by_ns[cls.namespace].append(cls)
        self.policies_by_ns: dict[str, list[Policy]] = defaultdict(list)
        for policy in snapshot.policies:
            self.policies_by_ns[policy.namespace].append(policy)
        self._selected: list[list[Policy]] = [[] for _ in self.classes]
        self.selected_pods: dict[int, int] = {}
        for ns, policies in self.policies_by_ns.items():
            members = self.classes_by_ns.get(ns, [])
            for policy in policies:
                n = 0
                for cls in members:
                    if not cls.host_network and policy.pod_selector.matches(cls.labels):
                        self._selected[cls.index].append(policy)
                        n += cls.pods
                self.selected_pods[id(policy)] = n
        blocks = [p.block for p in self._peers() if isinstance(p, IPBlockPeer)]
        if families is None:
            families = {4} | {b.cidr.version for b in blocks}
        self.families = tuple(sorted(set(families)))
        self.atoms: list[AddressRange] = atoms(blocks, self.families)
        self._atom_index = {a: i for i, a in enumerate(self.atoms)}
        self._ns_selector_cache: dict[LabelSelector, list[str]] = {}
        self._peer_cache: dict[PodPeer, list[PodClass]] = {}
        self._block_cache: dict[IPBlock, list[int]] = {}
        self._named_ports: frozenset[tuple[str | None, Protocol]] | None = None
        self._named_cache: dict[
            tuple[tuple[PortMatch, ...], tuple[ContainerPort, ...]], PortSet
        ] = {}

    # -- selection and isolation -------------------------------------------------------

    def _peers(self) -> Iterable[Peer]:
        for policy in self.snapshot.policies:
            for rule in (*policy.ingress, *policy.egress):
                yield from rule.peers or ()

    def selecting(self, cls: PodClass) -> list[Policy]:
        return self._selected[cls.index]

    def isolating(self, cls: PodClass, direction: Direction) -> list[Policy]:
        return [p for p in self._selected[cls.index] if direction in p.isolates]

    def named_ports(self) -> frozenset[tuple[str | None, Protocol]]:
        """Every (name, protocol) some container in the cluster declares."""
        if self._named_ports is None:
            self._named_ports = frozenset(
                (cp.name, cp.protocol) for c in self.classes for cp in c.ports if cp.name
            )
        return self._named_ports

    def is_isolated(self, cls: PodClass, direction: Direction) -> bool:
        return any(direction in p.isolates for p in self._selected[cls.index])

    # -- matching ----------------------------------------------------------------------

    def namespaces_matching(self, selector: LabelSelector) -> list[str]:
        found = self._ns_selector_cache.get(selector)
        if found is None:
            found = [n for n, ns in self.namespaces.items() if selector.matches(ns.labels)]
            self._ns_selector_cache[selector] = found
        return found

    def peer_classes(self, peer: PodPeer) -> list[PodClass]:
        """The pod classes a pod peer selects (never hostNetwork pods)."""
        found = self._peer_cache.get(peer)
        if found is None:
            if peer.namespace_selector is None:
                spaces = [peer.namespace]
            else:
                spaces = self.namespaces_matching(peer.namespace_selector)
            found = [
                cls
                for ns in spaces
                for cls in self.classes_by_ns.get(ns, ())
                if not cls.host_network and peer.pod_selector.matches(cls.labels)
            ]
            self._peer_cache[peer] = found
        return found

    def peer_matches(self, peer: Peer, endpoint: Endpoint) -> bool:
        if isinstance(endpoint, AddressRange):
            return isinstance(peer, IPBlockPeer) and peer.block.contains(endpoint)
        if isinstance(peer, IPBlockPeer) or endpoint.host_network:
            return False
        if peer.namespace_selector is None:
            if endpoint.namespace != peer.namespace:
                return False
        else:
            ns = self.namespaces.get(endpoint.namespace)
            if ns is None or not peer.namespace_selector.matches(ns.labels):
                return False
        return peer.pod_selector.matches(endpoint.labels)

    def rule_ports(self, ports: tuple[PortMatch, ...] | None, dst: Endpoint) -> PortSet:
        """Ports a rule admits towards `dst`; named ports resolve on the destination pod."""
        if ports is None:
            return ALL
        dst_ports = dst.ports if isinstance(dst, PodClass) else ()
        key = (ports, dst_ports)
        found = self._named_cache.get(key)
        if found is None:
            found = NONE
            for match in ports:
                if isinstance(match, NamedPort):
                    for cp in dst_ports:
                        if cp.name == match.name and cp.protocol is match.protocol:
                            found = found | PortSet.of(cp.protocol, cp.port)
                else:
                    found = found | PortSet.of(match.protocol, match.start, match.end)
            self._named_cache[key] = found
        return found

    # -- one decision, with the reasons (explain) -----------------------------------------

    def decide(self, direction: Direction, subject: Endpoint, peer: Endpoint) -> SideDecision:
        """The ports `subject` admits from/to `peer` in `direction`, and why."""
        if not isinstance(subject, PodClass):
            return SideDecision(direction, applies=False, isolated=False, ports=ALL)
        isolating = tuple(self.isolating(subject, direction))
        if not isolating:
            return SideDecision(direction, applies=True, isolated=False, ports=ALL)
        dst = subject if direction is Direction.INGRESS else peer
        matches: list[RuleMatch] = []
        total = NONE
        for policy in isolating:
            for rule in policy.rules(direction):
                if rule.peers is not None and not any(
                    self.peer_matches(p, peer) for p in rule.peers
                ):
                    continue
                ports = self.rule_ports(rule.ports, dst)
                if ports:
                    matches.append(RuleMatch(policy, rule, ports))
                    total = total | ports
        return SideDecision(direction, True, True, total, isolating, tuple(matches))

    def connection(
        self, src: Endpoint, dst: Endpoint
    ) -> tuple[PortSet, SideDecision, SideDecision]:
        egress = self.decide(Direction.EGRESS, src, dst)
        ingress = self.decide(Direction.INGRESS, dst, src)
        return egress.ports & ingress.ports, egress, ingress

    # -- whole-cluster connectivity --------------------------------------------------------

    def _direction_map(self, cls: PodClass, direction: Direction) -> _DirectionMap:
        result = _DirectionMap()
        isolating = self.isolating(cls, direction)
        if not isolating:
            result.open = True
            return result
        for policy in isolating:
            for rule in policy.rules(direction):
                if rule.peers is None:
                    result.wild.append(rule.ports)
                    continue
                for peer in rule.peers:
                    if isinstance(peer, IPBlockPeer):
                        for ai in self._atoms_in(peer.block):
                            dst_a: Endpoint = (
                                cls if direction is Direction.INGRESS else self.atoms[ai]
                            )
                            ports = self.rule_ports(rule.ports, dst_a)
                            if ports:
                                result.by_atom[ai] = result.by_atom.get(ai, NONE) | ports
                        continue
                    for other in self.peer_classes(peer):
                        dst_c = cls if direction is Direction.INGRESS else other
                        ports = self.rule_ports(rule.ports, dst_c)
                        if ports:
                            prev = result.by_class.get(other.index)
                            result.by_class[other.index] = ports if prev is None else prev | ports
        return result

    def _atoms_in(self, block: IPBlock) -> list[int]:
        found = self._block_cache.get(block)
        if found is None:
            found = [i for i, a in enumerate(self.atoms) if block.contains(a)]
            self._block_cache[block] = found
        return found

    def _admitted(self, dmap: _DirectionMap, peer: Endpoint, dst: Endpoint) -> PortSet:
        if dmap.open:
            return ALL
        total = NONE
        for ports in dmap.wild:
            total = total | self.rule_ports(ports, dst)
        if isinstance(peer, PodClass):
            hit = dmap.by_class.get(peer.index)
        else:
            hit = dmap.by_atom.get(self._atom_index[peer])
        return total | hit if hit is not None else total

    def class_connectivity(self) -> Iterable[tuple[Endpoint, Endpoint, PortSet]]:
        """Every allowed (src, dst, ports) over classes and address atoms."""
        ingress = [self._direction_map(c, Direction.INGRESS) for c in self.classes]
        egress = [self._direction_map(c, Direction.EGRESS) for c in self.classes]
        for src in self.classes:
            emap = egress[src.index]
            for dst in self.classes:
                out = self._admitted(emap, dst, dst)
                if not out:
                    continue
                allowed = out & self._admitted(ingress[dst.index], src, dst)
                if allowed:
                    yield src, dst, allowed
            for atom in self.atoms:
                allowed = self._admitted(emap, atom, atom)
                if allowed:
                    yield src, atom, allowed
        for atom in self.atoms:
            for dst in self.classes:
                allowed = self._admitted(ingress[dst.index], atom, dst)
                if allowed:
                    yield atom, dst, allowed


def workload_classes(engine: Engine) -> dict[str, list[PodClass]]:
    out: dict[str, list[PodClass]] = defaultdict(list)
    for cls in engine.classes:
        for wl in cls.workloads:
            out[wl.id].append(cls)
    return out


def find_workloads(engine: Engine, text: str) -> Sequence[PodClass]:
    """Classes of the workload a user named as `ns/name`, `ns/name[Kind]` or `name` (default ns)."""
    target = text if "/" in text else f"default/{text}"
    exact = "[" in target
    found: list[PodClass] = []
    for cls in engine.classes:
        for wl in cls.workloads:
            if (wl.id == target) if exact else (f"{wl.namespace}/{wl.name}" == target):
                found.append(cls)
                break
    return found
