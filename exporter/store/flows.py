"""Hourly roll-ups of Hubble verdict counts, for reports (a quarter of denied-connection
history) and the unused-exposure join after a restart.

Two tables, next to the scan history in the same database:

- `flow_hourly`: one row per (cluster, shard, hour, kind, namespace, direction, verdict,
  reason, policy, peer) increment, as `Aggregator.take_rollups()` hands them out; rows
  are only inserted (late flows add a second row for the same hour), queries sum them.
  No workload column: a quarter of per-workload rows would dwarf everything else.
- `flow_exposure_use`: (cluster, namespace, workload, peer) -> end of the last hour with
  an admitted ingress connection (`Aggregator.last_used()`), kept as a maximum.

The history store creates both tables in its migration 2 and hands out a `FlowStore` as
`Store.flows`; the service writes `add_rollups(cluster, shard, aggregator.take_rollups())`
and `record_exposure_use(cluster, aggregator.last_used())` every flush interval, and the
store's `prune` drops roll-ups past the scan retention. `ensure_schema()` creates them
stand-alone (tests, tools that use no history store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from exporter.core.flows import RollupRow

__all__ = [
    "DeniedPoint",
    "FlowStore",
    "flow_exposure_use",
    "flow_hourly",
    "flow_observed",
    "flow_policy_use",
]

metadata = MetaData()

flow_hourly = Table(
    "flow_hourly",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", String(128), nullable=False),
    Column("shard", String(64), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("policy", String(512), nullable=False),
    Column("peer", String(253), nullable=False),
    Column("count", BigInteger, nullable=False),
    Index("flow_hourly_cluster_hour", "cluster", "hour"),
)

flow_exposure_use = Table(
    "flow_exposure_use",
    metadata,
    Column("cluster", String(128), primary_key=True),
    Column("namespace", String(253), primary_key=True),
    Column("workload", String(253), primary_key=True),
    Column("peer", String(253), primary_key=True),
    Column("last_used", BigInteger, nullable=False),
)


flow_policy_use = Table(
    "flow_policy_use",
    metadata,
    Column("cluster", String(128), primary_key=True),
    Column("namespace", String(253), primary_key=True),
    Column("name", String(253), primary_key=True),
    Column("last_used", BigInteger, nullable=False),
)
"""(cluster, namespace, name) -> end of the last hour Hubble named the policy as allowing a
connection (`Aggregator.policy_use()`), kept as a maximum (migration 4)."""

flow_observed = Table(
    "flow_observed",
    metadata,
    Column("cluster", String(128), primary_key=True),
    Column("since", BigInteger, nullable=False),
)
"""When flows were first counted for the cluster: before a whole window has passed, a
policy without a recorded use is unknown, not unused (migration 4)."""


@dataclass(frozen=True, slots=True)
class DeniedPoint:
    hour: int
    namespace: str
    direction: str
    reason: str
    policy: str
    count: int


class FlowStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_schema(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    def add_rollups(self, cluster: str, shard: str, rows: Sequence[RollupRow]) -> int:
        if not rows:
            return 0
        values = [
            {
                "cluster": cluster,
                "shard": shard,
                "hour": r.hour,
                "kind": r.kind,
                "namespace": r.namespace,
                "direction": r.direction,
                "verdict": r.verdict,
                "reason": r.reason,
                "policy": r.policy,
                "peer": r.peer,
                "count": r.count,
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(flow_hourly), values)
        return len(values)

    def record_exposure_use(
        self, cluster: str, last_used: Mapping[tuple[str, str, str], int]
    ) -> None:
        t = flow_exposure_use
        with self.engine.begin() as conn:
            known = {
                (r.namespace, r.workload, r.peer): r.last_used
                for r in conn.execute(
                    select(t.c.namespace, t.c.workload, t.c.peer, t.c.last_used).where(
                        t.c.cluster == cluster
                    )
                )
            }
            new, newer = [], []
            for (ns, wl, peer), end in last_used.items():
                old = known.get((ns, wl, peer))
                row = {"c": cluster, "ns": ns, "wl": wl, "p": peer, "end": end}
                if old is None:
                    new.append(row)
                elif end > old:
                    newer.append(row)
            if new:
                conn.execute(
                    insert(t).values(
                        cluster=bindparam("c"),
                        namespace=bindparam("ns"),
                        workload=bindparam("wl"),
                        peer=bindparam("p"),
                        last_used=bindparam("end"),
                    ),
                    new,
                )
            if newer:  # one executemany, not a round trip per row
                conn.execute(
                    update(t)
                    .where(
                        and_(
                            t.c.cluster == bindparam("c"),
                            t.c.namespace == bindparam("ns"),
                            t.c.workload == bindparam("wl"),
                            t.c.peer == bindparam("p"),
                        )
                    )
                    .values(last_used=bindparam("end")),
                    newer,
                )

    def exposure_use(self, cluster: str) -> dict[tuple[str, str, str], int]:
        """Input of `exporter.core.flows.unused_exposures` after a restart (merge with
        the aggregator's own `last_used()`, taking the maximum)."""
        t = flow_exposure_use
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.namespace, t.c.workload, t.c.peer, t.c.last_used).where(
                    t.c.cluster == cluster
                )
            )
            return {(r.namespace, r.workload, r.peer): r.last_used for r in rows}

    def record_policy_use(
        self, cluster: str, use: Mapping[tuple[str, str], tuple[int, int]], now: float
    ) -> None:
        """Each policy's last use (a maximum), and `now` as the start of observation if
        none is recorded yet (the first flush of the first process counting flows)."""
        t = flow_policy_use
        with self.engine.begin() as conn:
            if (
                conn.execute(
                    select(flow_observed.c.since).where(flow_observed.c.cluster == cluster)
                ).first()
                is None
            ):
                conn.execute(insert(flow_observed).values(cluster=cluster, since=int(now)))
            known = {
                (r.namespace, r.name): r.last_used
                for r in conn.execute(
                    select(t.c.namespace, t.c.name, t.c.last_used).where(t.c.cluster == cluster)
                )
            }
            new, newer = [], []
            for (ns, name), (_count, end) in use.items():
                old = known.get((ns, name))
                row = {"c": cluster, "ns": ns, "n": name, "end": end}
                if old is None:
                    new.append(row)
                elif end > old:
                    newer.append(row)
            if new:
                conn.execute(
                    insert(t).values(
                        cluster=bindparam("c"),
                        namespace=bindparam("ns"),
                        name=bindparam("n"),
                        last_used=bindparam("end"),
                    ),
                    new,
                )
            if newer:
                conn.execute(
                    update(t)
                    .where(
                        and_(
                            t.c.cluster == bindparam("c"),
                            t.c.namespace == bindparam("ns"),
                            t.c.name == bindparam("n"),
                        )
                    )
                    .values(last_used=bindparam("end")),
                    newer,
                )

    def policy_use(self, cluster: str) -> tuple[dict[tuple[str, str], int], int | None]:
        """(namespace, name) -> last use, and when flows were first counted (None:
        never): the input of `exporter.core.policy_use.stale_policies` after a restart."""
        t = flow_policy_use
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.namespace, t.c.name, t.c.last_used).where(t.c.cluster == cluster)
            )
            used = {(r.namespace, r.name): int(r.last_used) for r in rows}
            since = conn.execute(
                select(flow_observed.c.since).where(flow_observed.c.cluster == cluster)
            ).scalar()
        return used, None if since is None else int(since)

    def denied(
        self, cluster: str, since: int, until: int, kinds: Iterable[str] = ("connection",)
    ) -> list[DeniedPoint]:
        """Denied counts per hour, namespace, direction, reason and policy (all shards
        and peers summed): the report's denied-connection history."""
        t = flow_hourly
        total = func.sum(t.c.count)
        query = (
            select(t.c.hour, t.c.namespace, t.c.direction, t.c.reason, t.c.policy, total)
            .where(
                t.c.cluster == cluster,
                t.c.hour >= since,
                t.c.hour < until,
                t.c.verdict == "dropped",
                t.c.kind.in_(list(kinds)),
            )
            .group_by(t.c.hour, t.c.namespace, t.c.direction, t.c.reason, t.c.policy)
            .order_by(t.c.hour, t.c.namespace, t.c.direction, t.c.reason, t.c.policy)
        )
        with self.engine.connect() as conn:
            return [DeniedPoint(*row[:5], count=int(row[5])) for row in conn.execute(query)]

    def prune(self, before: int) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(delete(flow_hourly).where(flow_hourly.c.hour < before))
            return int(result.rowcount or 0)
