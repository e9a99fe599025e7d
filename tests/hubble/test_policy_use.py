"""Stale policies (docs/hubble.md, "Stale policies"): Hubble's `*_allowed_by` read on
forwarded verdicts (upstream messages and netfence's decoding view of the same bytes),
bounded monotonic per-policy counters, the unknown-until-a-whole-window rule, the
candidates (Cilium-enforced, with an allow rule), and a consumer that keeps the last
use in the store across a restart and turns 90 silent days into findings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from exporter.config import FlowSettings, HubbleConfig
from exporter.core.findings import Check
from exporter.core.flows import Aggregator, FlowsConfig
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.policy_use import BoundedPolicyCounts, allowing_policies, stale_policies
from exporter.serve.flows import FlowConsumer
from exporter.sources.hubble import FlowHandler
from exporter.sources.hubble._pb.netfence import counted_pb2
from exporter.sources.hubble._pb.observer import observer_pb2
from exporter.sources.manifests import LoadResult
from exporter.store import Store
from exporter.usecases import ScanReport, analyse

HOUR, DAY = 3600, 86_400
T0 = 1_700_002_800  # the start of an hour
WINDOW = 90 * DAY


def flow(seconds: int, direction: str, verdict: str, allowed: list[tuple[str, str]]) -> Any:
    local = {"namespace": "prod", "pod_name": "web-5d9c7b-abcde", "identity": 1234}
    peer = {"namespace": "other", "pod_name": "client-1", "identity": 4321}
    src, dst = (peer, local) if direction == "INGRESS" else (local, peer)
    field = "ingress_allowed_by" if direction == "INGRESS" else "egress_allowed_by"
    return {
        "flow": {
            "time": dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verdict": verdict,
            "event_type": {"type": 5},
            "traffic_direction": direction,
            "source": src,
            "destination": dst,
            field: [
                {"namespace": ns, "name": name, "kind": "NetworkPolicy"} for ns, name in allowed
            ],
            **({"drop_reason_desc": "POLICY_DENIED"} if verdict == "DROPPED" else {}),
        }
    }


FLOWS = [
    flow(T0 + 10, "INGRESS", "FORWARDED", [("prod", "web-from-other")]),
    flow(T0 + 20, "INGRESS", "FORWARDED", [("prod", "web-from-other"), ("", "ccnp-allow")]),
    flow(T0 + HOUR + 5, "EGRESS", "FORWARDED", [("prod", "web-egress")]),
    flow(T0 + 30, "INGRESS", "DROPPED", [("prod", "never-counted")]),
]


def _messages() -> list[observer_pb2.GetFlowsResponse]:
    return [json_format.ParseDict(f, observer_pb2.GetFlowsResponse()) for f in FLOWS]


@pytest.mark.parametrize("view", ["upstream", "counted"])
def test_forwarded_verdicts_record_the_policies_that_allowed_them(view: str) -> None:
    agg = Aggregator(FlowsConfig("prod"))
    handler = FlowHandler(agg)
    for msg in _messages():
        if view == "counted":  # the live stream decodes the same bytes into its own view
            handler.response(counted_pb2.CountedResponse.FromString(msg.SerializeToString()))
        else:
            handler.response(msg)
    assert agg.policy_use() == {
        ("prod", "web-from-other"): (2, T0 + HOUR),
        ("", "ccnp-allow"): (1, T0 + HOUR),
        ("prod", "web-egress"): (1, T0 + 2 * HOUR),
    }


def test_per_policy_counters_are_bounded_and_never_go_down() -> None:
    counts = BoundedPolicyCounts(top_n=1)
    seen: dict[tuple[str, str], int] = {}
    steps = [
        {("ns", "a"): 5},
        {("ns", "a"): 5, ("ns", "b"): 2},
        {("ns", "a"): 6, ("ns", "b"): 9, ("ns", "c"): 1},
        {("ns", "a"): 6, ("ns", "b"): 20, ("ns", "c"): 4},
    ]
    for step in steps:
        out = counts.counts({k: (n, 0) for k, n in step.items()})
        assert set(out) <= {("ns", "ns/a"), ("ns", "other"), ("ns", "ns/b"), ("ns", "ns/c")}
        assert len([k for k in out if k[1] != "other"]) <= 1, out  # top 1 plus other
        for key, value in out.items():
            assert value >= seen.get(key, 0), (key, value, seen)
            seen[key] = value
        assert sum(out.values()) == sum(step.values())  # nothing lost, nothing doubled
    assert seen[("ns", "ns/a")] == 6  # admitted first, counted from its first sight


def test_unused_is_unknown_until_flows_cover_the_window() -> None:
    candidates = [("prod", "used"), ("prod", "idle"), ("", "cluster-idle")]
    last_used = {("prod", "used"): T0 + WINDOW}
    fresh = stale_policies(candidates, last_used, observed_since=T0, now=T0 + 30 * DAY)
    assert not fresh.known and fresh.unused == () and fresh.findings({}) == []
    never = stale_policies(candidates, {}, observed_since=None, now=T0 + 400 * DAY)
    assert not never.known
    later = stale_policies(candidates, last_used, observed_since=T0, now=T0 + WINDOW + DAY)
    assert later.known
    assert later.unused == (("", "cluster-idle"), ("prod", "idle"))
    assert later.by_namespace() == {"prod": 1, "": 1}
    much_later = stale_policies(candidates, last_used, T0, now=T0 + 2 * WINDOW + DAY)
    assert ("prod", "used") in much_later.unused  # its last use left the window


def _report(network_plugin: str | None = "cilium") -> ScanReport:
    def netpol(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "prod"},
            "spec": spec,
        }

    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
        netpol("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        netpol("web-from-other", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        netpol("web-idle", {"podSelector": {}, "ingress": [{"ports": [{"port": 9}]}]}),
    ]
    snapshot, errors = build_snapshot([RawObject(d, "t.yaml", i) for i, d in enumerate(docs)])
    assert not errors
    return analyse(LoadResult(snapshot, []), network_plugin=network_plugin)


def test_candidates_have_an_allow_rule_and_a_kind_cilium_enforces() -> None:
    report = _report()
    assert report.allowing_policies == {
        ("prod", "web-from-other"): "NetworkPolicy",
        ("prod", "web-idle"): "NetworkPolicy",
    }  # deny-all allows nothing by design
    calico = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "g"},
        "spec": {"selector": "all()", "ingress": [{"action": "Allow"}]},
    }
    snapshot, _ = build_snapshot([RawObject(calico, "t.yaml", 1)])
    assert allowing_policies(snapshot.policies) == {}


def _write(path: Path) -> Path:
    path.write_text("".join(json.dumps(f) + "\n" for f in FLOWS))
    return path


def test_the_consumer_keeps_last_use_across_a_restart_and_finds_stale_policies(
    tmp_path: Path,
) -> None:
    files = (_write(tmp_path / "flows.jsonl"),)
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}", lambda: float(T0))
    report = _report()
    now = [float(T0 + 2 * HOUR)]
    settings = FlowSettings()

    def consumer() -> FlowConsumer:
        c = FlowConsumer(
            "c", HubbleConfig(replay=files), settings, store.flows, clock=lambda: now[0]
        )
        c.start()
        assert c.replayed.wait(20)
        return c

    first = consumer()
    first.flush()
    first.after_scan(report)
    fresh = first.metrics()
    # A fresh install: use is recorded, but nothing is called unused before 90 days.
    assert fresh.policy_last_used == {("prod", "prod/web-from-other"): T0 + HOUR}
    assert fresh.unused_policies == {}
    assert fresh.observed_since == now[0]
    assert first.unused_policy_findings(report) == []
    assert fresh.policy_allowed[("prod", "prod/web-from-other")] == 2
    first.stop()

    # 91 days later, a new process without the flows in memory: the store remembers.
    now[0] = T0 + 2 * HOUR + 91 * DAY
    second = FlowConsumer("c", HubbleConfig(), settings, store.flows, clock=lambda: now[0])
    second.start()
    second.after_scan(report)
    later = second.metrics()
    assert later.policy_last_used == {("prod", "prod/web-from-other"): T0 + HOUR}
    assert later.unused_policies == {("prod",): 2}  # the one use is now 91 days old
    findings = second.unused_policy_findings(report)
    assert [(f.check, f.object) for f in findings] == [
        (Check.UNUSED_POLICY, "NetworkPolicy prod/web-from-other"),
        (Check.UNUSED_POLICY, "NetworkPolicy prod/web-idle"),
    ]
    second.stop()
    store.close()


def test_no_cilium_no_claim(tmp_path: Path) -> None:
    """Without Cilium no flow can name an allowing policy: nothing is known."""
    files = (_write(tmp_path / "flows.jsonl"),)
    report = _report(network_plugin="generic")
    now = T0 + 200 * DAY
    c = FlowConsumer("c", HubbleConfig(replay=files), FlowSettings(), None, clock=lambda: now)
    c.start()
    assert c.replayed.wait(20)
    c.flush()
    c.after_scan(report)
    assert c.metrics().unused_policies == {}
    assert c.unused_policy_findings(report) == []
