"""`netfence diff`: read both sides (paths, or a git revision of the repository), find
the namespaces whose objects changed, analyse each side once, and compare
(exporter/core/diff.py).

Cost: two scans, plus the connections of the changed namespaces only (a connection's
verdict depends on the objects of its two ends' namespaces and on cluster-scoped
policies). When a cluster-scoped object that can change connections differs (an
AdminNetworkPolicy, a CiliumClusterwideNetworkPolicy, a Calico GlobalNetworkPolicy or
Tier, a Node), every namespace is compared, up to `FULL_CONNECTIVITY_LIMIT` pod classes;
above it the connections are reported as not compared, never as unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from exporter.core.connectivity import Connection, EndpointFilter, connectivity
from exporter.core.diff import CLUSTER, PolicyDiff, Side, diff
from exporter.core.engine import Engine
from exporter.core.exposure import ExposureConfig
from exporter.core.findings import InputError
from exporter.core.gc_pause import paused_gc
from exporter.core.inventory import (
    CLUSTER_SCOPED_KINDS,
    DEFAULT_NAMESPACE,
    RawObject,
    build_snapshot,
)
from exporter.inputs import Loaded, from_manifests
from exporter.sources import git
from exporter.sources.manifests import SUFFIXES, Limits, LoadResult, read_blobs
from exporter.usecases import ScanReport, UsageError, analyse, check_inputs

FULL_CONNECTIVITY_LIMIT = 3000
"""Pod classes above which a cluster-wide change does not compare every connection."""
NOT_CONNECTIVITY = frozenset({"IngressClass", "GatewayClass"})
"""Cluster-scoped kinds that change exposures (compared everywhere) but no connection."""
POLICY_KINDS = frozenset(
    {
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "CiliumClusterwideNetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "GlobalNetworkPolicy",
        "Tier",
    }
)


@dataclass(frozen=True, slots=True)
class DiffResult:
    diff: PolicyDiff
    base: ScanReport
    head: ScanReport
    base_source: str
    head_source: str
    head_raws: list[RawObject]


def read_side(
    spec: str, head: Path, subdir: str | None, cwd: Path, limits: Limits | None = None
) -> Loaded:
    """A path (file or directory) when one exists, else a git revision of the
    repository around `cwd`, read at `subdir` (default: where `head` is in it)."""
    path = Path(spec)
    if path.exists():
        check_inputs([path])
        return from_manifests([path], keep_raws=True)
    limits = limits or Limits()
    try:
        root = git.repository_root(cwd)
        commit = git.resolve(spec, cwd)
        where = subdir if subdir is not None else _inside(head, root)
        files = git.list_files(commit, where, cwd, SUFFIXES)
        big = [f for f in files if f.size > limits.max_file_bytes]
        small = [f for f in files if f.size <= limits.max_file_bytes]
        blobs = git.read_blobs(small, cwd)
    except git.GitError as exc:
        raise UsageError(f"--base {spec}: {exc}") from None
    with paused_gc():
        raws, errors = read_blobs(
            ((f"{spec}:{f.path}", data) for f, data in zip(small, blobs, strict=True)), limits
        )
        errors += [_too_big(f"{spec}:{f.path}", f.size, limits.max_file_bytes) for f in big]
        snapshot, build_errors = build_snapshot(raws)
    return Loaded(
        LoadResult(snapshot, [*errors, *build_errors], files=len(files), documents=len(raws)),
        raws,
        description=f"git {spec} ({commit[:12]}) {where or '.'}",
    )


def _too_big(source: str, size: int, limit: int) -> InputError:
    return InputError(source, f"file is {size} bytes, over the {limit} limit")


def _inside(head: Path, root: Path) -> str:
    """`head` relative to the repository root ('' when outside it: the whole tree)."""
    try:
        relative = head.resolve().relative_to(root.resolve())
    except ValueError:
        return ""
    return relative.as_posix() if str(relative) != "." else ""


def run(
    base_spec: str,
    head_path: Path,
    subdir: str | None = None,
    exposure_config: ExposureConfig | None = None,
    network_plugin: str | None = None,
    cwd: Path | None = None,
    keep_locations: bool = False,
) -> DiffResult:
    """`keep_locations`: keep the head's objects as read, for their file and line
    (SARIF)."""
    cwd = cwd or Path.cwd()
    if not head_path.exists():
        raise UsageError(f"--head {head_path}: no such file or directory")
    check_inputs([head_path])
    head = from_manifests([head_path], keep_raws=True)
    base = read_side(base_spec, head_path, subdir, cwd)
    with paused_gc():
        changed, wide = changed_namespaces(base.raws, head.raws)
        policies = [_policies(base.raws), _policies(head.raws)]
        base.raws = []  # the base's plain dicts are done with: half the memory back
        if not keep_locations:
            head.raws = []
        sides = [
            _analyse(loaded, changed, wide, exposure_config, network_plugin, found)
            for loaded, found in zip((base, head), policies, strict=True)
        ]
    (base_report, base_side, base_note), (head_report, head_side, head_note) = sides
    note = base_note or head_note
    result = diff(
        base_side, head_side, changed, connections_compared=not note, connections_note=note
    )
    return DiffResult(
        result, base_report, head_report, base.description, head.description, head.raws
    )


def changed_namespaces(
    base: Sequence[RawObject], head: Sequence[RawObject]
) -> tuple[set[str], list[str]]:
    """Namespaces whose objects differ (a Namespace object counts for its own
    namespace), and the cluster-scoped objects that differ and can change connections
    anywhere (`Kind name`). `CLUSTER` is in the set when any cluster-scoped object
    differs."""
    before, after = _by_namespace(base), _by_namespace(head)
    changed = {ns for ns in set(before) | set(after) if before.get(ns) != after.get(ns)}
    wide: list[str] = []
    if CLUSTER in changed:
        was = dict(((k, n), o) for k, n, o in before.get(CLUSTER, []))
        now = dict(((k, n), o) for k, n, o in after.get(CLUSTER, []))
        wide = sorted(
            f"{k} {n}"
            for (k, n) in set(was) | set(now)
            if was.get((k, n)) != now.get((k, n)) and k not in NOT_CONNECTIVITY
        )
    return changed, wide


def _by_namespace(raws: Sequence[RawObject]) -> dict[str, list[tuple[str, str, object]]]:
    groups: dict[str, list[tuple[str, str, object]]] = {}
    for raw in raws:
        obj = raw.obj
        if not isinstance(obj, dict):
            continue
        kind = str(obj.get("kind", ""))
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = str(meta.get("name", ""))
        if kind == "Namespace":
            namespace = name
        elif kind in CLUSTER_SCOPED_KINDS:
            namespace = CLUSTER
        else:
            namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE)
        group = f"{obj.get('apiVersion', '')}/{kind}"
        groups.setdefault(namespace, []).append((group, name, obj))
    for items in groups.values():
        items.sort(key=lambda item: (item[0], item[1]))
    return groups


def _analyse(
    loaded: Loaded,
    changed: set[str],
    wide: list[str],
    exposure_config: ExposureConfig | None,
    network_plugin: str | None,
    policies: dict[str, tuple[str, object]],
) -> tuple[ScanReport, Side, str]:
    result = loaded.result
    plugin = network_plugin or loaded.network_plugin
    engine = Engine(result.snapshot, network_plugin=plugin)
    report = analyse(
        result,
        exposure_config,
        plugin,
        network_plugin_source=None if network_plugin else loaded.network_plugin_source,
        unreadable=loaded.unreadable,
        engine=engine,
    )
    note = ""
    conns: list[Connection] = []
    if wide and len(engine.classes) > FULL_CONNECTIVITY_LIMIT:
        note = (
            f"cluster-scoped objects changed ({', '.join(wide[:5])}"
            f"{', ...' if len(wide) > 5 else ''}): every connection of "
            f"{len(engine.classes)} pod classes would have to be compared (over "
            f"{FULL_CONNECTIVITY_LIMIT}); run `netfence connectivity` on each side"
        )
    elif wide:
        conns = connectivity(engine)
    elif changed - {CLUSTER}:
        conns = connectivity(engine, EndpointFilter(namespaces=tuple(sorted(changed - {CLUSTER}))))
    side = Side.of(
        report.namespaces,
        report.exposures,
        report.internet_egress,
        report.findings,
        conns,
        policies,
    )
    return report, side, note


def _policies(raws: Sequence[RawObject]) -> dict[str, tuple[str, object]]:
    """Policy id -> (namespace, what decides its meaning: everything but metadata,
    plus the labels)."""
    out: dict[str, tuple[str, object]] = {}
    for raw in raws:
        obj = raw.obj
        if not isinstance(obj, dict) or obj.get("kind") not in POLICY_KINDS:
            continue
        kind = str(obj["kind"])
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = str(meta.get("name", ""))
        if kind in CLUSTER_SCOPED_KINDS:
            namespace, ident = CLUSTER, f"{kind} {name}"
        else:
            namespace = str(meta.get("namespace") or DEFAULT_NAMESPACE)
            ident = f"{kind} {namespace}/{name}"
        group = str(obj.get("apiVersion", "")).partition("/")[0]
        if "projectcalico.org" in group and kind == "NetworkPolicy":
            ident = f"Calico {ident}"
        content = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
        content["labels"] = meta.get("labels")
        out[ident] = (namespace, content)
    return out
