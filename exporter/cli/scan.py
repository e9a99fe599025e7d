"""`netfence scan`: default-deny coverage per namespace, exposure, findings, input errors."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TextIO

from exporter import usecases
from exporter.cli.commands import Command, Subparsers
from exporter.cli.inputs import read_input
from exporter.cli.options import exposure_config, manifest_options, plugin_option, progress
from exporter.cli.output import EXIT_FINDINGS, EXIT_OK, dump_json, report_errors, table
from exporter.core.findings import Severity
from exporter.output import ecosystem


def add_parser(sub: Subparsers) -> None:
    scan = sub.add_parser(
        "scan",
        help="default-deny coverage per namespace, findings and input errors",
        description="Coverage per namespace and direction, findings, input errors. "
        "-o sarif: SARIF 2.1.0 for code scanning (docs/sarif.md); -o policyreport: "
        "wgpolicyk8s.io PolicyReports for policy-reporter (docs/policyreport.md).",
    )
    manifest_options(scan, ("table", "json", "sarif", "policyreport"))
    plugin_option(scan)
    scan.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity] + ["never"],
        default="high",
        help="exit 1 when a finding has this severity or higher (default: high)",
    )
    scan.add_argument(
        "--intent",
        type=Path,
        metavar="FILE",
        help="intent file (teams, guardrails, intended exposures, baseline): its "
        "violations and drift become findings (docs/intent.md)",
    )
    scan.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="show only these namespaces and their findings (repeatable; the whole cluster "
        "is still analysed, as policies in one namespace decide reachability in others)",
    )
    scan.add_argument(
        "--min-severity",
        choices=[s.value for s in Severity],
        default=None,
        help="show only findings of this severity or higher",
    )
    scan.add_argument(
        "--no-exposure",
        action="store_true",
        help="coverage and policy findings only: skip the exposure analysis",
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    intent = usecases.read_intent(args.intent) if args.intent else None
    loaded = read_input(args, progress(args), keep_raws=args.output == "sarif")
    report = usecases.scan(
        loaded,
        None,
        exposure_config=exposure_config(args),
        network_plugin=args.network_plugin,
        exposure=not args.no_exposure,
        intent=intent,
    )
    report = _shown(report, args.namespace, args.min_severity)
    if args.output == "json":
        dump_json(report.to_json(), out)
    elif args.output in ("sarif", "policyreport"):
        ecosystem.write_scan(args.output, report, loaded.raws, out)
    else:
        _scan_table(report, out)
    code = report_errors(report.errors)
    if code:
        return code
    if args.fail_on != "never":
        threshold = Severity(args.fail_on).rank
        if any(f.severity.rank >= threshold for f in report.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def _shown(
    report: usecases.ScanReport, namespaces: list[str], min_severity: str | None
) -> usecases.ScanReport:
    """The report as --namespace and --min-severity narrow it: namespaces, exposures and
    findings outside are left out (so are summary counts over them); --fail-on then
    judges what is shown. Unknown namespaces are an error, not an empty report."""
    if namespaces:
        known = {n.name for n in report.namespaces}
        missing = [n for n in namespaces if n not in known]
        if missing:
            raise usecases.UsageError(
                f"no such namespace: {', '.join(missing)} (the scan found "
                f"{len(known)}; e.g. {', '.join(sorted(known)[:5])})"
            )
        wanted = set(namespaces)
        report = dataclasses.replace(
            report,
            namespaces=[n for n in report.namespaces if n.name in wanted],
            findings=[f for f in report.findings if f.namespace in wanted],
            exposures=[e for e in report.exposures if e.namespace in wanted],
            internet_egress=[e for e in report.internet_egress if e.namespace in wanted],
            exposure={k: v for k, v in report.exposure.items() if k in wanted},
            internet_egress_workloads={
                k: v for k, v in report.internet_egress_workloads.items() if k in wanted
            },
        )
    if min_severity is not None:
        rank = Severity(min_severity).rank
        report = dataclasses.replace(
            report, findings=[f for f in report.findings if f.severity.rank >= rank]
        )
    return report


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _scan_table(report: usecases.ScanReport, out: TextIO) -> None:
    rows = [
        ("NAMESPACE", "PODS", "INGRESS DEFAULT-DENY", "ISOLATED", "EGRESS DEFAULT-DENY", "ISOLATED")
    ]
    known = report.verification
    for ns in report.namespaces:
        if not known.coverage_known(ns.name):  # never a yes/NO that was not verified
            rows.append((ns.name, str(ns.pods), UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN))
            continue
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
    if known.unverified:
        kinds = ", ".join(sorted({f"{g.kind} ({g.reason})" for g in known.unverified}))
        out.write(
            f"DEGRADED: {len(known.coverage)} namespaces' default-deny and "
            f"{len(known.exposure)} namespaces' exposure are unknown ({UNKNOWN}), "
            f"not verifiable because of {kinds}\n"
        )
    if report.exposure_analysed:
        _exposure_table(report, out)
    if report.intent is not None:
        out.write("".join(f"{line}\n" for line in report.intent.lines()))
    if report.findings:
        out.write(f"\nFINDINGS ({len(report.findings)})\n")
        for f in report.findings:
            out.write(f"  [{f.severity}] {f.check} {f.namespace}: {f.message}\n")


UNKNOWN = "?"
"""A table cell whose answer could not be verified (JSON: null)."""


def _exposure_table(report: usecases.ScanReport, out: TextIO) -> None:
    categories = [str(c) for c in usecases.Category]
    rows = [("NAMESPACE", *(c.upper() for c in categories), "INTERNET-EGRESS")]
    known = report.verification
    for ns in report.namespaces:
        if not known.exposure_known(ns.name):
            rows.append((ns.name, *(UNKNOWN for _ in categories), UNKNOWN))
            continue
        counts = report.exposure.get(ns.name, {})
        egress = report.internet_egress_workloads.get(ns.name, 0)
        if any(counts.values()) or egress:
            rows.append((ns.name, *(str(counts.get(c, 0)) for c in categories), str(egress)))
    out.write("\nEXPOSURE (permitted exposures per namespace; workloads reaching the internet)\n")
    table(rows, out)
    # Every permitted exposure the counts above include: Services, and the workloads
    # exposed without one (hostNetwork DaemonSets, hostPort pods, bare Pods, Jobs).
    exposed = [e for e in report.exposures if e.permitted and known.exposure_known(e.namespace)]
    if exposed:
        services = sum(1 for e in exposed if e.kind == "Service")
        out.write(
            f"\nEXPOSED SERVICES AND WORKLOADS ({len(exposed)}: {services} through Services, "
            f"{len(exposed) - services} workloads exposed directly)\n"
        )
        for e in exposed:
            opened = ", ".join(e.objects)
            what = f"{e.namespace}/{e.name}" + ("" if e.kind == "Service" else f"[{e.kind}]")
            out.write(f"  {what} {e.category} on {e.ports}: {opened}\n")


COMMAND = Command("scan", add_parser, run, exit_fast=True)
