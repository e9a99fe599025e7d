"""`netfence connectivity`: every allowed connection between workloads and external
address ranges."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.inputs import read_input
from exporter.cli.options import exposure_config, manifest_options, plugin_option, progress
from exporter.cli.output import report_errors
from exporter.core.connectivity import EndpointFilter, JsonEntries


def add_parser(sub: Subparsers) -> None:
    conn = sub.add_parser(
        "connectivity",
        help="every allowed connection between workloads and external address ranges",
        description="Every allowed connection between workloads and external address ranges.",
    )
    manifest_options(conn, ("table", "json"))
    plugin_option(conn)
    conn.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="only connections with either side in NS (repeatable)",
    )
    for flag, side in (("--from", "source"), ("--to", "destination")):
        conn.add_argument(
            flag,
            dest=flag[2:] + "_",
            action="append",
            default=[],
            metavar="WHO",
            help=f"only connections whose {side} is WHO: a namespace, a workload ns/name, "
            "or an address, CIDR or range (repeatable)",
        )


def run(args: argparse.Namespace, out: TextIO) -> int:
    blocks, errors = usecases.connection_blocks(
        read_input(args, progress(args)),
        None,
        exposure_config=exposure_config(args),
        network_plugin=args.network_plugin,
        keep=_filter(args),
        analysis_progress=_analysis_progress(args),
    )
    # Streamed a source namespace at a time: the whole list of a large cluster is
    # hundreds of MB, never held at once. The JSON is what dump_json would write.
    if args.output == "json":
        entry = JsonEntries()
        first = True
        for block in blocks:
            if block:
                out.write(("[\n  " if first else ",\n  ") + ",\n  ".join(map(entry, block)))
                first = False
        out.write("[]\n" if first else "\n]\n")
    else:
        for block in blocks:
            out.write("".join(f"{c.src} => {c.dst} : {c.conns}\n" for c in block))
    return report_errors(errors)


def _analysis_progress(args: argparse.Namespace) -> usecases.Progress | None:
    """A namespace counter on an interactive stderr; never in JSON or piped output."""
    if args.output == "json" or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\rconnectivity: {done}/{total} source namespaces", end=end, file=sys.stderr,
              flush=True)  # fmt: skip

    return show


def _filter(args: argparse.Namespace) -> EndpointFilter | None:
    if not (args.namespace or args.from_ or args.to_):
        return None
    return EndpointFilter(tuple(args.from_), tuple(args.to_), tuple(args.namespace))


COMMAND = Command("connectivity", add_parser, run, exit_fast=True)
