"""Hubble flows inside `netfence serve`: a real gRPC Observer server feeds the service,
counts reach /metrics and the SQLite store, and the joins follow the scan."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from observer_server import FlowGenerator, ObserverServer, Script, counted, lost, wait_until
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import FlowSettings, HubbleConfig, load_config
from exporter.core.inventory import build_snapshot
from exporter.serve.flows import FlowConsumer
from exporter.serve.server import Server
from exporter.sources.hubble._pb.observer import observer_pb2
from exporter.sources.manifests import LoadResult, read_objects
from exporter.store import Store
from exporter.usecases import ScanReport, analyse

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
HOUR = 3600
T0 = 1_700_002_800  # 13:00 UTC on 2023-11-14, the start of an hour
DAY = 86_400
UNBOUNDED = FlowSettings(top_n=1_000_000)


def _denied(responses: list[observer_pb2.GetFlowsResponse]) -> int:
    """Policy-verdict events with verdict DROPPED, counted without the decoder."""
    return sum(
        r.HasField("flow") and r.flow.event_type.type == 5 and r.flow.verdict == 2
        for r in responses
    )


def _demo_report() -> ScanReport:
    raws, errors = read_objects([DEMO])
    snapshot, build_errors = build_snapshot(raws)
    return analyse(LoadResult(snapshot, [*errors, *build_errors]))


def _demo_flows(path: Path, now: float) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo_flows.py"), str(path), "--now", str(now)],
        check=True,
    )
    return path


def _store(tmp_path: Path, clock: Callable[[], float] = time.time) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'h.db'}", clock)


def test_stream_counts_reach_the_store_hour_by_hour(tmp_path: Path) -> None:
    # 4,000 flows at 200/s from 10 s before an hour boundary: two hours of roll-ups.
    responses = FlowGenerator(seed=3).flows(4000, start=T0 + HOUR - 10, per_second=200)
    responses.insert(2000, lost(1, 5))  # after the dropped connection: sent once
    store = _store(tmp_path)
    now = T0 + 3 * HOUR
    with ObserverServer(Script(responses, abort_after=[1000, None])).start() as server:
        consumer = FlowConsumer(
            "prod", HubbleConfig(address=server.address), UNBOUNDED, store.flows, clock=lambda: now
        )
        consumer.stream.backoff_base = 0.01  # type: ignore[union-attr]
        consumer.start()
        expected = counted(responses)
        wait_until(lambda: consumer.agg.snapshot(now).flows == expected)
        assert consumer.metrics().up is True
        consumer.stop()
    assert consumer.metrics().up is False
    points = store.flows.denied("prod", 0, now)
    assert sum(p.count for p in points) == _denied(responses)
    assert {p.hour for p in points} == {T0, T0 + HOUR}
    assert consumer.metrics().snapshot.lost_events["perf_event_ring_buffer"] == 5
    store.close()


def test_a_failing_store_keeps_the_rollups_for_the_next_flush(tmp_path: Path) -> None:
    flows = _demo_flows(tmp_path / "flows.jsonl", now=T0 + 2 * HOUR)
    store = _store(tmp_path)
    errors: list[str] = []
    consumer = FlowConsumer(
        "demo",
        HubbleConfig(replay=(flows,)),
        UNBOUNDED,
        store.flows,
        clock=lambda: T0 + 3 * HOUR,
        on_error=errors.append,
    )
    consumer.start()
    assert consumer.replayed.wait(20)
    with store._engine.begin() as conn:  # the table disappears under the consumer
        conn.exec_driver_sql("ALTER TABLE flow_hourly RENAME TO flow_hourly_away")
    consumer.flush()
    assert errors == ["store"]
    with store._engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE flow_hourly_away RENAME TO flow_hourly")
    consumer.flush()
    assert errors == ["store"]
    total = sum(p.count for p in store.flows.denied("demo", 0, T0 + 3 * HOUR))
    assert total == 32  # 23 + 6 + 3 denied connections in examples/demo_flows.py
    store.close()


def test_joins_follow_the_scan_and_survive_a_restart(tmp_path: Path) -> None:
    flows = _demo_flows(tmp_path / "flows.jsonl", now=T0)
    report = _demo_report()
    store = _store(tmp_path)
    now = [float(T0)]
    consumer = FlowConsumer(
        "demo", HubbleConfig(replay=(flows,)), FlowSettings(), store.flows, clock=lambda: now[0]
    )
    consumer.start()
    assert consumer.replayed.wait(20)
    consumer.after_scan(report)
    m = consumer.metrics()
    assert m.up is None  # no Relay stream: no hubble_up series
    # ingress-nginx -> shop/frontend: the ingress exposure is used; grafana's is not.
    assert m.unused_exposures[("shop", "ingress")] == 0
    assert m.unused_exposures[("monitoring", "ingress")] == 1
    # sandbox -> databases/redis uses both the all- and other-namespace exposures.
    assert m.unused_exposures[("databases", "all_namespaces")] == 0
    # world -> team-legacy/web: internet exposure used; sandbox/playground's is not.
    assert m.unused_exposures[("team-legacy", "internet")] == 0
    assert m.unused_exposures[("sandbox", "internet")] == 1
    # Audit-mode admissions where the scan says default-deny: the datapath disagrees.
    assert m.default_deny_forwarded[("shop", "ingress")] == 4
    assert m.default_deny_forwarded[("payments", "ingress")] == 0
    assert ("sandbox", "ingress") not in m.default_deny_forwarded  # not default-deny
    consumer.stop()  # writes the last use of every exposure

    # A restart 10 days later, no flows yet: the store still knows what was used.
    now[0] = T0 + 10 * DAY
    again = FlowConsumer("demo", HubbleConfig(replay=()), FlowSettings(), store.flows,
                         clock=lambda: now[0])  # fmt: skip
    again.start()
    again.after_scan(report)
    assert again.metrics().unused_exposures[("shop", "ingress")] == 0
    # ... and 31 days after the last use, it is unused.
    now[0] = T0 + 31 * DAY
    again.flush()
    assert again.metrics().unused_exposures[("shop", "ingress")] == 1
    again.stop()
    store.close()


def test_namespaces_deleted_between_scans_lose_their_series(tmp_path: Path) -> None:
    flows = _demo_flows(tmp_path / "flows.jsonl", now=T0)
    report = _demo_report()
    consumer = FlowConsumer("demo", HubbleConfig(replay=(flows,)), UNBOUNDED, None,
                            clock=lambda: T0)  # fmt: skip
    consumer.start()
    assert consumer.replayed.wait(20)
    consumer.after_scan(report)
    assert any(k[0] == "analytics" for k in consumer.metrics().snapshot.policy_verdicts)
    smaller = ScanReport(
        namespaces=[n for n in report.namespaces if n.name != "analytics"],
        findings=[],
        errors=[],
        policies=0,
        workloads=0,
        ignored_kinds={},
    )
    consumer.after_scan(smaller)
    consumer.flush()
    snapshot = consumer.metrics().snapshot
    assert not any(k[0] == "analytics" for k in snapshot.policy_verdicts)
    assert any(k[0] == "shop" for k in snapshot.policy_verdicts)


def test_serve_with_a_relay_address_exports_and_stores_the_counts(tmp_path: Path) -> None:
    responses = FlowGenerator(seed=5).flows(3000, start=T0, per_second=300)
    with ObserverServer(Script(responses)).start() as relay:
        port = _free_port()
        config = load_config(
            {
                "manifests": [str(DEMO)],
                "cluster_name": "demo",
                "web_listen_address": f"127.0.0.1:{port}",
                "store": f"sqlite:///{tmp_path / 'h.db'}",
                "hubble_address": relay.address,
                "flows_shard": "s1",
                "flows_top_n": "1000000",
            }
        )
        server = Server(config)
        server.start()
        try:
            wait_until(relay.backlog_done.is_set)

            def families() -> dict[str, list[tuple[dict[str, str], float]]]:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
                return {
                    f.name: [(s.labels, s.value) for s in f.samples]
                    for f in text_string_to_metric_families(text)
                }

            def denied_total() -> float:
                return sum(v for _, v in families().get("netfence_denied_flows", []))

            wait_until(lambda: denied_total() == _denied(responses))
            fams = families()
            assert fams["netfence_hubble_up"] == [({"cluster": "demo", "shard": "s1"}, 1.0)]
            assert all(s[0]["shard"] == "s1" for s in fams["netfence_policy_verdicts"])
        finally:
            server.stop()
    store = _store(tmp_path)
    assert sum(p.count for p in store.flows.denied("demo", 0, T0 + DAY)) == _denied(responses)
    store.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        ({"hubble_address": "relay"}, "is not HOST:PORT"),
        ({"hubble_tls_cert_file": "/etc/hosts"}, "need a hubble address"),
        (
            {"hubble_address": "r:4245", "hubble_tls_cert_file": "/etc/hosts"},
            "both a client certificate and its key",
        ),
        ({"hubble_replay": ["/does/not/exist.jsonl"]}, "replay file /does/not/exist.jsonl"),
        ({"hubble_address": "r:4245", "flows_shard": "a b"}, "--flows.shard"),
    ],
)
def test_bad_hubble_settings_are_config_errors(flags: dict[str, object], problem: str) -> None:
    from exporter.config import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config({"manifests": [str(DEMO)], **flags})
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_node_names_make_disjoint_shards() -> None:
    """Two consumers with disjoint node patterns count every flow exactly once together."""
    responses = FlowGenerator(seed=9).flows(2000, start=T0, per_second=400)
    on_first = [r for r in responses if r.flow.node_name < "prod-eu-1/node-10"]
    with ObserverServer(Script(responses)).start() as server:
        shards = [
            FlowConsumer(
                "prod",
                HubbleConfig(address=server.address, node_names=patterns),
                FlowSettings(shard=str(i), top_n=1_000_000),
                clock=lambda: T0,
            )
            for i, patterns in enumerate((("prod-eu-1/node-0*",), ("prod-eu-1/node-1*",)))
        ]
        for shard in shards:
            shard.start()
        wait_until(lambda: sum(s.agg.snapshot(T0).flows for s in shards) == counted(responses))
        assert shards[0].agg.snapshot(T0).flows == counted(on_first)
        for shard in shards:
            shard.stop()
        assert all(
            list(f.node_name) in (["prod-eu-1/node-0*"], ["prod-eu-1/node-1*"])
            for r in server.requests
            for f in r.whitelist
        )


def test_bad_replay_lines_do_not_kill_the_flow_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid UTF-8 and a JSON bomb in the replay file: the good lines are counted, the
    bad ones counted in netfence_hubble_decode_errors_total, one log line says so."""
    flows = _demo_flows(tmp_path / "flows.jsonl", now=T0)
    good = flows.read_bytes()
    flows.write_bytes(b"\xc3\x28 bad utf-8\n" + b"[" * 200_000 + b"\n" + good + b"\xff\n")
    errors: list[str] = []
    consumer = FlowConsumer(
        "demo",
        HubbleConfig(replay=(flows,)),
        UNBOUNDED,
        None,
        clock=lambda: T0 + HOUR,
        on_error=errors.append,
    )
    with caplog.at_level("INFO"):
        consumer.start()
        assert consumer.replayed.wait(20)
    metrics = consumer.metrics()
    assert metrics.decode_errors == 3
    assert metrics.snapshot.flows > 0
    assert errors == ["load"]
    summaries = [r for r in caplog.records if "bad lines skipped" in r.getMessage()]
    assert len(summaries) == 1 and "3 bad lines" in summaries[0].getMessage()
    consumer.stop()
