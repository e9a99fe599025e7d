"""The history store on SQLAlchemy Core: SQLite by default, PostgreSQL for fleets.

- One transaction per scan: a process killed at any moment (kill -9) leaves either the
  whole scan or nothing; only the scan in flight is lost, and a restart just goes on.
- SQLite runs in WAL mode with `synchronous=FULL` (a committed scan survives a crash of
  the machine too) and `BEGIN IMMEDIATE`, so concurrent writers queue instead of failing.
- PostgreSQL takes the URL as given (`postgresql://user@host/db`, psycopg 3 driver);
  many netfence instances may write to one database: scan ids come from its sequence and
  migrations run under an advisory lock.
- The schema is versioned (`netfence_schema_migrations`); `Store.open` applies the
  missing migrations in order and refuses a database newer than this code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from exporter.store.flows import FlowStore, flow_exposure_use, flow_hourly
from exporter.store.flows import metadata as flow_tables
from exporter.store.records import (
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanRecord,
    StoredScan,
)

_MIGRATION_LOCK = 0x6E6574666E63  # "netfnc": the PostgreSQL advisory lock key


class StoreError(RuntimeError):
    """The store cannot be opened or written."""


metadata = MetaData()

migrations_table = Table(
    "netfence_schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", Float, nullable=False),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cluster", String(128), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("namespaces", Integer, nullable=False, default=0),
    Column("pods", Integer, nullable=False, default=0),
    Column("findings", Integer, nullable=False, default=0),
    Column("policies", Integer, nullable=False, default=0),
    Column("policies_sha256", String(64), nullable=False, default=""),
    Column("input_errors", Integer, nullable=False, default=0),
    Column("version", String(64), nullable=False, default=""),
    Index("ix_scans_cluster_started", "cluster", "started_at"),
    Index("ix_scans_started", "started_at"),
)


def _scan_fk() -> Column[int]:
    return Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)


scan_namespaces = Table(
    "scan_namespaces",
    metadata,
    _scan_fk(),
    Column("namespace", String(253), primary_key=True),
    Column("pods", Integer, nullable=False),
    Column("ingress_default_deny", Boolean, nullable=False),
    Column("egress_default_deny", Boolean, nullable=False),
    Column("ingress_isolated_pods", Integer, nullable=False),
    Column("egress_isolated_pods", Integer, nullable=False),
    Column("internet_egress_workloads", Integer, nullable=False, default=0),
)

scan_exposures = Table(
    "scan_exposures",
    metadata,
    _scan_fk(),
    Column("namespace", String(253), primary_key=True),
    Column("exposure", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)

scan_findings = Table(
    "scan_findings",
    metadata,
    _scan_fk(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("namespace", String(253), nullable=False),
    Column("check", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("object", Text, nullable=False),
    Column("message", Text, nullable=False),
)

scan_policies = Table(
    "scan_policies",
    metadata,
    _scan_fk(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(128), nullable=False),
    Column("api_version", String(128), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("name", String(253), nullable=False),
    Column("sha256", String(64), nullable=False),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(
        conn, tables=[scans, scan_namespaces, scan_exposures, scan_findings, scan_policies]
    )


def _v2(conn: Connection) -> None:
    flow_tables.create_all(conn, tables=[flow_hourly, flow_exposure_use])


# (version, description, apply). Append only; never edit a released migration.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "scans with namespaces, exposures, findings and policy digests", _v1),
    (2, "hourly Hubble verdict roll-ups and last use of exposures", _v2),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def engine_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def policies_digest(policies: Sequence[PolicyDigest]) -> str:
    lines = sorted(f"{p.kind}\t{p.namespace}\t{p.name}\t{p.sha256}" for p in policies)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class Store:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, clock: Callable[[], float]) -> Store:
        """Connect and bring the schema up to date."""
        try:
            engine = create_engine(engine_url(url), pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                database = engine.url.database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                _sqlite_pragmas(engine)
            store = cls(engine, clock)
            store.migrate()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store {_redact(url)}: {exc.__class__.__name__}: {exc}") from exc
        return store

    def close(self) -> None:
        self._engine.dispose()

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
        """Persist one scan atomically; returns its id."""
        try:
            with self._tx() as conn:
                return self._record(conn, scan)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record the scan of {scan.cluster}: {exc}") from exc

    def _record(self, conn: Connection, scan: ScanRecord) -> int:
        row = conn.execute(
            scans.insert()
            .values(
                cluster=scan.cluster,
                started_at=scan.started_at,
                duration_seconds=scan.duration_seconds,
                success=scan.success,
                error=scan.error,
                namespaces=len(scan.namespaces),
                pods=sum(n.pods for n in scan.namespaces),
                findings=len(scan.findings),
                policies=len(scan.policies),
                policies_sha256=scan.policies_sha256 or policies_digest(scan.policies),
                input_errors=scan.input_errors,
                version=scan.version,
            )
            .returning(scans.c.id)
        ).scalar_one()
        scan_id = int(row)
        if scan.namespaces:
            conn.execute(
                scan_namespaces.insert(),
                [
                    {
                        "scan_id": scan_id,
                        "namespace": n.namespace,
                        "pods": n.pods,
                        "ingress_default_deny": n.ingress_default_deny,
                        "egress_default_deny": n.egress_default_deny,
                        "ingress_isolated_pods": n.ingress_isolated_pods,
                        "egress_isolated_pods": n.egress_isolated_pods,
                        "internet_egress_workloads": n.internet_egress_workloads,
                    }
                    for n in scan.namespaces
                ],
            )
        exposures = [
            {"scan_id": scan_id, "namespace": n.namespace, "exposure": k, "count": v}
            for n in scan.namespaces
            for k, v in sorted(n.exposure.items())
            if v
        ]
        if exposures:
            conn.execute(scan_exposures.insert(), exposures)
        if scan.findings:
            conn.execute(
                scan_findings.insert(),
                [
                    {
                        "scan_id": scan_id,
                        "seq": i,
                        "namespace": f.namespace,
                        "check": f.check,
                        "severity": f.severity,
                        "object": f.object,
                        "message": f.message,
                    }
                    for i, f in enumerate(scan.findings)
                ],
            )
        if scan.policies:
            conn.execute(
                scan_policies.insert(),
                [
                    {
                        "scan_id": scan_id,
                        "seq": i,
                        "kind": p.kind,
                        "api_version": p.api_version,
                        "namespace": p.namespace,
                        "name": p.name,
                        "sha256": p.sha256,
                    }
                    for i, p in enumerate(scan.policies)
                ],
            )
        return scan_id

    def prune(self, retention_days: float) -> int:
        """Delete scans older than the retention; returns how many went."""
        cutoff = self._clock() - retention_days * 86400
        with self._tx() as conn:
            doomed = select(scans.c.id).where(scans.c.started_at < cutoff)
            for child in (scan_namespaces, scan_exposures, scan_findings, scan_policies):
                conn.execute(delete(child).where(child.c.scan_id.in_(doomed)))
            result = conn.execute(delete(scans).where(scans.c.started_at < cutoff))
            conn.execute(delete(flow_hourly).where(flow_hourly.c.hour < cutoff))
            return int(result.rowcount or 0)

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

    def namespaces(self, scan_id: int) -> list[NamespaceRow]:
        with self._engine.connect() as conn:
            exposure: dict[str, dict[str, int]] = {}
            for r in conn.execute(
                select(scan_exposures).where(scan_exposures.c.scan_id == scan_id)
            ):
                exposure.setdefault(r.namespace, {})[r.exposure] = int(r._mapping["count"])
            rows = conn.execute(
                select(scan_namespaces)
                .where(scan_namespaces.c.scan_id == scan_id)
                .order_by(scan_namespaces.c.namespace)
            )
            return [
                NamespaceRow(
                    namespace=r.namespace,
                    pods=int(r.pods),
                    ingress_default_deny=bool(r.ingress_default_deny),
                    egress_default_deny=bool(r.egress_default_deny),
                    ingress_isolated_pods=int(r.ingress_isolated_pods),
                    egress_isolated_pods=int(r.egress_isolated_pods),
                    exposure=exposure.get(r.namespace, {}),
                    internet_egress_workloads=int(r.internet_egress_workloads),
                )
                for r in rows
            ]

    def findings(self, scan_id: int) -> list[FindingRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(scan_findings)
                .where(scan_findings.c.scan_id == scan_id)
                .order_by(scan_findings.c.seq)
            )
            return [FindingRow(r.namespace, r.check, r.severity, r.object, r.message) for r in rows]

    def policies(self, scan_id: int) -> list[PolicyDigest]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(scan_policies)
                .where(scan_policies.c.scan_id == scan_id)
                .order_by(scan_policies.c.seq)
            )
            return [
                PolicyDigest(r.kind, r.api_version, r.namespace, r.name, r.sha256) for r in rows
            ]


def _stored(r: Any) -> StoredScan:
    return StoredScan(
        id=int(r["id"]),
        cluster=str(r["cluster"]),
        started_at=float(r["started_at"]),
        duration_seconds=float(r["duration_seconds"]),
        success=bool(r["success"]),
        error=str(r["error"]),
        namespaces=int(r["namespaces"]),
        pods=int(r["pods"]),
        findings=int(r["findings"]),
        policies=int(r["policies"]),
        policies_sha256=str(r["policies_sha256"]),
        input_errors=int(r["input_errors"]),
        version=str(r["version"]),
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
