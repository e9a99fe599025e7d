"""Selection and isolation: which policies select a pod class, which put it into
default deny, and the tiers in which they decide (its `Plan`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.core.addresses import IPBlock
from exporter.core.engine.classes import (
    CALICO_NAMESPACE,
    CALICO_ORCHESTRATOR,
    CILIUM_NAMESPACE,
    CILIUM_NS_LABELS,
    PodClass,
)
from exporter.core.engine.matching import Matching
from exporter.core.engine.peers import covers_everything, selector_keys
from exporter.core.model import (
    Direction,
    Protocol,
)
from exporter.core.policies import (
    Action,
    IPBlockPeer,
    LabelView,
    NetworkPeer,
    NetworkPlugin,
    Peer,
    Policy,
    PolicyAPI,
    Rule,
)


@dataclass(frozen=True, slots=True)
class Tier:
    order: float
    ends_in_deny: bool
    rules: tuple[tuple[Policy, Rule], ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """How one class decides one direction: its tiers in order."""

    tiers: tuple[Tier, ...]
    simple: bool
    """One tier of allow rules only: the union fast path (plain NetworkPolicy) applies."""
    isolated: bool


NO_PLAN = Plan((), True, False)


class Selection(Matching):
    """The second layer of `Engine`: policies per pod class and direction."""

    # Built by `Engine.__init__` (exporter.core.engine.build).
    network_plugin: NetworkPlugin
    enforced: list[Policy]
    unenforced: list[Policy]
    _unenforced_ids: frozenset[int]
    policies_by_ns: dict[str, list[Policy]]
    cluster_policies: list[Policy]
    selected_pods: dict[int, int]
    families: tuple[int, ...]
    _selected: list[list[Policy]]
    _deny_all: dict[tuple[int, Direction], bool]
    _plans: dict[tuple[int, Direction], Plan]
    _named_ports: frozenset[tuple[str | None, Protocol]] | None

    def is_enforced(self, policy: Policy) -> bool:
        """False for policies of an API the network plugin does not implement
        (docs/semantics.md §2.4)."""
        return id(policy) not in self._unenforced_ids

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
            found = denies_everything(policy, direction, self.families)
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

    def plan(self, cls: PodClass, direction: Direction) -> Plan:
        key = (cls.index, direction)
        found = self._plans.get(key)
        if found is None:
            found = self._plan(cls, direction)
            self._plans[key] = found
        return found

    def _plan(self, cls: PodClass, direction: Direction) -> Plan:
        by_tier: dict[tuple[float, str], list[Policy]] = defaultdict(list)
        for p in self._selected[cls.index]:
            if p.applies(direction):
                by_tier[(p.tier_order, p.tier)].append(p)
        if not by_tier:
            return NO_PLAN
        tiers: list[Tier] = []
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
                Tier(
                    order=key[0],
                    ends_in_deny=any(p.ends_in_deny(direction) for p in members),
                    rules=tuple((p, r) for _, p, r in keyed),
                    policies=tuple(members),
                )
            )
        simple = len(tiers) == 1 and all(r.action is Action.ALLOW for _, r in tiers[0].rules)
        return Plan(tuple(tiers), simple, self.is_isolated(cls, direction))


def _priority(policy: Policy) -> float:
    """Order inside a tier; Calico puts Kubernetes NetworkPolicies at order 1000 (§4)."""
    return 1000.0 if policy.api is PolicyAPI.KUBERNETES else policy.priority


def _decides_everything_first(policy: Policy, direction: Direction) -> bool:
    """An ordered policy whose first deciding rule is an Allow or Pass for every peer
    on every port: nothing reaches the end of its tier (a Calico `Pass` catch-all)."""
    for rule in policy.effective_rules(direction):
        if rule.action is Action.LOG:
            continue
        return rule.action is not Action.DENY and rule.peers is None and rule.all_ports
    return False


def denies_everything(policy: Policy, direction: Direction, families: Iterable[int] = (4,)) -> bool:
    """A Deny rule for every peer (every pod and every address of every family in play,
    docs/semantics.md §6.8) on every port with no Allow/Pass before it: what no earlier
    tier admits is dropped (a baseline deny-all). A Deny of every pod alone leaves
    addresses outside the cluster allowed, and a Deny of `0.0.0.0/0` leaves IPv6 ones
    allowed once IPv6 is in play, so neither is default deny."""
    families = tuple(families)
    if policy.api is PolicyAPI.KUBERNETES:
        return False
    for rule in policy.effective_rules(direction):
        if rule.action is Action.LOG:
            continue
        if rule.action is not Action.DENY:
            if policy.ordered:
                return False
            continue
        if rule.all_ports and covers_everything(rule, families):
            return True
    return False
