"""`netfence connectivity`: every allowed connection between workloads and external
address ranges."""

from __future__ import annotations

import argparse
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.options import exposure_config, manifest_options, plugin_option, progress
from exporter.cli.output import dump_json, report_errors
from exporter.core.connectivity import EndpointFilter


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
    conns, errors = usecases.connections(
        args.manifests,
        progress(args),
        exposure_config=exposure_config(args),
        network_plugin=args.network_plugin,
        keep=_filter(args),
    )
    if args.output == "json":
        dump_json([c.to_json() for c in conns], out, inline_below=1)
    else:
        for c in conns:
            out.write(f"{c.src} => {c.dst} : {c.conns}\n")
    return report_errors(errors)


def _filter(args: argparse.Namespace) -> EndpointFilter | None:
    if not (args.namespace or args.from_ or args.to_):
        return None
    return EndpointFilter(tuple(args.from_), tuple(args.to_), tuple(args.namespace))


COMMAND = Command("connectivity", add_parser, run, exit_fast=True)
