"""The scan history: a change log of intervals on SQLAlchemy Core (SQLite or PostgreSQL).

Writing (the service after every scan, and seeders):

    store = Store.open("sqlite:///history.db", clock=time.time)
    store.record(ScanRecord(cluster="prod", started_at=t, duration_seconds=1.0,
                            success=True, namespaces=(NamespaceRow(...), ...),
                            policies=(PolicyDigest(...), ...), findings=(...),
                            exposures=(ExposureRow(...), ...)))

`record` takes plain data with an explicit timestamp and needs no analysis run, so a
seeder writes "a quarter of history" by calling it once per synthetic scan, oldest
first (a scan older than the cluster's last successful one is refused). A seeder that
holds changes rather than whole states calls `record_changes(ScanChanges(...))` with
only what changed (namespaces, policies, findings, exposures, pod counts); the store
ends up the same (benchmarks/history_bench.py simulates a year that way). Each call
writes one small `scans` row and, for a successful scan, only what differs from the
cluster's previous successful scan (exporter.store.changelog); a failed scan
(`success=False`) is recorded and changes no interval. Volatile counts (pods, isolated
pods) are sampled, not kept as intervals (exporter.store.samples).

Reading: `store.history` is a `HistoryQueries` (exporter.store.queries), the
`exporter.core.history.HistoryReader` that reports and `netfence history` use.

- One transaction per scan: a process killed at any moment (kill -9) leaves either the
  whole scan or nothing; only the scan in flight is lost, and a restart goes on with the
  same open intervals.
- SQLite runs in WAL mode with `synchronous=FULL` and `BEGIN IMMEDIATE`, so concurrent
  writers queue instead of failing.
- PostgreSQL (`postgresql://user@host/db`, psycopg 3): many netfence instances may write
  one database. Ids come from sequences, each write locks its cluster's head row, and
  migrations run under an advisory lock. Connecting gives up after `connect_timeout`
  seconds per attempt (a server that accepts and never answers cannot hang `serve`),
  retried `connect_attempts` times; statements time out after `statement_timeout`.
- Any string can be stored (exporter.store.text): one odd name never refuses a scan.
- The schema is versioned (`netfence_schema_migrations`, exporter.store.migrations);
  `Store.open` applies missing migrations and refuses a database newer than this code.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from exporter.store import changelog
from exporter.store.flows import FlowStore, flow_hourly
from exporter.store.migrations import (
    DEFAULT_SAMPLE_INTERVAL,
    MIGRATIONS,
    SCHEMA_VERSION,
    insert_ignore,
)
from exporter.store.queries import HistoryQueries
from exporter.store.query_rows import scan_fields
from exporter.store.records import PolicyDigest, ScanChanges, ScanRecord, StoredScan
from exporter.store.schema import (
    INTERVAL_TABLES,
    cluster_heads,
    migrations_table,
    pod_sample_names,
    pod_samples,
    scans,
)
from exporter.store.text import clean

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "engine_url", "policies_digest"]

_MIGRATION_LOCK = 0x6E6574666E63  # "netfnc": the PostgreSQL advisory lock key
CONNECT_TIMEOUT = 10.0
"""Seconds one connection attempt may take (PostgreSQL), answer included."""
CONNECT_ATTEMPTS = 3
RETRY_DELAY = 2.0
"""Seconds before the second attempt; then twice that, and so on."""
STATEMENT_TIMEOUT = 300.0


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


def engine_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def policies_digest(policies: Sequence[PolicyDigest]) -> str:
    lines = sorted(f"{p.kind}\t{p.namespace}\t{p.name}\t{p.sha256}" for p in policies)
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float],
        sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.dialect = engine.dialect.name
        self.sample_interval = sample_interval
        self._open: dict[str, changelog.OpenState] = {}
        self._lock = threading.Lock()
        self.history = HistoryQueries(engine, clock)
        """The read API (exporter.core.history.HistoryReader)."""

    @classmethod
    def open(
        cls,
        url: str,
        clock: Callable[[], float],
        *,
        sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
        connect_timeout: float | None = None,
        connect_attempts: int | None = None,
        statement_timeout: float | None = None,
        retry_delay: float | None = None,
        migrate: bool = True,
    ) -> Store:
        """Connect and bring the schema up to date (retrying a database that does not
        answer: `connect_attempts` tries of `connect_timeout` seconds each).

        `migrate=False` (readers such as `netfence history`): write nothing; a store
        that does not exist or is not at this schema version is an error."""
        connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        connect_attempts = CONNECT_ATTEMPTS if connect_attempts is None else connect_attempts
        statement_timeout = STATEMENT_TIMEOUT if statement_timeout is None else statement_timeout
        retry_delay = RETRY_DELAY if retry_delay is None else retry_delay
        where = _redact(url)
        if not migrate:
            _must_exist(url, where)
        try:
            engine = _engine(url, connect_timeout, statement_timeout)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"store {where}: {exc.__class__.__name__}: {exc}") from exc
        attempts = max(1, connect_attempts)
        for attempt in range(1, attempts + 1):
            try:
                store = cls(engine, clock, sample_interval)
                if migrate:
                    store.migrate()
                elif (found := store.schema_version()) != SCHEMA_VERSION:
                    raise StoreError(
                        f"store {where} has schema version {found}, this netfence reads "
                        f"{SCHEMA_VERSION}: `netfence serve` of this version migrates it"
                    )
                return store
            except OperationalError as exc:
                if attempt == attempts:
                    engine.dispose()
                    raise StoreError(_unreachable(where, exc, connect_timeout, attempts)) from exc
                time.sleep(retry_delay * attempt)
            except (SQLAlchemyError, OSError) as exc:
                engine.dispose()
                raise StoreError(f"store {where}: {exc.__class__.__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def flows(self) -> FlowStore:
        """The Hubble roll-ups, in the same database (tables of migration 2)."""
        return FlowStore(self._engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            yield conn

    # -- schema ---------------------------------------------------------------------

    def migrate(self) -> int:
        with self._tx() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            migrations_table.create(conn, checkfirst=True)
            done = {int(v) for v in conn.execute(select(migrations_table.c.version)).scalars()}
            if done and max(done) > SCHEMA_VERSION:
                raise StoreError(
                    f"the store has schema version {max(done)}, newer than this netfence "
                    f"({SCHEMA_VERSION}); upgrade netfence"
                )
            for version, description, apply in MIGRATIONS:
                if version in done:
                    continue
                apply(conn)
                conn.execute(
                    migrations_table.insert().values(
                        version=version, description=description, applied_at=self._clock()
                    )
                )
        return self.schema_version()

    def schema_version(self) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(select(func.max(migrations_table.c.version))).scalar()
        return int(value or 0)

    def tables(self) -> list[str]:
        return sorted(inspect(self._engine).get_table_names())

    # -- writing --------------------------------------------------------------------

    def record(self, scan: ScanRecord) -> int:
        """Persist one scan atomically (its row, then its changes); returns its id."""
        return self._write(clean(scan.cluster), scan.started_at, scan.success, scan, None)

    def record_changes(self, changes: ScanChanges) -> int:
        """Persist one successful scan given as its differences from the previous one
        (seeders, simulations); the store ends up as if `record` had been given the
        whole state. Returns the scan's id."""
        return self._write(clean(changes.cluster), changes.started_at, True, None, changes)

    def _write(
        self,
        cluster: str,
        at: float,
        success: bool,
        scan: ScanRecord | None,
        changes: ScanChanges | None,
    ) -> int:
        try:
            with self._lock:  # one writer per Store; processes queue on the head row
                with self._tx() as conn:
                    head = self._lock_head(conn, cluster)
                    if not success:
                        return self._insert_scan(conn, cluster, scan, changes, "")
                    if head.at is not None and at < head.at:
                        raise StoreError(
                            f"cannot record the scan of {cluster} at {at}: older than its "
                            f"last successful scan ({head.at}); scans are recorded oldest first"
                        )
                    previous = self._open.get(cluster)
                    if previous is None or previous.scan_id != head.scan_id:
                        previous = changelog.load_open(conn, cluster, head.scan_id)
                    digest = ""
                    same = False
                    if scan is not None:
                        same = scan.policies == previous.inputs.get("policies")
                        digest = scan.policies_sha256 or (
                            previous.policies_sha256  # the same set: no 50k-line sort
                            if same and previous.policies_sha256
                            else policies_digest(scan.policies)
                        )
                    scan_id = self._insert_scan(conn, cluster, scan, changes, digest)
                    ignore = insert_ignore(conn)
                    if scan is not None:
                        applied = changelog.apply(
                            conn, ignore, cluster, scan_id, scan, previous, self.sample_interval,
                            frozenset({"policies"}) if same else frozenset(),
                        )  # fmt: skip
                    else:
                        assert changes is not None
                        applied = changelog.apply_changes(
                            conn, ignore, cluster, scan_id, changes, previous, self.sample_interval
                        )
                        state = applied.state
                        conn.execute(
                            scans.update()
                            .where(scans.c.id == scan_id)
                            .values(
                                namespaces=len(state.namespaces),
                                policies=len(state.policies),
                                findings=len(state.findings),
                                pods=sum(map(itemgetter(0), (state.counts or {}).values())),
                            )
                        )
                    applied.state.policies_sha256 = digest
                    frame = applied.state.frame
                    conn.execute(
                        cluster_heads.update()
                        .where(cluster_heads.c.cluster == cluster)
                        .values(
                            scan_id=scan_id,
                            at=at,
                            sample_at=None if frame is None else frame.full_at,
                        )
                    )
                self._open[cluster] = applied.state  # only once committed
                return scan_id
        except SQLAlchemyError as exc:
            self._open.pop(cluster, None)
            raise StoreError(f"cannot record the scan of {cluster}: {exc}") from exc
        except BaseException:
            self._open.pop(cluster, None)  # may be half-updated: reload next time
            raise

    def _lock_head(self, conn: Connection, cluster: str) -> Any:
        conn.execute(insert_ignore(conn)(cluster_heads), [{"cluster": cluster}])
        query = select(cluster_heads).where(cluster_heads.c.cluster == cluster)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).one()

    def _insert_scan(
        self,
        conn: Connection,
        cluster: str,
        scan: ScanRecord | None,
        changes: ScanChanges | None,
        digest: str,
    ) -> int:
        if scan is None:
            assert changes is not None
            values: dict[str, Any] = {
                "cluster": cluster,
                "started_at": changes.started_at,
                "duration_seconds": changes.duration_seconds,
                "success": True,
                "version": clean(changes.version),
                "interval_seconds": changes.interval_seconds,
            }
        else:
            values = {
                "cluster": cluster,
                "started_at": scan.started_at,
                "duration_seconds": scan.duration_seconds,
                "success": scan.success,
                "error": clean(scan.error),
                "input_errors": scan.input_errors,
                "version": clean(scan.version),
                "degraded": scan.success and bool(scan.unreadable_kinds),
                "interval_seconds": scan.interval_seconds,
                "policies_sha256": "",
            }
            if scan.success:
                values.update(changelog.tally(scan))
                values["policies_sha256"] = digest
        row = conn.execute(scans.insert().values(**values).returning(scans.c.id)).scalar_one()
        return int(row)

    def prune(self, retention_days: float) -> int:
        """Delete what ended before the retention horizon; returns how many scans went.

        Scans, closed intervals and pod-count frames older than the horizon go; an open
        interval never does (it is the current state, however old its start), nor the
        last frame before the horizon (pods at the horizon come from it). Intervals kept
        that opened before the horizon become baseline: their opening is not reported
        as a change, since what they replaced is gone."""
        cutoff = self._clock() - retention_days * 86400
        try:
            with self._lock, self._tx() as conn:
                heads = select(cluster_heads.c.cluster).order_by(cluster_heads.c.cluster)
                clusters = conn.execute(heads).scalars().all()  # one lock order: no deadlock
                for cluster in clusters:
                    self._lock_head(conn, cluster)
                    for t in INTERVAL_TABLES:
                        conn.execute(
                            delete(t).where(
                                t.c.cluster == cluster, t.c.end_at.is_not(None), t.c.end_at < cutoff
                            )
                        )
                        # what opened before the horizon is where the kept history starts
                        # (its predecessor may be gone): a baseline, not a change
                        conn.execute(
                            t.update()
                            .where(
                                t.c.cluster == cluster,
                                t.c.start_at < cutoff,
                                t.c.baseline.is_(False),
                            )
                            .values(baseline=True)
                        )
                    keep_from = conn.execute(
                        select(func.max(pod_samples.c.at)).where(
                            pod_samples.c.cluster == cluster,
                            pod_samples.c.full.is_(True),
                            pod_samples.c.at <= cutoff,
                        )
                    ).scalar()
                    if keep_from is not None:
                        conn.execute(
                            delete(pod_samples).where(
                                pod_samples.c.cluster == cluster, pod_samples.c.at < keep_from
                            )
                        )
                        used = select(pod_samples.c.names_sha256).where(
                            pod_samples.c.cluster == cluster
                        )
                        conn.execute(
                            delete(pod_sample_names).where(
                                pod_sample_names.c.cluster == cluster,
                                pod_sample_names.c.sha256.not_in(used),
                            )
                        )
                result = conn.execute(delete(scans).where(scans.c.started_at < cutoff))
                conn.execute(delete(flow_hourly).where(flow_hourly.c.hour < cutoff))
                return int(result.rowcount or 0)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prune the history: {exc}") from exc

    # -- reading --------------------------------------------------------------------

    def scans(
        self, cluster: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[StoredScan]:
        query = select(scans).order_by(scans.c.started_at, scans.c.id)
        if cluster is not None:
            query = query.where(scans.c.cluster == cluster)
        if since is not None:
            query = query.where(scans.c.started_at >= since)
        if until is not None:
            query = query.where(scans.c.started_at < until)
        with self._engine.connect() as conn:
            return [_stored(r._mapping) for r in conn.execute(query)]


def _stored(r: Any) -> StoredScan:
    return StoredScan(
        id=int(r["id"]),
        input_errors=int(r["input_errors"]),
        interval_seconds=float(r["interval_seconds"]),
        **scan_fields(r),
    )


def _engine(url: str, connect_timeout: float, statement_timeout: float) -> Engine:
    full = engine_url(url)
    if full.startswith("postgresql"):
        engine = create_engine(
            full,
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, round(connect_timeout))},
        )
        _postgres_session(engine, statement_timeout)
        return engine
    engine = create_engine(full, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        _sqlite_pragmas(engine)
    return engine


def _must_exist(url: str, where: str) -> None:
    full = engine_url(url)
    if full.startswith("sqlite:///") and full != "sqlite:///:memory:":
        path = Path(full.removeprefix("sqlite:///"))
        if not path.is_file():
            raise StoreError(f"store {where}: no such file {path}")


def _postgres_session(engine: Engine, statement_timeout: float) -> None:
    milliseconds = max(0, round(statement_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute(f"SET statement_timeout = {milliseconds}")
        dbapi_connection.autocommit = autocommit


def _unreachable(where: str, exc: Exception, timeout: float, attempts: int) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else exc.__class__.__name__
    return (
        f"store {where}: cannot connect after {attempts} attempt(s) of {timeout:g} s "
        f"each (a database that accepts connections but does not answer looks like "
        f"this too): {first}"
    )


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (pysqlite would defer).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _redact(url: str) -> str:
    """Never print a password from a store URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
