"""The store's runtime joins (exporter.store.runtime_joins): a hand-made half day of
scans and flow roll-ups whose answers are computed by hand, on SQLite and PostgreSQL
(conftest.store_url), and every way an answer is not verifiable (None, never 0)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporter.core.flows import RollupRow
from exporter.store import NamespaceRow, ScanRecord, Store
from reports.runtime import RuntimeReader

T0 = 1_790_000_000.0 - 1_790_000_000.0 % 86400  # a UTC midnight
H = 3600.0


def scan(
    at: float,
    cluster: str = "prod",
    *,
    payments_ingress: bool | None = True,
    api_ingress: bool = True,
    success: bool = True,
) -> ScanRecord:
    namespaces = (
        NamespaceRow("payments", 3, payments_ingress, True, 3, 3),
        NamespaceRow("shop", 2, False, False, 0, 0, {"internet": 1, "other_namespaces": 2}),
        NamespaceRow("api", 1, api_ingress, False, 1, 0, {"ingress": 1, "all_namespaces": 1}),
    )
    return ScanRecord(
        cluster=cluster,
        started_at=at,
        duration_seconds=1.0,
        success=success,
        error="" if success else "unreachable",
        namespaces=namespaces if success else (),
        interval_seconds=H,  # evidence: 3 x 1 h after each successful scan
    )


def flow(
    hour: float,
    namespace: str,
    count: int,
    *,
    direction: str = "ingress",
    verdict: str = "forwarded",
    peer: str = "shop",
    kind: str = "connection",
) -> RollupRow:
    reason = "POLICY_DENIED" if verdict == "dropped" else ""
    return RollupRow(int(T0 + hour * H), kind, namespace, direction, verdict, reason, "", peer,
                     count)  # fmt: skip


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url, clock=lambda: T0 + 12 * H)
    # prod: hourly scans; payments loses ingress default-deny at 6:00 exactly, api at 8:30
    for h in (*range(9), 8.5, *range(9, 12)):
        s.record(scan(T0 + h * H, payments_ingress=h < 6, api_ingress=h <= 8))
    s.flows.add_rollups(
        "prod",
        "0",
        [
            flow(1, "payments", 10),  # ingress, default-deny all hour: counted
            flow(1, "payments", 5, verdict="dropped"),  # not admitted
            flow(2, "payments", 7, direction="egress", peer="reserved:world"),  # counted
            flow(2, "payments", 3, verdict="audit"),  # audit mode lets it through: counted
            flow(3, "shop", 20, peer="reserved:world"),  # shop is open; internet exposure used
            flow(3, "shop", 6, peer="payments", verdict="dropped"),  # no use of other_namespaces
            flow(4, "api", 4, peer="reserved:ingress"),  # counted; api's ingress exposure used
            flow(5, "payments", 9, kind="l7"),  # not a connection verdict
            flow(6, "payments", 100),  # default-deny lost at 6:00: not counted
            # api lost ingress default-deny at 8:30, mid-hour: not attributable, not counted
            flow(8, "api", 50, peer="reserved:ingress"),
            flow(10, "payments", 2, verdict="dropped"),  # flows still collected at 10:00
        ],
    )
    yield s
    s.close()


def test_the_store_is_a_runtime_reader(store: Store) -> None:
    assert isinstance(store.history, RuntimeReader)


def test_connections_admitted_where_the_scans_say_default_deny(store: Store) -> None:
    # 10 (1:00 payments ingress) + 7 (2:00 payments egress) + 3 (2:00 audit) + 4 (4:00 api)
    assert store.history.admitted_under_default_deny("prod", T0, T0 + 12 * H) == 24
    # the period bounds the roll-up hours: only 1:00 is in [0:00, 2:00)
    assert store.history.admitted_under_default_deny("prod", T0, T0 + 2 * H) == 10
    # flows were collected (a drop at 10:00), nothing admitted in [9:00, 12:00): 0
    assert store.history.admitted_under_default_deny("prod", T0 + 9 * H, T0 + 12 * H) == 0


def test_exposures_allowed_but_unused(store: Store) -> None:
    # at the end: shop internet 1 (used at 3:00 from reserved:world), shop
    # other_namespaces 2 (only a dropped connection from payments: unused), api ingress 1
    # (used at 4:00 through reserved:ingress), api all_namespaces 1 (unused)
    assert store.history.unused_exposures("prod", T0, T0 + 12 * H) == 3
    # [4:00, 12:00): shop's internet use at 3:00 is before the period
    assert store.history.unused_exposures("prod", T0 + 4 * H, T0 + 12 * H) == 4


def test_a_connection_from_another_namespace_may_be_an_ingress_controllers(
    store: Store,
) -> None:
    store.flows.add_rollups("prod", "0", [flow(10, "api", 1, peer="ingress-nginx")])
    # api's all_namespaces and ingress exposures are both counted as used: the peer may
    # be a controller; only shop's other_namespaces 2 remain
    assert store.history.unused_exposures("prod", T0, T0 + 12 * H) == 2


def test_no_flows_collected_is_not_verifiable(store: Store) -> None:
    for h in range(3):
        store.record(scan(T0 + h * H, cluster="staging"))
    assert store.history.unused_exposures("staging", T0, T0 + 12 * H) is None
    assert store.history.admitted_under_default_deny("staging", T0, T0 + 12 * H) is None
    # prod's roll-ups end at 10:00; nothing in [11:00, 12:00)
    assert store.history.unused_exposures("prod", T0 + 11 * H, T0 + 12 * H) is None


def test_admitted_traffic_in_a_scan_gap_is_not_verifiable(store: Store) -> None:
    # scans at 0:00 and 1:00 (evidence until 4:00), then only failures
    store.record(scan(T0, cluster="gappy"))
    store.record(scan(T0 + H, cluster="gappy"))
    for h in range(2, 12):
        store.record(scan(T0 + h * H, cluster="gappy", success=False))
    store.flows.add_rollups("gappy", "0", [flow(1, "payments", 2), flow(6, "shop", 1)])
    assert store.history.admitted_under_default_deny("gappy", T0, T0 + 12 * H) is None
    assert store.history.admitted_under_default_deny("gappy", T0, T0 + 4 * H) == 2
    # the exposures at the end are those of the 1:00 scan; no ingress from elsewhere
    # into api or shop's other_namespaces: 1 + 2 + 1 + 1 unused, shop's 6:00 connection
    # came from shop itself
    assert store.history.unused_exposures("gappy", T0, T0 + 12 * H) == 5


def test_unknown_default_deny_and_folded_namespaces_are_not_verifiable(store: Store) -> None:
    for h in range(12):
        store.record(scan(T0 + h * H, cluster="dark", payments_ingress=None))
    store.flows.add_rollups("dark", "0", [flow(2, "payments", 1)])
    assert store.history.admitted_under_default_deny("dark", T0, T0 + 12 * H) is None
    store.flows.add_rollups("prod", "0", [flow(9, "_other", 1)])
    assert store.history.admitted_under_default_deny("prod", T0, T0 + 12 * H) is None
    assert store.history.unused_exposures("prod", T0, T0 + 12 * H) is None


def test_no_scan_before_the_period_end_is_not_verifiable(store: Store) -> None:
    store.flows.add_rollups("prod", "0", [flow(-2, "payments", 1)])
    assert store.history.unused_exposures("prod", T0 - 3 * H, T0 - H) is None
    assert store.history.admitted_under_default_deny("prod", T0 - 3 * H, T0 - H) is None
