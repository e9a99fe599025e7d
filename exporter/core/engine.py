"""Isolation and reachability over equivalence classes of pods, for every policy API.

A connection src -> dst is allowed only if egress at src and ingress at dst both allow
it (policy-semantics.md §0). Each side is decided by the tiers of the policies that
select the subject pod (see `exporter.core.policies`): Admin tier (AdminNetworkPolicy,
ClusterNetworkPolicy Admin; first matching rule by priority, Pass goes on) -> the
NetworkPolicy tier (NetworkPolicy, Cilium policies; deny rules first, then the union
of allows, undecided traffic denied when the pod is isolated, §1.1, §3.5) -> Baseline
(BANP, ClusterNetworkPolicy Baseline) -> allowed (§2.2, §5). Calico tiers sit at
their own orders (§4). Which APIs take part depends on the network plugin (§2.4).

Peers outside the cluster are address *atoms* (see `addresses`). ipBlock/CIDR peers
never match pods, and pod selectors never match hostNetwork pods (whose traffic is
node traffic, §1.6, §3.7); only rules without a peer restriction, Cilium entities
`host`/`remote-node`/`cluster`, or networks covering all addresses admit them.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.core.addresses import MAX_ADDRESS as _MAX_ADDRESS
from exporter.core.addresses import NON_PUBLIC, AddressRange, IPBlock, atoms
from exporter.core.model import (
    ContainerPort,
    Direction,
    IPNetwork,
    PodGroup,
    Protocol,
    Snapshot,
    Workload,
)
from exporter.core.policies import (
    ENFORCED_APIS,
    Action,
    EndpointPeer,
    Entity,
    EntityPeer,
    IPBlockPeer,
    LabelView,
    NamedPeer,
    NamedPort,
    NetworkPeer,
    NetworkPlugin,
    Peer,
    PodPeer,
    Policy,
    PolicyAPI,
    PortMatch,
    Rule,
    Selector,
    detect_network_plugin,
)
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.selectors import LabelSelector, Operator

CILIUM_NAMESPACE = "io.kubernetes.pod.namespace"
CILIUM_NS_LABELS = "io.cilium.k8s.namespace.labels."
_ENTITY_FAMILIES: dict[Entity, tuple[int, ...]] = {
    Entity.WORLD: (4, 6),
    Entity.ALL: (4, 6),
    Entity.WORLD_IPV4: (4,),
    Entity.WORLD_IPV6: (6,),
}
"""The address families of external addresses a Cilium entity covers."""
CILIUM_SA = "io.cilium.k8s.policy.serviceaccount"
CALICO_NAMESPACE = "projectcalico.org/namespace"
CALICO_SA = "projectcalico.org/serviceaccount"
CALICO_ORCHESTRATOR = "projectcalico.org/orchestrator"


@dataclass(frozen=True, slots=True, eq=False)
class PodClass:
    """Pods indistinguishable to policy: same namespace, labels, ports, host networking."""

    index: int
    namespace: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    groups: tuple[PodGroup, ...]
    service_account: str | None = None

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
    action: Action = Action.ALLOW


@dataclass(frozen=True, slots=True)
class SideDecision:
    """One side's verdict (egress at the source or ingress at the destination)."""

    direction: Direction
    applies: bool
    """False when this side is outside the cluster and enforces nothing we model."""
    isolated: bool
    """Default deny: traffic no rule decides is denied (see `Engine.is_isolated`)."""
    ports: PortSet
    isolating: tuple[Policy, ...] = ()
    matches: tuple[RuleMatch, ...] = ()
    """Allow rules that admitted ports (after earlier deny/pass rules)."""
    denies: tuple[RuleMatch, ...] = ()
    """Deny rules that decided ports (Cilium deny, ANP/BANP/Calico Deny)."""
    passes: tuple[RuleMatch, ...] = ()
    """Pass rules that handed ports on to the next tier."""
    policies: tuple[Policy, ...] = ()
    """Every enforced policy selecting the subject with an effect in this direction."""
    default_allowed: PortSet = NONE
    """Ports no tier decided, allowed by the Kubernetes default."""


@dataclass(frozen=True, slots=True)
class _Tier:
    order: float
    ends_in_deny: bool
    rules: tuple[tuple[Policy, Rule], ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one class decides one direction: its tiers in order."""

    tiers: tuple[_Tier, ...]
    simple: bool
    """One tier of allow rules only: the union fast path (plain NetworkPolicy) applies."""
    isolated: bool


@dataclass(slots=True)
class _DirectionMap:
    """Everything one class admits in one direction, precomputed for connectivity."""

    open: bool = False
    wild: list[tuple[PortMatch, ...] | None] = field(default_factory=list)
    by_class: dict[int, PortSet] = field(default_factory=dict)
    by_atom: dict[int, PortSet] = field(default_factory=dict)
    plan: _Plan | None = None
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


_NO_PLAN = _Plan((), True, False)


class Engine:
    def __init__(
        self,
        snapshot: Snapshot,
        families: Iterable[int] | None = None,
        network_plugin: NetworkPlugin | str | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.namespaces = snapshot.namespaces
        self.network_plugin = (
            detect_network_plugin(snapshot.policies)
            if network_plugin is None
            else NetworkPlugin(network_plugin)
        )
        self.network_plugin_detected = network_plugin is None
        apis = ENFORCED_APIS[self.network_plugin]
        self.enforced: list[Policy] = []
        self.unenforced: list[Policy] = []
        for policy in snapshot.policies:
            if policy.api in apis and not policy.host_policy:
                self.enforced.append(policy)
            elif policy.api not in apis:
                self.unenforced.append(policy)
        self._unenforced_ids = frozenset(id(p) for p in self.unenforced)
        keyed: dict[tuple[object, ...], list[PodGroup]] = defaultdict(list)
        for group in snapshot.pod_groups:
            keyed[group.class_key()].append(group)
        self.classes: list[PodClass] = []
        self.classes_by_ns: dict[str, list[PodClass]] = defaultdict(list)
        for i, groups in enumerate(keyed.values()):
            g = groups[0]
            cls = PodClass(
                i,
                g.namespace,
                g.labels,
                g.ports,
                g.host_network,
                tuple(groups),
                g.service_account,
            )
            self.classes.append(cls)
            self.classes_by_ns[cls.namespace].append(cls)
        self.policies_by_ns: dict[str, list[Policy]] = defaultdict(list)
        """Enforced namespaced policies by namespace."""
        self.cluster_policies: list[Policy] = []
        """Enforced cluster-scoped policies (CCNP, ANP, BANP, GlobalNetworkPolicy, ...)."""
        for policy in self.enforced:
            if policy.cluster_scoped:
                self.cluster_policies.append(policy)
            else:
                self.policies_by_ns[policy.namespace].append(policy)
        self._views: dict[tuple[LabelView, int], Mapping[str, str]] = {}
        self._deny_all: dict[tuple[int, Direction], bool] = {}
        self._ns_selector_cache: dict[Selector, list[str]] = {}
        self._ns_index: dict[tuple[str, str], list[str]] | None = None
        self._selected: list[list[Policy]] = [[] for _ in self.classes]
        self.selected_pods: dict[int, int] = {}
        for ns, policies in self.policies_by_ns.items():
            members = self.classes_by_ns.get(ns, [])
            for policy in policies:
                self._select(policy, members)
        for policy in self.cluster_policies:
            spaces = (
                list(self.namespaces)
                if policy.namespace_selector is None
                else self.namespaces_matching(policy.namespace_selector)
            )
            members = [c for n in spaces for c in self.classes_by_ns.get(n, ())]
            self._select(policy, members)
        blocks = list(self._blocks())
        if families is None:
            families = {4} | {b.cidr.version for b in blocks}
        self.families = tuple(sorted(set(families)))
        # Exposure asks about public addresses and LoadBalancer source ranges: cutting
        # the space there too keeps every question on whole atoms.
        cuts = [*blocks, *(IPBlock(n) for n in NON_PUBLIC)]
        cuts += [IPBlock(n) for svc in snapshot.services for n in svc.source_ranges]
        self.atoms: list[AddressRange] = atoms(cuts, self.families)
        self._atom_index = {a: i for i, a in enumerate(self.atoms)}
        self._peer_cache: dict[Peer, list[PodClass]] = {}
        self._peer_ids: dict[Peer, frozenset[int]] = {}
        self._block_cache: dict[IPBlock, list[int]] = {}
        self._peer_atoms: dict[Peer, frozenset[int]] = {}
        self._pod_ns_label_keys: frozenset[str] | None = None
        self._plans: dict[tuple[int, Direction], _Plan] = {}
        self._named_ports: frozenset[tuple[str | None, Protocol]] | None = None
        self._named_cache: dict[
            tuple[tuple[PortMatch, ...], tuple[ContainerPort, ...]], PortSet
        ] = {}

    # -- selection and isolation -------------------------------------------------------

    def is_enforced(self, policy: Policy) -> bool:
        """False for policies of an API the network plugin does not implement (§2.4)."""
        return id(policy) not in self._unenforced_ids

    def labels(self, cls: PodClass, view: LabelView) -> Mapping[str, str]:
        """The labels a selector of `view` sees on `cls` (§3.2 Cilium identity labels)."""
        if view is LabelView.POD:
            return cls.labels
        key = (view, cls.index)
        found = self._views.get(key)
        if found is None:
            out = dict(cls.labels)
            ns = self.namespaces.get(cls.namespace)
            if view is LabelView.CILIUM:
                out[CILIUM_NAMESPACE] = cls.namespace
                if ns is not None:
                    for k, v in ns.labels.items():
                        out[CILIUM_NS_LABELS + k] = v
                if cls.service_account:
                    out[CILIUM_SA] = cls.service_account
            else:
                out[CALICO_NAMESPACE] = cls.namespace
                out[CALICO_ORCHESTRATOR] = "k8s"
                if cls.service_account:
                    out[CALICO_SA] = cls.service_account
            found = out
            self._views[key] = found
        return found

    def _select(self, policy: Policy, members: Iterable[PodClass]) -> None:
        n = 0
        selector, view, accounts = policy.pod_selector, policy.view, policy.service_accounts
        selected = self._selected
        if view is LabelView.POD and accounts is None:
            # The NetworkPolicy hot path: 100k-pod scans select here ~10^5 times.
            for cls in members:
                if not cls.host_network and selector.matches(cls.labels):
                    selected[cls.index].append(policy)
                    n += cls.pods
            self.selected_pods[id(policy)] = n
            return
        for cls in members:
            if cls.host_network or not selector.matches(self.labels(cls, view)):
                continue
            if accounts is not None and cls.service_account not in accounts:
                continue
            selected[cls.index].append(policy)
            n += cls.pods
        self.selected_pods[id(policy)] = n

    def _all_peers(self) -> Iterable[Peer]:
        for policy in self.enforced:
            for rule in (*policy.ingress, *policy.egress):
                yield from rule.peers or ()

    def _blocks(self) -> Iterable[IPBlock]:
        for peer in self._all_peers():
            if isinstance(peer, IPBlockPeer):
                yield peer.block
            elif isinstance(peer, NetworkPeer):
                yield from peer.blocks
                yield from peer.excluded

    def selecting(self, cls: PodClass) -> list[Policy]:
        return self._selected[cls.index]

    def isolating(self, cls: PodClass, direction: Direction) -> list[Policy]:
        """Policies that put `cls` into default deny for `direction`.

        Implicit isolation (NetworkPolicy, Cilium default deny, Calico types) and
        explicit deny-everything rules (a BANP or Admin tier `Deny` from every pod) both
        count: either way traffic no rule admits is dropped.
        """
        return [p for p in self._selected[cls.index] if self._isolates(p, direction)]

    def _isolates(self, policy: Policy, direction: Direction) -> bool:
        if policy.ends_in_deny(direction):
            return not (policy.ordered and _decides_everything_first(policy, direction))
        if policy.api is PolicyAPI.KUBERNETES:
            return False
        key = (id(policy), direction)
        found = self._deny_all.get(key)
        if found is None:
            found = denies_everything(policy, direction)
            self._deny_all[key] = found
        return found

    def named_ports(self) -> frozenset[tuple[str | None, Protocol]]:
        """Every (name, protocol) some container in the cluster declares."""
        if self._named_ports is None:
            self._named_ports = frozenset(
                (cp.name, cp.protocol) for c in self.classes for cp in c.ports if cp.name
            )
        return self._named_ports

    def is_isolated(self, cls: PodClass, direction: Direction) -> bool:
        for p in self._selected[cls.index]:  # noqa: SIM110 - hot loop
            if self._isolates(p, direction):
                return True
        return False

    def covers_namespace(self, policy: Policy, namespace: str) -> bool:
        """Whether `policy` selects every current and future pod of `namespace` (an empty
        pod selector, or one that only names namespace labels, §1.7, §3.3)."""
        if policy.host_policy or policy.service_accounts is not None:
            return False
        ns = self.namespaces.get(namespace)
        if policy.cluster_scoped:
            if policy.namespace_selector is not None and (
                ns is None or not policy.namespace_selector.matches(ns.labels)
            ):
                return False
        elif policy.namespace != namespace:
            return False
        selector = policy.pod_selector
        if selector.is_empty:
            return True
        if policy.view is LabelView.POD:
            return False
        if policy.view is LabelView.CILIUM:
            labels = {CILIUM_NAMESPACE: namespace}
            for k, v in (ns.labels if ns is not None else {}).items():
                labels[CILIUM_NS_LABELS + k] = v
        else:
            labels = {CALICO_NAMESPACE: namespace, CALICO_ORCHESTRATOR: "k8s"}
        keys = selector_keys(selector)
        return all(k in labels or k.startswith(CILIUM_NS_LABELS) for k in keys) and (
            selector.matches(labels)
        )

    def establishing(self, namespace: str, direction: Direction) -> list[Policy]:
        """Policies that put every current and future pod of `namespace` into default
        deny for `direction`: its own, or cluster-wide ones (CCNP, GlobalNetworkPolicy,
        a baseline deny-all) that cover it."""
        return [
            p
            for p in (*self.policies_by_ns.get(namespace, ()), *self.cluster_policies)
            if self._isolates(p, direction) and self.covers_namespace(p, namespace)
        ]

    def plan(self, cls: PodClass, direction: Direction) -> _Plan:
        key = (cls.index, direction)
        found = self._plans.get(key)
        if found is None:
            found = self._plan(cls, direction)
            self._plans[key] = found
        return found

    def _plan(self, cls: PodClass, direction: Direction) -> _Plan:
        by_tier: dict[tuple[float, str], list[Policy]] = defaultdict(list)
        for p in self._selected[cls.index]:
            if p.applies(direction):
                by_tier[(p.tier_order, p.tier)].append(p)
        if not by_tier:
            return _NO_PLAN
        tiers: list[_Tier] = []
        for key in sorted(by_tier):
            members = sorted(by_tier[key], key=lambda p: (_priority(p), p.id))
            keyed: list[tuple[tuple[float, float, str, int], Policy, Rule]] = []
            for pos, p in enumerate(members):
                for rule in p.effective_rules(direction):
                    first = (
                        float("-inf")
                        if rule.action is Action.DENY and not p.ordered
                        else float(pos)
                    )
                    keyed.append(((first, _priority(p), p.id, rule.index), p, rule))
            keyed.sort(key=lambda item: item[0])
            tiers.append(
                _Tier(
                    order=key[0],
                    ends_in_deny=any(p.ends_in_deny(direction) for p in members),
                    rules=tuple((p, r) for _, p, r in keyed),
                    policies=tuple(members),
                )
            )
        simple = len(tiers) == 1 and all(r.action is Action.ALLOW for _, r in tiers[0].rules)
        return _Plan(tuple(tiers), simple, self.is_isolated(cls, direction))

    # -- matching ----------------------------------------------------------------------

    def namespaces_matching(self, selector: Selector) -> list[str]:
        """Namespaces whose labels match. A label selector's `In` requirement narrows
        the candidates through a label index first: 10,000 namespaces times thousands
        of distinct selectors is otherwise tens of millions of matches."""
        found = self._ns_selector_cache.get(selector)
        if found is None:
            candidates: Iterable[str] = self.namespaces
            narrowing = [
                r
                for r in getattr(selector, "requirements", ())
                if isinstance(selector, LabelSelector) and r.operator is Operator.IN
            ]
            if narrowing:
                index = self._namespace_label_index()
                best = min(
                    narrowing,
                    key=lambda r: sum(len(index.get((r.key, v), ())) for v in r.values),
                )
                candidates = sorted({n for v in best.values for n in index.get((best.key, v), ())})
            found = [n for n in candidates if selector.matches(self.namespaces[n].labels)]
            self._ns_selector_cache[selector] = found
        return found

    def _namespace_label_index(self) -> dict[tuple[str, str], list[str]]:
        if self._ns_index is None:
            index: dict[tuple[str, str], list[str]] = defaultdict(list)
            for name, ns in self.namespaces.items():
                for item in ns.labels.items():
                    index[item].append(name)
            self._ns_index = dict(index)
        return self._ns_index

    def peer_classes(self, peer: Peer) -> list[PodClass]:
        """The pod classes a peer selects (pod selectors never select hostNetwork pods)."""
        found = self._peer_cache.get(peer)
        if found is None:
            found = self._peer_classes(peer)
            self._peer_cache[peer] = found
        return found

    def _peer_classes(self, peer: Peer) -> list[PodClass]:
        if isinstance(peer, PodPeer):
            if peer.namespace_selector is None:
                spaces = [peer.namespace]
            else:
                spaces = self.namespaces_matching(peer.namespace_selector)
            return [
                cls
                for ns in spaces
                for cls in self.classes_by_ns.get(ns, ())
                if not cls.host_network and peer.pod_selector.matches(cls.labels)
            ]
        if isinstance(peer, EndpointPeer):
            return [c for c in self._endpoint_candidates(peer) if self._endpoint_matches(peer, c)]
        if isinstance(peer, EntityPeer):
            entity = peer.entity
            if entity in (Entity.CLUSTER, Entity.ALL):
                return list(self.classes)
            if entity in (Entity.HOST, Entity.REMOTE_NODE):
                return [c for c in self.classes if c.host_network]
            return []
        if isinstance(peer, NetworkPeer):
            if peer.selector is not None:
                return self.peer_classes(peer.selector) if peer.pods else []
            return list(self.classes) if peer.pods else []
        return []

    def _endpoint_candidates(self, peer: EndpointPeer) -> Iterable[PodClass]:
        if peer.namespace is not None:
            return self.classes_by_ns.get(peer.namespace, ())
        spaces: Iterable[str]
        if peer.namespace_selector is not None:
            spaces = self.namespaces_matching(peer.namespace_selector)
        elif peer.namespaces_hint is not None:
            spaces = sorted(peer.namespaces_hint)
        else:
            hinted = self._cilium_namespace_label_hint(peer)
            if hinted is None:
                return self.classes
            spaces = hinted
        return [c for n in spaces for c in self.classes_by_ns.get(n, ())]

    def _cilium_namespace_label_hint(self, peer: EndpointPeer) -> list[str] | None:
        """The only namespaces a Cilium endpoint selector can match when it requires a
        namespace label (`k8s:io.cilium.k8s.namespace.labels.KEY in (...)`, what a
        namespaceSelector becomes in a CiliumNetworkPolicy): from the namespace label
        index, instead of matching every pod class of the cluster. None when the
        selector has no such requirement, or a pod carries a label with that key itself
        (then the pod's own label is visible where its namespace lacks one)."""
        selector = peer.selector
        if peer.view is not LabelView.CILIUM or not isinstance(selector, LabelSelector):
            return None
        if self._pod_ns_label_keys is None:
            self._pod_ns_label_keys = frozenset(
                k for c in self.classes for k in c.labels if k.startswith(CILIUM_NS_LABELS)
            )
        found: set[str] | None = None
        for req in selector.requirements:
            if (
                req.operator is Operator.IN
                and req.key.startswith(CILIUM_NS_LABELS)
                and req.key not in self._pod_ns_label_keys
            ):
                key = req.key[len(CILIUM_NS_LABELS) :]
                index = self._namespace_label_index()
                names = {n for v in req.values for n in index.get((key, v), ())}
                found = names if found is None else found & names
        return sorted(found) if found is not None else None

    def _endpoint_matches(self, peer: EndpointPeer, cls: PodClass) -> bool:
        if cls.host_network:
            return False
        if peer.namespace is not None and cls.namespace != peer.namespace:
            return False
        if peer.namespace_selector is not None:
            ns = self.namespaces.get(cls.namespace)
            if ns is None or not peer.namespace_selector.matches(ns.labels):
                return False
        if peer.service_accounts is not None and cls.service_account not in peer.service_accounts:
            return False
        labels = self.labels(cls, peer.view)
        if peer.not_selector is not None and peer.not_selector.matches(labels):
            return False
        return peer.selector.matches(labels)

    def peer_class_ids(self, peer: Peer) -> frozenset[int]:
        found = self._peer_ids.get(peer)
        if found is None:
            found = frozenset(c.index for c in self.peer_classes(peer))
            self._peer_ids[peer] = found
        return found

    def peer_atoms(self, peer: Peer) -> frozenset[int]:
        """Indices of the address atoms a peer covers."""
        found = self._peer_atoms.get(peer)
        if found is None:
            found = frozenset(self._peer_atom_list(peer))
            self._peer_atoms[peer] = found
        return found

    def _peer_atom_list(self, peer: Peer) -> Iterable[int]:
        if isinstance(peer, IPBlockPeer):
            return self._atoms_in(peer.block)
        if isinstance(peer, EntityPeer):
            families = _ENTITY_FAMILIES.get(peer.entity, ())
            return [i for i, a in enumerate(self.atoms) if a.family in families]
        if isinstance(peer, NetworkPeer):
            if peer.selector is not None:
                return ()  # an endpoint selector matches endpoints, never addresses
            inside: set[int] = set()
            for block in peer.blocks:
                inside.update(self._atoms_in(block))
            for block in peer.excluded:
                inside.difference_update(self._atoms_in(block))
            return inside
        return ()

    def peer_matches(self, peer: Peer, endpoint: Endpoint) -> bool:
        if isinstance(endpoint, AddressRange):
            index = self._atom_index.get(endpoint)
            if index is not None:
                return index in self.peer_atoms(peer)
            # An address range that is not one of our atoms (a caller's own split).
            return _range_matches(peer, endpoint)
        if isinstance(peer, IPBlockPeer | NamedPeer):
            return False
        # Membership in the peer's (cached) class set: connectivity asks this for every
        # pair of classes, so matching selectors each time would dominate.
        return endpoint.index in self.peer_class_ids(peer)

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
        plan = self.plan(subject, direction)
        isolating = tuple(self.isolating(subject, direction))
        if not plan.tiers:
            return SideDecision(
                direction, applies=True, isolated=False, ports=ALL, default_allowed=ALL
            )
        dst = subject if direction is Direction.INGRESS else peer
        allowed, default, matches, denies, passes = self._evaluate(plan, peer, dst, True)
        policies = tuple(p for t in plan.tiers for p in t.policies)
        return SideDecision(
            direction,
            True,
            bool(isolating),
            allowed,
            isolating,
            tuple(matches),
            tuple(denies),
            tuple(passes),
            policies,
            default,
        )

    def _evaluate(
        self, plan: _Plan, peer: Endpoint, dst: Endpoint, explain: bool = False
    ) -> tuple[PortSet, PortSet, list[RuleMatch], list[RuleMatch], list[RuleMatch]]:
        """Walk the tiers: the first rule matching a port decides it (§2.2, §3.5, §4)."""
        undecided = ALL
        allowed = NONE
        matches: list[RuleMatch] = []
        denies: list[RuleMatch] = []
        passes: list[RuleMatch] = []
        for tier in plan.tiers:
            tier_open = undecided
            blocked = NONE
            passed = NONE
            for policy, rule in tier.rules:
                if not undecided and not explain:
                    break
                if rule.peers is not None and not any(
                    self.peer_matches(p, peer) for p in rule.peers
                ):
                    continue
                ports = self.rule_ports(rule.ports, dst)
                if not ports or rule.action is Action.LOG:
                    continue
                if rule.action is Action.ALLOW:
                    got = (ports & tier_open) - blocked
                    if got:
                        allowed = allowed | got
                        undecided = undecided - got
                        if explain:
                            matches.append(RuleMatch(policy, rule, got))
                    continue
                got = ports & undecided
                if not got:
                    continue
                undecided = undecided - got
                blocked = blocked | got
                if rule.action is Action.DENY:
                    if explain:
                        denies.append(RuleMatch(policy, rule, got, Action.DENY))
                else:
                    passed = passed | got
                    if explain:
                        passes.append(RuleMatch(policy, rule, got, Action.PASS))
            if tier.ends_in_deny:
                undecided = NONE
            undecided = undecided | passed
        return allowed | undecided, undecided, matches, denies, passes

    def named_destinations(self, cls: PodClass) -> dict[str, PortSet]:
        """Egress to destinations named rather than addressed (Cilium `toFQDNs` and
        `toServices`, ANP `domainNames`): `kind:name` -> ports an allow rule opens,
        less what a deny rule for every outside address takes away (FQDN IPs are
        `world`, §3.8)."""
        plan = self.plan(cls, Direction.EGRESS)
        out: dict[str, PortSet] = {}
        denied = NONE
        for tier in plan.tiers:
            for _policy, rule in tier.rules:
                if rule.action is Action.DENY and (
                    rule.peers is None or any(covers_every_address(p) for p in rule.peers)
                ):
                    denied = denied | self.rule_ports(rule.ports, cls)
        for tier in plan.tiers:
            for _policy, rule in tier.rules:
                if rule.action is not Action.ALLOW:
                    continue
                for peer in rule.peers or ():
                    if isinstance(peer, NamedPeer):
                        ports = self.rule_ports(rule.ports, self.atoms[0]) - denied
                        if ports:
                            key = f"{peer.kind}:{peer.name}"
                            out[key] = out.get(key, NONE) | ports
        return out

    def connection(
        self, src: Endpoint, dst: Endpoint
    ) -> tuple[PortSet, SideDecision, SideDecision]:
        egress = self.decide(Direction.EGRESS, src, dst)
        ingress = self.decide(Direction.INGRESS, dst, src)
        return egress.ports & ingress.ports, egress, ingress

    # -- whole-cluster connectivity --------------------------------------------------------

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

    def _atoms_in(self, block: IPBlock) -> list[int]:
        """Atoms are sorted and never straddle a block boundary, so a block covers a
        contiguous index range (found by bisection), less its excepts' ranges."""
        found = self._block_cache.get(block)
        if found is None:
            found = self._atom_span(block.cidr)
            for exc in block.excepts:
                hole = set(self._atom_span(exc))
                found = [i for i in found if i not in hole]
            self._block_cache[block] = found
        return found

    def _atom_span(self, net: IPNetwork) -> list[int]:
        rng = AddressRange.of(net)
        lo = bisect.bisect_left(self.atoms, AddressRange(rng.family, rng.first, -1))
        hi = bisect.bisect_right(self.atoms, AddressRange(rng.family, rng.last, _MAX_ADDRESS))
        return list(range(lo, hi))

    def _fill_targets(self, dmap: _DirectionMap, plan: _Plan) -> None:
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
        total = NONE
        for ports in dmap.wild:
            total = total | self.rule_ports(ports, dst)
        if isinstance(peer, PodClass):
            hit = dmap.by_class.get(peer.index)
        else:
            hit = dmap.by_atom.get(self._atom_index[peer])
        return total | hit if hit is not None else total

    def class_connectivity(
        self, namespaces: Collection[str] | None = None
    ) -> Iterable[tuple[Endpoint, Endpoint, PortSet]]:
        """Every allowed (src, dst, ports) over classes and address atoms. With
        `namespaces`, only the connections with a class of those namespaces at one end:
        all that a change confined to them can alter (`netfence diff`)."""
        ingress: dict[int, _DirectionMap] = {}
        egress: dict[int, _DirectionMap] = {}

        def in_map(c: PodClass) -> _DirectionMap:
            # A class outside is only asked about sources inside.
            found = ingress.get(c.index)
            if found is None:
                only = None if c.index in marked or namespaces is None else inside
                found = ingress[c.index] = self._direction_map(c, Direction.INGRESS, only)
            return found

        inside = [c for c in self.classes if namespaces is None or c.namespace in namespaces]
        marked = {c.index for c in inside}
        for src in self.classes:
            src_inside = src.index in marked
            if not src_inside and not inside:
                continue
            emap = egress[src.index] = self._direction_map(
                src, Direction.EGRESS, None if src_inside or namespaces is None else inside
            )
            for dst in self.classes if src_inside else inside:
                out = self._admitted(emap, dst, dst)
                if not out:
                    continue
                allowed = out & self._admitted(in_map(dst), src, dst)
                if allowed:
                    yield src, dst, allowed
            if not src_inside:
                continue
            for atom in self.atoms:
                allowed = self._admitted(emap, atom, atom)
                if allowed:
                    yield src, atom, allowed
        for atom in self.atoms:
            for dst in inside:
                allowed = self._admitted(in_map(dst), atom, dst)
                if allowed:
                    yield atom, dst, allowed


def _range_matches(peer: Peer, rng: AddressRange) -> bool:
    """Whether a peer covers an address range (the range lies inside, as atoms do)."""
    if isinstance(peer, IPBlockPeer):
        return peer.block.contains(rng)
    if isinstance(peer, EntityPeer):
        return rng.family in _ENTITY_FAMILIES.get(peer.entity, ())
    if isinstance(peer, NetworkPeer):
        if peer.selector is not None:
            return False
        inside = any(AddressRange.of(b.cidr).contains(rng) for b in peer.blocks)
        return inside and not any(
            AddressRange.of(b.cidr).first <= rng.last and rng.first <= AddressRange.of(b.cidr).last
            for b in peer.excluded
        )
    return False


def _priority(policy: Policy) -> float:
    """Order inside a tier; Calico puts Kubernetes NetworkPolicies at order 1000 (§4)."""
    return 1000.0 if policy.api is PolicyAPI.KUBERNETES else policy.priority


def covers_every_pod(peer: Peer) -> bool:
    """Whether a peer matches every pod of every namespace (present and future)."""
    if isinstance(peer, PodPeer):
        return (
            peer.pod_selector.is_empty
            and peer.namespace_selector is not None
            and peer.namespace_selector.is_empty
        )
    if isinstance(peer, EndpointPeer):
        only_ns = all(
            k == CILIUM_NAMESPACE for k in selector_keys(peer.selector)
        ) and peer.selector.matches({CILIUM_NAMESPACE: "\x00any"})
        return (
            (peer.selector.is_empty or (peer.view is LabelView.CILIUM and only_ns))
            and peer.namespace is None
            and (peer.namespace_selector is None or peer.namespace_selector.is_empty)
            and peer.not_selector is None
            and peer.service_accounts is None
        )
    if isinstance(peer, EntityPeer):
        return peer.entity in (Entity.ALL, Entity.CLUSTER)
    if isinstance(peer, NetworkPeer):
        return peer.pods and peer.selector is None
    return False


def selector_keys(selector: Selector) -> frozenset[str]:
    if isinstance(selector, LabelSelector):
        return frozenset(r.key for r in selector.requirements)
    return selector.keys()


def covers_every_address(peer: Peer) -> bool:
    """Whether a peer covers every IPv4 address outside the cluster."""
    if isinstance(peer, IPBlockPeer):
        return peer.block.cidr.prefixlen == 0 and not peer.block.excepts
    if isinstance(peer, NetworkPeer):
        return not peer.excluded and any(b.cidr.prefixlen == 0 for b in peer.blocks)
    if isinstance(peer, EntityPeer):
        return peer.entity in (Entity.WORLD, Entity.ALL, Entity.WORLD_IPV4)
    return False


def _decides_everything_first(policy: Policy, direction: Direction) -> bool:
    """An ordered policy whose first deciding rule is an Allow or Pass for every peer
    on every port: nothing reaches the end of its tier (a Calico `Pass` catch-all)."""
    for rule in policy.effective_rules(direction):
        if rule.action is Action.LOG:
            continue
        return rule.action is not Action.DENY and rule.peers is None and rule.all_ports
    return False


def denies_everything(policy: Policy, direction: Direction) -> bool:
    """A Deny rule for every peer (every pod and every address) on every port with no
    Allow/Pass before it: what no earlier tier admits is dropped (a baseline deny-all).
    A Deny of every pod alone leaves addresses outside the cluster allowed, so it is
    not default deny."""
    if policy.api is PolicyAPI.KUBERNETES:
        return False
    for rule in policy.effective_rules(direction):
        if rule.action is Action.LOG:
            continue
        if rule.action is not Action.DENY:
            if policy.ordered:
                return False
            continue
        if rule.all_ports and (
            rule.peers is None
            or (
                any(covers_every_pod(p) for p in rule.peers)
                and any(covers_every_address(p) for p in rule.peers)
            )
        ):
            return True
    return False


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
