"""`netfence explain`: the verdict for one connection and the policies and rules behind
it; one side alone: what isolates it; --service with --exposure: why it is exposed."""

from __future__ import annotations

import argparse
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.inputs import read_input
from exporter.cli.options import exposure_config, manifest_options, plugin_option
from exporter.cli.output import dump_json, report_errors
from exporter.core.model import Direction


def add_parser(sub: Subparsers) -> None:
    exp = sub.add_parser(
        "explain",
        help="why a connection is allowed or denied",
        description="The verdict for one connection and the policies and rules behind it.",
    )
    manifest_options(exp, ("table", "json"))
    plugin_option(exp)
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


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.service or args.exposure:
        if not (args.service and args.exposure) or args.src or args.dst:
            raise usecases.UsageError("--service goes with --exposure (and not --from/--to)")
        return _explain_exposure(args, out)
    if bool(args.src) != bool(args.dst):  # one side: what isolates it there
        if args.port:
            raise usecases.UsageError("--port needs both --from and --to")
        direction = Direction.INGRESS if args.dst else Direction.EGRESS
        isolations, errors = usecases.explain_isolation(
            read_input(args), args.dst or args.src, direction, network_plugin=args.network_plugin
        )
        if args.output == "json":
            dump_json([i.to_json() for i in isolations], out, inline_below=2)
        else:
            for i in isolations:
                out.write("\n".join(i.lines()) + "\n")
        return report_errors(errors)
    if not (args.src and args.dst):
        raise usecases.UsageError(
            "explain needs --from and/or --to (one alone: what isolates it), "
            "or --service and --exposure"
        )
    results, errors = usecases.explain_connection(
        read_input(args), args.src, args.dst, args.port, network_plugin=args.network_plugin
    )
    if args.output == "json":
        dump_json([r.to_json() for r in results], out, inline_below=3)
    else:
        for r in results:
            out.write("\n".join(r.lines()) + "\n")
    return report_errors(errors)


def _explain_exposure(args: argparse.Namespace, out: TextIO) -> int:
    found, errors = usecases.explain_exposure(
        read_input(args), args.service, args.exposure, exposure_config(args)
    )
    if args.output == "json":
        dump_json([{**e.to_json(), "reasons": list(e.reasons)} for e in found], out, inline_below=3)
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
    return report_errors(errors)


COMMAND = Command("explain", add_parser, run, exit_fast=True)
