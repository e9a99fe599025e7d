"""exporter.core.flows: counting rules, bounded labels, roll-ups, expiry, joins, dedupe."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.flows import (
    DEFAULT_DENY,
    OTHER,
    Aggregator,
    FlowsConfig,
    ResumeWindow,
    default_deny_disagreements,
    peer_category,
    pod_workload,
    reserved_peer,
    unused_exposures,
)

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # start of an hour
ING, EGR = 1, 2
FWD, DROP, AUDIT = 1, 2, 4


def test_connections_packets_and_l7_are_counted_apart() -> None:
    agg = Aggregator(FlowsConfig("c1"))
    agg.connection(T0, "shop", "cart", ING, FWD, 2, "shop/allow-web", "web")
    agg.connection(T0, "shop", "cart", ING, DROP, 133, DEFAULT_DENY, "batch")
    agg.connection(T0 + 1, "shop", "cart", ING, DROP, 181, "deny-legacy", "batch")
    for _ in range(3):  # SYN retransmits: three dropped packets, one connection
        agg.drop(T0, "shop", "cart", ING, 133, "batch")
    agg.l7(T0, "shop", "cart", EGR, DROP, "http", "payments")
    snap = agg.snapshot(T0)
    assert snap.policy_verdicts == {
        ("shop", "ingress", "forwarded"): 1,
        ("shop", "ingress", "dropped"): 2,
    }
    assert snap.denied == {
        ("shop", "ingress", "POLICY_DENIED", DEFAULT_DENY): 1,
        ("shop", "ingress", "POLICY_DENY", "deny-legacy"): 1,
    }
    assert snap.dropped_packets == {("shop", "cart", "ingress", "POLICY_DENIED"): 3}
    assert snap.l7 == {("shop", "cart", "egress", "dropped", "http"): 1}
    assert snap.namespace_matrix == {
        ("web", "shop", "ingress", "forwarded"): 1,
        ("batch", "shop", "ingress", "dropped"): 2,
    }
    assert snap.flows == 7
    assert snap.cluster == "c1" and snap.shard == "0"


def test_labels_are_bounded_per_namespace_and_counters_stay_monotonic() -> None:
    agg = Aggregator(FlowsConfig("c", top_n=2))
    for wl, n in (("a", 5), ("b", 4), ("c", 1)):
        for _ in range(n):
            agg.connection(T0, "ns", wl, ING, FWD, 1, "", "x")
    first = agg.snapshot(T0).workload_verdicts
    assert first == {
        ("ns", "a", "ingress", "forwarded", ""): 5,
        ("ns", "b", "ingress", "forwarded", ""): 4,
        ("ns", OTHER, "ingress", "forwarded", ""): 1,
    }
    # c becomes the busiest, but the two slots are taken: it stays under `other`.
    for _ in range(10):
        agg.connection(T0, "ns", "c", ING, FWD, 1, "", "x")
    second = agg.snapshot(T0).workload_verdicts
    assert second[("ns", OTHER, "ingress", "forwarded", "")] == 11
    assert sum(second.values()) == 20
    for key, value in first.items():
        assert second[key] >= value


def test_late_admission_keeps_other_monotonic() -> None:
    agg = Aggregator(FlowsConfig("c", top_n=1))
    agg.connection(T0, "ns", "", ING, FWD, 1, "", "x")  # no workload: never admitted
    agg.connection(T0, "ns", "a", ING, FWD, 1, "", "x")
    agg.drop(T0, "ns", "b", ING, 133, "x")
    agg.drop(T0, "ns", "b", ING, 133, "x")
    s1 = agg.snapshot(T0)
    # "b" (2 flows) won the slot over "a" (1), though "a" was seen first.
    assert s1.workload_verdicts[("ns", OTHER, "ingress", "forwarded", "")] == 1
    assert s1.workload_verdicts[("ns", "", "ingress", "forwarded", "")] == 1
    assert s1.dropped_packets == {("ns", "b", "ingress", "POLICY_DENIED"): 2}
    # "a" becomes the busiest and drops packets too: it stays under `other`, whose
    # counters only grow, and nothing counted so far moves to another label.
    for _ in range(5):
        agg.connection(T0 + 60, "ns", "a", ING, FWD, 1, "", "x")
    agg.drop(T0 + 60, "ns", "a", ING, 133, "x")
    agg.drop(T0 + 60, "ns", "b", ING, 133, "x")
    s2 = agg.snapshot(T0 + 60)
    assert s2.workload_verdicts == {
        ("ns", OTHER, "ingress", "forwarded", ""): 6,
        ("ns", "", "ingress", "forwarded", ""): 1,
    }
    assert s2.dropped_packets == {
        ("ns", "b", "ingress", "POLICY_DENIED"): 3,
        ("ns", OTHER, "ingress", "POLICY_DENIED"): 1,
    }
    for before, after in (
        (s1.workload_verdicts, s2.workload_verdicts),
        (s1.dropped_packets, s2.dropped_packets),
    ):
        assert all(after.get(key, 0) >= n for key, n in before.items())


def test_policy_labels_are_bounded_but_default_deny_is_always_kept() -> None:
    agg = Aggregator(FlowsConfig("c", top_n=1))
    for pol in ("ns/deny-a", "ns/deny-a", "ns/deny-b"):
        agg.connection(T0, "ns", "w", EGR, DROP, 181, pol, "y")
    agg.connection(T0, "ns", "w", EGR, DROP, 133, DEFAULT_DENY, "y")
    denied = agg.snapshot(T0).denied
    assert denied == {
        ("ns", "egress", "POLICY_DENY", "ns/deny-a"): 2,
        ("ns", "egress", "POLICY_DENY", OTHER): 1,
        ("ns", "egress", "POLICY_DENIED", DEFAULT_DENY): 1,
    }


def test_hours_roll_up_once_and_totals_do_not_change() -> None:
    agg = Aggregator(FlowsConfig("c", rollup_grace_seconds=300))
    agg.connection(T0 + 10, "ns", "w", ING, DROP, 133, DEFAULT_DENY, "other-ns")
    agg.connection(T0 + 3700, "ns", "w", ING, DROP, 133, DEFAULT_DENY, "other-ns")
    before = agg.snapshot(T0 + 3700)
    agg.tick(T0 + 3600 + 100)  # within the grace period: nothing closes
    assert agg.take_rollups() == []
    agg.tick(T0 + 3600 + 301)
    rows = agg.take_rollups()
    assert [(r.hour, r.kind, r.verdict, r.reason, r.policy, r.count) for r in rows] == [
        (T0, "connection", "dropped", "POLICY_DENIED", DEFAULT_DENY, 1)
    ]
    assert agg.snapshot(T0 + 3700) == before
    agg.connection(T0 + 20, "ns", "w", ING, DROP, 133, DEFAULT_DENY, "other-ns")  # late
    agg.tick(T0 + 2 * 3600 + 301)
    late = agg.take_rollups()
    assert sorted((r.hour, r.count) for r in late) == [(T0, 1), (T0 + 3600, 1)]
    assert agg.snapshot(T0).denied[("ns", "ingress", "POLICY_DENIED", DEFAULT_DENY)] == 3


def test_deleted_and_idle_namespaces_expire() -> None:
    agg = Aggregator(FlowsConfig("c", namespace_ttl_seconds=600, rollup_grace_seconds=0))
    agg.connection(T0, "gone", "w", ING, FWD, 1, "", "x")
    agg.connection(T0, "idle", "w", ING, FWD, 1, "", "x")
    agg.connection(T0, "busy", "w", ING, FWD, 1, "", "x")
    agg.snapshot(T0)
    agg.forget_namespaces(["gone"])
    agg.tick(T0 + 1)
    assert {k[0] for k in agg.snapshot(T0 + 1).policy_verdicts} == {"idle", "busy"}
    agg.connection(T0 + 500, "busy", "w", ING, FWD, 1, "", "x")
    agg.snapshot(T0 + 500)
    agg.tick(T0 + 700)
    assert {k[0] for k in agg.snapshot(T0 + 700).policy_verdicts} == {"busy"}


def test_lost_events_by_source() -> None:
    agg = Aggregator(FlowsConfig("c"))
    agg.lost(1, 10)
    agg.lost(3, 5)
    agg.lost(1, 2)
    assert agg.snapshot(T0).lost_events == {"perf_event_ring_buffer": 12, "hubble_ring_buffer": 5}


@dataclass(frozen=True)
class Exp:
    namespace: str
    category: str
    permitted: bool
    workloads: tuple[str, ...]


def test_unused_exposures_join_flows_with_the_scan() -> None:
    agg = Aggregator(FlowsConfig("c"))
    agg.connection(T0, "shop", "web", ING, FWD, 2, "", "reserved:world")
    agg.connection(T0, "shop", "api", ING, FWD, 2, "", "shop")  # same namespace: no exposure
    agg.connection(T0, "pay", "gw", ING, DROP, 133, DEFAULT_DENY, "shop")  # denied: not a use
    exposures = [
        Exp("shop", "internet", True, ("shop/web[Deployment]",)),
        Exp("shop", "other_namespaces", True, ("shop/api[Deployment]",)),
        Exp("pay", "other_namespaces", True, ("pay/gw[Deployment]",)),
        Exp("pay", "internet", False, ("pay/gw[Deployment]",)),
    ]
    unused = unused_exposures(exposures, agg.last_used(), now=T0 + 3600, days=30)
    assert unused == {
        ("shop", "internet"): 0,
        ("shop", "other_namespaces"): 1,
        ("pay", "other_namespaces"): 1,
    }
    # 31 days later nothing was used in the window.
    later = unused_exposures(exposures, agg.last_used(), now=T0 + 31 * 86400, days=30)
    assert later[("shop", "internet")] == 1


def test_peer_categories() -> None:
    assert peer_category("a", "a") == frozenset()
    assert peer_category("a", "reserved:world") == {"internet"}
    assert peer_category("a", "reserved:ingress") == {"ingress", "gateway"}
    assert peer_category("a", "ingress-nginx", frozenset({"ingress-nginx"})) >= {"ingress"}
    assert peer_category("a", "b") == {"other_namespaces", "all_namespaces"}


def test_forwarded_flows_into_default_deny_namespaces_are_a_disagreement() -> None:
    agg = Aggregator(FlowsConfig("c"))
    agg.connection(T0, "locked", "w", ING, FWD, 4, "", "x")  # allow-all rule matched
    agg.connection(T0, "locked", "w", ING, AUDIT, 0, "", "x")  # audit mode
    agg.connection(T0, "locked", "w", ING, FWD, 2, "", "x")  # an L3-L4 allow rule: fine
    agg.connection(T0, "open", "w", ING, FWD, 4, "", "x")
    scan = {("locked", "ingress"): True, ("locked", "egress"): True, ("open", "ingress"): False}
    got = default_deny_disagreements(scan, agg.signals(T0 + 60))
    assert got == {("locked", "ingress"): 2, ("locked", "egress"): 0}
    agg.flush()  # closed hours keep feeding the window
    assert default_deny_disagreements(scan, agg.signals(T0 + 60)) == got


def test_resume_window_deduplicates_resent_events_after_a_reconnect() -> None:
    w = ResumeWindow(seconds=5)
    assert w.resume_since() is None
    assert not w.duplicate("a", 100)
    assert not w.duplicate("b", 104)
    w.reconnected()
    assert w.resume_since() == 99
    assert w.duplicate("a", 100) and w.duplicate("b", 104)
    assert not w.duplicate("c", 104)  # not seen before: counted once...
    assert w.duplicate("c", 104)  # ...even if resent twice
    assert not w.duplicate("d", 105)  # newer than anything before the reconnect
    assert not w.duplicate("e", 120)
    w.reconnected()
    assert not w.duplicate("a", 100)  # forgotten: older than the window


def test_reserved_peers_and_pod_workloads() -> None:
    assert reserved_peer(2, ["reserved:world"]) == "reserved:world"
    assert reserved_peer(16777217, ["cidr:1.2.3.0/24", "reserved:world-ipv4"]) == "reserved:world"
    assert reserved_peer(1, []) == "reserved:host"
    assert reserved_peer(0, []) == "reserved:unknown"
    assert pod_workload("web-7f9c6d8b5-x2x7q") == "web"
    assert pod_workload("node-local-dns-88zrp") == "node-local-dns"
    assert pod_workload("db-0") == "db"
    assert pod_workload("xwing") == "xwing"


def test_resume_window_remembers_every_key_of_the_last_window() -> None:
    import random

    rng = random.Random(5)
    w = ResumeWindow(seconds=5)
    seen: dict[int, int] = {}
    t = 1_000
    for i in range(20_000):
        t += rng.choice((0, 0, 0, 1, 1, 2, 7))  # steady, bursts and gaps
        when = t - rng.randrange(3)  # out of order by up to 2 s
        assert not w.duplicate(i, when)
        seen[i] = when
        if i % 500 == 0:  # a reconnect: everything since the resume point is known
            since = w.resume_since()
            assert since is not None
            w.reconnected()
            assert all(w.duplicate(k, s) for k, s in seen.items() if s >= since)
