"""Trend charts as SVG, drawn by matplotlib's SVG backend from the view model's series.

matplotlib (not hand-written SVG) handles dated axes, gaps (None -> NaN breaks the line,
so a day without evidence is a hole, not a drop to 0) and legends. Text stays text in the
SVG (`svg.fonttype: none`), so the PDF's charts are searchable, and the output is
deterministic (fixed hash salt, no date metadata) so equal reports hash equal.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

import matplotlib

matplotlib.use("svg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from reports.tables import Series

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "netfence",
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)
COLOURS = ("#1f5f8b", "#c0392b", "#27ae60", "#8e44ad", "#d68910")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _dates(xs: tuple[float, ...]) -> list[datetime]:
    return [datetime.fromtimestamp(x, UTC) for x in xs]


def line_chart(series: Series, percent: bool = False) -> str | None:
    """Daily lines; None when the series has no value at all (the template says why)."""
    if series.empty or not series.x:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 2.4))
    xs = _dates(series.x)
    for i, line in enumerate(series.lines):
        ys = [math.nan if v is None else (100.0 * v if percent else v) for v in line.values]
        ax.plot(
            xs,  # type: ignore[arg-type]
            ys,
            label=line.name.replace("_", " "),
            color=COLOURS[i % len(COLOURS)],
            linewidth=1.4,
            drawstyle="steps-post",
        )
    if percent:
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of namespaces")
    else:
        ax.set_ylim(bottom=0)
        ax.set_ylabel(series.unit)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _svg(fig)


def bar_chart(
    labels: list[str],
    values: list[float],
    unit: str,
    dated: bool = False,
    xs: tuple[float, ...] = (),
) -> str | None:
    if not values or all(v == 0 for v in values):
        return None
    fig, ax = plt.subplots(figsize=(7.0, 2.4 if dated else max(1.2, 0.28 * len(values) + 0.6)))
    if dated:
        names = [d.strftime("%d %b") for d in _dates(xs)]
        ax.bar(names, values, color=COLOURS[0])
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=45)
    else:
        ax.barh(labels[::-1], values[::-1], color=COLOURS[1])
        ax.set_xlabel(unit)
    ax.grid(axis="y" if dated else "x", color="#dddddd", linewidth=0.6)
    return _svg(fig)


def weekly_chart(series: Series) -> str | None:
    if series.empty:
        return None
    values = [v or 0.0 for v in series.lines[0].values]
    return bar_chart([], values, series.unit, dated=True, xs=series.x)
