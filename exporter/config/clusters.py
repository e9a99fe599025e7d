"""The clusters `serve` scans: one from flags, a `clusters:` list in the file, or the
pod's own cluster (in-cluster config) when nothing else is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exporter.config.hubble import hubble_from_file, hubble_from_flags, hubble_problems
from exporter.config.settings import ClusterConfig, Flags
from exporter.config.values import NAME, network_plugin

_CLUSTER_KEYS = {
    "name",
    "kubeconfig",
    "context",
    "in_cluster",
    "manifests",
    "hubble",
    "network_plugin",
}


def clusters(
    flags: Flags,
    file: Mapping[str, Any],
    base: Path,
    problems: list[str],
    in_cluster_available: Callable[[], bool],
) -> list[ClusterConfig]:
    out: list[ClusterConfig] = []
    from_flags = any(flags.get(k) for k in ("kubeconfig", "context", "manifests", "in_cluster"))
    if from_flags:
        manifests = tuple(Path(p) for p in flags.get("manifests") or ())
        sources = sum(
            bool(x)
            for x in (
                flags.get("kubeconfig") or flags.get("context"),
                manifests,
                flags.get("in_cluster"),
            )
        )
        if sources > 1:
            problems.append("use one of --kubeconfig/--context, --manifests or --in-cluster")
        name = flags.get("cluster_name") or (
            flags.get("context") or (manifests[0].resolve().name if manifests else "default")
        )
        out.append(
            ClusterConfig(
                name=str(name),
                kubeconfig=flags.get("kubeconfig"),
                context=flags.get("context"),
                in_cluster=bool(flags.get("in_cluster")),
                manifests=manifests,
                hubble=hubble_from_flags(flags),
            )
        )
    elif file.get("clusters") is not None:
        if hubble_from_flags(flags) is not None:
            problems.append(
                "--hubble.* flags go with a cluster given by flags; with a clusters: list in "
                "the config file, give each cluster's hubble: there"
            )
        raw = file.get("clusters")
        if not isinstance(raw, list) or not raw:
            problems.append("config: clusters must be a non-empty list")
            raw = []
        for i, item in enumerate(raw):
            where = f"clusters[{i}]"
            if not isinstance(item, dict):
                problems.append(f"config: {where} must be a mapping")
                continue
            for key in sorted(set(item) - _CLUSTER_KEYS):
                problems.append(f"config: unknown key {where}.{key}")
            manifests_raw = item.get("manifests") or []
            if isinstance(manifests_raw, str):
                manifests_raw = [manifests_raw]
            if not isinstance(manifests_raw, list):
                problems.append(f"config: {where}.manifests must be a list of paths")
                manifests_raw = []
            manifests = tuple(
                p if p.is_absolute() else base / p for p in (Path(str(m)) for m in manifests_raw)
            )
            kubeconfig = item.get("kubeconfig")
            if kubeconfig is not None and not Path(str(kubeconfig)).is_absolute():
                kubeconfig = str(base / str(kubeconfig))
            kinds = sum(
                bool(x)
                for x in (kubeconfig or item.get("context"), manifests, item.get("in_cluster"))
            )
            if kinds > 1:
                problems.append(
                    f"config: {where}: use one of kubeconfig/context, manifests or in_cluster"
                )
            name = item.get("name")
            if not isinstance(name, str):
                problems.append(f"config: {where}.name is required")
                continue
            out.append(
                ClusterConfig(
                    name=name,
                    kubeconfig=str(kubeconfig) if kubeconfig else None,
                    context=str(item["context"]) if item.get("context") else None,
                    in_cluster=bool(item.get("in_cluster")) or kinds == 0,
                    manifests=manifests,
                    hubble=hubble_from_file(item.get("hubble"), f"{where}.hubble", base, problems),
                    network_plugin=_cluster_plugin(item.get("network_plugin"), where, problems),
                )
            )
    elif in_cluster_available():
        out.append(
            ClusterConfig(
                name=str(flags.get("cluster_name") or "default"),
                in_cluster=True,
                hubble=hubble_from_flags(flags),
            )
        )
    else:
        problems.append(
            "no cluster to scan: give --kubeconfig [--context], --manifests DIR, "
            "--in-cluster, or a clusters: list in --config.file"
        )
    seen: set[str] = set()
    for cluster in out:
        if not NAME.match(cluster.name):
            problems.append(
                f"cluster name {cluster.name!r}: use letters, digits, '-', '_', '.', ':' "
                "(it becomes the cluster label)"
            )
        if cluster.name in seen:
            problems.append(f"cluster name {cluster.name!r} is used twice")
        seen.add(cluster.name)
        for path in cluster.manifests:
            if not path.exists():
                problems.append(
                    f"cluster {cluster.name}: manifests {path}: no such file or directory"
                )
        if cluster.kubeconfig and not Path(cluster.kubeconfig).expanduser().is_file():
            problems.append(f"cluster {cluster.name}: kubeconfig {cluster.kubeconfig}: not a file")
        if cluster.hubble is not None:
            problems.extend(f"cluster {cluster.name}: {p}" for p in hubble_problems(cluster.hubble))
    return out


def _cluster_plugin(raw: object, where: str, problems: list[str]) -> str | None:
    try:
        return network_plugin(raw)
    except ValueError as exc:
        problems.append(f"config: {where}.network_plugin: {exc}")
        return None
