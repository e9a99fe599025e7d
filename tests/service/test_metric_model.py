"""The metric model that dashboards and alerts rely on: zeros for every namespace,
`direction` on findings, the bounded exposure info family, the exported scan interval,
and the bounds on the Hubble flow families' namespace labels (docs/metrics.md)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import ClusterConfig
from exporter.core.flows import DEFAULT_DENY, OTHER_NAMESPACE, Aggregator, FlowsConfig
from exporter.metrics import ClusterMetrics, NetfenceCollector, new_registry
from exporter.serve.clusters import Cluster, manifests_reader
from exporter.serve.scans import Scanner

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
T0 = 1_700_000_000
INGRESS, EGRESS = 1, 2
FORWARDED, DROPPED = 1, 2
POLICY_DENIED = 133


def _demo(limit: int = 10_000, interval: float = 60.0) -> dict[str, list[dict[str, object]]]:
    svc = Scanner(
        [Cluster("demo", manifests_reader(ClusterConfig("demo", manifests=(DEMO,))), "t")],
        scan_interval=interval,
    )
    svc.scan("demo")
    text = generate_latest(
        new_registry(NetfenceCollector(svc.metrics, "1.0", exposure_info_limit=limit))
    ).decode()
    out: dict[str, list[dict[str, object]]] = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = [{**s.labels, "value": s.value} for s in fam.samples]
    return out


def test_every_namespace_has_every_per_namespace_family() -> None:
    fams = _demo()
    namespaces = {s["namespace"] for s in fams["netfence_namespace_pods"]}
    assert len(namespaces) == 10
    for name in (
        "netfence_exposures",
        "netfence_internet_egress_workloads",
        "netfence_policies",
        "netfence_findings",
        "netfence_namespace_default_deny",
        "netfence_namespace_isolated_pods",
    ):
        have = {s["namespace"] for s in fams[name]}
        assert namespaces <= have, (name, namespaces - have)
    # every category for every namespace, so count(x == 0) is right
    triples = {(s["namespace"], s["exposure"], s["intended"]) for s in fams["netfence_exposures"]}
    categories = {"other_namespaces", "all_namespaces", "ingress", "gateway", "internet"}
    assert triples == {
        (ns, c, i) for ns in namespaces for c in categories for i in ("true", "false")
    }
    zero_egress = [s for s in fams["netfence_internet_egress_workloads"] if s["value"] == 0]
    assert zero_egress, "the demo has namespaces without internet egress: they must show 0"
    # findings: each (check, severity, direction) seen anywhere exists for every namespace
    combos = {(s["check"], s["severity"], s["direction"]) for s in fams["netfence_findings"]}
    for combo in combos:
        got = {
            s["namespace"]
            for s in fams["netfence_findings"]
            if (s["check"], s["severity"], s["direction"]) == combo
        }
        assert namespaces <= got, combo


def test_findings_carry_direction_where_the_check_has_one() -> None:
    fams = _demo()
    no_dd = [
        s for s in fams["netfence_findings"] if s["check"] == "no-default-deny" and s["value"] > 0
    ]
    assert {s["direction"] for s in no_dd} == {"ingress", "egress"}
    # the demo's team-legacy namespace lacks default-deny both ways, databases only egress
    assert {s["direction"] for s in no_dd if s["namespace"] == "team-legacy"} == {
        "ingress",
        "egress",
    }
    assert {s["direction"] for s in no_dd if s["namespace"] == "databases"} == {"egress"}
    directionless = [s for s in fams["netfence_findings"] if s["check"] == "policy-selects-no-pods"]
    assert all(s["direction"] == "" for s in directionless)


def test_exposure_info_names_the_exposed_objects_and_counts_what_the_cap_drops() -> None:
    fams = _demo()
    info = fams["netfence_exposure_info"]
    assert all(s["value"] == 1 for s in info)
    # the info family agrees with the per-namespace counts, category by category
    counts: dict[tuple[object, object], float] = {}
    for s in info:
        key = (s["namespace"], s["exposure"])
        counts[key] = counts.get(key, 0) + 1
    totals: dict[tuple[object, object], float] = {}
    for s in fams["netfence_exposures"]:  # intended and not
        key = (s["namespace"], s["exposure"])
        totals[key] = totals.get(key, 0) + float(str(s["value"]))
    assert totals == {k: float(counts.get(k, 0)) for k in totals}
    assert set(counts) <= set(totals)
    assert fams["netfence_exposure_info_dropped"] == [{"cluster": "demo", "value": 0.0}]
    internet = {
        (s["namespace"], s["object"], s["kind"]) for s in info if s["exposure"] == "internet"
    }
    assert internet, "the demo exposes objects to the internet"

    capped = _demo(limit=3)
    kept = capped["netfence_exposure_info"]
    assert len(kept) == 3
    (dropped,) = capped["netfence_exposure_info_dropped"]
    assert dropped["value"] == len(info) - 3
    # the widest audience is kept first
    assert {s["exposure"] for s in kept} == {"internet"} or len(internet) < 3


def test_scan_interval_is_exported() -> None:
    fams = _demo(interval=300.0)
    assert fams["netfence_scan_interval_seconds"] == [{"cluster": "demo", "value": 300.0}]
    assert "netfence_scan_interval_seconds" not in {n for n, v in _demo(interval=0.0).items() if v}


def test_a_cluster_without_a_scan_exports_its_interval() -> None:
    metrics = ClusterMetrics("new", success=False, interval=60.0)
    text = generate_latest(new_registry(NetfenceCollector(lambda: [metrics], "1"))).decode()
    assert 'netfence_scan_interval_seconds{cluster="new"} 60.0' in text


def _flows(agg: Aggregator, namespaces: int, per: int = 1, t: int = T0) -> None:
    for i in range(namespaces):
        for _ in range(per):
            agg.connection(t, f"ns-{i:05d}", "web", INGRESS, FORWARDED, 2, "", f"ns-{i + 1:05d}")
            agg.connection(t, f"ns-{i:05d}", "web", INGRESS, DROPPED, POLICY_DENIED,
                           DEFAULT_DENY, "reserved:world")  # fmt: skip


def test_flow_namespace_labels_are_bounded() -> None:
    """100,000 namespaces with flows export at most max_namespaces + 1 namespace values per
    family; totals stay exact (the rest is counted under _other)."""
    agg = Aggregator(FlowsConfig("c", max_namespaces=50, matrix_top_n=20))
    _flows(agg, 100_000)
    snap = agg.snapshot(T0)
    for name, data, pos in (
        ("policy_verdicts", snap.policy_verdicts, 0),
        ("denied", snap.denied, 0),
        ("workload_verdicts", snap.workload_verdicts, 0),
    ):
        values = {k[pos] for k in data}
        assert len(values) == 51, name
        assert OTHER_NAMESPACE in values, name
    assert sum(snap.policy_verdicts.values()) == 200_000
    assert sum(snap.denied.values()) == 100_000
    assert {k[1] for k in snap.workload_verdicts if k[0] == OTHER_NAMESPACE} == {"other"}
    # the matrix: at most 20 pairs with both names, the rest with an _other peer
    named_pairs = {
        (k[0], k[1])
        for k in snap.namespace_matrix
        if OTHER_NAMESPACE not in (k[0], k[1]) and not k[0].startswith("reserved:")
    }
    assert len(named_pairs) <= 20
    destinations = {k[1] for k in snap.namespace_matrix}
    assert len(destinations) == 51
    assert sum(snap.namespace_matrix.values()) == 200_000
    assert len(snap.namespace_matrix) <= (20 + 51 * 2) * 2


def test_bounded_counters_stay_monotonic_when_a_slot_frees_up() -> None:
    agg = Aggregator(FlowsConfig("c", max_namespaces=1, namespace_ttl_seconds=600))
    _flows(agg, 2, per=3)  # ns-00000 and ns-00001 tie; ns-00000 is admitted (name order)
    first = agg.snapshot(T0)
    assert {k[0] for k in first.policy_verdicts} == {"ns-00000", OTHER_NAMESPACE}
    # ns-00000 goes idle and expires; ns-00001 takes its slot, its past stays in _other
    agg.connection(T0 + 500, "ns-00001", "web", INGRESS, FORWARDED, 2, "", "x")
    agg.snapshot(T0 + 500)
    agg.tick(T0 + 700)
    agg.snapshot(T0 + 700)  # admits ns-00001: what it counted so far stays under _other
    agg.connection(T0 + 701, "ns-00001", "web", INGRESS, FORWARDED, 2, "", "x")
    later = agg.snapshot(T0 + 701)
    for labels, value in first.policy_verdicts.items():
        if labels[0] == OTHER_NAMESPACE:
            assert later.policy_verdicts[labels] >= value, labels
    assert later.policy_verdicts[("ns-00001", "ingress", "forwarded")] == 1
    assert "ns-00000" not in {k[0] for k in later.policy_verdicts}
