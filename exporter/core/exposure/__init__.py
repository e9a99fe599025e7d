"""Exposure: what is reachable from other namespaces, through ingress controllers and
Gateway API, and from the internet; and which workloads can reach the internet.

Every exposure is reported per Service (or per workload for pods no Service selects,
and for hostNetwork / hostPort pods) and category, as *declared* (an object says
traffic may come: a route, a LoadBalancer, a NodePort) and *permitted* (the backing
pods' ingress policy admits such a source on a port the object targets).

Sources stand for whole categories, never for pod pairs:
- another namespace: the rules of the backing pods' isolating policies are read
  directly (a peer whose namespaceSelector matches some other namespace; an empty
  namespaceSelector or no peer restriction admits every namespace, future ones too);
- ingress controllers / gateways: the pods named by configuration (namespace + label
  selector, with defaults for common controllers) or, when none is in the cluster, an
  unknown pod in an unknown namespace (admitted only by rules admitting every pod of
  every namespace, as np-guard/netpol-analyzer models `{ingress-controller}`);
- the internet: public address ranges (outside RFC 1918, CGNAT, loopback, link-local
  and ULA space), narrowed by `loadBalancerSourceRanges` for LoadBalancer Services.
Results are cached per set of isolating policies, so cost follows policies x classes.

Modules: controllers.py (who carries traffic in), admission.py (what a class admits per
source category), routes.py (ingress and Gateway API), findings.py, results.py (the
report's types) and report.py (`ExposureAnalysis.run`).
"""

from exporter.core.exposure.admission import Admission
from exporter.core.exposure.controllers import (
    DATABASE_PORTS,
    DEFAULT_CONTROLLERS,
    GATEWAY_NAME_LABEL,
    INGRESS_CONTROLLER,
    ControllerSpec,
    ExposureConfig,
    parse_controller,
)
from exporter.core.exposure.report import ExposureAnalysis
from exporter.core.exposure.results import Category, Exposure, ExposureReport, InternetEgress

__all__ = [
    "DATABASE_PORTS",
    "DEFAULT_CONTROLLERS",
    "GATEWAY_NAME_LABEL",
    "INGRESS_CONTROLLER",
    "Admission",
    "Category",
    "ControllerSpec",
    "Exposure",
    "ExposureAnalysis",
    "ExposureConfig",
    "ExposureReport",
    "InternetEgress",
    "parse_controller",
]
