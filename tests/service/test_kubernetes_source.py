"""The live source against the fake API server, through the real `kubernetes` client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from k8s_api_server import FakeApiServer, list_path

from exporter import usecases
from exporter.core.findings import Check
from exporter.core.inventory import build_snapshot
from exporter.serve.clusters import Cluster, SourceRead
from exporter.serve.scans import Scanner
from exporter.sources.kubernetes import (
    ClusterUnavailable,
    KubernetesSource,
    kubeconfig_client,
)
from exporter.sources.manifests import LoadResult, load_manifests, read_objects

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def _source(server: FakeApiServer, tmp_path: Path, **kw: object) -> KubernetesSource:
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    options: dict[str, object] = {"page_size": 4, "backoff_seconds": 0.01, "timeout_seconds": 5}
    options.update(kw)
    return KubernetesSource(kubeconfig_client(str(kubeconfig), "test"), **options)  # type: ignore[arg-type]


def _summary(report: usecases.ScanReport) -> dict[str, object]:
    data = report.to_json()
    data.pop("errors")
    text = json.dumps(data, sort_keys=True)
    return json.loads(text)  # type: ignore[no-any-return]


def test_a_live_scan_equals_the_manifest_scan(api_server: FakeApiServer, tmp_path: Path) -> None:
    result = _source(api_server, tmp_path).read()
    assert result.errors == [] and result.unreadable == []
    snapshot, errors = build_snapshot(result.objects)
    assert errors == []
    live = usecases.analyse(LoadResult(snapshot, errors))
    offline = usecases.analyse(load_manifests([DEMO]))
    live_json, offline_json = _summary(live), _summary(offline)
    # Object sources differ (URL vs file): compare everything the analysis concluded.
    assert live_json["summary"] == offline_json["summary"]
    assert live_json["namespaces"] == offline_json["namespaces"]
    assert [(f["check"], f["namespace"], f["object"]) for f in live_json["findings"]] == [
        (f["check"], f["namespace"], f["object"]) for f in offline_json["findings"]
    ]


def test_lists_are_paged(api_server: FakeApiServer, tmp_path: Path) -> None:
    result = _source(api_server, tmp_path, page_size=5).read()
    policies = result.kinds["networking.k8s.io/NetworkPolicy"]
    assert policies > 10
    assert api_server.requests[list_path("NetworkPolicy")] == -(-policies // 5)
    kinds = {r.obj["kind"] for r in result.objects}
    assert {"Namespace", "Deployment", "NetworkPolicy", "Service"} <= kinds
    assert all(r.obj.get("apiVersion") for r in result.objects)


def test_crds_are_read_only_when_installed(tmp_path: Path) -> None:
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"endpointSelector": {}},
        },
    ]
    with FakeApiServer(objects[:1]) as plain:
        result = _source(plain, tmp_path).read()
        assert result.errors == [] and result.unreadable == []
        assert not any("cilium" in k or "gateway" in k for k in result.kinds)
        assert plain.requests["/apis/cilium.io/v2/ciliumnetworkpolicies"] == 0
    with FakeApiServer(objects) as cilium:
        result = _source(cilium, tmp_path).read()
        assert result.kinds["cilium.io/CiliumNetworkPolicy"] == 1
        (cnp,) = [r.obj for r in result.objects if r.obj["kind"] == "CiliumNetworkPolicy"]
        assert cnp["apiVersion"] == "cilium.io/v2"


def test_forbidden_kind_is_a_gap_not_a_failure(api_server: FakeApiServer, tmp_path: Path) -> None:
    api_server.faults.forbidden.add(list_path("NetworkPolicy"))
    source = _source(api_server, tmp_path)

    def read() -> SourceRead:
        r = source.read()
        return SourceRead(r.objects, r.errors, tuple(r.unreadable), r.list_seconds)

    svc = Scanner([Cluster("c", read, "test")], clock=lambda: 1000.0)
    result = svc.scan("c")
    assert result is not None
    assert result.unreadable == ("networking.k8s.io/NetworkPolicy",)
    assert result.report.policies == 0
    gap = [f for f in result.report.findings if f.check is Check.UNREADABLE_KIND]
    assert [f.object for f in gap] == ["networking.k8s.io/NetworkPolicy"]
    (err,) = result.report.errors
    assert err.stage == "list" and "403" in err.message and err.kind == "NetworkPolicy"
    (metrics,) = svc.metrics()
    assert metrics.success and metrics.errors["list"] == 1
    assert metrics.unreadable_kinds == ("networking.k8s.io/NetworkPolicy",)


def test_gone_restarts_the_list(api_server: FakeApiServer, tmp_path: Path) -> None:
    path = list_path("NetworkPolicy")
    api_server.faults.gone_after.add(path)
    result = _source(api_server, tmp_path, page_size=5).read()
    expected = sum(1 for o in result.objects if o.obj["kind"] == "NetworkPolicy")
    assert expected == result.kinds["networking.k8s.io/NetworkPolicy"] > 10
    names = [o.obj["metadata"]["name"] for o in result.objects if o.obj["kind"] == "NetworkPolicy"]
    assert len(names) == len(set(zip(names, range(len(names)), strict=True)))
    # one page, a 410 on the second, then the whole list again
    assert api_server.requests[path] == 2 + -(-expected // 5)


def test_server_errors_are_retried_with_backoff(api_server: FakeApiServer, tmp_path: Path) -> None:
    path = list_path("Service")
    api_server.faults.errors[path] = 3
    sleeps: list[float] = []
    result = _source(api_server, tmp_path, retries=4, sleep=sleeps.append).read()
    assert result.retries == 3 and result.kinds["Service"] > 0
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]


def test_retries_are_bounded(api_server: FakeApiServer, tmp_path: Path) -> None:
    api_server.faults.errors[list_path("Pod")] = 100
    sleeps: list[float] = []
    with pytest.raises(ClusterUnavailable, match="gave up after 3 attempts"):
        _source(api_server, tmp_path, retries=2, sleep=sleeps.append).read()
    assert len(sleeps) == 2


def test_slow_responses_time_out_and_are_retried(api_server: FakeApiServer, tmp_path: Path) -> None:
    path = list_path("Namespace")
    api_server.faults.delay[path] = 1.0
    with pytest.raises(ClusterUnavailable, match=r"gave up after 2 attempts"):
        _source(api_server, tmp_path, retries=1, timeout_seconds=0.2, sleep=lambda s: None).read()
    assert api_server.requests[path] == 2


def test_an_unreachable_cluster_fails_the_read(tmp_path: Path) -> None:
    with FakeApiServer([]) as server:
        source = _source(server, tmp_path, retries=1, sleep=lambda s: None)
    with pytest.raises(ClusterUnavailable):
        source.read()


@pytest.mark.parametrize(
    ("crds", "configured", "plugin", "source"),
    [
        # Cilium installed, no Cilium policy yet: the CRDs say so, the kinds could not.
        (["cilium.io"], None, "cilium", "crds"),
        (["crd.projectcalico.org"], None, "calico", "crds"),
        ([], None, "generic", "crds"),
        (["cilium.io"], "generic", "generic", "configured"),  # config overrides the CRDs
    ],
)
def test_live_scans_take_the_network_plugin_from_installed_crds(
    tmp_path: Path, crds: list[str], configured: str | None, plugin: str, source: str
) -> None:
    """docs/semantics.md §2.4: which policy APIs count depends on the plugin; a live scan
    knows it from the API groups the server serves, and `network_plugin` in the config
    overrides that."""
    from exporter.config import ClusterConfig, load_config
    from exporter.serve.clusters import cluster_from_config

    objects, _ = read_objects([DEMO])
    raws = [r.obj for r in objects]
    with FakeApiServer(raws, extra_groups=crds) as api:
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", context="live")
        settings = load_config({"kubeconfig": str(kubeconfig), "context": "live"})
        cluster = cluster_from_config(
            ClusterConfig("live", str(kubeconfig), "live", network_plugin=configured), settings
        )
        result = Scanner([cluster]).scan("live")
    assert result is not None
    assert (result.report.network_plugin, result.report.network_plugin_source) == (plugin, source)
