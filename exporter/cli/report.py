"""`netfence report`: the auditor report for one period, from the history store.

Exit codes: 0 written; 2 usage or input error, including a period with no evidence at
all (no successful scan), a store that cannot be opened and a bad control mapping.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from exporter.cli.commands import Command, Subparsers
from exporter.cli.output import EXIT_OK, EXIT_USAGE
from exporter.core.history import HistoryReader
from exporter.core.intent import IntentError
from exporter.core.intent.schema import Teams
from exporter.sources.intent import load_intent


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "report",
        help="quarterly compliance report (PDF, HTML or JSON) with its evidence bundle",
        description="The auditor report for one period: coverage, trends, namespaces, "
        "changes, runtime denials, control mapping and sign-off, with an evidence bundle "
        "(JSON + CSV + SHA-256 manifest) beside it.",
    )
    p.add_argument(
        "--store",
        required=True,
        metavar="URL",
        help="history store: sqlite:///path.db or postgresql://user@host/db",
    )
    p.add_argument(
        "--cluster",
        action="append",
        metavar="NAME",
        help="cluster to report on (repeatable; default: every cluster in the store)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--period",
        metavar="QUARTER",
        help="a quarter such as 2026Q3 (default: the last full quarter, UTC)",
    )
    g.add_argument("--since", metavar="TIME", help="start (ISO 8601; needs --until)")
    p.add_argument("--until", metavar="TIME", help="end, excluded (ISO 8601)")
    p.add_argument("--format", choices=("pdf", "html", "json"), default="pdf")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="report file (default: report-<period>.<format>); the evidence "
        "bundle is written beside it as PATH.evidence/",
    )
    p.add_argument(
        "--controls",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="control mapping file or directory, applied over the shipped ones "
        "(same framework and id replaces; repeatable)",
    )
    p.add_argument(
        "--intent",
        type=Path,
        metavar="FILE",
        help="intent file: its team rules give the per-team summary (docs/intent.md)",
    )
    p.add_argument(
        "--team",
        metavar="TEAM",
        help="a team's report: its namespaces only (needs --intent)",
    )
    p.add_argument(
        "--top",
        type=int,
        default=50,
        metavar="N",
        help="namespaces shown in the PDF (the bundle holds all; default 50)",
    )


def open_reader(url: str) -> HistoryReader:
    """The store's history reader; raises ValueError with a message for the user."""
    from exporter.store import Store, StoreError

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise ValueError(f"--store {url}: no such file {path}")
    try:
        store = Store.open(url, time.time)
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    reader = getattr(store, "history", None)
    if reader is None:
        raise ValueError(f"--store {url}: this store cannot answer history queries")
    return reader  # type: ignore[no-any-return]


def _teams(args: argparse.Namespace) -> Teams | None:
    """The intent file's team rules; a UsageError-like ValueError listing its problems."""
    if args.team and not args.intent:
        raise ValueError("--team needs --intent (the file that says who owns what)")
    if not args.intent:
        return None
    try:
        return load_intent(args.intent).intent.teams
    except IntentError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        raise ValueError(f"intent file rejected ({len(exc.problems)} problems):\n{lines}") from None


def run(args: argparse.Namespace, out: TextIO) -> int:
    from reports.control_files import ControlFileError
    from reports.job import produce
    from reports.model import NoEvidence
    from reports.period import PeriodError, explicit, parse_quarter, previous_quarter

    now = time.time()
    try:
        if args.since or args.until:
            if not (args.since and args.until):
                raise PeriodError("--since and --until go together")
            period = explicit(args.since, args.until)
        else:
            period = parse_quarter(args.period) if args.period else previous_quarter(now)
        if args.top < 0:
            raise PeriodError(f"--top {args.top}: must be 0 or more")
        reader = open_reader(args.store)
        known = set(reader.clusters())
        unknown = sorted(set(args.cluster or ()) - known)
        if unknown:
            raise ValueError(
                f"--cluster {', '.join(unknown)}: not in the store (clusters: "
                f"{', '.join(sorted(known)) or 'none'})"
            )
        teams = _teams(args)
        label = period.label.replace(" ", "_") + (f"-{args.team}" if args.team else "")
        target = args.output or Path(f"report-{label}.{args.format}")
        done = produce(
            reader,
            period,
            target,
            now=now,
            clusters=args.cluster,
            fmt=args.format,
            controls=args.controls,
            top_n=args.top,
            teams=teams,
            team=args.team,
        )
    except (PeriodError, ControlFileError, NoEvidence, ValueError) as exc:
        print(f"netfence report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pages = f", {done.pages} pages" if done.pages else ""
    print(f"wrote {done.path}{pages}", file=out)
    print(
        f"evidence bundle {done.bundle}/ (SHA-256 of MANIFEST.sha256: {done.bundle_sha256})",
        file=out,
    )
    return EXIT_OK


COMMAND = Command("report", add_parser, run, exit_fast=True)
