"""Prometheus metrics over the latest scan results, and the HTTP endpoints."""

from prometheus_client import CollectorRegistry, ProcessCollector

from exporter.metrics.collector import FAMILIES, PREFIX, ClusterMetrics, NetfenceCollector
from exporter.metrics.http import MetricsServer, WebSettings, make_app

__all__ = [
    "FAMILIES",
    "PREFIX",
    "ClusterMetrics",
    "MetricsServer",
    "NetfenceCollector",
    "WebSettings",
    "make_app",
    "new_registry",
]


def new_registry(collector: NetfenceCollector) -> CollectorRegistry:
    """netfence's families plus the standard process_* ones (memory, CPU, open files)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry
