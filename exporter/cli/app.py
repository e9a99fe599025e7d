"""The `netfence` parser, `main` and the console script: the registry of commands.

A command is a module with a `COMMAND` (exporter.cli.commands.Command); listing it in
`COMMANDS` below is all the wiring it needs (see the package docstring).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from exporter import __version__, usecases
from exporter.cli import connectivity, diff, explain, flows, history, report, scan, serve
from exporter.cli.commands import Command
from exporter.cli.output import EXIT_USAGE
from exporter.core.gc_pause import paused_gc

COMMANDS: tuple[Command, ...] = (
    scan.COMMAND,
    connectivity.COMMAND,
    explain.COMMAND,
    diff.COMMAND,
    serve.COMMAND,
    flows.COMMAND,
    history.COMMAND,
    report.COMMAND,
)
"""Every command, in the order `netfence --help` lists them."""

_BY_NAME = {command.name: command for command in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netfence",
        description="The truth about Kubernetes network policy: default-deny coverage, "
        "reachability and why.",
    )
    parser.add_argument("--version", action="version", version=f"netfence {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    command = _BY_NAME[args.command]
    # The one-shot commands build one large object graph, write it out and exit: the
    # cyclic garbage collector would only walk it again and again (on the 100,000-pod
    # benchmark, 1.8 s of turning the report into JSON), so it is paused meanwhile.
    # Long-running commands (`serve`, `flows watch`) keep it.
    try:
        with contextlib.nullcontext() if command.long_running(args) else paused_gc():
            return command.run(args, out)
    except usecases.UsageError as exc:
        print(f"netfence: {exc}", file=sys.stderr)
        return EXIT_USAGE


def run() -> None:
    """Console-script entry. One-shot commands end without tearing the heap down
    object by object (half a second after a 100k-pod scan): output is flushed, and
    nothing else is pending when they return."""
    code = main()
    fast = {command.name for command in COMMANDS if command.exit_fast}
    if len(sys.argv) > 1 and sys.argv[1] in fast:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
