"""The report's runtime section: what Cilium Hubble saw denied (pure).

Denied connections come from the store's hourly flow roll-ups (`denied_flows`). A
cluster whose store holds no flow record in this period or the previous one is taken as
"flows not collected": its figures are not verifiable, never 0. Exposure use and
connections admitted where the scan says default-deny are not part of the history read
contract; a reader that also implements `RuntimeReader` supplies them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from exporter.core.history import HistoryReader
from reports.period import Period
from reports.tables import Column, Kind, Line, Series, Table

WEEK = 7 * 86_400.0
DEFAULT_DENY = "default-deny"


@runtime_checkable
class RuntimeReader(Protocol):
    """Optional extra answers of a store that keeps flow-derived joins."""

    def unused_exposures(self, cluster: str, since: float, until: float) -> int | None: ...

    def admitted_under_default_deny(
        self, cluster: str, since: float, until: float
    ) -> int | None: ...


@dataclass(frozen=True, slots=True)
class RuntimeFacts:
    flows_collected: dict[str, bool]
    denied_total: int | None
    denied_previous: int | None
    default_deny_drops: int | None
    unused_exposures: int | None
    admitted_under_default_deny: int | None
    denied_by_namespace: dict[tuple[str, str], int]
    top_namespaces: tuple[tuple[str, int], ...]
    weekly: Series
    tables: tuple[Table, ...]


def runtime_facts(
    reader: HistoryReader, names: Sequence[str], period: Period, previous: Period, end: float
) -> RuntimeFacts:
    rows = [r for r in reader.denied_flows(None, period.since, end) if r.cluster in names]
    prev = [
        r for r in reader.denied_flows(None, previous.since, previous.until) if r.cluster in names
    ]
    # A roll-up row exists only where something was denied: a cluster without any in
    # the period cannot be told apart from one whose flows were not collected.
    collected = dict.fromkeys(names, False)
    for r in rows:
        collected[r.cluster] = True
    any_flows = bool(rows)
    by_ns: dict[tuple[str, str], int] = defaultdict(int)
    by_policy: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    drops: dict[tuple[str, str], int] = defaultdict(int)
    weeks: list[float] = []
    t = period.since
    while t < end:
        weeks.append(t)
        t += WEEK
    weekly = [0.0] * len(weeks)
    for r in rows:
        by_ns[(r.cluster, r.namespace)] += r.count
        by_policy[(r.cluster, r.namespace, r.direction, r.policy, r.reason)] += r.count
        if r.policy == DEFAULT_DENY:
            drops[(r.cluster, r.namespace)] += r.count
        i = int((r.hour - period.since) // WEEK)
        if 0 <= i < len(weekly):
            weekly[i] += r.count
    top = sorted(
        ((f"{c}/{n}" if len(names) > 1 else n, v) for (c, n), v in by_ns.items()),
        key=lambda kv: (-kv[1], kv[0]),
    )[:10]
    unused = _optional(reader, names, period, end, "unused_exposures")
    admitted = _optional(reader, names, period, end, "admitted_under_default_deny")
    weekly_series = Series(
        "denied_weekly",
        "Denied connections per week",
        "connections",
        tuple(weeks),
        (Line("denied", tuple(weekly) if any_flows else tuple(None for _ in weeks)),),
        step="week",
    )
    tables = (
        Table(
            "denied_by_policy",
            "Denied connections by namespace and policy",
            (
                Column("cluster", "Cluster"),
                Column("namespace", "Namespace"),
                Column("direction", "Direction"),
                Column("policy", "Policy"),
                Column("reason", "Reason"),
                Column("count", "Connections", Kind.COUNT),
            ),
            tuple((*k, v) for k, v in sorted(by_policy.items(), key=lambda kv: (-kv[1], kv[0]))),
            shown=30,
        ),
        Table(
            "default_deny_drops",
            "Connections dropped by default-deny (no policy allowed them)",
            (
                Column("cluster", "Cluster"),
                Column("namespace", "Namespace"),
                Column("count", "Connections", Kind.COUNT),
            ),
            tuple((*k, v) for k, v in sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))),
            shown=30,
        ),
    )
    return RuntimeFacts(
        flows_collected=collected,
        denied_total=sum(r.count for r in rows) if any_flows else None,
        denied_previous=sum(r.count for r in prev) if prev else None,
        default_deny_drops=sum(drops.values()) if any_flows else None,
        unused_exposures=unused,
        admitted_under_default_deny=admitted,
        denied_by_namespace=dict(by_ns),
        top_namespaces=tuple(top),
        weekly=weekly_series,
        tables=tables,
    )


def _optional(
    reader: HistoryReader, names: Sequence[str], period: Period, end: float, what: str
) -> int | None:
    if not isinstance(reader, RuntimeReader):
        return None
    total = 0
    for c in names:
        v = getattr(reader, what)(c, period.since, end)
        if v is None:
            return None
        total += v
    return total
