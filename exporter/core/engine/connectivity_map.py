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
    NamedPort,
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
                by_class = result.by_class
                if direction is Direction.INGRESS or not _names_ports(rule.ports):
                    # The same ports towards every peer: worked out once per rule (a
                    # namespaceSelector peer can list thousands of classes).
                    ports = self.rule_ports(rule.ports, cls)
                    if not ports:
                        continue
                    for other in others:
                        oi = other.index
                        prev = by_class.get(oi)
                        by_class[oi] = ports if prev is None else prev | ports
                    continue
                for other in others:  # named ports resolve on each destination
                    ports = self.rule_ports(rule.ports, other)
                    if ports:
                        prev = by_class.get(other.index)
                        by_class[other.index] = ports if prev is None else prev | ports
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

        # Whole rows, not pairs: a class whose rule map is sparse (no every-peer rule,
        # no tiers to walk) admits only the classes and atoms listed in it, so a source
        # visits the destinations that could admit it (`_Rows`), not every class. On
        # 2,000 namespaces that is ~2M pairs instead of ~30M.
        rows = _Rows(self, inside, lambda c: direction_map(c, Direction.INGRESS))

        def outside() -> Iterator[tuple[Endpoint, Endpoint, PortSet]]:
            for ai, atom in enumerate(self.atoms):
                for di in rows.admitting_atom(ai):
                    dst = self.classes[di]
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
        classes = self.classes
        for src in classes if sources is None else sources:
            src_inside = src.index in marked
            if not src_inside and not inside:
                continue
            emap = direction_map(src, Direction.EGRESS)
            si = src.index
            if emap.open or emap.wild or emap.plan is not None:
                candidates = rows.admitting_class(si, inside_only=not src_inside)
            else:  # only what the egress rules list
                candidates = sorted(emap.by_class)
            for di in candidates:
                if not src_inside and di not in marked:
                    continue
                dst = classes[di]
                if keep is not None and not keep(src, dst):
                    continue
                out = ALL if emap.open else self._admitted(emap, dst, dst)
                if not out:
                    continue
                imap = ingress.get(di) or direction_map(dst, Direction.INGRESS)
                if imap.open:
                    allowed = out
                elif imap.plan is None:
                    hit = imap.by_class.get(si)
                    wild = ingress_wild.get(di)
                    if wild is None:
                        wild = ingress_wild[di] = self._wild_total(imap, dst)
                    allowed = out & (wild | hit if hit is not None else wild)
                else:
                    allowed = out & self._admitted(imap, src, dst)
                if allowed:
                    yield src, dst, allowed
            if not src_inside:
                continue
            atoms = self.atoms
            if emap.open or emap.wild or emap.plan is not None:
                atom_ids: Iterable[int] = range(len(atoms))
            else:
                atom_ids = sorted(emap.by_atom)
            for ai in atom_ids:
                atom = atoms[ai]
                if keep is not None and not keep(src, atom):
                    continue
                allowed = ALL if emap.open else self._admitted(emap, atom, atom)
                if allowed:
                    yield src, atom, allowed
        if not outside_first:
            yield from outside()


class _Rows:
    """Which destinations could admit a source at all, from their ingress maps: those
    that admit every peer somehow (open, an every-peer rule, tiers to walk) plus those
    whose map lists the source. Destinations are returned in class order, so the pairs
    come out in the order the pair-by-pair walk gave."""

    def __init__(
        self,
        engine: ConnectivityMap,
        inside: Sequence[PodClass],
        ingress_map: Callable[[PodClass], _DirectionMap],
    ) -> None:
        self._classes = engine.classes
        self._inside = inside
        self._ingress_map = ingress_map
        self._by_class: dict[int, list[int]] | None = None
        self._broad: list[int] = []
        self._by_atom: dict[int, list[int]] = {}
        self._broad_inside: list[int] = []

    def _build(self) -> dict[int, list[int]]:
        by_class: dict[int, list[int]] = {}
        inside = {c.index for c in self._inside}
        for dst in self._classes:
            dmap = self._ingress_map(dst)
            di = dst.index
            if dmap.open or dmap.wild or dmap.plan is not None:
                self._broad.append(di)
                if di in inside:
                    self._broad_inside.append(di)
                continue
            for si in dmap.by_class:
                found = by_class.get(si)
                if found is None:
                    by_class[si] = [di]
                else:
                    found.append(di)
            if di in inside:
                for ai in dmap.by_atom:
                    found = self._by_atom.get(ai)
                    if found is None:
                        self._by_atom[ai] = [di]
                    else:
                        found.append(di)
        self._by_class = by_class
        return by_class

    def admitting_class(self, src: int, inside_only: bool = False) -> list[int]:
        """Destination class indexes that may admit class `src`, ascending; with
        `inside_only`, only classes of the walk's namespaces (a source outside them)."""
        by_class = self._by_class if self._by_class is not None else self._build()
        broad = self._broad_inside if inside_only else self._broad
        listed = by_class.get(src)
        if not listed:
            return broad
        return sorted((*broad, *listed))

    def admitting_atom(self, atom: int) -> list[int]:
        """Inside destination classes that may admit address atom `atom`, in order."""
        if self._by_class is None:
            self._build()
        listed = self._by_atom.get(atom)
        if not listed:
            return self._broad_inside
        return sorted((*self._broad_inside, *listed))


def _names_ports(ports: tuple[PortMatch, ...] | None) -> bool:
    return ports is not None and any(isinstance(m, NamedPort) for m in ports)
