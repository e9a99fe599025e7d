"""The report's runtime joins (reports.runtime.RuntimeReader): the hourly flow roll-ups
(exporter.store.flows) joined with the scan history (the namespace intervals).

What the store keeps decides what can be claimed (docs/history.md, "Runtime joins"):

- **Exposures allowed but unused** in [since, until): the permitted exposures of the
  state at `until` (per namespace and category, as every scan records them) that no
  admitted ingress connection could have used in the period. The roll-ups have no
  workload column and the scan history keeps exposures per object ("Service/web"), not
  the workloads behind them, so use is known per (namespace, category): one admitted
  connection of a category into a namespace marks every exposure of that category there
  as used. A peer namespace may be an ingress controller's, so a connection from any
  other namespace counts as use of `other_namespaces`, `all_namespaces`, `ingress` and
  `gateway` exposures; `reserved:world`, `reserved:host` and `reserved:remote-node` of
  `internet` ones (exporter.core.flows.joins.peer_category). Every exposure counted is
  therefore certainly unused; the figure never counts one that may have been used.
- **Connections admitted where the scan says default-deny**: connections admitted
  (verdict forwarded, audit or redirected) in either direction, at the endpoint that
  enforced the verdict (ingress: the destination namespace, egress: the source), during
  roll-up hours in which the scans say that namespace was default-deny in that direction
  for the whole hour. Hours in which the state changed (or the namespace appeared or
  went) are not attributable to either state and are not counted.

Both are None (not verifiable, never 0) when the cluster has no flow roll-up at all in
the period (flows not collected), when an enforcing namespace was folded into `_other`
by the aggregator's bounds, when no successful scan gives the state at `until`
(exposures), or when an hour with admitted connections is not covered by scan evidence
or its default-deny is unknown (admitted).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, func, or_, select

from exporter.core.flows.joins import peer_category
from exporter.core.flows.vocabulary import HOUR, OTHER_NAMESPACE
from exporter.core.history import ClusterState
from exporter.store.flows import flow_hourly
from exporter.store.query_rows import DIRECTIONS, Segment, _overlap
from exporter.store.schema import namespace_intervals

ADMITTED = ("forwarded", "audit", "redirected")
"""Verdicts of connections the datapath let through (audit: a policy in audit mode would
have dropped it; redirected: to the L7 proxy)."""
EPSILON = 0.001


def flows_collected(engine: Engine, cluster: str, since: float, until: float) -> bool:
    """Whether the cluster has any flow roll-up in [since, until)."""
    t = flow_hourly
    query = (
        select(t.c.id).where(t.c.cluster == cluster, t.c.hour >= since, t.c.hour < until).limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def unused_exposures(
    engine: Engine,
    state_at: Callable[[str, float], ClusterState],
    cluster: str,
    since: float,
    until: float,
) -> int | None:
    if not flows_collected(engine, cluster, since, until):
        return None
    state = state_at(cluster, until - EPSILON)
    if state.scan is None:
        return None
    t = flow_hourly
    query = (
        select(t.c.namespace, t.c.peer)
        .where(
            t.c.cluster == cluster,
            t.c.hour >= since,
            t.c.hour < until,
            t.c.kind == "connection",
            t.c.direction == "ingress",
            t.c.verdict.in_(ADMITTED),
        )
        .distinct()
    )
    with engine.connect() as conn:
        pairs = [(str(ns), str(peer)) for ns, peer in conn.execute(query)]
    if any(ns == OTHER_NAMESPACE for ns, _ in pairs):
        return None
    peers = frozenset(peer for _, peer in pairs)  # any of them may be a controller's
    used = {(ns, cat) for ns, peer in pairs for cat in peer_category(ns, peer, peers)}
    return sum(
        count
        for ns in state.namespaces
        for cat, count in ns.exposures.items()
        if (ns.namespace, cat) not in used
    )


def admitted_under_default_deny(
    engine: Engine,
    evidence: Callable[[str, float, float], list[Segment]],
    clock: Callable[[], float],
    cluster: str,
    since: float,
    until: float,
) -> int | None:
    if not flows_collected(engine, cluster, since, until):
        return None
    t = flow_hourly
    cols = (t.c.hour, t.c.namespace, t.c.direction)
    query = (
        select(*cols, func.sum(t.c.count))
        .where(
            t.c.cluster == cluster,
            t.c.hour >= since,
            t.c.hour < until,
            t.c.kind == "connection",
            t.c.direction.in_(DIRECTIONS),
            t.c.verdict.in_(ADMITTED),
        )
        .group_by(*cols)
    )
    n = namespace_intervals
    end = min(until, clock())
    states = select(
        n.c.namespace, n.c.start_at, n.c.end_at, n.c.ingress_default_deny, n.c.egress_default_deny
    ).where(
        n.c.cluster == cluster,
        n.c.start_at < end,
        or_(n.c.end_at.is_(None), n.c.end_at > since),
    )
    covered = evidence(cluster, since, until)  # before: it opens a connection of its own
    with engine.connect() as conn:
        # namespace -> direction -> sorted [(start, end, default-deny)]
        intervals: dict[str, dict[str, list[tuple[float, float, bool | None]]]] = defaultdict(
            lambda: {d: [] for d in DIRECTIONS}
        )
        for name, start, stop, idd, edd in conn.execute(states):
            stop_at = float("inf") if stop is None else float(stop)
            for direction, value in zip(DIRECTIONS, (idd, edd), strict=True):
                deny = None if value is None else bool(value)
                intervals[str(name)][direction].append((float(start), stop_at, deny))
        for per_direction in intervals.values():
            for rows in per_direction.values():
                rows.sort(key=lambda r: r[0])
        # The roll-ups are streamed, not fetched into a list: a quarter of 1,000
        # namespaces is ~700,000 grouped rows (a list of them peaked at 1.1 GB).
        result = conn.execution_options(stream_results=True, yield_per=10_000).execute(query)
        total = 0
        for hour, ns, direction, count in result:
            if ns == OTHER_NAMESPACE:
                return None
            a, b = max(float(hour), since), min(float(hour) + HOUR, end)
            if b <= a:  # a flow stamped after the store's clock: no scan can speak for it
                return None
            if _overlap(covered, a, b) < b - a - EPSILON:
                return None
            per_ns = intervals.get(ns)
            held = _held(per_ns[direction] if per_ns is not None else [], a, b)
            if held is None:
                return None
            if held:
                total += int(count)
    return total


def _held(rows: Sequence[tuple[float, float, bool | None]], a: float, b: float) -> bool | None:
    """True: default-deny throughout [a, b); False: not throughout (off, or the state
    changed, or the namespace was not there); None: unknown during part of it."""
    i = max(0, bisect.bisect_right(rows, a, key=lambda r: r[0]) - 1)
    cursor = a
    whole = True
    while i < len(rows) and rows[i][0] < b:
        start, stop, deny = rows[i]
        i += 1
        if stop <= cursor:
            continue
        if deny is None:
            return None
        if start > cursor + EPSILON or not deny:
            whole = False
        cursor = max(cursor, stop)
    return whole and cursor >= b - EPSILON
