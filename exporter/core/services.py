"""Services and EndpointSlices: how traffic is addressed to pods.

Only what exposure needs: type, selector, ports (port, targetPort, nodePort,
protocol), externalIPs, loadBalancerSourceRanges, ExternalName, headless, and for
selector-less Services the pods their EndpointSlices name.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from exporter.core.fields import as_list, as_name
from exporter.core.model import IPNetwork, ObjectRef, Protocol

_PROTOCOLS = {p.value: p for p in Protocol}
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


class ServiceError(ValueError):
    """A Service or EndpointSlice the API server would reject; names the field."""


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    target: int | str
    """Container port number, or a container port name resolved per pod."""
    protocol: Protocol
    name: str | None = None
    node_port: int | None = None

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True)
class Service:
    ref: ObjectRef
    namespace: str
    name: str
    type: str
    selector: tuple[tuple[str, str], ...] | None
    """Equality selector; None for a selector-less Service (endpoints managed by hand)."""
    ports: tuple[ServicePort, ...]
    external_ips: tuple[str, ...] = ()
    source_ranges: tuple[IPNetwork, ...] = ()
    external_name: str | None = None
    headless: bool = False

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def find_port(self, ref: int | str) -> ServicePort | None:
        """The port an Ingress or route names by number or by name."""
        for sp in self.ports:
            if (isinstance(ref, int) and sp.port == ref) or (
                isinstance(ref, str) and sp.name == ref
            ):
                return sp
        return None


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    ref: ObjectRef
    namespace: str
    service: str
    pods: tuple[str, ...]
    """Names of the pods its endpoints point at (targetRef kind Pod)."""


def parse_service(obj: dict[str, Any], ref: ObjectRef) -> Service:
    namespace = ref.namespace or "default"
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise ServiceError("spec: expected a mapping")
    svc_type = as_name(spec.get("type"), "spec.type", ServiceError, "ClusterIP")
    if svc_type not in SERVICE_TYPES:
        raise ServiceError(f"spec.type: {svc_type!r} is not one of {', '.join(SERVICE_TYPES)}")
    raw_selector = spec.get("selector")
    if raw_selector is not None and not isinstance(raw_selector, dict):
        raise ServiceError("spec.selector: expected a mapping of labels")
    selector = (
        tuple(sorted((str(k), str(v)) for k, v in raw_selector.items())) if raw_selector else None
    )
    ports = tuple(
        _parse_port(p, f"spec.ports[{i}]")
        for i, p in enumerate(as_list(spec.get("ports"), "spec.ports", ServiceError))
    )
    ranges = []
    for i, text in enumerate(
        as_list(spec.get("loadBalancerSourceRanges"), "spec.loadBalancerSourceRanges", ServiceError)
    ):
        try:
            ranges.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            raise ServiceError(
                f"spec.loadBalancerSourceRanges[{i}]: {text!r} is not a CIDR"
            ) from None
    external_ips = tuple(
        str(ip) for ip in as_list(spec.get("externalIPs"), "spec.externalIPs", ServiceError)
    )
    return Service(
        ref=ref,
        namespace=namespace,
        name=ref.name,
        type=svc_type,
        selector=selector,
        ports=ports,
        external_ips=external_ips,
        source_ranges=tuple(ranges),
        external_name=spec.get("externalName") if svc_type == "ExternalName" else None,
        headless=spec.get("clusterIP") == "None",
    )


def _parse_port(raw: object, where: str) -> ServicePort:
    if not isinstance(raw, dict):
        raise ServiceError(f"{where}: expected a mapping")
    port = raw.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServiceError(f"{where}.port: {port!r} is not a port number")
    protocol = _PROTOCOLS.get(
        as_name(raw.get("protocol"), f"{where}.protocol", ServiceError, "TCP")
    )
    if protocol is None:
        raise ServiceError(f"{where}.protocol: {raw.get('protocol')!r} is not TCP, UDP or SCTP")
    target = raw.get("targetPort", port)
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    if isinstance(target, bool) or not isinstance(target, int | str):
        raise ServiceError(f"{where}.targetPort: expected a number or a port name")
    node_port = raw.get("nodePort")
    if node_port is not None and (isinstance(node_port, bool) or not isinstance(node_port, int)):
        raise ServiceError(f"{where}.nodePort: expected a number")
    name = raw.get("name")
    return ServicePort(port, target, protocol, str(name) if name else None, node_port)


def parse_endpoint_slice(obj: dict[str, Any], ref: ObjectRef) -> EndpointSlice | None:
    """None when the slice belongs to no Service (nothing to expose through it)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    service = labels.get("kubernetes.io/service-name") if isinstance(labels, dict) else None
    if not service:
        return None
    pods = []
    for endpoint in as_list(obj.get("endpoints"), "endpoints", ServiceError):
        target = endpoint.get("targetRef") if isinstance(endpoint, dict) else None
        if isinstance(target, dict) and target.get("kind") == "Pod" and target.get("name"):
            pods.append(str(target["name"]))
    return EndpointSlice(ref, ref.namespace or "default", str(service), tuple(pods))
