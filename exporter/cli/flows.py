"""`netfence flows`: Hubble policy verdicts from recorded flows (`replay`) or from
Relay (`watch`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.options import add_hubble_flags
from exporter.cli.output import EXIT_OK, EXIT_USAGE, dump_json, table
from exporter.core.flows import DEFAULT_TOP_N


def _hubble_target(args: argparse.Namespace) -> object:
    """The Relay target of the --hubble.* flags, checked as `serve` checks them; raises
    UsageError listing every problem."""
    from exporter.config import hubble_from_flags, hubble_problems
    from exporter.serve.flows import hubble_target

    config = hubble_from_flags(vars(args))
    problems = hubble_problems(config) if config is not None else ["--hubble.address is required"]
    if config is None or problems:
        raise usecases.UsageError("; ".join(problems))
    return hubble_target(config)


def add_parser(sub: Subparsers) -> None:
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
            default=DEFAULT_TOP_N,
            metavar="N",
            help="workloads and policies per namespace with their own label "
            f"(default {DEFAULT_TOP_N})",
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


def run(args: argparse.Namespace, out: TextIO) -> int:
    import time

    from exporter.core.flows import Aggregator, FlowsConfig, FlowSnapshot, ResumeWindow
    from exporter.sources import hubble

    agg = Aggregator(FlowsConfig(args.cluster_name, top_n=args.top_n))
    code = EXIT_OK
    if args.flows_command == "replay":
        missing = [str(f) for f in args.files if str(f) != "-" and not f.is_file()]
        if missing:
            raise usecases.UsageError(f"no such file: {', '.join(missing)}")
        result = hubble.replay(args.files, hubble.FlowHandler(agg))
        if result.bad_lines:
            # One summary, however many lines are bad (a corrupt capture has millions).
            print(f"netfence: replayed {result.summary()}", file=sys.stderr)
        code = EXIT_USAGE if result.bad_lines else EXIT_OK
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
        if stream.connects == 0:
            # Never reached Relay: an empty table with exit 0 would read as "no flows".
            why = stream.last_error or "no connection within --duration"
            print(f"netfence: could not stream from Hubble Relay {target.address}: {why}",
                  file=sys.stderr)  # fmt: skip
            code = EXIT_USAGE  # the input (Relay) could not be read: as an unreadable file
    snap: FlowSnapshot = agg.snapshot(time.time())
    if args.output == "json":
        dump_json(snap.to_json(), out, inline_below=1)
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
        table(rows, out, "  ")
    if snap.lost_events:
        lost = ", ".join(f"{k}={v}" for k, v in sorted(snap.lost_events.items()))
        out.write(f"\nLOST EVENTS (counts are a lower bound): {lost}\n")


def _watches(args: argparse.Namespace) -> bool:
    return bool(args.flows_command == "watch")


COMMAND = Command("flows", add_parser, run, long_running=_watches)
