"""`netfence` command line. Exit codes: 0 clean, 1 findings at or above --fail-on,
2 usage or input error (bad flags, unreadable or invalid objects)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from exporter import __version__, service
from exporter.core.findings import InputError, Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


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

    scan = sub.add_parser(
        "scan",
        help="default-deny coverage per namespace, findings and input errors",
        description="Coverage per namespace and direction, findings, input errors.",
    )
    common(scan, ("table", "json"))
    scan.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity] + ["never"],
        default="high",
        help="exit 1 when a finding has this severity or higher (default: high)",
    )
    conn = sub.add_parser(
        "connectivity",
        help="every allowed connection between workloads and external address ranges",
        description="Every allowed connection between workloads and external address ranges.",
    )
    common(conn, ("table", "json"))
    exp = sub.add_parser(
        "explain",
        help="why a connection is allowed or denied",
        description="The verdict for one connection and the policies and rules behind it.",
    )
    common(exp, ("table", "json"))
    exp.add_argument(
        "--from",
        dest="src",
        required=True,
        metavar="X",
        help="source: ns/name, ns/name[Kind], or an IP address/CIDR",
    )
    exp.add_argument(
        "--to",
        dest="dst",
        required=True,
        metavar="Y",
        help="destination: ns/name, ns/name[Kind], or an IP address/CIDR",
    )
    exp.add_argument("--port", metavar="P/PROTO", help="e.g. 8080/TCP (default: all ports)")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.command == "scan":
            return _scan(args, out)
        if args.command == "connectivity":
            return _connectivity(args, out)
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


def _scan(args: argparse.Namespace, out: TextIO) -> int:
    report = service.scan(args.manifests, _progress(args))
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
    if report.findings:
        out.write(f"\nFINDINGS ({len(report.findings)})\n")
        for f in report.findings:
            out.write(f"  [{f.severity}] {f.check} {f.namespace}: {f.message}\n")


def _connectivity(args: argparse.Namespace, out: TextIO) -> int:
    conns, errors = service.connections(args.manifests, _progress(args))
    if args.output == "json":
        _dump_json([c.to_json() for c in conns], out, inline_below=1)
    else:
        for c in conns:
            out.write(f"{c.src} => {c.dst} : {c.conns}\n")
    return _report_errors(errors)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    results, errors = service.explain_connection(args.manifests, args.src, args.dst, args.port)
    if args.output == "json":
        _dump_json([r.to_json() for r in results], out, inline_below=3)
    else:
        for r in results:
            out.write("\n".join(r.lines()) + "\n")
    return _report_errors(errors)


if __name__ == "__main__":
    sys.exit(main())
