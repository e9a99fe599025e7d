"""Prometheus metrics over the latest scan results, and the HTTP endpoints."""

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, ProcessCollector

from exporter.metrics.collector import FAMILIES, PREFIX, ClusterMetrics, NetfenceCollector
from exporter.metrics.exposition import Exposition
from exporter.metrics.http import MetricsServer, WebSettings, make_app

__all__ = [
    "FAMILIES",
    "PREFIX",
    "ClusterMetrics",
    "Exposition",
    "MetricsServer",
    "NetfenceCollector",
    "WebSettings",
    "exposition",
    "make_app",
    "new_registry",
]


def new_registry(collector: NetfenceCollector) -> CollectorRegistry:
    """netfence's families plus the standard process_* ones, in one registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def exposition(provider: Callable[[], Sequence[ClusterMetrics]], version: str) -> Exposition:
    """What `/metrics` serves: the netfence families (cached per result) + process_*."""
    process = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=process)
    return Exposition(NetfenceCollector(provider, version), provider, extra=process)
