"""Namespace labels in the history (migration 5): written with each scan, read back in
the state at any time, and used by label-scoped report controls; rows from before the
migration have no labels, and a control scoped by label over them is "not verifiable".
On SQLite and PostgreSQL (conftest.store_url)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import create_engine, text

from exporter.core.history import ChangeKind
from exporter.store import SCHEMA_VERSION, NamespaceRow, ScanRecord, Store
from exporter.store.scan_history import engine_url
from exporter.store.schema import migrations_table
from reports.control_files import load_controls
from reports.model import ControlResult, Options, build
from reports.period import Period

DAY = 86_400.0
T0 = 1_790_000_000.0 - 1_790_000_000.0 % DAY  # a UTC midnight
CDE = {"pci-dss/scope": "cde", "team": "payments"}
HOSTILE = {
    "example.com/long": "x" * 10_000,
    "unicode": "zoné—🔒 日本",
    "nul": "a\x00b",
    "surrogate": "\ud800",
    "quote": '"}]\\',
}


def record(at: float, labels: Mapping[str, Mapping[str, str]] | None) -> ScanRecord:
    def ns(name: str, deny: bool) -> NamespaceRow:
        return NamespaceRow(name, 2, deny, deny, 2 if deny else 0, 2 if deny else 0,
                            labels=None if labels is None else labels.get(name, {}))  # fmt: skip

    return ScanRecord(
        cluster="prod",
        started_at=at,
        duration_seconds=1.0,
        success=True,
        namespaces=(ns("payments", True), ns("web", False), ns("batch", True)),
        interval_seconds=DAY,
    )


def pci(store: Store, since: float, until: float) -> dict[str, ControlResult]:
    report = build(
        store.history,
        Period(since, until, "test"),
        clusters=None,
        generated_at=until,
        version="test",
        options=Options(controls=load_controls()),
    )
    return {c.control.id: c for c in report.controls if c.control.framework.startswith("PCI")}


def test_labels_round_trip_any_value(store_url: str) -> None:
    store = Store.open(store_url, clock=lambda: T0 + 10 * DAY)
    try:
        store.record(record(T0, {"payments": CDE, "web": HOSTILE}))
        store.record(record(T0 + DAY, {"payments": {**CDE, "tier": "1"}, "web": HOSTILE}))
        first = {n.namespace: n.labels for n in store.history.state_at("prod", T0 + 1).namespaces}
        assert first == {"payments": CDE, "web": HOSTILE, "batch": {}}
        later = store.history.state_at("prod", T0 + DAY + 1).namespaces
        assert later[1].namespace == "payments" and later[1].labels == {**CDE, "tier": "1"}
        # a label change is a new interval but no change event
        assert store.history.changes("prod", T0 + 1, T0 + 2 * DAY) == []
    finally:
        store.close()


def test_a_scoped_control_is_computed_over_the_labelled_subset(store_url: str) -> None:
    store = Store.open(store_url, clock=lambda: T0 + 10 * DAY)
    try:
        for d in range(3):
            store.record(record(T0 + d * DAY, {"payments": CDE, "web": {"team": "web"}}))
        controls = pci(store, T0, T0 + 3 * DAY)
        scoped = controls["1.3.1"]
        assert "(1 namespaces)" in scoped.scope  # payments only, not web or batch
        assert scoped.lines[0].observed.startswith("1 of 1 (100.0%)")
        assert scoped.lines[0].verifiable
    finally:
        store.close()


def test_a_version_4_store_gains_labels_and_old_rows_are_not_verifiable(
    store_url: str,
) -> None:
    store = Store.open(store_url, clock=lambda: T0 + 10 * DAY)
    for d in range(3):
        store.record(record(T0 + d * DAY, None))
    store.close()
    # what netfence with schema 4 left behind: the same rows, no labels column
    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE namespace_intervals DROP COLUMN labels"))
        conn.execute(migrations_table.delete().where(migrations_table.c.version == 5))
    engine.dispose()
    store = Store.open(store_url, clock=lambda: T0 + 10 * DAY)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 5
        old = store.history.state_at("prod", T0 + 2 * DAY + 1)
        assert [n.namespace for n in old.namespaces] == ["batch", "payments", "web"]
        assert all(n.labels is None for n in old.namespaces)
        # a label-scoped control over the old rows: not verifiable, not "no namespace"
        line = pci(store, T0, T0 + 3 * DAY)["1.3.1"].lines[0]
        assert not line.verifiable
        assert line.observed.startswith("not verifiable: 3 namespaces at period end could not")
        # the first scan after the upgrade records the labels; nothing else changed
        store.record(record(T0 + 3 * DAY, {"payments": CDE}))
        kinds = {c.kind for c in store.history.changes("prod", T0, T0 + 4 * DAY)}
        assert not kinds & {ChangeKind.NAMESPACE_CREATED, ChangeKind.NAMESPACE_DELETED}
        scoped = pci(store, T0, T0 + 4 * DAY)["1.3.1"]
        assert "(1 namespaces)" in scoped.scope
        assert scoped.lines[0].observed.startswith("1 of 1 (100.0%)")
    finally:
        store.close()
