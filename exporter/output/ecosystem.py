"""`netfence scan -o sarif|policyreport`: the scan's findings in other tools' formats."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from exporter import __version__
from exporter.core.inventory import RawObject
from exporter.output import policyreport, sarif
from exporter.usecases import ScanReport


def write_scan(
    fmt: str,
    report: ScanReport,
    raws: Sequence[RawObject],
    out: TextIO,
    clock: Callable[[], float] = time.time,
    root: Path | None = None,
) -> None:
    if fmt == "sarif":
        log = sarif.scan_log(
            report.findings, sarif.Locations(raws), __version__, root or Path.cwd()
        )
        out.write(json.dumps(log, indent=1) + "\n")
    else:
        out.write(
            policyreport.to_yaml_stream(
                policyreport.reports(report.namespaces, report.findings, clock())
            )
        )
