"""Report periods: calendar quarters ("2026Q3") or explicit [since, until) ranges, in UTC.

A period is half-open, like every range in the history contract
(exporter/core/history.py): a scan at exactly `until` belongs to the next period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period that cannot be read; the message names the bad value."""


@dataclass(frozen=True, slots=True)
class Period:
    since: float
    until: float
    label: str

    @property
    def seconds(self) -> float:
        return self.until - self.since

    def previous(self) -> Period:
        """The period of the same kind just before this one (the quarter before a quarter)."""
        m = _QUARTER.match(self.label)
        if m:
            year, q = int(m.group(1)), int(m.group(2))
            return quarter(year - 1, 4) if q == 1 else quarter(year, q - 1)
        length = self.seconds
        return Period(self.since - length, self.since, f"previous {self.label}")


def quarter(year: int, q: int) -> Period:
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    )
    return Period(start.timestamp(), end.timestamp(), f"{year}Q{q}")


def parse_quarter(text: str) -> Period:
    m = _QUARTER.match(text.strip())
    if not m:
        raise PeriodError(f"period {text!r}: expected a quarter such as 2026Q3")
    return quarter(int(m.group(1)), int(m.group(2)))


def quarter_of(t: float) -> Period:
    d = datetime.fromtimestamp(t, UTC)
    return quarter(d.year, (d.month - 1) // 3 + 1)


def previous_quarter(t: float) -> Period:
    """The last quarter that ended at or before `t` (what a scheduled report covers)."""
    return quarter_of(t).previous()


def parse_time(text: str, what: str) -> float:
    """ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        d = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(
            f"{what} {text!r}: expected an ISO 8601 date or time, e.g. 2026-07-01 or "
            "2026-07-01T00:00:00Z"
        ) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.timestamp()


def explicit(since: str, until: str) -> Period:
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if end <= start:
        raise PeriodError(f"--until {until!r} is not after --since {since!r}")
    label = f"{_day(start)} to {_day(end)}"
    return Period(start, end, label)


def _day(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%d") if d.time() == datetime.min.time() else d.isoformat()
