"""The `netfence` command line: one module per command group, one registry.

    app.py           the parser, `main` (exit codes) and `run` (the console script)
    commands.py      `Command`: what a command module hands to the registry
    output.py        exit codes, JSON and table writers, input-error reporting
    options.py       options shared by several commands (inputs, -o, --network-plugin,
                     --ingress-controller, --hubble.*) and the manifest progress counter
    scan.py          `netfence scan`          coverage, exposure and findings
    connectivity.py  `netfence connectivity`  every allowed connection
    explain.py       `netfence explain`       one connection's verdict and why
    diff.py          `netfence diff`          what a change does (exporter.diffing)
    inputs.py        --manifests or a live cluster (--kubeconfig, --context,
                     --in-cluster, --snapshot-out) for the one-shot commands
    serve.py         `netfence serve`         the long-running service (exporter.serve)
    flows.py         `netfence flows`         Hubble verdicts: replay | watch
    history.py       `netfence history`       the change log, or the state at a time
    report.py        `netfence report`        the auditor report (reports/) from the store

Adding a command (say `netfence history`):

1. write `exporter/cli/history.py` with an `add_parser(sub)` that registers the
   subcommand and its options, a `run(args, out) -> int` that returns an exit code, and
   `COMMAND = Command("history", add_parser, run)` (see `Command` for the flags that
   say whether the command runs long or exits fast);
2. add `history.COMMAND` to `COMMANDS` in `app.py`, where it takes its place in
   `netfence --help`.

Commands call the use-cases (`exporter.usecases`) or wire the layers themselves, never
the other way round; raising `usecases.UsageError` exits 2 with the message.
Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.
"""

from exporter.cli.app import build_parser, main, run

# `_parser` is the name the chart tests use for the parser.
_parser = build_parser

__all__ = ["_parser", "build_parser", "main", "run"]
