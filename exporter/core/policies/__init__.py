"""One normalised rule form for every policy API.

Each API module (kubernetes, later cilium, admin, calico) turns its objects into
`Policy` values; the engine only ever sees this form.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.addresses import IPBlock
from exporter.core.model import Direction, ObjectRef, Protocol
from exporter.core.selectors import LabelSelector


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


Peer = PodPeer | IPBlockPeer


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
    """One allow rule. `peers` None: every peer; `ports` None: every port."""

    direction: Direction
    index: int
    peers: tuple[Peer, ...] | None
    ports: tuple[PortMatch, ...] | None
    all_ports: bool = False
    """True when `ports` (named ports aside) covers every port of every protocol."""

    @property
    def opens_everything(self) -> bool:
        return self.peers is None and self.ports is None

    def describe(self) -> str:
        side = "from" if self.direction is Direction.INGRESS else "to"
        peers = "any peer" if self.peers is None else "; ".join(str(p) for p in self.peers)
        ports = "all ports" if self.ports is None else ", ".join(str(p) for p in self.ports)
        return f"{self.direction} rule #{self.index}: {side} {peers} on {ports}"


@dataclass(frozen=True, slots=True)
class Policy:
    """A namespaced allow-list policy in normal form.

    `isolates` holds the directions in which selected pods become default-deny.
    """

    ref: ObjectRef
    namespace: str
    pod_selector: LabelSelector
    isolates: frozenset[Direction]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    policy_types_explicit: bool = True
    declared_empty_egress: bool = False
    """`egress: []` present without policyTypes: looks like deny-all, isolates nothing."""

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def id(self) -> str:
        return f"{self.ref.kind} {self.namespace}/{self.ref.name}"
