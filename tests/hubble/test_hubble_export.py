"""Flow counters as Prometheus families, and hourly roll-ups in the store (SQLite)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from exporter.core.flows import DEFAULT_DENY, Aggregator, FlowsConfig
from exporter.core.policy_use import BoundedPolicyCounts
from exporter.metrics.flows import FLOW_FAMILIES, FlowCollector, FlowMetrics
from exporter.store.flows import FlowStore

T0 = 1_699_999_200  # start of an hour


def _agg() -> Aggregator:
    agg = Aggregator(FlowsConfig("prod", shard="1"))
    agg.connection(T0, "shop", "cart", 1, 2, 133, DEFAULT_DENY, "batch")
    agg.connection(T0, "shop", "cart", 1, 1, 2, "", "web")
    agg.allowed_by(T0, "shop", "cart-from-web")
    agg.drop(T0, "shop", "cart", 1, 133, "batch")
    agg.l7(T0, "shop", "cart", 2, 2, "http", "payments")
    agg.lost(3, 4)
    return agg


def test_collector_exports_every_family_with_cluster_and_shard() -> None:
    agg = _agg()
    metrics = FlowMetrics(
        agg.snapshot(T0),
        up=True,
        unused_exposures={("shop", "internet"): 1},
        default_deny_forwarded={("shop", "ingress"): 0},
        policy_allowed=BoundedPolicyCounts(20).counts(agg.policy_use()),
        policy_last_used={("shop", "shop/cart-from-web"): T0 + 3600.0},
        unused_policies={("shop",): 0},
        observed_since=float(T0),
        last_event=T0,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlowCollector(lambda: [metrics]))
    fams = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    for name, (kind, _help, labels) in FLOW_FAMILIES.items():
        fam = fams["netfence_" + name.removesuffix("_total")]
        assert fam.type == kind, name
        assert fam.samples, name
        for sample in fam.samples:
            if sample.name.endswith("_created"):
                continue
            assert set(sample.labels) == {"cluster", "shard", *labels}, name
            assert sample.labels["cluster"] == "prod" and sample.labels["shard"] == "1"

    def value(name: str, **labels: str) -> float:
        (hit,) = [
            s
            for s in fams[name].samples
            if not s.name.endswith("_created")
            and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return float(hit.value)

    assert value("netfence_denied_flows", namespace="shop", policy=DEFAULT_DENY) == 1
    assert value("netfence_policy_verdicts", verdict="forwarded") == 1
    assert value("netfence_hubble_lost_events", source="hubble_ring_buffer") == 4
    assert value("netfence_policy_allowed_flows", policy="shop/cart-from-web") == 1
    assert value("netfence_hubble_events") == 4  # 2 connections, 1 drop, 1 L7 request
    assert value("netfence_hubble_last_event_timestamp_seconds") == T0
    assert value("netfence_hubble_up") == 1
    assert value("netfence_unused_exposures", exposure="internet") == 1


def test_rollups_and_exposure_use_in_the_store(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    store = FlowStore(engine)
    store.ensure_schema()
    store.ensure_schema()  # idempotent
    agg = _agg()
    agg.flush()
    rows = agg.take_rollups()
    assert store.add_rollups("prod", "1", rows) == len(rows)
    late = Aggregator(FlowsConfig("prod", shard="2"))
    late.connection(T0 + 5, "shop", "cart", 1, 2, 133, DEFAULT_DENY, "batch")
    late.flush()
    store.add_rollups("prod", "2", late.take_rollups())
    denied = store.denied("prod", T0, T0 + 3600)
    assert [(d.hour, d.namespace, d.reason, d.policy, d.count) for d in denied] == [
        (T0, "shop", "POLICY_DENIED", DEFAULT_DENY, 2)
    ]
    assert store.denied("other", T0, T0 + 3600) == []
    store.record_exposure_use("prod", agg.last_used())
    store.record_exposure_use("prod", {("shop", "cart", "web"): T0 + 7200})
    assert store.exposure_use("prod") == {("shop", "cart", "web"): T0 + 7200}
    assert store.prune(T0 + 3600) == len(rows) + 1
    engine.dispose()
