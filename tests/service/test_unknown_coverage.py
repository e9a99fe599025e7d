"""Never claim coverage that could not be verified (issue 11): a live scan refused (403) a
kind the network plugin enforces publishes no default-deny, isolation or exposure value
for the namespaces concerned, says why, and is degraded; a missing CRD is normal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k8s_api_server import FakeApiServer, list_path
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import ClusterConfig, load_config
from exporter.core.findings import Check
from exporter.metrics import NetfenceCollector, new_registry
from exporter.serve.clusters import cluster_from_config
from exporter.serve.scans import Scanner, ScanResult


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _pod(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
    }


def _deny_all(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def _allow_all_cnp(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "allow-all", "namespace": ns},
        "spec": {
            "endpointSelector": {},
            "ingress": [{"fromEntities": ["all"]}],
            "egress": [{"toEntities": ["all"]}],
        },
    }


CLUSTER = [_ns("shop"), _pod("shop", "web"), _deny_all("shop"), _ns("pay"), _pod("pay", "api")]


def _scan(tmp_path: Path, api: FakeApiServer) -> tuple[ScanResult, dict[str, dict[str, float]]]:
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", context="live")
    settings = load_config({"kubeconfig": str(kubeconfig), "context": "live"})
    cluster = cluster_from_config(ClusterConfig("live", str(kubeconfig), "live"), settings)
    service = Scanner([cluster])
    result = service.scan("live")
    assert result is not None
    text = generate_latest(new_registry(NetfenceCollector(service.metrics, "t"))).decode()
    series: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "cluster")
            series.setdefault(s.name, {})[key] = s.value
    return result, series


def test_forbidden_network_policies_make_every_namespace_unknown(tmp_path: Path) -> None:
    with FakeApiServer(CLUSTER) as api:
        api.faults.forbidden.add(list_path("NetworkPolicy"))
        result, series = _scan(tmp_path, api)
    # Before: netfence_namespace_default_deny 0 everywhere and netfence_scan_success 1.
    assert "netfence_namespace_default_deny" not in series
    assert "netfence_namespace_isolated_pods" not in series
    assert "netfence_exposures" not in series
    assert "netfence_internet_egress_workloads" not in series
    assert series["netfence_namespace_coverage_known"] == {"namespace=pay": 0, "namespace=shop": 0}
    assert series["netfence_namespace_unverified_kinds"] == {
        f"kind=networking.k8s.io/NetworkPolicy,namespace={ns},reason=unreadable": 1
        for ns in ("pay", "shop")
    }
    assert series["netfence_scan_success"] == {"": 0}
    assert series["netfence_scan_state"] == {
        "state=success": 0,
        "state=degraded": 1,
        "state=failure": 0,
    }
    report = result.report
    assert str(report.state) == "degraded"
    (gap,) = [f for f in report.findings if f.check is Check.UNREADABLE_KIND]
    assert gap.object == "networking.k8s.io/NetworkPolicy" and "unknown" in gap.message
    # No claim about what was not seen: no `no-default-deny` finding either.
    assert not [f for f in report.findings if f.check is Check.NO_DEFAULT_DENY]
    data = report.to_json()
    summary = data["summary"]
    assert isinstance(summary, dict)
    assert summary["state"] == "degraded"
    assert summary["default_deny_namespaces"] == {"ingress": 0, "egress": 0}
    assert summary["unknown_namespaces"] == {"coverage": 2, "exposure": 2}
    namespaces = data["namespaces"]
    assert isinstance(namespaces, list)
    for entry in namespaces:
        assert entry["ingress"]["default_deny"] is None
        assert entry["verified"] == {"coverage": False, "exposure": False}
        assert entry["exposure"] is None


def test_forbidden_cilium_policies_on_cilium_hide_a_false_default_deny(tmp_path: Path) -> None:
    """An allow-all CNP opens `shop`; refused, it used to leave shop reported default-deny 1."""
    with FakeApiServer([*CLUSTER, _allow_all_cnp("shop")]) as api:
        result, series = _scan(tmp_path, api)
        assert series["netfence_namespace_default_deny"]["direction=ingress,namespace=shop"] == 0
        assert result.report.network_plugin == "cilium"
        api.faults.forbidden.add(list_path("CiliumNetworkPolicy"))
        result, series = _scan(tmp_path, api)
    assert "netfence_namespace_default_deny" not in series
    assert series["netfence_namespace_coverage_known"] == {"namespace=pay": 0, "namespace=shop": 0}
    assert series["netfence_scan_state"]["state=degraded"] == 1


def test_a_cluster_without_the_crd_is_normal(tmp_path: Path) -> None:
    """No Cilium or Calico CRD: nothing is unreadable, every answer is published."""
    with FakeApiServer(CLUSTER) as api:
        result, series = _scan(tmp_path, api)
    assert str(result.report.state) == "success"
    assert series["netfence_namespace_default_deny"] == {
        "direction=egress,namespace=pay": 0,
        "direction=egress,namespace=shop": 1,
        "direction=ingress,namespace=pay": 0,
        "direction=ingress,namespace=shop": 1,
    }
    assert series["netfence_namespace_coverage_known"] == {"namespace=pay": 1, "namespace=shop": 1}
    assert series["netfence_scan_success"] == {"": 1}
    assert series["netfence_scan_state"]["state=success"] == 1
    assert "netfence_namespace_unverified_kinds" not in series


def test_a_refused_exposure_kind_hides_exposure_only(tmp_path: Path) -> None:
    """Services refused: default-deny is still verified, exposure is not."""
    with FakeApiServer(CLUSTER) as api:
        api.faults.forbidden.add(list_path("Service"))
        result, series = _scan(tmp_path, api)
    assert series["netfence_namespace_coverage_known"] == {"namespace=pay": 1, "namespace=shop": 1}
    assert series["netfence_namespace_exposure_known"] == {"namespace=pay": 0, "namespace=shop": 0}
    assert "netfence_exposures" not in series
    assert series["netfence_namespace_default_deny"]["direction=ingress,namespace=shop"] == 1
    assert str(result.report.state) == "degraded"


def test_one_bad_object_does_not_fail_the_clusters_scan() -> None:
    """`ports: 8080` on one Service used to fail the whole scan of the cluster in serve
    (netfence_scan_success 0, no values); now it is that object's input error."""
    from exporter.core.inventory import RawObject
    from exporter.serve.clusters import Cluster, SourceRead

    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": 8080},
    }
    objects = [RawObject(o, "https://api/x") for o in [*CLUSTER, bad]]
    scanner = Scanner([Cluster("c", lambda: SourceRead(objects), "test")])
    result = scanner.scan("c")
    assert result is not None
    (error,) = result.report.errors
    assert (error.kind, error.name) == ("Service", "web") and "spec.ports" in error.message
    (metrics,) = scanner.metrics()
    assert metrics.success and metrics.errors["load"] == 1
    assert {n.name for n in metrics.namespaces} == {"shop", "pay"}
