"""The history as a change log: what `Store.record` writes and what `Store.history`
answers, on SQLite and on a real PostgreSQL (see conftest.store_url)."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from exporter.core.history import ChangeKind
from exporter.store import (
    ExposureRow,
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanChanges,
    ScanRecord,
    Store,
    StoreError,
)
from exporter.store.scan_history import engine_url
from exporter.store.schema import INTERVAL_TABLES, pod_samples

T0 = 1_790_000_000.0 - 1_790_000_000.0 % 86400  # a UTC midnight
STEP = 300.0
NP = "networking.k8s.io/v1"
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def scan(
    at: float,
    *,
    deny: bool = True,
    pods: int = 3,
    policy_sha: str = "a",
    exposed: bool = False,
    success: bool = True,
    cluster: str = "prod",
    unreadable: tuple[str, ...] = (),
    extra_namespace: bool = False,
) -> ScanRecord:
    namespaces = [
        NamespaceRow("payments", pods, deny, True, pods if deny else 0, pods),
        NamespaceRow("shop", 2, False, False, 0, 0, {"internet": int(exposed)}, 1),
    ]
    if extra_namespace:
        namespaces.append(NamespaceRow("new", 1, True, True, 1, 1))
    policies = [PolicyDigest("CiliumNetworkPolicy", "cilium.io/v2", "shop", "web", "c" * 64)]
    if deny:
        policies.append(
            PolicyDigest("NetworkPolicy", NP, "payments", "default-deny", policy_sha * 64)
        )
    return ScanRecord(
        cluster=cluster,
        started_at=at,
        duration_seconds=1.0,
        success=success,
        error="" if success else "boom",
        namespaces=tuple(namespaces) if success else (),
        policies=tuple(policies) if success else (),
        findings=(FindingRow("shop", "no-default-deny", "high", "Namespace/shop", "open"),)
        if success
        else (),
        exposures=(ExposureRow("shop", "Service/web", "internet"),) if exposed else (),
        unreadable_kinds=unreadable,
        interval_seconds=STEP,
    )


def _rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (*INTERVAL_TABLES, pod_samples)
        )


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store.open(store_url, clock=lambda: T0 + 86400, sample_interval=3600)
    yield s  # type: ignore[misc]
    s.close()


def test_a_scan_that_changes_nothing_writes_no_interval(store: Store) -> None:
    store.record(scan(T0))
    before = _rows(store)
    for i in range(1, 5):
        store.record(scan(T0 + i * STEP))
    assert _rows(store) == before
    assert len(store.scans("prod")) == 5


def test_the_timeline_of_changes(store: Store) -> None:
    store.record(scan(T0))  # baseline: what was there is not a change
    store.record(scan(T0 + STEP, exposed=True))
    store.record(scan(T0 + 2 * STEP, deny=False, exposed=True))  # policy deleted
    store.record(scan(T0 + 3 * STEP, deny=True, policy_sha="b", extra_namespace=True))
    changes = store.history.changes("prod", T0, T0 + 86400)
    got = [(c.at - T0, c.kind, c.namespace, c.subject) for c in changes]
    assert got == [
        (STEP, ChangeKind.EXPOSURE_ADDED, "shop", "Service/web internet"),
        (2 * STEP, ChangeKind.DEFAULT_DENY_LOST, "payments", "ingress"),
        (2 * STEP, ChangeKind.POLICY_DELETED, "payments", "NetworkPolicy/payments/default-deny"),
        (3 * STEP, ChangeKind.NAMESPACE_CREATED, "new", "new"),
        (3 * STEP, ChangeKind.DEFAULT_DENY_GAINED, "payments", "ingress"),
        (3 * STEP, ChangeKind.POLICY_CREATED, "payments", "NetworkPolicy/payments/default-deny"),
        (3 * STEP, ChangeKind.EXPOSURE_REMOVED, "shop", "Service/web internet"),
    ]
    lost = changes[1]
    assert lost.direction == "ingress"
    assert lost.detail == "NetworkPolicy payments/default-deny deleted"
    only = store.history.changes("prod", T0, T0 + 86400, namespace="payments")
    assert {c.namespace for c in only} == {"payments"}
    assert store.history.changes("prod", T0 + 3 * STEP + 1, T0 + 86400) == []


def test_state_at_any_time(store: Store) -> None:
    store.record(scan(T0, pods=3))
    store.record(scan(T0 + STEP, pods=7))  # pods change: sampled hourly, not per scan
    store.record(scan(T0 + 2 * STEP, deny=False, pods=7))
    store.record(scan(T0 + 3600 + STEP, deny=False, pods=9))
    h = store.history
    assert h.state_at("prod", T0 - 1).scan is None
    first = h.state_at("prod", T0 + STEP + 10)
    assert first.scan is not None and first.scan.started_at == T0 + STEP
    pay = first.namespaces[0]
    assert pay.namespace == "payments" and pay.ingress_default_deny is True
    assert pay.pods == 3 and first.pods_sampled_at == T0  # the sample, not the scan
    assert {p.name for p in first.policies} == {"web", "default-deny"}
    later = h.state_at("prod", T0 + 2 * STEP)
    assert later.namespaces[0].ingress_default_deny is False
    # evidence changed: that namespace's counts are sampled at once, from the same scan
    assert later.namespaces[0].ingress_isolated_pods == 0 and later.namespaces[0].pods == 7
    assert later.pods_sampled_at == T0 + 2 * STEP
    assert {p.name for p in later.policies} == {"web"}
    hour = h.state_at("prod", T0 + 3600 + STEP)
    assert hour.namespaces[0].pods == 9 and hour.pods_sampled_at == T0 + 3600 + STEP
    assert not hour.evidence_gap
    assert h.state_at("prod", T0 + 5 * 3600).evidence_gap  # hours after the last scan
    assert h.scans("prod", T0, T0 + 86400)[1].pods == 9  # scan rows: exact totals


def test_failed_scans_change_nothing_and_gaps_are_queryable(store: Store) -> None:
    store.record(scan(T0))
    store.record(scan(T0 + STEP, success=False))
    store.record(scan(T0 + 2 * STEP, success=False, deny=False))
    store.record(scan(T0 + 10 * STEP))
    h = store.history
    assert [s.success for s in h.scans("prod", T0, T0 + 86400)] == [True, False, False, True]
    assert h.changes("prod", T0, T0 + 86400) == []
    assert h.state_at("prod", T0 + 2 * STEP).namespaces[0].ingress_default_deny is True
    # evidence lasts 3 intervals: 0..900 s covered, then nothing until the scan at 3000 s
    gaps = [(g.start - T0, g.end - T0) for g in h.gaps("prod", T0 - 600, T0 + 10 * STEP + 60)]
    assert gaps == [(-600.0, 0.0), (3 * STEP, 10 * STEP)]
    # until "now" (the store's clock): the time after the last evidence is a gap
    (tail,) = h.gaps("prod", T0 + 10 * STEP, T0 + 2 * 86400)
    assert (tail.start, tail.end) == (T0 + 13 * STEP, T0 + 86400)


def test_default_deny_fraction_over_a_period(store: Store) -> None:
    for i in range(12):  # one hour: payments default-deny for the first half only
        store.record(scan(T0 + i * STEP, deny=i < 6))
    store.record(scan(T0 + 3600))
    fractions = {
        (f.namespace, f.direction): f
        for f in store.history.default_deny_fractions("prod", T0, T0 + 3600)
    }
    ingress = fractions[("payments", "ingress")]
    assert ingress.fraction == pytest.approx(0.5) and not ingress.whole_period
    assert ingress.observed_seconds == pytest.approx(3600)
    egress = fractions[("payments", "egress")]
    assert egress.fraction == 1.0 and egress.whole_period
    assert fractions[("shop", "ingress")].fraction == 0.0
    # a period with a gap in evidence is never "whole", even if default-deny throughout
    gapped = {
        (f.namespace, f.direction): f
        for f in store.history.default_deny_fractions("prod", T0 - 3600, T0 + 3600)
    }
    assert gapped[("payments", "egress")].fraction == 1.0
    assert not gapped[("payments", "egress")].whole_period
    assert store.history.default_deny_fractions("prod", T0 - 7200, T0 - 3600) == []


def test_daily_points_and_unknown_default_deny(store: Store) -> None:
    store.record(scan(T0 + 100))
    store.record(scan(T0 + 86400 - 100, exposed=True))
    store.record(scan(T0 + 2 * 86400 + 100))
    days = store.history.daily("prod", T0, T0 + 3 * 86400)
    assert [d.day - T0 for d in days] == [0, 86400, 2 * 86400]
    first, second, third = days
    assert first.namespaces == 2 and first.ingress_default_deny_namespaces == 1
    assert first.egress_default_deny_namespaces == 1 and first.exposures["internet"] == 1
    assert first.pods == 5 and first.internet_egress_workloads == 1
    assert second.namespaces is None and second.pods is None  # no scan that day: unknown
    assert third.exposures["internet"] == 0


def test_unreadable_kinds_leave_their_policies_alone(store: Store) -> None:
    store.record(scan(T0))
    degraded = scan(T0 + STEP, unreadable=("CiliumNetworkPolicy",))
    degraded = ScanRecord(
        **{
            **{f: getattr(degraded, f) for f in degraded.__slots__},
            "policies": degraded.policies[1:],
        }
    )
    store.record(degraded)
    assert store.history.scans("prod", T0, T0 + 86400)[1].degraded
    assert store.history.changes("prod", T0, T0 + 86400) == []
    names = {p.name for p in store.history.state_at("prod", T0 + STEP).policies}
    assert names == {"web", "default-deny"}


def test_unknown_default_deny_is_a_change_and_never_false(store: Store) -> None:
    store.record(scan(T0))
    unknown = scan(T0 + STEP)
    rows = (NamespaceRow("payments", 3, None, None, 0, 0), *unknown.namespaces[1:])
    store.record(ScanRecord(**{**{f: getattr(unknown, f) for f in unknown.__slots__},
                               "namespaces": rows}))  # fmt: skip
    kinds = {c.kind for c in store.history.changes("prod", T0, T0 + 86400)}
    assert kinds == {ChangeKind.DEFAULT_DENY_UNKNOWN}
    pay = store.history.state_at("prod", T0 + STEP).namespaces[0]
    assert pay.ingress_default_deny is None and pay.egress_default_deny is None
    (ingress,) = [
        f
        for f in store.history.default_deny_fractions("prod", T0, T0 + 2 * STEP)
        if f.namespace == "payments" and f.direction == "ingress"
    ]
    assert ingress.observed_seconds == pytest.approx(STEP)  # the unknown half is not counted


def test_scans_are_recorded_oldest_first(store: Store) -> None:
    store.record(scan(T0 + STEP))
    with pytest.raises(StoreError, match="older than its last successful scan"):
        store.record(scan(T0))
    assert len(store.scans("prod")) == 1  # the refused scan left nothing behind


def test_retention_never_prunes_an_open_interval(store_url: str) -> None:
    now = T0 + 500 * 86400
    store = Store.open(store_url, clock=lambda: now)
    try:
        store.record(scan(T0))  # opened 500 days ago, still open
        store.record(scan(T0 + STEP, exposed=True))  # exposure opened ...
        store.record(scan(T0 + 2 * STEP))  # ... and closed 500 days ago
        store.record(scan(now - 86400))
        store.prune(400)
        state = store.history.state_at("prod", now)
        assert {p.name for p in state.policies} == {"web", "default-deny"}
        assert state.policies[0].since == T0 and state.namespaces[0].pods == 3
        assert store.history.changes("prod", 0, now) == []  # the closed one went
        assert [s.started_at for s in store.scans("prod")] == [now - 86400]
    finally:
        store.close()


def test_two_stores_writing_one_cluster_keep_the_intervals_whole(store_url: str) -> None:
    """A store's in-memory open intervals are reloaded when another writer went first."""
    a = Store.open(store_url, clock=time.time)
    b = Store.open(store_url, clock=time.time)
    try:
        a.record(scan(T0))
        b.record(scan(T0 + STEP, deny=False))
        a.record(scan(T0 + 2 * STEP, deny=True))
        kinds = [c.kind for c in a.history.changes("prod", T0, T0 + 86400)]
        assert kinds.count(ChangeKind.DEFAULT_DENY_LOST) == 1
        assert kinds.count(ChangeKind.DEFAULT_DENY_GAINED) == 1
        assert len(a.history.state_at("prod", T0 + 2 * STEP).policies) == 2
    finally:
        a.close()
        b.close()


ODD = ["\ud800", "nul\x00byte", "x" * 300, "ünïcode-✓", "\udfff\ud800tail"]


def test_any_string_is_stored(store: Store) -> None:
    """Lone surrogates, NUL bytes and names over 253 characters never refuse a scan."""
    record = ScanRecord(
        cluster="prod",
        started_at=T0,
        duration_seconds=1.0,
        success=True,
        namespaces=tuple(NamespaceRow(name, 1, True, True, 1, 1) for name in ODD),
        policies=tuple(PolicyDigest("NetworkPolicy", NP, n, n, "a" * 64) for n in ODD),
        findings=tuple(FindingRow(n, "check", "high", f"Namespace/{n}", n) for n in ODD),
        exposures=tuple(ExposureRow(n, f"Service/{n}", "internet") for n in ODD),
        error="",
    )
    store.record(record)
    state = store.history.state_at("prod", T0)
    names = [n.namespace for n in state.namespaces]
    assert len(names) == len(ODD) == len(state.policies) == len(state.exposures)
    assert "\\ud800" in names and "nul\\x00byte" in names and "x" * 300 in names
    assert "ünïcode-✓" in names  # printable text is kept as it is
    store.record(record.__class__(**{**{f: getattr(record, f) for f in record.__slots__},
                                     "started_at": T0 + STEP}))  # fmt: skip
    assert store.history.changes("prod", T0, T0 + 86400) == []  # same names, same keys


@contextlib.contextmanager
def _silent_server() -> Iterator[int]:
    """A TCP server on an ephemeral port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        assert accepted, "the client did reach the silent server"
        for conn in accepted:
            conn.close()
        server.close()


def test_a_database_that_never_answers_does_not_hang() -> None:
    """A PostgreSQL address that accepts connections and never answers: `open` gives
    up after its attempts with an error that says so, instead of hanging `serve`."""
    started = time.monotonic()
    with _silent_server() as port, pytest.raises(StoreError) as err:
        Store.open(
            f"postgresql://netfence@127.0.0.1:{port}/db",
            clock=time.time,
            connect_timeout=1,
            connect_attempts=2,
            retry_delay=0.1,
        )
    message = str(err.value)
    assert "cannot connect after 2 attempt(s) of 1 s" in message and str(port) in message
    assert time.monotonic() - started < 20


_WRITER = """
import sys, time
from exporter.store import NamespaceRow, PolicyDigest, ScanRecord, Store
url, cluster = sys.argv[1], sys.argv[2]
store = Store.open(url, clock=time.time)
for i in range(40):
    rows = tuple(NamespaceRow(f"ns-{j}", 1, (i + j) % 4 < 2, True, 1, 1) for j in range(50))
    pols = tuple(PolicyDigest("NetworkPolicy", "v1", f"ns-{j}", "p", f"{i // 5:064d}")
                 for j in range(20))
    store.record(ScanRecord(cluster, 1000.0 + 300 * i, 0.1, True, namespaces=rows,
                            policies=pols, interval_seconds=300))
store.close()
print("done", flush=True)
"""


def test_two_processes_write_different_clusters_to_one_postgresql(postgres_url: str) -> None:
    Store.open(postgres_url, clock=time.time).close()  # schema first: both start at once
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, postgres_url, cluster],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cluster in ("east", "west")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    store = Store.open(postgres_url, clock=time.time)
    try:
        h = store.history
        assert sorted(h.clusters()) == ["east", "west"]
        for cluster in ("east", "west"):
            assert len(store.scans(cluster)) == 40
            last = h.state_at(cluster, 1000.0 + 300 * 39)
            assert [n.ingress_default_deny for n in last.namespaces][:4] == [
                (39 + j) % 4 < 2 for j in (0, 1, 10, 11)
            ]
            changes = h.changes(cluster, 0, 1e6)
            modified = [c for c in changes if c.kind is ChangeKind.POLICY_MODIFIED]
            assert len(modified) == 7 * 20  # i // 5 changes 7 times, 20 policies each
        engine = create_engine(engine_url(postgres_url))
        with engine.connect() as conn:
            open_twice = conn.exec_driver_sql(
                "SELECT cluster, namespace FROM namespace_intervals WHERE end_at IS NULL "
                "GROUP BY cluster, namespace HAVING COUNT(*) > 1"
            ).all()
        engine.dispose()
        assert open_twice == []
    finally:
        store.close()


def test_recording_changes_equals_recording_whole_states(store: Store) -> None:
    """`record_changes` (seeders, simulations) leaves what `record` of the whole states
    would: the same intervals, samples, changes and scan counts."""
    full = [
        scan(T0, cluster="whole"),
        scan(T0 + STEP, pods=5, cluster="whole"),
        scan(T0 + 2 * STEP, deny=False, exposed=True, pods=5, cluster="whole"),
        scan(T0 + 3 * STEP, policy_sha="b", extra_namespace=True, cluster="whole"),
    ]
    for record in full:
        store.record(record)
    store.record(dataclasses.replace(full[0], cluster="delta"))
    pay = "payments"
    store.record_changes(ScanChanges("delta", T0 + STEP, pods={pay: (5, 5, 5)}))
    store.record_changes(
        ScanChanges(
            "delta",
            T0 + 2 * STEP,
            namespaces=(
                NamespaceRow(pay, 5, False, True, 0, 5),
                NamespaceRow("shop", 2, False, False, 0, 0, {"internet": 1}, 1),
            ),
            policies_gone=(("NetworkPolicy", NP, pay, "default-deny"),),
            exposures_added=(ExposureRow("shop", "Service/web", "internet"),),
        )
    )
    store.record_changes(
        ScanChanges(
            "delta",
            T0 + 3 * STEP,
            namespaces=(
                NamespaceRow(pay, 3, True, True, 3, 3),
                NamespaceRow("shop", 2, False, False, 0, 0, {}, 1),
                NamespaceRow("new", 1, True, True, 1, 1),
            ),
            policies=(PolicyDigest("NetworkPolicy", NP, pay, "default-deny", "b" * 64),),
            exposures_removed=(ExposureRow("shop", "Service/web", "internet"),),
        )
    )
    h = store.history

    def strip(items: object) -> object:
        return [dataclasses.replace(x, cluster="") for x in items]  # type: ignore[attr-defined]

    assert strip(h.changes("delta", T0, T0 + 86400)) == strip(h.changes("whole", T0, T0 + 86400))
    for at in (T0 + STEP, T0 + 2 * STEP, T0 + 3 * STEP):
        a, b = h.state_at("whole", at), h.state_at("delta", at)
        assert (a.namespaces, a.policies, a.findings, a.exposures, a.pods_sampled_at) == (
            b.namespaces, b.policies, b.findings, b.exposures, b.pods_sampled_at
        )  # fmt: skip
    counts = [(s.namespaces, s.pods, s.policies, s.findings) for s in h.scans("whole", 0, 1e10)]
    assert [(s.namespaces, s.pods, s.policies, s.findings) for s in h.scans("delta", 0, 1e10)] == (
        counts
    )


def test_serve_exits_with_a_clear_error_when_the_database_never_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`netfence serve` at start against a PostgreSQL address that accepts connections
    and never answers: exit 2 with the store's error, after bounded attempts."""
    from exporter.cli import main
    from exporter.store import scan_history

    monkeypatch.setattr(scan_history, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setattr(scan_history, "RETRY_DELAY", 0.1)
    with _silent_server() as port:
        started = time.monotonic()
        code = main(
            [
                "serve",
                "--manifests", str(DEMO),
                "--store", f"postgresql://netfence@127.0.0.1:{port}/db",
                "--web.listen-address", "127.0.0.1:0",
            ]
        )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "cannot connect after 3 attempt(s) of 1 s" in err
    assert time.monotonic() - started < 30
