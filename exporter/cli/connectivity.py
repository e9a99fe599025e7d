"""`netfence connectivity`: every allowed connection between workloads and external
address ranges."""

from __future__ import annotations

import argparse
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.options import exposure_config, manifest_options, plugin_option, progress
from exporter.cli.output import dump_json, report_errors


def add_parser(sub: Subparsers) -> None:
    conn = sub.add_parser(
        "connectivity",
        help="every allowed connection between workloads and external address ranges",
        description="Every allowed connection between workloads and external address ranges.",
    )
    manifest_options(conn, ("table", "json"))
    plugin_option(conn)


def run(args: argparse.Namespace, out: TextIO) -> int:
    conns, errors = usecases.connections(
        args.manifests,
        progress(args),
        exposure_config=exposure_config(args),
        network_plugin=args.network_plugin,
    )
    if args.output == "json":
        dump_json([c.to_json() for c in conns], out, inline_below=1)
    else:
        for c in conns:
            out.write(f"{c.src} => {c.dst} : {c.conns}\n")
    return report_errors(errors)


COMMAND = Command("connectivity", add_parser, run, exit_fast=True)
