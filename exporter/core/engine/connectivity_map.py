"""The whole-cluster connectivity map: every allowed (source, destination, ports) over
pod classes and address atoms, with each class's rules precomputed per direction so
no selector is matched per pair."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from exporter.core.engine.classes import Endpoint, PodClass
from exporter.core.engine.decision import Decision
from exporter.core.engine.selection import Plan
from exporter.core.model import (
    ContainerPort,
    Direction,
)
from exporter.core.policies import (
    Action,
    Entity,
    EntityPeer,
    IPBlockPeer,
    NamedPeer,
    Peer,
    PodPeer,
    PortMatch,
    Rule,
)
from exporter.core.ports import ALL, NONE, PortSet


@dataclass(slots=True)
class _DirectionMap:
    """Everything one class admits in one direction, precomputed for connectivity."""

    open: bool = False
    wild: list[tuple[PortMatch, ...] | None] = field(default_factory=list)
    by_class: dict[int, PortSet] = field(default_factory=dict)
    by_atom: dict[int, PortSet] = field(default_factory=dict)
    plan: Plan | None = None
    """Set when the class needs tier-by-tier evaluation per peer (no union fast path)."""
    targets: tuple[tuple[_Target, ...], ...] = ()
    """Per tier of `plan`: each rule with the classes and atoms it matches."""
    some_classes: frozenset[int] = frozenset()
    """Classes some rule matches specifically; every other class gets `base`."""
    some_atoms: frozenset[int] = frozenset()
    base: dict[tuple[bool, tuple[ContainerPort, ...]], PortSet] = field(default_factory=dict)
    """What a peer only the every-peer rules match gets, by (peer is a class,
    destination ports)."""


@dataclass(frozen=True, slots=True)
class _Target:
    rule: Rule
    classes: frozenset[int] | None
    """Classes the rule matches; None: every class."""
    atoms: frozenset[int] | None
    """Atoms the rule matches; None: every atom."""


class ConnectivityMap(Decision):
    """The fourth layer of `Engine`: `class_connectivity`."""

    def _direction_map(
        self, cls: PodClass, direction: Direction, only: Sequence[PodClass] | None = None
    ) -> _DirectionMap:
        """`only`: the map is asked about these classes alone (no atoms), so the peers'
        other classes are not walked (`class_connectivity` of a few namespaces)."""
        result = _DirectionMap()
        plan = self.plan(cls, direction)
        if not plan.tiers:
            result.open = True
            return result
        if not plan.simple:
            result.plan = plan
            self._fill_targets(result, plan)
            return result
        tier = plan.tiers[0]
        if not tier.ends_in_deny:
            # Allow rules alone decide nothing the default would not allow.
            result.open = True
            return result
        for _policy, rule in tier.rules:
            if rule.peers is None:
                result.wild.append(rule.ports)
                continue
            for peer in rule.peers:
                if isinstance(peer, EntityPeer) and peer.entity is Entity.ALL:
                    result.wild.append(rule.ports)
                    continue
                for ai in self.peer_atoms(peer) if only is None else ():
                    dst_a: Endpoint = cls if direction is Direction.INGRESS else self.atoms[ai]
                    ports = self.rule_ports(rule.ports, dst_a)
                    if ports:
                        result.by_atom[ai] = result.by_atom.get(ai, NONE) | ports
                if isinstance(peer, IPBlockPeer | NamedPeer):
                    continue
                others = self.peer_classes(peer) if only is None else self._among(peer, only)
                for other in others:
                    dst_c = cls if direction is Direction.INGRESS else other
                    ports = self.rule_ports(rule.ports, dst_c)
                    if ports:
                        prev = result.by_class.get(other.index)
                        result.by_class[other.index] = ports if prev is None else prev | ports
        return result

    def _among(self, peer: Peer, classes: Sequence[PodClass]) -> list[PodClass]:
        if isinstance(peer, PodPeer):  # the common case, matched directly: no walk
            # over every class the peer selects (thousands for a namespaceSelector)
            return [
                c
                for c in classes
                if not c.host_network
                and (
                    c.namespace == peer.namespace
                    if peer.namespace_selector is None
                    else c.namespace in self.namespaces
                    and peer.namespace_selector.matches(self.namespaces[c.namespace].labels)
                )
                and peer.pod_selector.matches(c.labels)
            ]
        members = self.peer_class_ids(peer)
        return [c for c in classes if c.index in members]

    def _fill_targets(self, dmap: _DirectionMap, plan: Plan) -> None:
        every_class, every_atom = len(self.classes), len(self.atoms)
        some_classes: set[int] = set()
        some_atoms: set[int] = set()
        tiers = []
        for tier in plan.tiers:
            targets = []
            for _policy, rule in tier.rules:
                if rule.peers is None:
                    targets.append(_Target(rule, None, None))
                    continue
                classes: set[int] = set()
                found_atoms: set[int] = set()
                for peer in rule.peers:
                    classes |= self.peer_class_ids(peer)
                    found_atoms |= self.peer_atoms(peer)
                c = None if len(classes) == every_class else frozenset(classes)
                a = None if len(found_atoms) == every_atom else frozenset(found_atoms)
                if c is not None:
                    some_classes |= c
                if a is not None:
                    some_atoms |= a
                targets.append(_Target(rule, c, a))
            tiers.append(tuple(targets))
        dmap.targets = tuple(tiers)
        dmap.some_classes = frozenset(some_classes)
        dmap.some_atoms = frozenset(some_atoms)

    def _evaluate_targets(
        self, dmap: _DirectionMap, is_class: bool, index: int, dst: Endpoint
    ) -> PortSet:
        """`_evaluate` over precomputed rule targets (no selector matching per pair)."""
        assert dmap.plan is not None
        undecided = ALL
        allowed = NONE
        for tier, targets in zip(dmap.plan.tiers, dmap.targets, strict=True):
            tier_open = undecided
            blocked = NONE
            passed = NONE
            for t in targets:
                if not undecided:
                    break
                found = t.classes if is_class else t.atoms
                if found is not None and index not in found:
                    continue
                rule = t.rule
                if rule.action is Action.LOG:
                    continue
                ports = self.rule_ports(rule.ports, dst)
                if not ports:
                    continue
                if rule.action is Action.ALLOW:
                    got = (ports & tier_open) - blocked
                    allowed = allowed | got
                    undecided = undecided - got
                    continue
                got = ports & undecided
                undecided = undecided - got
                blocked = blocked | got
                if rule.action is Action.PASS:
                    passed = passed | got
            if tier.ends_in_deny:
                undecided = NONE
            undecided = undecided | passed
        return allowed | undecided

    def _admitted(self, dmap: _DirectionMap, peer: Endpoint, dst: Endpoint) -> PortSet:
        if dmap.open:
            return ALL
        if dmap.plan is not None:
            is_class = isinstance(peer, PodClass)
            index = peer.index if isinstance(peer, PodClass) else self._atom_index[peer]
            if index in (dmap.some_classes if is_class else dmap.some_atoms):
                return self._evaluate_targets(dmap, is_class, index, dst)
            key = (is_class, dst.ports if isinstance(dst, PodClass) else ())
            found = dmap.base.get(key)
            if found is None:
                found = self._evaluate_targets(dmap, is_class, -1, dst)
                dmap.base[key] = found
            return found
        total = self._wild_total(dmap, dst)
        if isinstance(peer, PodClass):
            hit = dmap.by_class.get(peer.index)
        else:
            hit = dmap.by_atom.get(self._atom_index[peer])
        return total | hit if hit is not None else total

    def _wild_total(self, dmap: _DirectionMap, dst: Endpoint) -> PortSet:
        """What the every-peer rules of a simple map admit towards `dst`."""
        total = NONE
        for ports in dmap.wild:
            total = total | self.rule_ports(ports, dst)
        return total

    def class_connectivity(
        self,
        keep: Callable[[Endpoint, Endpoint], bool] | None = None,
        sources: Iterable[PodClass] | None = None,
        outside_first: bool = False,
        namespaces: Collection[str] | None = None,
    ) -> Iterable[tuple[Endpoint, Endpoint, PortSet]]:
        """Every allowed (src, dst, ports) over classes and address atoms; with `keep`,
        only the pairs it accepts are computed (`connectivity --from/--to/--namespace`).
        Class sources come in the order of `sources` (default: every class), so a caller
        can write them out a namespace at a time; connections from outside addresses come
        last, or first with `outside_first`.

        `namespaces`: only pairs with a class of these namespaces at one end (`keep` may
        narrow them further). Then only those pairs are visited, and the rule maps of
        the classes outside are built for the classes inside alone: a question about one
        namespace of 10,000 (`netfence diff`, `connectivity --namespace`) costs about
        its own classes times all, not all squared."""
        ingress: dict[int, _DirectionMap] = {}
        egress: dict[int, _DirectionMap] = {}
        inside = [c for c in self.classes if namespaces is None or c.namespace in namespaces]
        marked = {c.index for c in inside}

        def direction_map(c: PodClass, direction: Direction) -> _DirectionMap:
            cache = ingress if direction is Direction.INGRESS else egress
            found = cache.get(c.index)
            if found is None:
                only = None if namespaces is None or c.index in marked else inside
                found = cache[c.index] = self._direction_map(c, direction, only)
            return found

        def outside() -> Iterator[tuple[Endpoint, Endpoint, PortSet]]:
            for atom in self.atoms:
                for dst in inside:
                    if keep is not None and not keep(atom, dst):
                        continue
                    allowed = self._admitted(direction_map(dst, Direction.INGRESS), atom, dst)
                    if allowed:
                        yield atom, dst, allowed

        if outside_first:
            yield from outside()
        # What each class's ingress wildcard rules admit (its own ports decide named
        # ports): the same for every source, so worked out once, not per pair.
        ingress_wild: dict[int, PortSet] = {}
        for src in self.classes if sources is None else sources:
            src_inside = src.index in marked
            if not src_inside and not inside:
                continue
            emap = direction_map(src, Direction.EGRESS)
            si = src.index
            for dst in self.classes if src_inside else inside:
                if keep is not None and not keep(src, dst):
                    continue
                out = ALL if emap.open else self._admitted(emap, dst, dst)
                if not out:
                    continue
                imap = ingress.get(dst.index) or direction_map(dst, Direction.INGRESS)
                if imap.open:
                    allowed = out
                elif imap.plan is None:
                    hit = imap.by_class.get(si)
                    wild = ingress_wild.get(dst.index)
                    if wild is None:
                        wild = ingress_wild[dst.index] = self._wild_total(imap, dst)
                    allowed = out & (wild | hit if hit is not None else wild)
                else:
                    allowed = out & self._admitted(imap, src, dst)
                if allowed:
                    yield src, dst, allowed
            if not src_inside:
                continue
            for atom in self.atoms:
                if keep is not None and not keep(src, atom):
                    continue
                allowed = self._admitted(emap, atom, atom)
                if allowed:
                    yield src, atom, allowed
        if not outside_first:
            yield from outside()
