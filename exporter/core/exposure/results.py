"""What the exposure analysis reports: exposures per Service (or workload) and category,
workloads reaching the internet, and the findings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from exporter.core.exposure.admission import Admission
from exporter.core.findings import Finding
from exporter.core.ports import NONE, PortSet


class Category(StrEnum):
    OTHER_NAMESPACES = "other_namespaces"
    ALL_NAMESPACES = "all_namespaces"
    INGRESS = "ingress"
    GATEWAY = "gateway"
    INTERNET = "internet"


@dataclass(frozen=True, slots=True)
class Exposure:
    namespace: str
    name: str
    kind: str
    category: Category
    declared: bool
    permitted: bool
    ports: PortSet
    """Target (pod) ports on which the category's sources are admitted."""
    objects: tuple[str, ...]
    """The objects that open it: routes, Services, and the policies (or their absence)."""
    workloads: tuple[str, ...]
    why: tuple[Admission, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The rules (or absence of isolation) behind a permitted exposure."""
        out = list(self.notes)
        for adm in self.why:
            out += [r for r in adm.reasons if r not in out]
        return tuple(out)

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "category": str(self.category),
            "declared": self.declared,
            "permitted": self.permitted,
            "ports": self.ports.to_json(),
            "objects": list(self.objects),
            "workloads": list(self.workloads),
        }


@dataclass(frozen=True, slots=True)
class InternetEgress:
    namespace: str
    workload: str
    ports: PortSet
    objects: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "workload": self.workload,
            "ports": self.ports.to_json(),
            "objects": list(self.objects),
        }


@dataclass(slots=True)
class ExposureReport:
    exposures: list[Exposure] = field(default_factory=list)
    internet_egress: list[InternetEgress] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    controller_namespaces: frozenset[str] = frozenset()
    """Namespaces of the ingress controller and gateway pods (traffic from them uses an
    ingress or gateway exposure: the Hubble join needs to know)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """namespace -> category -> permitted exposures."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Category, 0))
        for e in self.exposures:
            if e.permitted:
                out[e.namespace][e.category] += 1
        return {ns: {str(k): v for k, v in cats.items()} for ns, cats in out.items()}

    def egress_counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.internet_egress:
            out[e.namespace] += 1
        return dict(out)

    def controller_connections(self) -> dict[str, PortSet]:
        """Workload -> ports admitted from ingress controllers and gateways."""
        out: dict[str, PortSet] = defaultdict(lambda: NONE)
        for e in self.exposures:
            if e.permitted and e.category in (Category.INGRESS, Category.GATEWAY):
                for wl in e.workloads:
                    out[wl] = out[wl] | e.ports
        return dict(out)


def merged(exposures: list[Exposure]) -> list[Exposure]:
    """One entry per Service (or workload) and category: several routes to one Service,
    one route attached twice, or a workload whose pods differ in labels, are unioned."""
    out: dict[tuple[str, str, str, Category], Exposure] = {}
    for e in exposures:
        key = (e.namespace, e.name, e.kind, e.category)
        prev = out.get(key)
        if prev is None:
            out[key] = e
            continue
        out[key] = Exposure(
            e.namespace,
            e.name,
            e.kind,
            e.category,
            prev.declared or e.declared,
            prev.permitted or e.permitted,
            prev.ports | e.ports,
            (*prev.objects, *(o for o in e.objects if o not in prev.objects)),
            tuple(sorted({*prev.workloads, *e.workloads})),
            (*prev.why, *e.why),
            (*prev.notes, *(n for n in e.notes if n not in prev.notes)),
        )
    return list(out.values())
