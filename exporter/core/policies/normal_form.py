"""One normalised rule form for every policy API.

Each API module (kubernetes, cilium, admin, calico) turns its objects into `Policy`
values; the engine only ever sees this form.

The form is a sequence of *tiers* (docs/semantics.md §2.2, §4, §5): each policy sits
in a tier (`tier_order`, lower first); inside a tier its rules run in order of
(`priority`, rule position), the first matching rule decides with its `action`
(Allow, Deny, Pass; Log decides nothing). A plain NetworkPolicy is a tier member with
only Allow rules, so "first match" and "union" agree; Cilium deny rules are sorted
before every allow (`ordered` False), which is "deny wins". At the end of a tier,
traffic nobody decided is denied when a selecting policy `isolates` the direction
(NetworkPolicy, Cilium default deny, Calico types) and goes on to the next tier
otherwise (AdminNetworkPolicy, BaselineAdminNetworkPolicy); Pass jumps to the next
tier. After the last tier: allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from exporter.core.addresses import IPBlock
from exporter.core.calico_selectors import CalicoSelector
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.selectors import LabelSelector

Selector = LabelSelector | CalicoSelector


class Action(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"  # noqa: S105 - an action, not a password
    LOG = "Log"


class PolicyAPI(StrEnum):
    """Which API a policy came from: decides which network plugins enforce it."""

    KUBERNETES = "kubernetes"
    CILIUM = "cilium"
    ADMIN = "admin"
    CALICO = "calico"


class NetworkPlugin(StrEnum):
    CILIUM = "cilium"
    CALICO = "calico"
    GENERIC = "generic"


ENFORCED_APIS: dict[NetworkPlugin, frozenset[PolicyAPI]] = {
    # Cilium implements neither AdminNetworkPolicy nor ClusterNetworkPolicy (§2.4).
    NetworkPlugin.CILIUM: frozenset({PolicyAPI.KUBERNETES, PolicyAPI.CILIUM}),
    # Calico 3.29+ implements ANP/BANP, 3.32 ClusterNetworkPolicy (§2.4, §4).
    NetworkPlugin.CALICO: frozenset({PolicyAPI.KUBERNETES, PolicyAPI.CALICO, PolicyAPI.ADMIN}),
    NetworkPlugin.GENERIC: frozenset({PolicyAPI.KUBERNETES, PolicyAPI.ADMIN}),
}


class LabelView(StrEnum):
    """Which labels a selector is matched against.

    `pod`: the pod's own labels (NetworkPolicy, AdminNetworkPolicy). `cilium`: the
    Cilium identity labels (pod labels plus `io.kubernetes.pod.namespace`,
    `io.cilium.k8s.namespace.labels.<key>`, `io.cilium.k8s.policy.serviceaccount`;
    §3.2). `calico`: pod labels plus `projectcalico.org/namespace`,
    `projectcalico.org/orchestrator` and `projectcalico.org/serviceaccount`.
    """

    POD = "pod"
    CILIUM = "cilium"
    CALICO = "calico"


class Entity(StrEnum):
    """Cilium entities (§3.6)."""

    WORLD = "world"
    WORLD_IPV4 = "world-ipv4"
    WORLD_IPV6 = "world-ipv6"
    CLUSTER = "cluster"
    HOST = "host"
    REMOTE_NODE = "remote-node"
    KUBE_APISERVER = "kube-apiserver"
    INGRESS = "ingress"
    HEALTH = "health"
    INIT = "init"
    UNMANAGED = "unmanaged"
    ALL = "all"
    NONE = "none"


# Tier orders: Calico's numbers (§4), which also place the AdminNetworkPolicy tier
# (1,000) before NetworkPolicy (default tier, 1,000,000) before the baseline
# (10,000,000), the order §2.2 prescribes on every plugin.
ADMIN_TIER = 1_000.0
DEFAULT_TIER = 1_000_000.0
BASELINE_TIER = 10_000_000.0


@dataclass(frozen=True, slots=True)
class PodPeer:
    """Pods matching `pod_selector` in namespaces matching `namespace_selector`.

    `namespace_selector` None means: only the policy's own `namespace`.
    """

    pod_selector: LabelSelector
    namespace_selector: LabelSelector | None
    namespace: str

    def __str__(self) -> str:
        ns = (
            f"namespace {self.namespace}"
            if self.namespace_selector is None
            else (f"namespaces [{self.namespace_selector}]")
        )
        return f"pods [{self.pod_selector}] in {ns}"


@dataclass(frozen=True, slots=True)
class IPBlockPeer:
    block: IPBlock

    def __str__(self) -> str:
        return f"ipBlock {self.block}"


@dataclass(frozen=True, slots=True)
class EndpointPeer:
    """Pods whose labels in `view` match `selector` (Cilium endpoints, Calico selectors).

    `namespace`: only pods of that namespace (Calico NetworkPolicy scoping; Cilium
    scoping is a requirement inside the selector). `namespace_selector`: only pods of
    namespaces whose labels match. `service_accounts`: only pods running as one of
    these service accounts (Calico `serviceAccounts.names`).
    """

    selector: Selector
    view: LabelView
    namespace: str | None = None
    namespace_selector: Selector | None = None
    not_selector: Selector | None = None
    service_accounts: frozenset[str] | None = None
    namespaces_hint: frozenset[str] | None = None
    """Namespaces the selector can only match in (for speed); None: any."""

    def __str__(self) -> str:
        out = f"endpoints [{self.selector}]"
        if self.not_selector is not None:
            out += f" and not [{self.not_selector}]"
        if self.namespace is not None:
            out += f" in namespace {self.namespace}"
        if self.namespace_selector is not None:
            out += f" in namespaces [{self.namespace_selector}]"
        if self.service_accounts is not None:
            out += f" with service account {', '.join(sorted(self.service_accounts))}"
        return out


@dataclass(frozen=True, slots=True)
class EntityPeer:
    """A Cilium entity; only `world*`, `cluster`, `host` and `remote-node` stand for
    endpoints netfence models (addresses, pods, hostNetwork pods)."""

    entity: Entity

    def __str__(self) -> str:
        return f"entity {self.entity}"


@dataclass(frozen=True, slots=True)
class NetworkPeer:
    """Address ranges that may also cover pods (AdminNetworkPolicy `networks`, Calico
    `nets`/`notNets`). Pod IPs are unknown offline, so only a block covering a whole
    address family (`0.0.0.0/0`, `::/0`) is taken to contain pods; `excluded` ranges
    (Calico `notNets`) are never taken to contain pods."""

    blocks: tuple[IPBlock, ...]
    excluded: tuple[IPBlock, ...] = ()
    pods: bool = False
    """True when the ranges cover every pod (a /0 block and nothing excluded)."""
    selector: EndpointPeer | None = None
    """Calico: an endpoint selector ANDed with the ranges (then only pods can match)."""

    def __str__(self) -> str:
        out = "networks " + (", ".join(str(b) for b in self.blocks) or "any")
        if self.excluded:
            out += " not " + ", ".join(str(b) for b in self.excluded)
        if self.selector is not None:
            out += f" and {self.selector}"
        return out


@dataclass(frozen=True, slots=True)
class NamedPeer:
    """A destination named rather than addressed (Cilium `toFQDNs`, `toServices`,
    ANP `domainNames`, Calico `services`): reported, matched against nothing modelled."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


Peer = PodPeer | IPBlockPeer | EndpointPeer | EntityPeer | NetworkPeer | NamedPeer


@dataclass(frozen=True, slots=True)
class PortRange:
    protocol: Protocol
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.protocol}/{self.start}" + (f"-{self.end}" if self.end != self.start else "")


@dataclass(frozen=True, slots=True)
class NamedPort:
    """Resolved against the destination pod's container ports (name and protocol)."""

    protocol: Protocol
    name: str

    def __str__(self) -> str:
        return f"{self.protocol}/{self.name}"


PortMatch = PortRange | NamedPort


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. `peers` None: every peer, `()`: no peer; `ports` None: every port,
    `()`: no port netfence models (ICMP-only rules)."""

    direction: Direction
    index: int
    peers: tuple[Peer, ...] | None
    ports: tuple[PortMatch, ...] | None
    all_ports: bool = False
    """True when `ports` (named ports aside) covers every port of every protocol."""
    action: Action = Action.ALLOW
    label: str = ""
    """How the API names the rule (`ingressDeny[0]`, a rule `name`); empty: `ingress[i]`."""

    @property
    def opens_everything(self) -> bool:
        return self.action is Action.ALLOW and self.peers is None and self.ports is None

    @property
    def name(self) -> str:
        return self.label or f"{self.direction}[{self.index}]"

    def describe(self) -> str:
        side = "from" if self.direction is Direction.INGRESS else "to"
        if self.peers is None:
            peers = "any peer"
        else:
            peers = "; ".join(str(p) for p in self.peers) or "no peer"
        if self.ports is None:
            ports = "all ports"
        else:
            ports = ", ".join(str(p) for p in self.ports) or "no TCP/UDP/SCTP port"
        what = f"{self.direction} rule #{self.index}" if not self.label else f"rule {self.label}"
        verb = "" if self.action is Action.ALLOW else f" {self.action}"
        return f"{what}{verb}: {side} {peers} on {ports}"


@dataclass(frozen=True, slots=True)
class Policy:
    """A namespaced allow-list policy in normal form.

    `isolates` holds the directions in which selected pods become default-deny.
    """

    ref: ObjectRef
    namespace: str
    pod_selector: Selector
    isolates: frozenset[Direction]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    policy_types_explicit: bool = True
    declared_empty_egress: bool = False
    """`egress: []` present without policyTypes: looks like deny-all, isolates nothing."""
    api: PolicyAPI = PolicyAPI.KUBERNETES
    cluster_scoped: bool = False
    """Selects pods in every namespace matching `namespace_selector` (None: all)."""
    namespace_selector: Selector | None = None
    view: LabelView = LabelView.POD
    """Which labels `pod_selector` is matched against."""
    tier: str = "default"
    tier_order: float = DEFAULT_TIER
    priority: float = 0.0
    ordered: bool = False
    """Rules decide in order (ANP, Calico); False: deny rules first, then allows (Cilium)."""
    part: str = ""
    """Which part of the object this is (`specs[1]` of a CiliumNetworkPolicy)."""
    host_policy: bool = False
    """Selects nodes, not pods (Cilium nodeSelector): reported, never applied to pods."""
    notes: tuple[str, ...] = ()
    """What netfence cannot evaluate in this policy (L7 rules, FQDNs, ...), for findings."""
    service_accounts: frozenset[str] | None = None
    """Calico `serviceAccountSelector` resolved to names; None: no constraint."""
    tier_passes: bool = False
    """Calico tier with `defaultAction: Pass`: undecided traffic goes on to the next tier."""

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def id(self) -> str:
        where = self.ref.name if self.cluster_scoped else f"{self.namespace}/{self.ref.name}"
        return f"{self.ref.kind} {where}" + (f" {self.part}" if self.part else "")

    def effective_rules(self, direction: Direction) -> tuple[Rule, ...]:
        """The rules that take part in decisions: NetworkPolicy and Calico rules of a
        direction missing from policyTypes/types have no effect (§1.2, §4); Cilium and
        AdminNetworkPolicy rules always count (Cilium parses rules regardless, §1.9)."""
        if direction in self.isolates or self.api in (PolicyAPI.CILIUM, PolicyAPI.ADMIN):
            return self.rules(direction)
        return ()

    def ends_in_deny(self, direction: Direction) -> bool:
        """Whether traffic this policy's tier leaves undecided is denied (isolation)."""
        return direction in self.isolates and not self.tier_passes

    def applies(self, direction: Direction) -> bool:
        """Whether the policy has any effect on `direction` for the pods it selects."""
        return direction in self.isolates or bool(self.effective_rules(direction))


def detect_network_plugin(policies: Iterable[Policy]) -> NetworkPlugin:
    """Offline guess from the policy kinds present: Cilium kinds -> cilium, Calico kinds
    -> calico, else generic (a live scan knows better from the installed CRDs)."""
    apis = {p.api for p in policies}
    if PolicyAPI.CILIUM in apis:
        return NetworkPlugin.CILIUM
    if PolicyAPI.CALICO in apis:
        return NetworkPlugin.CALICO
    return NetworkPlugin.GENERIC


def network_plugin_from_crds(crds: Iterable[str]) -> NetworkPlugin:
    """A live scan's guess from the installed CustomResourceDefinition names (e.g.
    `ciliumnetworkpolicies.cilium.io`): Cilium CRDs -> cilium, Calico CRDs -> calico,
    else generic. Config (`network_plugin`) overrides it."""
    return network_plugin_from_api_groups(name.partition(".")[2] for name in crds)


def network_plugin_from_api_groups(groups: Iterable[str]) -> NetworkPlugin:
    """The same from the API groups the server's discovery lists (`cilium.io`, ...)."""
    groups = set(groups)
    if "cilium.io" in groups:
        return NetworkPlugin.CILIUM
    if groups & {"crd.projectcalico.org", "projectcalico.org"}:
        return NetworkPlugin.CALICO
    return NetworkPlugin.GENERIC
