"""Where a one-shot command's objects come from: manifests on disk or a live cluster.

`scan`, `connectivity` and `explain` analyse either. A live cluster is read exactly as
`netfence serve` reads it (exporter/sources/kubernetes.py: discovery, paged lists, the
same RBAC needs; a kind the API refuses (403) is reported and becomes an
`unreadable-kind` finding), and the network plugin comes from the API groups it serves.

`--snapshot-out DIR` writes what a live read returned as manifests (one multi-document
YAML file per kind, never a Secret) plus `NETFENCE-SNAPSHOT`, a JSON file (no .yaml or
.json suffix, so the manifest loader does not read it as an object) recording what the
manifests cannot say: the network plugin from the cluster's API groups, the kinds that
could not be read and the read errors. Scanning the snapshot directory reads it back,
so the offline answers are the live ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml_rs

from exporter.core.findings import InputError
from exporter.core.gc_pause import paused_gc
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.policies import network_plugin_from_api_groups
from exporter.sources import kubernetes as live
from exporter.sources.manifests import LoadResult, Progress, load_manifests, read_objects

SNAPSHOT_META = "NETFENCE-SNAPSHOT"
SNAPSHOT_FORMAT = 1
NEVER_WRITTEN = frozenset({"Secret"})


class InputUnavailable(RuntimeError):
    """No input could be read at all (no kubeconfig, cluster unreachable): exit code 2."""


@dataclass(slots=True)
class Loaded:
    """What one command analyses, and what the analysis must know about where it came
    from."""

    result: LoadResult
    raws: list[RawObject] = field(default_factory=list)
    """The objects as read; kept only when asked for (snapshot, diff): they double the
    memory of a large cluster."""
    network_plugin: str | None = None
    """From the live cluster's API groups (or its snapshot); None: detected from kinds."""
    network_plugin_source: str | None = None
    unreadable: tuple[str, ...] = ()
    """Kinds the API server refused to list (403)."""
    read_errors: list[InputError] = field(default_factory=list)
    """The live read's own errors (403s), kept apart from the objects' for snapshots."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class LiveTarget:
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False


def from_manifests(
    paths: Sequence[Path], progress: Progress | None = None, keep_raws: bool = False
) -> Loaded:
    """Manifests on disk; a directory written by `--snapshot-out` brings back what the
    live read knew (network plugin, unreadable kinds, read errors)."""
    if keep_raws:
        with paused_gc():
            raws, errors = read_objects(paths)
            snapshot, build_errors = build_snapshot(raws)
        result = LoadResult(snapshot, [*errors, *build_errors])
    else:
        result = load_manifests(paths, progress=progress)
        raws = []
    loaded = Loaded(result, raws, description="manifests " + ", ".join(map(str, paths)))
    for path in paths:
        meta = path / SNAPSHOT_META
        if path.is_dir() and meta.is_file():
            _apply_snapshot_meta(loaded, meta)
    return loaded


def describe_live(target: LiveTarget) -> str:
    """Which cluster a live read will use, said as kubectl users know it."""
    if target.in_cluster:
        return "the in-cluster service account"
    try:
        context, server = live.describe_kubeconfig(target.kubeconfig, target.context)
    except live.ClusterUnavailable as exc:
        raise InputUnavailable(str(exc)) from None
    where = target.kubeconfig or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
    return f"context {context!r} of {where} (API server {server})"


def from_cluster(
    target: LiveTarget, keep_raws: bool = False, announce: Callable[[str], None] | None = None
) -> Loaded:
    """One read of a live cluster, as `serve` does it; `announce` is told which cluster
    before the read starts."""
    description = describe_live(target)
    if announce is not None:
        announce(description)
    factory = (
        live.in_cluster_client()
        if target.in_cluster
        else live.kubeconfig_client(target.kubeconfig, target.context)
    )
    try:
        read = live.KubernetesSource(factory).read()
    except live.ClusterUnavailable as exc:
        raise InputUnavailable(str(exc)) from None
    with paused_gc():
        snapshot, build_errors = build_snapshot(read.objects)
    return Loaded(
        LoadResult(snapshot, [*read.errors, *build_errors], documents=len(read.objects)),
        read.objects if keep_raws else [],
        network_plugin=str(network_plugin_from_api_groups(read.api_groups)),
        network_plugin_source="crds",
        unreadable=tuple(read.unreadable),
        read_errors=list(read.errors),
        description=description,
    )


# -- snapshots -------------------------------------------------------------------------


def write_snapshot(directory: Path, loaded: Loaded) -> int:
    """Write `loaded.raws` under `directory` as manifests; returns the objects written.

    One file per kind in the order they were read (`NN-kind[.group].yaml`), so the
    loader, which reads files in name order, builds the very same snapshot."""
    directory.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[object]] = {}
    for raw in loaded.raws:
        obj = raw.obj
        if not isinstance(obj, dict) or obj.get("kind") in NEVER_WRITTEN:
            continue
        kind = str(obj.get("kind", "unknown")).lower()
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        name = f"{kind}.{group}" if group else kind
        by_file.setdefault(name, []).append(obj)
    written = 0
    for index, (name, objects) in enumerate(by_file.items()):
        with (directory / f"{index:02d}-{name}.yaml").open("w", encoding="utf-8") as out:
            for obj in objects:
                out.write(_yaml_document(obj))
                written += 1
    meta = {
        "format": SNAPSHOT_FORMAT,
        "source": loaded.description,
        "network_plugin": loaded.network_plugin,
        "unreadable_kinds": list(loaded.unreadable),
        "read_errors": [e.to_json() for e in loaded.read_errors],
    }
    (directory / SNAPSHOT_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return written


def _yaml_document(obj: object) -> str:
    """YAML when it reads back as the same object, else JSON (which is YAML too): a
    snapshot must never change a value (e.g. the string "0o17" dumped unquoted)."""
    text = yaml_rs.dumps(obj)
    if not text.startswith("---"):
        text = "---\n" + text
    try:
        same = yaml_rs.loads(text, parse_datetime=False) == obj
    except (yaml_rs.YAMLDecodeError, ValueError):
        same = False
    if not same:
        text = "---\n" + json.dumps(obj, indent=1)
    return text if text.endswith("\n") else text + "\n"


def _apply_snapshot_meta(loaded: Loaded, meta_path: Path) -> None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a format {SNAPSHOT_FORMAT} netfence snapshot")
        plugin = meta.get("network_plugin")
        kinds = [str(k) for k in meta.get("unreadable_kinds") or []]
        errors = [_input_error(e) for e in meta.get("read_errors") or []]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        loaded.result.errors.append(InputError(str(meta_path), f"unreadable snapshot: {exc}"))
        return
    if isinstance(plugin, str):
        loaded.network_plugin, loaded.network_plugin_source = plugin, "crds"
    loaded.unreadable = (*loaded.unreadable, *kinds)
    loaded.result.errors[:0] = errors


def _input_error(data: object) -> InputError:
    if not isinstance(data, dict):
        raise TypeError("read_errors holds a non-object")
    document = data.get("document")
    return InputError(
        source=str(data.get("source", "")),
        message=str(data.get("message", "")),
        kind=str(data.get("kind", "")),
        namespace=str(data.get("namespace", "")),
        name=str(data.get("name", "")),
        document=document if isinstance(document, int) else None,
        stage=str(data.get("stage", "load")),
    )
