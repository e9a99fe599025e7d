"""`ExposureAnalysis.run`: every Service, workload, host port and route, each exposure
category decided, merged per Service and category, with internet egress and findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from exporter.core.addresses import AddressRange
from exporter.core.engine import PodClass
from exporter.core.exposure.admission import Admission, workload_ids, workload_names
from exporter.core.exposure.findings import ExposureFindings
from exporter.core.exposure.results import (
    Category,
    Exposure,
    ExposureReport,
    InternetEgress,
    merged,
)
from exporter.core.exposure.routes import RouteExposures
from exporter.core.model import Direction
from exporter.core.ports import ALL, NONE, PortSet
from exporter.core.services import Service, ServicePort


class ExposureAnalysis(RouteExposures, ExposureFindings):
    """Exposure of one snapshot, read from its `Engine` (see the package docstring)."""

    def run(self) -> ExposureReport:
        report = ExposureReport(
            controller_namespaces=frozenset(c.namespace for c in self.controllers)
        )
        backed: set[int] = set()
        for svc in self.engine.snapshot.services:
            classes = self.backing(svc)
            backed.update(c.index for c in classes)
            if classes:
                self._namespace_exposures(
                    report,
                    svc.namespace,
                    svc.name,
                    "Service",
                    classes,
                    svc.ports,
                    (f"Service {svc.id}",),
                )
                self._internet_service(report, svc, classes)
        for cls in self.engine.classes:
            for wl in cls.workloads:
                if cls.index not in backed:
                    self._namespace_exposures(
                        report, wl.namespace, wl.name, wl.kind, [cls], None, ()
                    )
            self._host_exposure(report, cls)
        self._routed(report)
        for cls in self.engine.classes:
            adm = self.internet_egress(cls)
            if adm.ports:
                for wl in cls.workloads:
                    report.internet_egress.append(
                        InternetEgress(wl.namespace, wl.id, adm.ports, tuple(adm.objects))
                    )
        report.exposures = merged(report.exposures)
        report.exposures.sort(key=lambda e: (e.namespace, e.name, e.category))
        report.internet_egress.sort(key=lambda e: e.workload)
        report.findings = self._findings(report)
        return report

    def _namespace_exposures(
        self,
        report: ExposureReport,
        namespace: str,
        name: str,
        kind: str,
        classes: Sequence[PodClass],
        ports: Sequence[ServicePort] | None,
        objects: tuple[str, ...],
    ) -> None:
        other_p = every_p = NONE
        other_o: list[str] = []
        every_o: list[str] = []
        other_w: list[Admission] = []
        every_w: list[Admission] = []
        for cls in classes:
            other, every = self.from_other_namespaces(cls)
            target = ALL if ports is None else self.target_ports(ports, cls)
            if other.ports & target:
                other_p = other_p | (other.ports & target)
                other_o += [o for o in other.objects if o not in other_o]
                other_w.append(other)
            if every.ports & target:
                every_p = every_p | (every.ports & target)
                every_o += [o for o in every.objects if o not in every_o]
                every_w.append(every)
        wls = workload_ids(classes)
        for category, got, objs, why in (
            (Category.OTHER_NAMESPACES, other_p, other_o, other_w),
            (Category.ALL_NAMESPACES, every_p, every_o, every_w),
        ):
            if got:
                report.exposures.append(
                    Exposure(
                        namespace,
                        name,
                        kind,
                        category,
                        True,
                        True,
                        got,
                        (*objects, *(objs or ["no ingress isolation"])),
                        wls,
                        tuple(why),
                    )
                )

    def _internet_service(
        self, report: ExposureReport, svc: Service, classes: Sequence[PodClass]
    ) -> None:
        """LoadBalancer (narrowed by loadBalancerSourceRanges), NodePort, externalIPs.

        The node ports a LoadBalancer also allocates are taken to sit behind the
        cloud firewall, as they do on managed clusters; a NodePort Service is
        reachable wherever its nodes are.
        """
        ways = []
        if svc.type == "LoadBalancer":
            ways.append("LoadBalancer")
        elif svc.type == "NodePort":
            ways.append("NodePort")
        if svc.external_ips:
            ways.append("externalIPs " + ", ".join(svc.external_ips))
        if not ways:
            return
        narrowed = svc.type == "LoadBalancer" and not svc.external_ips
        ranges = tuple(AddressRange.of(n) for n in svc.source_ranges) if narrowed else ()
        self._internet(
            report,
            svc.namespace,
            svc.name,
            "Service",
            classes,
            lambda c: self.target_ports(svc.ports, c),
            ranges,
            (f"Service {svc.id} ({', '.join(ways)})",),
        )

    def _internet(
        self,
        report: ExposureReport,
        namespace: str,
        name: str,
        kind: str,
        classes: Sequence[PodClass],
        target_of: Callable[[PodClass], PortSet],
        ranges: tuple[AddressRange, ...],
        objects: tuple[str, ...],
    ) -> None:
        got = NONE
        objs: list[str] = []
        why: list[Admission] = []
        notes: list[str] = []
        for cls in classes:
            adm = self.from_internet(cls, ranges)
            hit = adm.ports & target_of(cls)
            if hit:
                got = got | hit
                objs += [o for o in adm.objects if o not in objs]
                why.append(adm)
        if ranges and not got:
            notes.append("loadBalancerSourceRanges admit no public address")
        if not got:
            for cls in classes:
                by = ", ".join(p.id for p in self.engine.isolating(cls, Direction.INGRESS))
                notes.append(
                    f"{workload_names(cls)} is isolated for ingress by {by or 'its policies'} "
                    "and no rule admits a public address on a targeted port"
                )
        report.exposures.append(
            Exposure(
                namespace,
                name,
                kind,
                Category.INTERNET,
                True,
                bool(got),
                got,
                (*objects, *(objs or (["no ingress isolation"] if got else []))),
                workload_ids(classes),
                tuple(why),
                tuple(notes),
            )
        )

    def _host_exposure(self, report: ExposureReport, cls: PodClass) -> None:
        host_ports = [cp for cp in cls.ports if cp.host_port]
        if not cls.host_network and not host_ports:
            return
        for wl in cls.workloads:
            if cls.host_network:
                ports = NONE
                for cp in cls.ports:
                    ports = ports | PortSet.of(cp.protocol, cp.port)
                report.exposures.append(
                    Exposure(
                        wl.namespace,
                        wl.name,
                        wl.kind,
                        Category.INTERNET,
                        True,
                        True,
                        ports or ALL,
                        (f"{wl.id} hostNetwork",),
                        (wl.id,),
                        (),
                        ("hostNetwork pods are not isolated by NetworkPolicy",),
                    )
                )
                continue

            def targets(c: PodClass, hp: Sequence[object] = host_ports) -> PortSet:
                out = NONE
                for cp in c.ports:
                    if cp.host_port:
                        out = out | PortSet.of(cp.protocol, cp.port)
                return out

            self._internet(
                report,
                wl.namespace,
                wl.name,
                wl.kind,
                [cls],
                targets,
                (),
                (f"{wl.id} hostPort " + ", ".join(str(cp.host_port) for cp in host_ports),),
            )
