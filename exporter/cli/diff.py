"""`netfence diff --base PATH|GITREF --head PATH`: what a change does to network policy
(docs/diff-output.md). Exit 0 clean, 1 when the head loses default-deny, gains an
exposure, or brings a finding at or above --fail-on, 2 on usage or head input errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from exporter import __version__, diffing
from exporter.cli.commands import Command, Subparsers
from exporter.cli.options import exposure_config, plugin_option
from exporter.cli.output import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from exporter.core.diff import severity_of
from exporter.core.findings import Severity
from exporter.output import diff_text, sarif


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "diff",
        help="what a change does: default-deny, exposures, connections, findings",
        description="Compare two versions of a cluster's manifests: default-deny gained or "
        "lost per namespace and direction, exposures and allowed connections added or "
        "removed, findings new or resolved, policies changed without effect. --base is a "
        "path, or a git revision of the repository in the current directory (read with "
        "git, the work tree is not touched).",
    )
    p.add_argument("--base", required=True, metavar="PATH|GITREF", help="the version before")
    p.add_argument("--head", required=True, type=Path, metavar="PATH", help="the version after")
    p.add_argument(
        "--manifests-subdir",
        metavar="DIR",
        help="with a git --base: the directory of the repository holding the manifests "
        "(default: where --head is in the repository, else the whole tree)",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "markdown", "sarif"),
        default="table",
        help="markdown: a pull-request comment (summary first, details folded)",
    )
    p.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity] + ["never"],
        default="high",
        help="exit 1 when the head loses default-deny, gains an exposure, or brings a "
        "finding of this severity or higher (default: high; never: always exit 0)",
    )
    p.add_argument(
        "--ingress-controller",
        action="append",
        metavar="[NS:]K=V,...",
        help="pods that are ingress controllers or gateways (as for scan)",
    )
    plugin_option(p)


def run(args: argparse.Namespace, out: TextIO) -> int:
    result = diffing.run(
        args.base,
        args.head,
        args.manifests_subdir,
        exposure_config=exposure_config(args),
        network_plugin=args.network_plugin,
        keep_locations=args.output == "sarif",
    )
    d = result.diff
    failures = d.failures(severity_of(args.fail_on))
    notes = [f"base: {result.base_source}", f"head: {result.head_source}"]
    if result.base.errors:
        notes.append(
            f"warning: the base had {len(result.base.errors)} input error(s); what failed "
            "to load is missing from the base side"
        )
    if args.output == "json":
        data = d.to_json()
        data["base"], data["head"] = result.base_source, result.head_source
        data["failures"] = failures
        data["errors"] = {
            "base": [e.to_json() for e in result.base.errors],
            "head": [e.to_json() for e in result.head.errors],
        }
        out.write(json.dumps(data, indent=1) + "\n")
    elif args.output == "markdown":
        diff_text.markdown(d, out, failures, notes[2:])
    elif args.output == "sarif":
        locations = sarif.Locations(result.head_raws)
        log = sarif.diff_log(d, locations, __version__, Path.cwd())
        out.write(json.dumps(log, indent=1) + "\n")
    else:
        diff_text.table(d, out, notes)
        for f in failures:
            out.write(f"FAIL: {f}\n")
    for err in result.head.errors:
        print(f"error: {err}", file=sys.stderr)
    if result.head.errors:
        print(
            f"netfence: {len(result.head.errors)} input error(s) in the head; the rest was "
            "compared",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_FINDINGS if failures else EXIT_OK


COMMAND = Command("diff", add_parser, run, exit_fast=True)
