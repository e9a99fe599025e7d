"""The input options of the one-shot commands (`scan`, `connectivity`, `explain`):
manifests, or a live cluster as kubectl finds it.

With neither `--manifests` nor a cluster flag, the current kubeconfig context is read,
like `kubectl get` does (in a pod without a kubeconfig: the pod's service account), and
the command says on stderr which cluster that is, so nobody scans production by
surprise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exporter.inputs import (
    InputUnavailable,
    LiveTarget,
    Loaded,
    from_cluster,
    from_manifests,
    write_snapshot,
)
from exporter.sources.kubernetes import in_cluster_available
from exporter.sources.manifests import Progress
from exporter.usecases import UsageError, check_inputs


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--manifests",
        action="append",
        type=Path,
        metavar="PATH",
        help="file or directory of YAML/JSON manifests (repeatable; directories are "
        "read recursively). Without it, a live cluster is read: --kubeconfig/--context, "
        "--in-cluster, or the current kubeconfig context",
    )
    live = p.add_argument_group(
        "live cluster", "read a cluster once, with the RBAC `netfence serve` needs (read-only)"
    )
    live.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    live.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    live.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
    live.add_argument(
        "--snapshot-out",
        type=Path,
        metavar="DIR",
        help="also write what was read as manifests into DIR (Secrets never), to analyse "
        "offline later with --manifests DIR and the same answers",
    )


def live_target(args: argparse.Namespace) -> LiveTarget | None:
    """The cluster to read, or None for manifests; raises UsageError on conflicts."""
    live_flags = [
        flag
        for flag, value in (
            ("--kubeconfig", args.kubeconfig),
            ("--context", args.context),
            ("--in-cluster", args.in_cluster),
        )
        if value
    ]
    if args.manifests:
        if live_flags:
            raise UsageError(f"--manifests and {', '.join(live_flags)} exclude each other")
        if args.snapshot_out:
            raise UsageError("--snapshot-out writes what a live cluster read returned")
        return None
    if args.in_cluster and (args.kubeconfig or args.context):
        raise UsageError("--in-cluster and --kubeconfig/--context exclude each other")
    if not live_flags and not _kubeconfig_exists() and in_cluster_available():
        return LiveTarget(in_cluster=True)
    # $KUBECONFIG is read now, not when the client library was imported.
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG") or None
    return LiveTarget(kubeconfig, args.context, bool(args.in_cluster))


def _kubeconfig_exists() -> bool:
    paths = os.environ.get("KUBECONFIG", "")
    if paths:
        return any(Path(p).is_file() for p in paths.split(os.pathsep) if p)
    return (Path.home() / ".kube" / "config").is_file()


def read_input(
    args: argparse.Namespace, progress: Progress | None = None, keep_raws: bool = False
) -> Loaded:
    """The objects a one-shot command analyses; writes the snapshot when asked."""
    target = live_target(args)
    if target is None:
        check_inputs(args.manifests)
        return from_manifests(args.manifests, progress, keep_raws=keep_raws)

    def announce(description: str) -> None:
        print(f"netfence: reading the live cluster of {description}", file=sys.stderr)

    try:
        loaded = from_cluster(
            target, keep_raws=keep_raws or bool(args.snapshot_out), announce=announce
        )
    except InputUnavailable as exc:
        raise UsageError(f"cannot read the cluster: {exc}") from None
    if args.snapshot_out:
        written = write_snapshot(args.snapshot_out, loaded)
        print(
            f"netfence: wrote {written} objects to {args.snapshot_out} "
            f"(re-analyse with --manifests {args.snapshot_out})",
            file=sys.stderr,
        )
        if not keep_raws:
            loaded.raws = []
    return loaded
