"""`netfence` command line. Exit codes: 0 clean, 1 findings at or above --fail-on,
2 usage or input error (bad flags, unreadable or invalid objects)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from exporter import __version__, service
from exporter.core.findings import InputError, Severity
from exporter.core.gc_pause import paused_gc
from exporter.core.model import Direction

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _plugin_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--network-plugin",
        choices=("cilium", "calico", "generic"),
        default=None,
        help="which policy APIs the cluster enforces (default: detected from the policy "
        "kinds present: Cilium kinds -> cilium, Calico kinds -> calico, else generic)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netfence",
        description="The truth about Kubernetes network policy: default-deny coverage, "
        "reachability and why.",
    )
    parser.add_argument("--version", action="version", version=f"netfence {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, outputs: Sequence[str]) -> None:
        p.add_argument(
            "--manifests",
            action="append",
            type=Path,
            required=True,
            metavar="PATH",
            help="file or directory of YAML/JSON manifests (repeatable; directories are "
            "read recursively)",
        )
        p.add_argument("-o", "--output", choices=outputs, default=outputs[0], help="output format")
        p.add_argument(
            "--ingress-controller",
            action="append",
            metavar="[NS:]K=V,...",
            help="pods that are ingress controllers or gateways (repeatable; replaces the "
            "defaults for common controllers), e.g. ingress-nginx:app=ingress-nginx",
        )

    scan = sub.add_parser(
        "scan",
        help="default-deny coverage per namespace, findings and input errors",
        description="Coverage per namespace and direction, findings, input errors.",
    )
    common(scan, ("table", "json"))
    _plugin_option(scan)
    scan.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity] + ["never"],
        default="high",
        help="exit 1 when a finding has this severity or higher (default: high)",
    )
    scan.add_argument(
        "--no-exposure",
        action="store_true",
        help="coverage and policy findings only: skip the exposure analysis",
    )
    conn = sub.add_parser(
        "connectivity",
        help="every allowed connection between workloads and external address ranges",
        description="Every allowed connection between workloads and external address ranges.",
    )
    common(conn, ("table", "json"))
    _plugin_option(conn)
    exp = sub.add_parser(
        "explain",
        help="why a connection is allowed or denied",
        description="The verdict for one connection and the policies and rules behind it.",
    )
    common(exp, ("table", "json"))
    _plugin_option(exp)
    exp.add_argument(
        "--from",
        dest="src",
        metavar="X",
        help="source: ns/name, ns/name[Kind], or an IP address/CIDR; alone: the policies "
        "that isolate its egress",
    )
    exp.add_argument(
        "--to",
        dest="dst",
        metavar="Y",
        help="destination: ns/name, ns/name[Kind], or an IP address/CIDR; alone: the "
        "policies that isolate its ingress (what a Hubble POLICY_DENIED drop there means)",
    )
    exp.add_argument("--port", metavar="P/PROTO", help="e.g. 8080/TCP (default: all ports)")
    exp.add_argument(
        "--service",
        metavar="NS/NAME",
        help="explain an exposure of this Service (or workload) instead",
    )
    exp.add_argument(
        "--exposure",
        metavar="CATEGORY",
        help="with --service: other_namespaces, all_namespaces, ingress, gateway or internet",
    )
    _serve_parser(sub)
    _flows_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    # The one-shot commands build one large object graph, write it out and exit: the
    # cyclic garbage collector would only walk it again and again (on the 100,000-pod
    # benchmark, 1.8 s of turning the report into JSON), so it is paused meanwhile.
    # `flows watch` runs for a while and keeps it.
    long_running = args.command == "flows" and args.flows_command == "watch"
    try:
        with contextlib.nullcontext() if long_running else paused_gc():
            if args.command == "scan":
                return _scan(args, out)
            if args.command == "connectivity":
                return _connectivity(args, out)
            if args.command == "flows":
                return _flows(args, out)
            return _explain(args, out)
    except service.UsageError as exc:
        print(f"netfence: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _dump_json(value: object, out: TextIO, depth: int = 0, inline_below: int = 2) -> None:
    """Indented down to `inline_below` levels, one compact object per line beneath.

    Readable and grep-friendly (one namespace, finding or connection per line), and
    fast: the C encoder does each line, where `indent=` would force the slow Python one.
    """
    pad = "  " * (depth + 1)
    if depth >= inline_below or not isinstance(value, dict | list) or not value:
        out.write(json.dumps(value))
    elif isinstance(value, dict):
        out.write("{\n")
        for i, (key, item) in enumerate(value.items()):
            out.write(f"{pad}{json.dumps(key)}: ")
            _dump_json(item, out, depth + 1, inline_below)
            out.write(",\n" if i < len(value) - 1 else "\n")
        out.write("  " * depth + "}")
    else:
        out.write("[\n")
        for i, item in enumerate(value):
            out.write(pad)
            _dump_json(item, out, depth + 1, inline_below)
            out.write(",\n" if i < len(value) - 1 else "\n")
        out.write("  " * depth + "]")
    if depth == 0:
        out.write("\n")


def _report_errors(errors: list[InputError]) -> int:
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if errors:
        print(f"netfence: {len(errors)} input error(s); the rest was analysed", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _progress(args: argparse.Namespace) -> service.Progress | None:
    """A one-line file counter on an interactive stderr; never in JSON or piped output."""
    if args.output == "json" or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rreading manifests: {done}/{total} files", end=end, file=sys.stderr, flush=True)

    return show


def _exposure_config(args: argparse.Namespace) -> service.ExposureConfig | None:
    if not args.ingress_controller:
        return None
    try:
        specs = tuple(service.parse_controller(t) for t in args.ingress_controller)
    except ValueError as exc:
        raise service.UsageError(str(exc)) from None
    return service.ExposureConfig(controllers=specs)


def _scan(args: argparse.Namespace, out: TextIO) -> int:
    report = service.scan(
        args.manifests,
        _progress(args),
        exposure_config=_exposure_config(args),
        network_plugin=args.network_plugin,
        exposure=not args.no_exposure,
    )
    if args.output == "json":
        _dump_json(report.to_json(), out)
    else:
        _scan_table(report, out)
    code = _report_errors(report.errors)
    if code:
        return code
    if args.fail_on != "never":
        threshold = Severity(args.fail_on).rank
        if any(f.severity.rank >= threshold for f in report.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _scan_table(report: service.ScanReport, out: TextIO) -> None:
    rows = [
        ("NAMESPACE", "PODS", "INGRESS DEFAULT-DENY", "ISOLATED", "EGRESS DEFAULT-DENY", "ISOLATED")
    ]
    for ns in report.namespaces:
        rows.append(
            (
                ns.name,
                str(ns.pods),
                _yes(ns.ingress.default_deny),
                f"{ns.ingress.isolated_pods}/{ns.pods}",
                _yes(ns.egress.default_deny),
                f"{ns.egress.isolated_pods}/{ns.pods}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    summary = report.to_json()["summary"]
    assert isinstance(summary, dict)
    dd = summary["default_deny_namespaces"]
    out.write(
        f"\n{summary['namespaces']} namespaces, {summary['pods']} pods, {summary['policies']} "
        f"policies; default-deny ingress in {dd['ingress']}, egress in {dd['egress']}\n"
    )
    if report.exposure_analysed:
        _exposure_table(report, out)
    if report.findings:
        out.write(f"\nFINDINGS ({len(report.findings)})\n")
        for f in report.findings:
            out.write(f"  [{f.severity}] {f.check} {f.namespace}: {f.message}\n")


def _table(rows: list[tuple[str, ...]], out: TextIO, indent: str = "") -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        out.write(indent + line + "\n")


def _exposure_table(report: service.ScanReport, out: TextIO) -> None:
    categories = [str(c) for c in service.Category]
    rows = [("NAMESPACE", *(c.upper() for c in categories), "INTERNET-EGRESS")]
    for ns in report.namespaces:
        counts = report.exposure.get(ns.name, {})
        egress = report.internet_egress_workloads.get(ns.name, 0)
        if any(counts.values()) or egress:
            rows.append((ns.name, *(str(counts.get(c, 0)) for c in categories), str(egress)))
    out.write("\nEXPOSURE (permitted exposures per namespace; workloads reaching the internet)\n")
    _table(rows, out)
    exposed = [e for e in report.exposures if e.permitted and e.kind == "Service"]
    if exposed:
        out.write(f"\nEXPOSED SERVICES ({len(exposed)})\n")
        for e in exposed:
            opened = ", ".join(e.objects)
            out.write(f"  {e.namespace}/{e.name} {e.category} on {e.ports}: {opened}\n")


def _connectivity(args: argparse.Namespace, out: TextIO) -> int:
    conns, errors = service.connections(
        args.manifests,
        _progress(args),
        exposure_config=_exposure_config(args),
        network_plugin=args.network_plugin,
    )
    if args.output == "json":
        _dump_json([c.to_json() for c in conns], out, inline_below=1)
    else:
        for c in conns:
            out.write(f"{c.src} => {c.dst} : {c.conns}\n")
    return _report_errors(errors)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    if args.service or args.exposure:
        if not (args.service and args.exposure) or args.src or args.dst:
            raise service.UsageError("--service goes with --exposure (and not --from/--to)")
        return _explain_exposure(args, out)
    if bool(args.src) != bool(args.dst):  # one side: what isolates it there
        if args.port:
            raise service.UsageError("--port needs both --from and --to")
        direction = Direction.INGRESS if args.dst else Direction.EGRESS
        isolations, errors = service.explain_isolation(
            args.manifests, args.dst or args.src, direction, network_plugin=args.network_plugin
        )
        if args.output == "json":
            _dump_json([i.to_json() for i in isolations], out, inline_below=2)
        else:
            for i in isolations:
                out.write("\n".join(i.lines()) + "\n")
        return _report_errors(errors)
    if not (args.src and args.dst):
        raise service.UsageError(
            "explain needs --from and/or --to (one alone: what isolates it), "
            "or --service and --exposure"
        )
    results, errors = service.explain_connection(
        args.manifests, args.src, args.dst, args.port, network_plugin=args.network_plugin
    )
    if args.output == "json":
        _dump_json([r.to_json() for r in results], out, inline_below=3)
    else:
        for r in results:
            out.write("\n".join(r.lines()) + "\n")
    return _report_errors(errors)


def _explain_exposure(args: argparse.Namespace, out: TextIO) -> int:
    found, errors = service.explain_exposure(
        args.manifests, args.service, args.exposure, _exposure_config(args)
    )
    if args.output == "json":
        _dump_json(
            [{**e.to_json(), "reasons": list(e.reasons)} for e in found], out, inline_below=3
        )
    elif not found:
        out.write(f"{args.service}: not exposed ({args.exposure})\n")
    else:
        for e in found:
            state = "PERMITTED" if e.permitted else "declared, NOT permitted"
            out.write(f"{e.namespace}/{e.name} [{e.kind}] {e.category}: {state} on {e.ports}\n")
            out.write(f"  workloads: {', '.join(e.workloads) or 'none'}\n")
            for obj in e.objects:
                out.write(f"  via {obj}\n")
            for reason in e.reasons:
                out.write(f"    {reason}\n")
    return _report_errors(errors)


_ONE_SHOT = frozenset({"scan", "connectivity", "explain"})


def run() -> None:
    """Console-script entry. One-shot commands end without tearing the heap down
    object by object (half a second after a 100k-pod scan): output is flushed, and
    nothing else is pending when they return."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in _ONE_SHOT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


# -- serve ------------------------------------------------------------------------------


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _serve(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from exporter import config as cfg
    from exporter import serving
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
        server = serving.Server(conf)
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


# -- flows (Hubble) -------------------------------------------------------------------


def add_hubble_flags(p: argparse._ActionsContainer, required: bool = False) -> None:
    """`--hubble.address` and `--hubble.tls.*` for one cluster (`serve`, `flows watch`;
    several clusters set `hubble:` in the config file)."""
    flag = p.add_argument
    flag(
        "--hubble.address",
        dest="hubble_address",
        metavar="HOST:PORT",
        required=required,
        help="Hubble Relay (plaintext by default, as Relay serves; tls:// or any "
        "--hubble.tls.* flag turns TLS on), e.g. hubble-relay.kube-system:4245",
    )
    flag("--hubble.tls", dest="hubble_tls", action="store_true", help="use TLS")
    flag("--hubble.tls.ca-file", dest="hubble_tls_ca_file", metavar="FILE", help="CA bundle")
    flag(
        "--hubble.tls.cert-file",
        dest="hubble_tls_cert_file",
        metavar="FILE",
        help="client certificate (mTLS)",
    )
    flag("--hubble.tls.key-file", dest="hubble_tls_key_file", metavar="FILE", help="its key")
    flag(
        "--hubble.tls.server-name",
        dest="hubble_tls_server_name",
        metavar="NAME",
        help="name to verify in Relay's certificate (e.g. ui.hubble-relay.cilium.io)",
    )


def _hubble_target(args: argparse.Namespace) -> object:
    """The Relay target of the --hubble.* flags, checked as `serve` checks them; raises
    UsageError listing every problem."""
    from exporter.config import hubble_from_flags, hubble_problems
    from exporter.flow_service import hubble_target

    config = hubble_from_flags(vars(args))
    problems = hubble_problems(config) if config is not None else ["--hubble.address is required"]
    if config is None or problems:
        raise service.UsageError("; ".join(problems))
    return hubble_target(config)


def _flows_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "flows",
        help="Hubble policy verdicts: replay recorded flows or watch Relay",
        description="Aggregate Hubble flows into policy-verdict counts (docs/hubble.md).",
    )
    fsub = p.add_subparsers(dest="flows_command", required=True, metavar="SUBCOMMAND")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("-o", "--output", choices=("table", "json"), default="table")
        q.add_argument("--cluster-name", dest="cluster_name", default="default", metavar="NAME")
        q.add_argument(
            "--top-n",
            dest="top_n",
            type=int,
            default=20,
            metavar="N",
            help="workloads and policies per namespace with their own label (default 20)",
        )

    replay = fsub.add_parser(
        "replay",
        help="aggregate `hubble observe -o jsonpb` output or Hubble exporter files",
        description="Aggregate recorded flows: `hubble observe -o jsonpb` output (one "
        "GetFlowsResponse per line), Hubble exporter files (ExportEvent) or legacy bare "
        "flows. `-` reads standard input. Exit 2 if a line cannot be parsed (the rest is "
        "counted).",
    )
    replay.add_argument("files", nargs="+", type=Path, metavar="FILE")
    common(replay)
    watch = fsub.add_parser(
        "watch",
        help="stream from Hubble Relay for a while and print the counts",
        description="Follow Relay's GetFlows stream (policy verdicts, drops, L7) and print "
        "the aggregate when --duration is over or on Ctrl-C.",
    )
    add_hubble_flags(watch, required=True)
    watch.add_argument("--duration", type=float, default=60.0, metavar="SECONDS", help="default 60")
    common(watch)


def _flows(args: argparse.Namespace, out: TextIO) -> int:
    import time

    from exporter.core.flows import Aggregator, FlowsConfig, FlowSnapshot, ResumeWindow
    from exporter.sources import hubble

    agg = Aggregator(FlowsConfig(args.cluster_name, top_n=args.top_n))
    code = EXIT_OK
    if args.flows_command == "replay":
        missing = [str(f) for f in args.files if str(f) != "-" and not f.is_file()]
        if missing:
            raise service.UsageError(f"no such file: {', '.join(missing)}")
        result = hubble.replay(args.files, hubble.FlowHandler(agg))
        for err in result.errors:
            print(f"error: {err}", file=sys.stderr)
        code = EXIT_USAGE if result.errors else EXIT_OK
    else:
        import signal
        import threading

        target = _hubble_target(args)
        assert isinstance(target, hubble.HubbleTarget)
        stream = hubble.RelayStream(target, hubble.FlowHandler(agg, ResumeWindow()))
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        previous = signal.signal(signal.SIGINT, lambda *_: stream.stop())
        try:
            thread.join(args.duration)
        finally:
            stream.stop()
            thread.join(10)
            signal.signal(signal.SIGINT, previous)
    snap: FlowSnapshot = agg.snapshot(time.time())
    if args.output == "json":
        _dump_json(snap.to_json(), out, inline_below=1)
    else:
        _flows_table(snap, out)
    return code


def _flows_table(snap: object, out: TextIO) -> None:
    from exporter.core.flows import FlowSnapshot

    assert isinstance(snap, FlowSnapshot)
    out.write(f"{snap.flows} flows counted, {snap.ignored} events not counted\n")
    sections: list[tuple[str, tuple[str, ...], dict[tuple[str, ...], int]]] = [
        ("POLICY VERDICTS (connections)", ("NAMESPACE", "DIRECTION", "VERDICT"),
         dict(snap.policy_verdicts)),
        ("DENIED CONNECTIONS", ("NAMESPACE", "DIRECTION", "REASON", "POLICY"), dict(snap.denied)),
        ("DROPPED PACKETS", ("NAMESPACE", "WORKLOAD", "DIRECTION", "REASON"),
         dict(snap.dropped_packets)),
        ("L7 REQUESTS", ("NAMESPACE", "WORKLOAD", "DIRECTION", "VERDICT", "PROTOCOL"),
         dict(snap.l7)),
        ("NAMESPACE MATRIX", ("SOURCE", "DESTINATION", "ENFORCED", "VERDICT"),
         dict(snap.namespace_matrix)),
    ]  # fmt: skip
    for title, head, data in sections:
        if not data:
            continue
        out.write(f"\n{title}\n")
        rows = [(*head, "COUNT")]
        rows += [(*(k or "-" for k in key), str(n)) for key, n in sorted(data.items())]
        _table(rows, out, "  ")
    if snap.lost_events:
        lost = ", ".join(f"{k}={v}" for k, v in sorted(snap.lost_events.items()))
        out.write(f"\nLOST EVENTS (counts are a lower bound): {lost}\n")


if __name__ == "__main__":
    run()
