"""The scheduled reports on the web server: `/reports` and the report metric.

`/reports` lists the PDFs of the reports directory (HTML, names escaped) and serves each
one, with its evidence manifest, behind the same TLS and basic auth as /metrics. Only
names of the form report-<period>.pdf (and their .evidence/MANIFEST.sha256) are served:
nothing else of the directory, and no path outside it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_NAME = re.compile(r"^report-[A-Za-z0-9_.-]+\.pdf$")
MANIFEST = "MANIFEST.sha256"

REPORT_FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "report_last_success_timestamp_seconds": (
        "gauge",
        "When the last scheduled compliance report was written (seconds since the epoch); "
        "absent until one is.",
        (),
    ),
}


class ReportCollector(Collector):
    def __init__(self, last_success: Callable[[], float | None]) -> None:
        self._last = last_success

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        name = "report_last_success_timestamp_seconds"
        _, help_text, _ = REPORT_FAMILIES[name]
        fam = GaugeMetricFamily("netfence_" + name, help_text)
        value = self._last()
        if value is not None:
            fam.add_metric([], value)
        yield fam


def report_files(directory: Path, path: str, start: Callable[..., Any]) -> Iterable[bytes]:
    """The WSGI answer for /reports (the listing) and /reports/<file>."""
    rest = path.removeprefix("/reports").strip("/")
    if not rest:
        return _listing(directory, start)
    name, _, sub = rest.partition("/")
    if sub and not (name.endswith(".pdf.evidence") and sub == MANIFEST):
        return _not_found(start)
    pdf = name.removesuffix(".evidence")
    if not _NAME.match(pdf):
        return _not_found(start)
    file = directory / name / sub if sub else directory / pdf
    if not file.is_file():
        return _not_found(start)
    data = file.read_bytes()
    kind = "application/pdf" if not sub else "text/plain; charset=utf-8"
    start("200 OK", [("Content-Type", kind), ("Content-Length", str(len(data)))])
    return [data]


def _listing(directory: Path, start: Callable[..., Any]) -> Iterable[bytes]:
    rows = []
    files = sorted(
        (p for p in directory.glob("report-*.pdf") if p.is_file() and _NAME.match(p.name)),
        key=lambda p: p.name,
        reverse=True,
    )
    for p in files:
        n = html.escape(p.name)
        when = datetime.fromtimestamp(p.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
        manifest = ""
        if (directory / f"{p.name}.evidence" / MANIFEST).is_file():
            manifest = f' <a href="reports/{n}.evidence/{MANIFEST}">evidence manifest</a>'
        rows.append(
            f'<li><a href="reports/{n}">{n}</a> ({p.stat().st_size} bytes, {when}){manifest}</li>'
        )
    body = (
        "<html><head><title>netfence reports</title></head><body><h1>Compliance reports</h1>"
        + (f"<ul>{''.join(rows)}</ul>" if rows else "<p>No report written yet.</p>")
        + "</body></html>\n"
    ).encode()
    start(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _not_found(start: Callable[..., Any]) -> Iterable[bytes]:
    body = b"not found\n"
    start(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
