"""Prometheus metrics over the latest scan results, and the HTTP endpoints."""

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.registry import Collector

from exporter.metrics.collector import (
    EXPOSURE_INFO_LIMIT,
    FAMILIES,
    PREFIX,
    ClusterMetrics,
    NetfenceCollector,
)
from exporter.metrics.exposition import Exposition
from exporter.metrics.flows import FlowCollector, FlowMetrics
from exporter.metrics.http import MetricsServer, WebSettings, make_app

__all__ = [
    "FAMILIES",
    "PREFIX",
    "ClusterMetrics",
    "Exposition",
    "FlowCollector",
    "FlowMetrics",
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


def exposition(
    provider: Callable[[], Sequence[ClusterMetrics]],
    version: str,
    fresh: Sequence[Collector] = (),
    exposure_info_limit: int = EXPOSURE_INFO_LIMIT,
) -> Exposition:
    """What `/metrics` serves: the netfence families (cached per result) + process_* and
    the `fresh` collectors (e.g. Hubble flow counters), rendered on every scrape."""
    extra = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=extra)
    for collector in fresh:
        extra.register(collector)
    collector = NetfenceCollector(provider, version, exposure_info_limit)
    return Exposition(collector, provider, extra=extra)
