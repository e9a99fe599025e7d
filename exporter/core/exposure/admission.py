"""Admissions per source category: what a pod class admits from some other namespace,
from every namespace, from given pods (controllers), from public addresses, and what it
opens towards them; cached per set of isolating policies (or by content), so cost
follows policies x classes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from exporter.core.addresses import AddressRange, is_public
from exporter.core.engine import Engine, PodClass, covers_every_pod
from exporter.core.engine.selection import Plan
from exporter.core.exposure.controllers import ExposureConfig
from exporter.core.model import Direction
from exporter.core.policies import (
    Action,
    EndpointPeer,
    Peer,
    PodPeer,
    Policy,
    Rule,
)
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.services import Service, ServicePort


@dataclass(slots=True)
class Admission:
    ports: PortSet = NONE
    objects: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rules: list[tuple[Policy, Rule]] = field(default_factory=list)
    """The rules that admit; described only when an explanation is asked for."""
    unisolated: bool = False
    """Admits everything because nothing isolates the pods in this direction."""

    def add(self, ports: PortSet, policy: Policy, rule: Rule) -> None:
        if ports:
            self.ports = self.ports | ports
            if policy.id not in self.objects:
                self.objects.append(policy.id)
            self.rules.append((policy, rule))

    @property
    def reasons(self) -> list[str]:
        return self.notes + [f"{p.id} {r.describe()}" for p, r in self.rules]


class Admissions:
    """The first layer of `ExposureAnalysis`: which pods back a Service, on which pod
    ports, and what they admit from each source category."""

    def __init__(self, engine: Engine, config: ExposureConfig | None = None) -> None:
        self.engine = engine
        self.config = config or ExposureConfig()
        snap = engine.snapshot
        self.services = {(s.namespace, s.name): s for s in snap.services}
        self.controllers = [
            c for c in engine.classes if any(spec.matches(c) for spec in self.config.controllers)
        ]
        # The engine cuts address space at public/private and source-range borders.
        self.public_atoms = [a for a in engine.atoms if is_public(a)]
        self._cache: dict[tuple[object, ...], Admission] = {}
        self._address_cache: dict[
            tuple[object, ...], tuple[PortSet, bool, tuple[tuple[int, int, Direction], ...]]
        ] = {}
        by_name: dict[tuple[str, str], PodClass] = {}
        for cls in engine.classes:
            for group in cls.groups:
                for pod in group.pod_names:
                    by_name[(cls.namespace, pod)] = cls
        self._pods_by_name = by_name

    def backing(self, svc: Service) -> list[PodClass]:
        if svc.selector is None:
            names = {
                pod
                for es in self.engine.snapshot.endpoint_slices
                if es.namespace == svc.namespace and es.service == svc.name
                for pod in es.pods
            }
            found = {self._pods_by_name.get((svc.namespace, n)) for n in names}
            return sorted((c for c in found if c is not None), key=lambda c: c.index)
        return [
            c
            for c in self.engine.classes_by_ns.get(svc.namespace, ())
            if all(c.labels.get(k) == v for k, v in svc.selector)
        ]

    @staticmethod
    def target_ports(ports: Iterable[ServicePort], cls: PodClass) -> PortSet:
        out = NONE
        for sp in ports:
            if isinstance(sp.target, int):
                out = out | PortSet.of(sp.protocol, sp.target)
            else:
                for cp in cls.ports:
                    if cp.name == sp.target and cp.protocol is sp.protocol:
                        out = out | PortSet.of(cp.protocol, cp.port)
        return out

    def _isolating_key(self, cls: PodClass) -> tuple[int, ...]:
        return tuple(id(p) for p in self.engine.isolating(cls, Direction.INGRESS))

    def _content_key(self, cls: PodClass, direction: Direction) -> tuple[object, ...]:
        """What a verdict against an address can depend on, by content: fleets stamp
        the same policies into thousands of namespaces, and their (memoised) rules
        are shared objects, so one evaluation serves them all."""
        return tuple(
            (
                p.api,
                p.tier_order,
                p.priority,
                p.tier_passes,
                self.engine.is_isolated(cls, direction),
                direction in p.isolates,
                tuple(id(r) for r in p.rules(direction)),
            )
            for p in self.engine.selecting(cls)
        )

    def from_other_namespaces(self, cls: PodClass) -> tuple[Admission, Admission]:
        """(admitted from some other namespace, admitted from every namespace).

        Read from the class's decision plan (engine.plan): with one tier of allow rules
        (NetworkPolicy, allow-only Cilium or Calico policies) the answer is exact; when
        tiers, deny or pass rules are involved it is the union of the allow rules less
        what a deny of every pod removes, which can only overstate exposure (said in
        the reasons).
        """
        key = ("ns", self._isolating_key(cls), cls.ports, cls.namespace)
        other = self._cache.get(key)
        every = self._cache.get(("all", *key[1:]))
        if other is not None and every is not None:
            return other, every
        other, every = Admission(), Admission()
        plan = self.engine.plan(cls, Direction.INGRESS)
        if not plan.tiers or (not plan.isolated and plan.simple):
            other.ports = every.ports = ALL
            other.unisolated = every.unisolated = True
            other.notes.append(f"{workload_names(cls)} is not isolated for ingress")
            every.notes.append(f"{workload_names(cls)} is not isolated for ingress")
        else:
            denied_all = NONE
            for policy, rule in _plan_rules(plan):
                reach = self._peer_reach(rule, cls.namespace)
                if reach is None:
                    continue
                ports = self.engine.rule_ports(rule.ports, cls)
                if rule.action is Action.DENY:
                    if reach == "every":
                        denied_all = denied_all | ports
                    continue
                if rule.action is not Action.ALLOW:
                    continue
                other.add(ports, policy, rule)
                if reach == "every":
                    every.add(ports, policy, rule)
            if not plan.simple:
                for adm in (other, every):
                    adm.ports = adm.ports - denied_all
                    adm.notes.append(
                        "tiers or deny rules apply: the union of allow rules is an upper bound"
                    )
            if not plan.isolated:
                # Whatever no tier decides falls to the Kubernetes default (allow).
                other.ports = every.ports = ALL
                other.unisolated = every.unisolated = True
                other.notes.append(f"{workload_names(cls)} is not isolated for ingress")
                every.notes.append(f"{workload_names(cls)} is not isolated for ingress")
        self._cache[key] = other
        self._cache[("all", *key[1:])] = every
        return other, every

    def _peer_reach(self, rule: Rule, own: str) -> str | None:
        """How far a rule's peers reach across namespaces: "every" namespace (future
        ones too), "other" (some other existing namespace), or None."""
        if rule.peers is None:
            return "every"
        reach: str | None = None
        for peer in rule.peers:
            if isinstance(peer, PodPeer):
                if peer.namespace_selector is None:
                    continue
                if peer.namespace_selector.is_empty:
                    return "every"
                if any(n != own for n in self.engine.namespaces_matching(peer.namespace_selector)):
                    reach = "other"
                continue
            if covers_every_pod(peer):
                return "every"
            # Endpoint selectors of other APIs: a named or selected other namespace
            # counts even before pods exist there, as for NetworkPolicy peers.
            if (
                isinstance(peer, EndpointPeer)
                and any(n != own for n in self._endpoint_namespaces(peer))
            ) or any(c.namespace != own for c in self.engine.peer_classes(peer)):
                reach = "other"
        return reach

    def _endpoint_namespaces(self, peer: EndpointPeer) -> Iterable[str]:
        if peer.namespace is not None:
            return (peer.namespace,)
        if peer.namespaces_hint is not None:
            return peer.namespaces_hint
        if peer.namespace_selector is not None:
            return self.engine.namespaces_matching(peer.namespace_selector)
        return ()

    def from_any_pod(self, cls: PodClass) -> Admission:
        """What an unknown pod in an unknown namespace may open: only rules whose peers
        reach every namespace admit it (as np-guard/netpol-analyzer models it)."""
        _, every = self.from_other_namespaces(cls)
        found = Admission(every.ports, list(every.objects), list(every.notes))
        found.rules = [
            (p, r)
            for p, r in every.rules
            if r.peers is None or any(covers_every_pod(x) for x in r.peers)
        ]
        found.unisolated = every.unisolated
        if not every.unisolated:
            ports = NONE
            for _, r in found.rules:
                ports = ports | self.engine.rule_ports(r.ports, cls)
            found.ports = ports & every.ports
            found.objects = [o for o in found.objects if any(p.id == o for p, _ in found.rules)]
        return found

    def from_pods(self, cls: PodClass, sources: Sequence[PodClass]) -> Admission:
        """Admitted from these pods, as the engine decides it (every policy API)."""
        found = Admission()
        for src in sources:
            decision = self.engine.decide(Direction.INGRESS, cls, src)
            found.ports = found.ports | decision.ports
            if not decision.isolated and decision.ports:
                found.notes.append(f"{workload_names(cls)} is not isolated for ingress")
            for m in decision.matches:
                found.add(m.ports, m.policy, m.rule)
        return found

    def from_internet(self, cls: PodClass, ranges: Sequence[AddressRange] = ()) -> Admission:
        """Admitted from public addresses (within `ranges` when given)."""
        atoms = [a for a in self.public_atoms if not ranges or any(r.contains(a) for r in ranges)]
        return self._from_addresses(cls, Direction.INGRESS, atoms, ("net", tuple(ranges)))

    def internet_egress(self, cls: PodClass) -> Admission:
        """What the class may open towards public addresses."""
        return self._from_addresses(cls, Direction.EGRESS, self.public_atoms, ("egress",))

    def _from_addresses(
        self,
        cls: PodClass,
        direction: Direction,
        addresses: Sequence[AddressRange],
        tag: tuple[object, ...],
    ) -> Admission:
        """The ports `cls` admits from (ingress) or opens to (egress) any of `addresses`.

        Memoised by what such a verdict can depend on, by content (see `_address_key`);
        the cache keeps rule *positions*, turned back into this class's own policies.
        """
        policies = self.engine.selecting(cls)
        key = (*tag, self._address_key(cls, direction, policies))
        hit = self._address_cache.get(key)
        if hit is None:
            ports, isolated, matched = NONE, True, set()
            for atom in addresses:
                decision = self.engine.decide(direction, cls, atom)
                ports = ports | decision.ports
                if not decision.isolated:
                    isolated = False
                for m in decision.matches:
                    if m.rule.action is Action.ALLOW and m.ports:
                        pi = next(i for i, p in enumerate(policies) if p is m.policy)
                        matched.add((pi, m.rule.index, m.rule.direction))
            hit = (ports, isolated, tuple(sorted(matched)))
            self._address_cache[key] = hit
        ports, isolated, positions = hit
        found = Admission(ports=ports)
        if not isolated:
            found.notes.append(f"{workload_names(cls)} is not isolated for {direction}")
            found.objects.append(f"no {direction} isolation")
        for pi, ri, _ in positions:
            policy = policies[pi]
            rule = next(r for r in policy.rules(direction) if r.index == ri)
            if policy.id not in found.objects:
                found.objects.append(policy.id)
            found.rules.append((policy, rule))
        return found

    def _address_key(
        self, cls: PodClass, direction: Direction, policies: Sequence[Policy]
    ) -> tuple[object, ...]:
        """Fleets stamp the same policies into thousands of namespaces; against an
        address only their order, isolation and address-capable peers matter (pod and
        endpoint selectors never match an address), plus the class's named ports."""
        return (
            self.engine.is_isolated(cls, direction),
            cls.ports if direction is Direction.INGRESS else (),
            tuple(
                (
                    p.api,
                    p.tier_order,
                    p.priority,
                    p.tier_passes,
                    direction in p.isolates,
                    tuple(
                        (
                            r.action,
                            r.index,
                            None
                            if r.peers is None
                            else tuple(x for x in r.peers if not _selects_pods_only(x)),
                            r.ports,
                        )
                        for r in p.rules(direction)
                    ),
                )
                for p in policies
            ),
        )

    def _controller_admission(self, cls: PodClass, sources: Sequence[PodClass]) -> Admission:
        return self.from_pods(cls, sources) if sources else self.from_any_pod(cls)


def _plan_rules(plan: Plan) -> Iterable[tuple[Policy, Rule]]:
    for tier in plan.tiers:
        yield from tier.rules


def _selects_pods_only(peer: Peer) -> bool:
    """Peers that can never match an address (pod and endpoint selectors)."""
    return isinstance(peer, PodPeer | EndpointPeer)


def workload_ids(classes: Iterable[PodClass]) -> tuple[str, ...]:
    return tuple(sorted({w.id for c in classes for w in c.workloads}))


def workload_names(cls: PodClass) -> str:
    return ", ".join(w.id for w in cls.workloads)
