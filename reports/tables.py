"""The two shapes every report number travels in: tables and daily/weekly series.

The PDF, the HTML, report.json and the evidence bundle's CSV files are all drawn from
these, so what an auditor reads on a page is the same value they can recompute from the
bundle. `None` in a cell or point means "not verifiable" (no evidence), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Cell = str | int | float | bool | None
Row = tuple[Cell, ...]


class Kind(StrEnum):
    """How a column is shown (formatting lives in the templates' filters, values here)."""

    TEXT = "text"
    COUNT = "count"
    FRACTION = "fraction"
    """0..1, shown as a percentage."""
    POINTS = "points"
    """A difference of two fractions, shown in percentage points."""
    TIME = "time"
    """Seconds since the epoch, shown as a UTC date and time."""
    DURATION = "duration"
    """Seconds, shown as days/hours/minutes."""
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    """File name in the evidence bundle (tables/<key>.csv)."""
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    shown: int | None = None
    """How many rows the PDF shows (None: all); the bundle always holds every row."""
    note: str = ""

    @property
    def shown_rows(self) -> tuple[tuple[Cell, ...], ...]:
        return self.rows if self.shown is None else self.rows[: self.shown]

    @property
    def hidden(self) -> int:
        return len(self.rows) - len(self.shown_rows)

    def column(self, key: str) -> list[Cell]:
        i = [c.key for c in self.columns].index(key)
        return [row[i] for row in self.rows]


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    """File name in the evidence bundle (series/<key>.csv)."""
    title: str
    unit: str
    x: tuple[float, ...]
    """Start of each day or week (seconds since the epoch, UTC)."""
    lines: tuple[Line, ...]
    step: str = "day"

    @property
    def empty(self) -> bool:
        return all(v is None for line in self.lines for v in line.values)
