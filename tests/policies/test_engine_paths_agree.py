"""The whole-cluster connectivity (precomputed per-class maps and rule targets) must
give exactly what the one-connection path (`Engine.connection`, used by explain)
gives, for every pair, on every mixed-API scenario and ANP golden case."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.core.engine import Engine
from exporter.core.ports import NONE
from exporter.sources.manifests import load_manifests

TESTS = Path(__file__).parents[1]
CASES = sorted(p for p in (TESTS / "scenarios").glob("mixed-*") if p.is_dir()) + sorted(
    p / "input" for p in (TESTS / "fixtures" / "netpol-analyzer").glob("anp_*") if p.is_dir()
)


@pytest.mark.parametrize(
    "case", CASES, ids=lambda p: p.parent.name if p.name == "input" else p.name
)
@pytest.mark.parametrize("plugin", [None, "cilium", "calico", "generic"])
def test_connectivity_equals_pairwise_connection(case: Path, plugin: str | None) -> None:
    result = load_manifests(sorted(case.rglob("*.yaml")))
    engine = Engine(result.snapshot, network_plugin=plugin)
    fast = {(id(s), id(d)): p for s, d, p in engine.class_connectivity()}
    endpoints = [*engine.classes, *engine.atoms]
    for src in endpoints:
        for dst in endpoints:
            if src is dst or (src in engine.atoms and dst in engine.atoms):
                continue
            slow = engine.connection(src, dst)[0]
            assert fast.get((id(src), id(dst)), NONE) == slow, (src, dst)


@pytest.mark.parametrize(
    "case", CASES, ids=lambda p: p.parent.name if p.name == "input" else p.name
)
def test_indexed_peer_selection_equals_matching_every_class(case: Path) -> None:
    """Peers narrowed through the namespace label index (namespaceSelector `In`, Cilium
    `io.cilium.k8s.namespace.labels.*` requirements) select exactly the classes that
    matching every class of the cluster selects."""
    from exporter.core.policies import EndpointPeer

    result = load_manifests(sorted(case.rglob("*.yaml")))
    engine = Engine(result.snapshot, network_plugin="cilium")
    peers = {
        peer
        for policy in result.snapshot.policies
        for direction in ("ingress", "egress")
        for rule in getattr(policy, direction, ())
        for peer in rule.peers or ()
        if isinstance(peer, EndpointPeer)
    }
    for peer in peers:
        every = [c for c in engine.classes if engine._endpoint_matches(peer, c)]
        assert sorted(c.index for c in engine.peer_classes(peer)) == sorted(
            c.index for c in every
        ), peer


def test_cilium_namespace_label_peers_through_the_index() -> None:
    """The same check on a cluster made for it: CNP peers requiring namespace labels,
    and a pod that carries such a label itself (the index must not hide it)."""
    from exporter.core.inventory import build_snapshot
    from exporter.core.policies import EndpointPeer
    from exporter.sources.manifests import RawObject

    def ns(name: str, **labels: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": labels}}  # fmt: skip

    def pod(namespace: str, name: str, **labels: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": "c"}]}}  # fmt: skip

    selectors = [
        {"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": "a"}},
        {"matchLabels": {"io.cilium.k8s.namespace.labels.team": "b", "app": "api"}},
        {
            "matchExpressions": [
                {
                    "key": "io.cilium.k8s.namespace.labels.team",
                    "operator": "In",
                    "values": ["a", "c"],
                }
            ]
        },
        {
            "matchLabels": {
                "io.cilium.k8s.namespace.labels.tier": "x",
                "io.cilium.k8s.namespace.labels.team": "a",
            }
        },
    ]
    docs = [
        ns("n1", team="a", tier="x"), ns("n2", team="b"), ns("n3", team="c"), ns("n4"),
        pod("n1", "p1", app="api"), pod("n2", "p2", app="api"), pod("n3", "p3", app="web"),
        pod("n4", "spoof", app="api", **{"io.cilium.k8s.namespace.labels.team": "a"}),
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "x", "namespace": "n1"},
         "spec": {"endpointSelector": {},
                  "ingress": [{"fromEndpoints": selectors}]}},
    ]  # fmt: skip
    snapshot, errors = build_snapshot([RawObject(d, "test.yaml", i) for i, d in enumerate(docs)])
    assert not errors
    engine = Engine(snapshot, network_plugin="cilium")
    peers = [
        p
        for policy in snapshot.policies
        for rule in policy.ingress
        for p in rule.peers or ()
        if isinstance(p, EndpointPeer)
    ]
    assert len(peers) == len(selectors)
    selected = {}
    for peer in peers:
        every = sorted(c.index for c in engine.classes if engine._endpoint_matches(peer, c))
        assert sorted(c.index for c in engine.peer_classes(peer)) == every, peer
        selected[str(peer)] = {engine.classes[i].namespace for i in every}
    assert {"n1", "n4"} in selected.values()  # the spoofing pod is still found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_row_walk_equals_pairwise_on_generated_clusters(seed: int, tmp_path: Path) -> None:
    """`class_connectivity` visits, per source, only the destinations whose ingress map
    could admit it (and, for a source with sparse egress, only what its egress rules
    list). On the benchmark generator's clusters (namespaceSelector peers, open and
    default-deny namespaces, egress policies, ipBlocks) every pair it skips must be one
    the one-connection path denies, and the namespace-filtered walk must agree too."""
    from benchmarks.generate import Params, generate

    generate(Params(namespaces=14, pods=120, policies=70, seed=seed), tmp_path)
    result = load_manifests(sorted(tmp_path.rglob("*.yaml")))
    engine = Engine(result.snapshot)
    fast = {(id(s), id(d)): p for s, d, p in engine.class_connectivity()}
    endpoints = [*engine.classes, *engine.atoms]
    checked = set()
    for src in endpoints:
        for dst in endpoints:
            if src is dst or (src in engine.atoms and dst in engine.atoms):
                continue
            slow = engine.connection(src, dst)[0]
            if slow:
                checked.add((id(src), id(dst)))
            assert fast.get((id(src), id(dst)), NONE) == slow, (src, dst)
    assert checked and all(s == d for s, d in fast.keys() - checked)  # a class to itself
    namespace = engine.classes[len(engine.classes) // 2].namespace
    narrowed = {
        (id(s), id(d)): p
        for s, d, p in Engine(result.snapshot).class_connectivity(namespaces={namespace})
    }
    fresh = Engine(result.snapshot)
    by_id = {id(e): e for e in [*engine.classes, *engine.atoms]}
    expected = {
        k for k in fast if any(getattr(by_id[i], "namespace", None) == namespace for i in k)
    }
    assert {(_key(s), _key(d)) for s, d, _ in fresh.class_connectivity(namespaces={namespace})} == {
        (_key(by_id[a]), _key(by_id[b])) for a, b in expected
    }
    assert len(narrowed) == len(expected)


def _key(endpoint: object) -> object:
    index = getattr(endpoint, "index", None)
    return ("class", index) if index is not None else ("atom", endpoint)
