"""The cluster as the engine sees it: immutable, source-independent objects.

Pods that share a namespace, labels, container ports and host networking behave
identically under every policy API, so they are stored once as a `PodGroup` with a
count. This is what keeps analysis cost proportional to policies x groups rather
than to pods squared.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Where an object came from, so every answer and error can name it."""

    kind: str
    namespace: str | None
    name: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: Protocol
    name: str | None = None
    host_port: int | None = None
    """Also published on the node's address (hostPort)."""


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str]
    defined: bool = True
    """False when the namespace is only referenced by other objects."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """metadata.annotations (the intent file may name teams by annotation)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """The top-level owner of pods, as users name it: `ns/name[Kind]`."""

    namespace: str
    name: str
    kind: str

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class PodGroup:
    """Pods of one workload that are indistinguishable to network policy."""

    workload: Workload
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    pods: int
    host_network: bool = False
    source: ObjectRef | None = None
    pod_names: tuple[str, ...] = ()
    """Names of the Pod objects behind the group (empty when counted from a template)."""
    service_account: str | None = None
    """The pods' service account (Cilium and Calico policies can select on it)."""

    @property
    def namespace(self) -> str:
        return self.workload.namespace

    def class_key(self) -> tuple[object, ...]:
        """Identity of the equivalence class: what policies can tell apart."""
        return (
            self.workload.namespace,
            tuple(sorted(self.labels.items())),
            self.ports,
            self.host_network,
            self.service_account,
        )
