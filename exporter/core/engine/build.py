"""Isolation and reachability over equivalence classes of pods, for every policy API.

A connection src -> dst is allowed only if egress at src and ingress at dst both allow
it (docs/semantics.md §0). Each side is decided by the tiers of the policies that
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

from collections import defaultdict
from collections.abc import Iterable, Mapping

from exporter.core.addresses import NON_PUBLIC, AddressRange, IPBlock, atoms
from exporter.core.engine.classes import PodClass
from exporter.core.engine.connectivity_map import ConnectivityMap
from exporter.core.engine.matching import LabelSets
from exporter.core.engine.selection import Plan
from exporter.core.model import (
    ContainerPort,
    Direction,
    PodGroup,
    Protocol,
)
from exporter.core.policies import (
    ENFORCED_APIS,
    LabelView,
    NetworkPlugin,
    Peer,
    Policy,
    PortMatch,
    Selector,
    detect_network_plugin,
)
from exporter.core.ports import PortSet
from exporter.core.snapshot import Snapshot


class Engine(ConnectivityMap):
    """Every question about one snapshot's policies: built once, then asked many times.

    Building groups pods into classes (same namespace, labels, ports, host networking,
    service account), keeps the policies the network plugin enforces, records which
    policies select each class, and cuts the outside address space into atoms at every
    ipBlock, network and LoadBalancer source range. Answers are cached per class, peer
    and direction, so cost grows with policies x classes, not pods squared.

    What it answers, by layer:
      - matching: `peer_classes`, `peer_atoms`, `peer_matches`, `rule_ports`,
        `namespaces_matching`, `labels`;
      - selection: `selecting`, `isolating`, `is_isolated`, `establishing`,
        `covers_namespace`, `plan`, `is_enforced`;
      - decision: `decide` (one side), `connection` (both sides), `named_destinations`;
      - connectivity: `class_connectivity` (every allowed pair, for the pairwise list).

    `network_plugin` chooses which policy APIs are enforced (None: detected from the
    policy kinds present); `families` the address families modelled (default IPv4, plus
    IPv6 when some policy names an IPv6 block).
    """

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
        self._label_sets: LabelSets | None = None
        self._plans: dict[tuple[int, Direction], Plan] = {}
        self._named_ports: frozenset[tuple[str | None, Protocol]] | None = None
        self._named_cache: dict[
            tuple[tuple[PortMatch, ...], tuple[ContainerPort, ...]], PortSet
        ] = {}
