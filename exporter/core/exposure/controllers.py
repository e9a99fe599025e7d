"""Who carries traffic in from outside: ingress controllers and gateways (named by
configuration, with defaults for common controllers), and the `ExposureConfig` the
analysis is given."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.engine import PodClass
from exporter.core.selectors import LabelSelector, Operator, Requirement

INGRESS_CONTROLLER = "{ingress-controller}"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DATABASE_PORTS = frozenset(
    {1433, 1521, 2379, 3306, 5432, 5984, 6379, 7000, 8086, 9042, 9200, 11211, 26257, 27017}
)


@dataclass(frozen=True, slots=True)
class ControllerSpec:
    """Pods that carry traffic from outside: an ingress controller or a gateway."""

    name: str
    selector: LabelSelector
    namespace: str | None = None

    def matches(self, cls: PodClass) -> bool:
        return (self.namespace is None or cls.namespace == self.namespace) and (
            self.selector.matches(cls.labels)
        )


def _label_in(key: str, *values: str) -> LabelSelector:
    return LabelSelector((Requirement(key, Operator.IN, frozenset(values)),))


DEFAULT_CONTROLLERS = (
    ControllerSpec(
        "common ingress controllers",
        _label_in(
            "app.kubernetes.io/name",
            "ingress-nginx",
            "rke2-ingress-nginx",
            "traefik",
            "haproxy-ingress",
            "kubernetes-ingress",
            "kong",
            "contour",
            "envoy",
            "nginx-gateway",
            "nginx-gateway-fabric",
            "istio-ingressgateway",
        ),
    ),
    ControllerSpec("istio gateways", _label_in("istio", "ingressgateway")),
    ControllerSpec(
        "legacy app labels",
        _label_in("app", "ingress-nginx", "nginx-ingress", "traefik", "haproxy-ingress"),
    ),
    ControllerSpec(
        "openshift router",
        _label_in(
            "ingresscontroller.operator.openshift.io/deployment-ingresscontroller", "default"
        ),
    ),
)


def parse_controller(text: str) -> ControllerSpec:
    """`[NAMESPACE:]KEY=VALUE[,KEY=VALUE...]`, e.g. `ingress-nginx:app=ingress-nginx`."""
    namespace, sep, selector_text = text.partition(":")
    if not sep:
        namespace, selector_text = "", text
    reqs = []
    for item in selector_text.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad controller selector {text!r} (want [NAMESPACE:]KEY=VALUE,...)")
        reqs.append(Requirement(key.strip(), Operator.IN, frozenset({value.strip()})))
    reqs.sort(key=lambda r: r.key)
    return ControllerSpec(text, LabelSelector(tuple(reqs)), namespace.strip() or None)


@dataclass(frozen=True, slots=True)
class ExposureConfig:
    controllers: tuple[ControllerSpec, ...] = DEFAULT_CONTROLLERS
    sensitive_label: str = "netfence.io/sensitive"
    sensitive_value: str = "true"
    database_ports: frozenset[int] = DATABASE_PORTS
