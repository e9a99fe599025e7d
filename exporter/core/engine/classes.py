"""Pod equivalence classes: pods no policy can tell apart, and the labels each
policy API sees on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exporter.core.addresses import AddressRange
from exporter.core.model import (
    ContainerPort,
    PodGroup,
    Workload,
)

CILIUM_NAMESPACE = "io.kubernetes.pod.namespace"
CILIUM_NS_LABELS = "io.cilium.k8s.namespace.labels."
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
