"""Scheduled auditor reports in `netfence serve`: the previous quarter's report, once.

The scheduler runs `ReportWriter.run` at the configured times (default 06:00 UTC on the
first day of each quarter) and once shortly after start, so a quarter whose time passed
while the service was down is caught up. Each run renders the previous quarter's report
into the reports directory unless it is already there (once per period): written under a
temporary name and renamed, so a crash never leaves a half report under the final name.
A quarter without evidence is logged and tried again at the next run.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from exporter.core.history import HistoryReader

log = logging.getLogger(__name__)

REPORT_JOB = ":reports"
"""Scheduler id of the report job (no cluster name can start with ':')."""


class ReportWriter:
    def __init__(
        self,
        reader: HistoryReader,
        directory: Path,
        clock: Callable[[], float],
        *,
        controls: Sequence[Path] = (),
        top_n: int = 50,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        self.reader = reader
        self.directory = directory
        self.clock = clock
        self.controls = tuple(controls)
        self.top_n = top_n
        self.on_success = on_success
        self.last_success: float | None = None
        """When the last report was written (or found already written), for the metric."""
        self._lock = threading.Lock()

    def target(self, label: str) -> Path:
        return self.directory / f"report-{label}.pdf"

    def scheduled(self) -> None:
        """The scheduler's entry (a crash is logged by the scheduler; the job goes on)."""
        self.run()

    def run(self) -> Path | None:
        """Render the previous quarter's report if it is missing; the path, or None."""
        from reports.model import NoEvidence
        from reports.period import previous_quarter

        with self._lock:
            now = self.clock()
            period = previous_quarter(now)
            final = self.target(period.label)
            if final.exists():
                if self.last_success is None:
                    self.last_success = final.stat().st_mtime
                return None
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".tmp-report-{period.label}.pdf"
            try:
                from reports.job import produce

                done = produce(
                    self.reader, period, tmp, now=now, controls=self.controls, top_n=self.top_n
                )
            except NoEvidence as exc:
                log.warning("report %s not written: %s", period.label, exc)
                return None
            bundle = final.with_name(final.name + ".evidence")
            if bundle.exists():
                shutil.rmtree(bundle)
            done.bundle.rename(bundle)
            tmp.rename(final)
            self.last_success = now
            log.info("report %s written: %s (%s pages)", period.label, final, done.pages)
        if self.on_success is not None:
            self.on_success()
        return final

    def listing(self) -> list[tuple[str, int, float]]:
        """(file name, bytes, modified) of every report in the directory, newest first."""
        if not self.directory.is_dir():
            return []
        found = [
            (p.name, p.stat().st_size, p.stat().st_mtime)
            for p in self.directory.glob("report-*.pdf")
            if p.is_file()
        ]
        return sorted(found, key=lambda f: f[0], reverse=True)
