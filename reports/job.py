"""One report, start to finish: view model from a history reader, then the files.

What `netfence report` and the service's scheduled reports both call; the caller opens
the store (reports never touch SQL: they read through exporter.core.history).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from exporter import __version__
from exporter.core.history import HistoryReader
from exporter.core.intent.schema import Teams
from reports.control_files import load_controls
from reports.model import Options, build
from reports.period import Period
from reports.render import Rendered, render
from reports.teams import TeamHistory


def produce(
    reader: HistoryReader,
    period: Period,
    out: Path,
    *,
    now: float,
    clusters: Sequence[str] | None = None,
    fmt: str = "pdf",
    controls: Sequence[Path] = (),
    top_n: int = 50,
    teams: Teams | None = None,
    team: str | None = None,
) -> Rendered:
    """Raises reports.model.NoEvidence when the period has no successful scan, and
    reports.control_files.ControlFileError for a bad mapping file."""
    options = Options(top_n=top_n, controls=load_controls(controls), teams=teams, team=team)
    if team is not None:  # the same report over the team's namespaces only
        reader = TeamHistory(reader, teams, team, period.since, min(period.until, now))
    report = build(
        reader,
        period,
        clusters=clusters,
        generated_at=now,
        version=__version__,
        options=options,
    )
    return render(report, out, fmt)
