"""Exposure through ingress controllers and Gateway API: Ingress and Route backends,
listeners a route attaches to, ReferenceGrants for backends in other namespaces."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from exporter.core.engine import PodClass
from exporter.core.exposure.admission import Admission, Admissions, workload_ids
from exporter.core.exposure.controllers import GATEWAY_NAME_LABEL
from exporter.core.exposure.results import Category, Exposure, ExposureReport
from exporter.core.findings import Check, Finding, Severity
from exporter.core.ports import NONE, PortSet
from exporter.core.routes import Backend, Gateway, GatewayRoute
from exporter.core.selectors import EVERYTHING
from exporter.core.services import Service, ServicePort


class RouteExposures(Admissions):
    """Ingress and Gateway API routes: the `ingress` and `gateway` categories."""

    def _routed(self, report: ExposureReport) -> None:
        snap = self.engine.snapshot
        for ing in snap.ingresses:
            for backend in ing.backends:
                self._route_backend(
                    report,
                    Category.INGRESS,
                    backend,
                    f"{ing.ref.kind} {ing.namespace}/{ing.ref.name}",
                    self.controllers,
                )
        gateways = {(g.namespace, g.name): g for g in snap.gateways}
        for route in snap.routes:
            for parent in route.parents:
                gw = gateways.get((parent.namespace, parent.name))
                if gw is None or not self._attaches(gw, route, parent.section):
                    continue
                pods = [
                    c
                    for c in self.engine.classes_by_ns.get(gw.namespace, ())
                    if c.labels.get(GATEWAY_NAME_LABEL) == gw.name
                ] or self.controllers
                for backend in route.backends:
                    if not self._granted(route, backend):
                        report.findings.append(_not_granted(route, backend))
                        continue
                    self._route_backend(
                        report,
                        Category.GATEWAY,
                        backend,
                        f"{route.kind} {route.namespace}/{route.ref.name} via Gateway "
                        f"{gw.namespace}/{gw.name}",
                        pods,
                    )

    def _granted(self, route: GatewayRoute, backend: Backend) -> bool:
        """A backendRef into another namespace needs a ReferenceGrant there."""
        return backend.namespace == route.namespace or any(
            g.namespace == backend.namespace
            and g.allows(route.kind, route.namespace, backend.service)
            for g in self.engine.snapshot.reference_grants
        )

    def _attaches(self, gw: Gateway, route: GatewayRoute, section: str | None) -> bool:
        ns = self.engine.namespaces.get(route.namespace)
        for listener in gw.listeners:
            if section is not None and listener.name != section:
                continue
            if listener.kinds and route.kind not in listener.kinds:
                continue
            if listener.allowed_from == "All":
                return True
            if listener.allowed_from == "Same" and route.namespace == gw.namespace:
                return True
            if (
                listener.allowed_from == "Selector"
                and ns is not None
                and (listener.selector or EVERYTHING).matches(ns.labels)
            ):
                return True
        return False

    def _route_backend(
        self,
        report: ExposureReport,
        category: Category,
        backend: Backend,
        via: str,
        sources: Sequence[PodClass],
    ) -> None:
        svc = self.services.get((backend.namespace, backend.service))
        if svc is None:
            report.exposures.append(
                Exposure(
                    backend.namespace,
                    backend.service,
                    "Service",
                    category,
                    True,
                    False,
                    NONE,
                    (via,),
                    (),
                    (),
                    (f"Service {backend.namespace}/{backend.service} does not exist",),
                )
            )
            return
        ports = _backend_ports(svc, backend)
        classes = self.backing(svc)
        got = NONE
        objs: list[str] = [via, f"Service {svc.id}"]
        why: list[Admission] = []
        per_workload: dict[str, PortSet] = defaultdict(lambda: NONE)
        for cls in classes:
            target = self.target_ports(ports, cls)
            if backend.target_port and isinstance(backend.port, str) and not target:
                target = _named(cls, backend.port)
            adm = self._controller_admission(cls, sources)
            hit = adm.ports & target
            if hit:
                got = got | hit
                objs += [o for o in adm.objects if o not in objs]
                why.append(adm)
                for wl in cls.workloads:
                    per_workload[wl.id] = per_workload[wl.id] | hit
        report.exposures.append(
            Exposure(
                svc.namespace,
                svc.name,
                "Service",
                category,
                True,
                bool(got),
                got,
                tuple(objs),
                tuple(sorted(per_workload)) or workload_ids(classes),
                tuple(why),
            )
        )


def _not_granted(route: GatewayRoute, backend: Backend) -> Finding:
    name = f"{route.kind} {route.namespace}/{route.ref.name}"
    return Finding(
        Check.ROUTE_BACKEND_NOT_GRANTED,
        Severity.INFO,
        route.namespace,
        name,
        f"{name} refers to Service {backend.namespace}/{backend.service} without a "
        f"ReferenceGrant in {backend.namespace}: the backend is not exposed through it",
    )


def _backend_ports(svc: Service, backend: Backend) -> tuple[ServicePort, ...]:
    if backend.port is None:
        return svc.ports
    if backend.target_port:
        return tuple(sp for sp in svc.ports if sp.target == backend.port or sp.name == backend.port)
    sp = svc.find_port(backend.port)
    return (sp,) if sp else ()


def _named(cls: PodClass, name: str) -> PortSet:
    out = NONE
    for cp in cls.ports:
        if cp.name == name:
            out = out | PortSet.of(cp.protocol, cp.port)
    return out
