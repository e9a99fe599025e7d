"""Ingress, OpenShift Route and Gateway API objects: what routes outside traffic to Services.

Gateway API attachment follows gateway-api's rules: a route's parentRef names a
Gateway (namespace defaults to the route's); the Gateway's listeners decide which
namespaces may attach (`allowedRoutes.namespaces.from`: Same by default, All, or
Selector); a backendRef into another namespace is only valid when a ReferenceGrant in
the backend's namespace allows it (gateway-api ReferenceGrant spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.core.fields import as_list
from exporter.core.model import ObjectRef
from exporter.core.selectors import LabelSelector, SelectorError, parse_label_selector

GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")


class RouteError(ValueError):
    """A routing object we cannot read; names the field."""


@dataclass(frozen=True, slots=True)
class Backend:
    """A Service (and port) that routed traffic is sent to."""

    namespace: str
    service: str
    port: int | str | None
    """Service port number or name; None: every port of the Service."""
    target_port: bool = False
    """True when `port` names the pods' port (OpenShift Route targetPort), not the Service's."""


@dataclass(frozen=True, slots=True)
class Ingress:
    ref: ObjectRef
    namespace: str
    class_name: str | None
    backends: tuple[Backend, ...]


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    allowed_from: str
    """Same, All or Selector."""
    selector: LabelSelector | None
    kinds: tuple[str, ...]
    """Route kinds allowed; empty: the kinds matching the listener protocol (all, here)."""


@dataclass(frozen=True, slots=True)
class Gateway:
    ref: ObjectRef
    namespace: str
    name: str
    class_name: str
    listeners: tuple[Listener, ...]


@dataclass(frozen=True, slots=True)
class ParentRef:
    namespace: str
    name: str
    section: str | None


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    ref: ObjectRef
    kind: str
    namespace: str
    parents: tuple[ParentRef, ...]
    backends: tuple[Backend, ...]


@dataclass(frozen=True, slots=True)
class ReferenceGrant:
    namespace: str
    sources: tuple[tuple[str, str, str], ...]
    """(group, kind, namespace) allowed to refer."""
    targets: tuple[tuple[str, str, str | None], ...]
    """(group, kind, name or None for any) that may be referred to."""

    def allows(self, kind: str, from_namespace: str, service: str) -> bool:
        source_ok = any(
            g == GATEWAY_GROUP and k == kind and ns == from_namespace for g, k, ns in self.sources
        )
        target_ok = any(
            g in ("", "core") and k == "Service" and (n is None or n == service)
            for g, k, n in self.targets
        )
        return source_ok and target_ok


def _backend_port(port: object, where: str) -> int | str:
    if isinstance(port, dict):
        number, name = port.get("number"), port.get("name")
        if isinstance(number, int) and not isinstance(number, bool):
            return number
        if isinstance(name, str) and name:
            return name
        raise RouteError(f"{where}: needs number or name")
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str) and port:
        return int(port) if port.isdigit() else port
    raise RouteError(f"{where}: {port!r} is not a port")


def _ingress_backend(raw: object, namespace: str, where: str) -> Backend | None:
    if not isinstance(raw, dict):
        raise RouteError(f"{where}: expected a mapping")
    service = raw.get("service")
    if isinstance(service, dict):
        name = service.get("name")
        if not isinstance(name, str) or not name:
            raise RouteError(f"{where}.service.name is missing")
        return Backend(namespace, name, _backend_port(service.get("port"), f"{where}.service.port"))
    if raw.get("serviceName"):  # extensions/v1beta1 and networking.k8s.io/v1beta1
        return Backend(
            namespace,
            str(raw["serviceName"]),
            _backend_port(raw.get("servicePort"), f"{where}.servicePort"),
        )
    return None  # a `resource` backend (e.g. a storage bucket) reaches no pod


def parse_ingress(obj: dict[str, Any], ref: ObjectRef) -> Ingress:
    namespace = ref.namespace or "default"
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise RouteError("spec: expected a mapping")
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    class_name = spec.get("ingressClassName") or (
        annotations.get("kubernetes.io/ingress.class") if isinstance(annotations, dict) else None
    )
    backends: list[Backend] = []
    default = spec.get("defaultBackend") or spec.get("backend")
    if default is not None:
        b = _ingress_backend(default, namespace, "spec.defaultBackend")
        if b:
            backends.append(b)
    for i, rule in enumerate(as_list(spec.get("rules"), "spec.rules", RouteError)):
        http = rule.get("http") if isinstance(rule, dict) else None
        if not isinstance(http, dict):
            continue
        for j, path in enumerate(
            as_list(http.get("paths"), f"spec.rules[{i}].http.paths", RouteError)
        ):
            where = f"spec.rules[{i}].http.paths[{j}].backend"
            if not isinstance(path, dict):
                raise RouteError(f"spec.rules[{i}].http.paths[{j}]: expected a mapping")
            b = _ingress_backend(path.get("backend"), namespace, where)
            if b:
                backends.append(b)
    return Ingress(ref, namespace, str(class_name) if class_name else None, tuple(backends))


def parse_openshift_route(obj: dict[str, Any], ref: ObjectRef) -> Ingress:
    """An OpenShift Route is an Ingress served by the router pods."""
    namespace = ref.namespace or "default"
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise RouteError("spec: expected a mapping")
    port = (
        (spec.get("port") or {}).get("targetPort") if isinstance(spec.get("port"), dict) else None
    )
    targets = [
        spec.get("to"),
        *as_list(spec.get("alternateBackends"), "spec.alternateBackends", RouteError),
    ]
    backends = []
    for i, to in enumerate(targets):
        if not isinstance(to, dict):
            if i == 0:
                raise RouteError("spec.to: expected a mapping")
            continue
        if (to.get("kind") or "Service") != "Service" or not to.get("name"):
            continue
        backends.append(
            Backend(
                namespace,
                str(to["name"]),
                _backend_port(port, "spec.port.targetPort") if port is not None else None,
                target_port=True,
            )
        )
    return Ingress(ref, namespace, "openshift-router", tuple(backends))


def parse_gateway(obj: dict[str, Any], ref: ObjectRef) -> Gateway:
    namespace = ref.namespace or "default"
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise RouteError("spec: expected a mapping")
    listeners = []
    for i, raw in enumerate(as_list(spec.get("listeners"), "spec.listeners", RouteError)):
        if not isinstance(raw, dict):
            raise RouteError(f"spec.listeners[{i}]: expected a mapping")
        allowed = raw.get("allowedRoutes") or {}
        spaces = allowed.get("namespaces") or {} if isinstance(allowed, dict) else {}
        source = spaces.get("from") or "Same"
        if source not in ("Same", "All", "Selector"):
            raise RouteError(
                f"spec.listeners[{i}].allowedRoutes.namespaces.from: {source!r} "
                "is not Same, All or Selector"
            )
        selector = None
        if source == "Selector":
            try:
                selector = parse_label_selector(
                    spaces.get("selector") or {},
                    f"spec.listeners[{i}].allowedRoutes.namespaces.selector",
                )
            except SelectorError as exc:
                raise RouteError(str(exc)) from None
        kinds = tuple(
            str(k.get("kind"))
            for k in as_list(
                allowed.get("kinds"), f"spec.listeners[{i}].allowedRoutes.kinds", RouteError
            )
            if isinstance(k, dict)
        )
        listeners.append(Listener(str(raw.get("name") or i), source, selector, kinds))
    return Gateway(
        ref, namespace, ref.name, str(spec.get("gatewayClassName") or ""), tuple(listeners)
    )


def parse_gateway_route(obj: dict[str, Any], ref: ObjectRef) -> GatewayRoute:
    namespace = ref.namespace or "default"
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise RouteError("spec: expected a mapping")
    parents = []
    for i, raw in enumerate(as_list(spec.get("parentRefs"), "spec.parentRefs", RouteError)):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise RouteError(f"spec.parentRefs[{i}]: needs a name")
        if (raw.get("kind") or "Gateway") != "Gateway":
            continue
        parents.append(
            ParentRef(
                str(raw.get("namespace") or namespace),
                str(raw["name"]),
                str(raw["sectionName"]) if raw.get("sectionName") else None,
            )
        )
    backends = []
    for i, rule in enumerate(as_list(spec.get("rules"), "spec.rules", RouteError)):
        if not isinstance(rule, dict):
            raise RouteError(f"spec.rules[{i}]: expected a mapping")
        for j, raw in enumerate(
            as_list(rule.get("backendRefs"), f"spec.rules[{i}].backendRefs", RouteError)
        ):
            where = f"spec.rules[{i}].backendRefs[{j}]"
            if not isinstance(raw, dict) or not raw.get("name"):
                raise RouteError(f"{where}: needs a name")
            if (raw.get("kind") or "Service") != "Service" or (raw.get("group") or "") != "":
                continue
            port = raw.get("port")
            backends.append(
                Backend(
                    str(raw.get("namespace") or namespace),
                    str(raw["name"]),
                    _backend_port(port, f"{where}.port") if port is not None else None,
                )
            )
    return GatewayRoute(ref, ref.kind, namespace, tuple(parents), tuple(backends))


def parse_reference_grant(obj: dict[str, Any], ref: ObjectRef) -> ReferenceGrant:
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise RouteError("spec: expected a mapping")
    sources = tuple(
        (str(f.get("group") or ""), str(f.get("kind") or ""), str(f.get("namespace") or ""))
        for f in as_list(spec.get("from"), "spec.from", RouteError)
        if isinstance(f, dict)
    )
    targets = tuple(
        (
            str(t.get("group") or ""),
            str(t.get("kind") or ""),
            str(t["name"]) if t.get("name") else None,
        )
        for t in as_list(spec.get("to"), "spec.to", RouteError)
        if isinstance(t, dict)
    )
    return ReferenceGrant(ref.namespace or "default", sources, targets)
