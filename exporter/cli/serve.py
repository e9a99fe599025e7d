"""`netfence serve`: the long-running service (exporter.serve), configured by flags and
an optional config file (exporter.config)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from exporter.cli.commands import Command, Subparsers
from exporter.cli.options import add_hubble_flags
from exporter.cli.output import EXIT_OK, EXIT_USAGE


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "serve",
        help="scan clusters on a schedule, serve Prometheus metrics, keep a history",
        description="The long-running service: scans one or many clusters on a schedule, "
        "serves /metrics, /healthz and /readyz, and records every scan in the store. One "
        "cluster needs no config file; many clusters go in --config.file (every flag has a "
        "key there; a flag given here wins). In a pod with no cluster configured, the pod's "
        "service account is used (in-cluster config).",
    )
    flag = p.add_argument
    flag("--config.file", dest="config_file", metavar="FILE", help="netfence.yaml")
    flag(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    flag("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    flag(
        "--in-cluster",
        dest="in_cluster",
        action="store_true",
        default=None,
        help="use the pod's service account",
    )
    flag(
        "--manifests",
        action="append",
        metavar="PATH",
        help="serve a directory of manifests as a cluster (demo, tests); repeatable",
    )
    flag(
        "--cluster-name",
        dest="cluster_name",
        metavar="NAME",
        help="the cluster label (default: the context, the directory name, or 'default')",
    )
    flag(
        "--web.listen-address",
        dest="web_listen_address",
        metavar="HOST:PORT",
        help="where to serve /metrics (default :9873)",
    )
    flag(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="TLS and basic auth, in the Prometheus exporter-toolkit web config format",
    )
    flag(
        "--store",
        metavar="URL",
        help="sqlite:///PATH (default sqlite:///netfence.db) or postgresql://USER@HOST/DB",
    )
    flag(
        "--store.retention",
        dest="store_retention",
        metavar="DURATION",
        help="keep scans this long (default 400d)",
    )
    flag("--scan.interval", dest="scan_interval", metavar="DURATION", help="default 5m")
    flag("--scan.jitter", dest="scan_jitter", metavar="DURATION", help="default 30s")
    flag(
        "--scan.timeout",
        dest="scan_timeout",
        metavar="DURATION",
        help="per API request (default 60s)",
    )
    flag("--scan.page-size", dest="scan_page_size", metavar="N", help="list page size (500)")
    flag(
        "--scan.retries",
        dest="scan_retries",
        metavar="N",
        help="retries on timeouts and 5xx, with backoff (default 4)",
    )
    flag(
        "--ready.grace",
        dest="ready_grace",
        metavar="DURATION",
        help="/readyz turns ready after this even if a first scan is missing (default 15m)",
    )
    flag("--log.level", dest="log_level", metavar="LEVEL", help="debug, info, warning, error")
    flag(
        "--metrics.exposure-info-limit",
        dest="metrics_exposure_info_limit",
        metavar="N",
        help="netfence_exposure_info series per cluster (default 10000)",
    )
    flag(
        "--network-plugin",
        dest="network_plugin",
        choices=("auto", "cilium", "calico", "generic"),
        help="which policy APIs the cluster enforces (default auto: from the installed CRDs "
        "of a live cluster, from the policy kinds present in manifests)",
    )
    flag(
        "--intent",
        dest="intent",
        metavar="FILE",
        help="intent file: teams, guardrails with exceptions, intended exposures, baseline "
        "(docs/intent.md); the same for every cluster",
    )
    hubble = p.add_argument_group(
        "Hubble flows", "policy verdicts counted from Hubble Relay (docs/hubble.md)"
    )
    add_hubble_flags(hubble)
    flag = hubble.add_argument
    flag(
        "--hubble.node-name",
        dest="hubble_node_name",
        action="append",
        metavar="PATTERN",
        help="count only these nodes' flows (one shard of a large cluster); repeatable",
    )
    flag(
        "--hubble.replay",
        dest="hubble_replay",
        action="append",
        metavar="FILE",
        help="recorded flows (hubble observe -o jsonpb) counted at start; repeatable",
    )
    flag("--flows.shard", dest="flows_shard", metavar="NAME", help="shard label (default 0)")
    flag(
        "--flows.top-n",
        dest="flows_top_n",
        metavar="N",
        help="workloads and policies per namespace with their own label (default 20)",
    )
    flag(
        "--flows.max-namespaces",
        dest="flows_max_namespaces",
        metavar="N",
        help="enforcing namespaces with their own label; the rest is _other (default 2000)",
    )
    flag(
        "--flows.matrix-top-n",
        dest="flows_matrix_top_n",
        metavar="N",
        help="namespace pairs with both names in the flow matrix (default 500)",
    )
    flag(
        "--flows.policy-unused-window",
        dest="flows_policy_unused_window",
        metavar="DURATION",
        help="a policy Hubble saw allow nothing for this long is unused (default 90d)",
    )
    flag(
        "--flows.unused-window",
        dest="flows_unused_window",
        metavar="DURATION",
        help="an exposure no flow used for this long is unused (default 30d)",
    )
    flag(
        "--flows.flush-interval",
        dest="flows_flush_interval",
        metavar="DURATION",
        help="how often hourly roll-ups go to the store (default 1m)",
    )
    flag(
        "--flows.namespace-ttl",
        dest="flows_namespace_ttl",
        metavar="DURATION",
        help="series of a namespace without flows for this long are dropped (default 24h)",
    )
    flag(
        "--reports.dir",
        dest="reports_dir",
        metavar="DIR",
        help="write the previous quarter's compliance report here on a schedule and list "
        "them at /reports (default: no scheduled reports; docs/reports.md)",
    )
    flag(
        "--reports.schedule",
        dest="reports_schedule",
        metavar="CRON",
        help="when, as a crontab expression in UTC (default '0 6 1 1,4,7,10 *': 06:00 on "
        "the first day of each quarter)",
    )
    flag(
        "--reports.controls",
        dest="reports_controls",
        metavar="PATH",
        help="control mapping file or directory applied over the shipped ones",
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    import logging
    import signal
    import threading

    from exporter import config as cfg
    from exporter.serve.server import Server
    from exporter.sources.kubernetes import in_cluster_available
    from exporter.store import StoreError

    try:
        conf = cfg.load_config(vars(args), in_cluster_available)
    except cfg.ConfigError as exc:
        for problem in exc.problems:
            print(f"netfence: config: {problem}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=conf.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if conf.log_level != "debug":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        server = Server(conf)
    except (StoreError, OSError) as exc:
        print(f"netfence: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    names = ", ".join(c.name for c in conf.clusters)
    print(f"netfence serving {names} on {server.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    while not stop.wait(3600):
        pass
    print("netfence: stopping (waiting for running scans)", file=sys.stderr, flush=True)
    server.stop()
    return EXIT_OK


def _always(args: argparse.Namespace) -> bool:
    return True


COMMAND = Command("serve", add_parser, run, long_running=_always)
