"""Where each cluster's objects come from: a live API server or manifest files.

`cluster_from_config` turns one configured cluster into a `Cluster` whose `read()` the
scanner calls at every scan; what was read and how long it took is a `SourceRead`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.config import ClusterConfig, Config
from exporter.core.findings import InputError
from exporter.core.inventory import RawObject
from exporter.core.policies import network_plugin_from_api_groups
from exporter.sources import kubernetes as live
from exporter.sources.manifests import read_objects

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SourceRead:
    objects: list[RawObject]
    errors: list[InputError] = field(default_factory=list)
    unreadable: tuple[str, ...] = ()
    list_seconds: float = 0.0
    requests: int = 0
    network_plugin: str | None = None
    """What the cluster's installed CRDs say (live clusters); None: guess from the kinds."""


Reader = Callable[[], SourceRead]


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    read: Reader
    source: str
    """What is scanned, for logs (a kubeconfig context, a directory, in-cluster)."""
    network_plugin: str | None = None
    """Configured (`network_plugin` in the config): wins over what the cluster says."""


def manifests_reader(config: ClusterConfig, monotonic: Clock = time.monotonic) -> Reader:
    def read() -> SourceRead:
        started = monotonic()
        objects, errors = read_objects(list(config.manifests))
        return SourceRead(objects, errors, (), monotonic() - started)

    return read


def kubernetes_reader(config: ClusterConfig, settings: Config) -> Reader:
    factory = (
        live.in_cluster_client()
        if config.in_cluster
        else live.kubeconfig_client(config.kubeconfig, config.context)
    )
    source = live.KubernetesSource(
        factory,
        page_size=settings.scan.page_size,
        retries=settings.scan.retries,
        timeout_seconds=settings.scan.timeout,
    )

    def read() -> SourceRead:
        result = source.read()
        return SourceRead(
            result.objects,
            result.errors,
            tuple(result.unreadable),
            result.list_seconds,
            result.requests,
            str(network_plugin_from_api_groups(result.api_groups)),
        )

    return read


def cluster_from_config(config: ClusterConfig, settings: Config) -> Cluster:
    plugin = config.network_plugin or settings.network_plugin
    if config.manifests:
        return Cluster(
            config.name,
            manifests_reader(config),
            "manifests " + ", ".join(str(p) for p in config.manifests),
            plugin,
        )
    where = (
        "in-cluster service account"
        if config.in_cluster
        else f"kubeconfig {config.kubeconfig or '(default)'}"
        + (f" context {config.context}" if config.context else "")
    )
    return Cluster(config.name, kubernetes_reader(config, settings), where, plugin)
