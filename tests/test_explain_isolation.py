"""`netfence explain --to X` (or `--from X`) alone: the policies that isolate a workload,
which is what a Hubble POLICY_DENIED drop there (`policy="default-deny"`) comes from."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"


def _explain(*argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    code = main(["explain", *argv, "-o", "json"], out)
    return code, json.loads(out.getvalue()) if out.getvalue() else None


@pytest.mark.parametrize(
    ("flag", "workload", "direction", "isolated", "policies"),
    [
        # demo README: payments has default-deny-all (both directions) plus narrow allows
        ("--to", "payments/payments-api", "ingress", True,
         {"NetworkPolicy payments/default-deny-all", "NetworkPolicy payments/api-from-shop-cart"}),
        # analytics: a separate egress default deny
        ("--from", "analytics/etl-worker", "egress", True,
         {"NetworkPolicy analytics/default-deny-egress", "NetworkPolicy analytics/allow-dns-egress",
          "NetworkPolicy analytics/warehouse-egress"}),
        # team-legacy: only app=api pods are selected, web is open
        ("--to", "team-legacy/web", "ingress", False, set()),
        # docs/semantics.md §1.2: an allow-all policy still isolates (it is what selects the pod)
        ("--to", "sandbox/playground", "ingress", True, {"NetworkPolicy sandbox/allow-everything"}),
    ],
)  # fmt: skip
def test_isolating_policies_of_demo_workloads(
    flag: str, workload: str, direction: str, isolated: bool, policies: set[str]
) -> None:
    code, data = _explain("--manifests", str(DEMO), flag, workload)
    assert code == 0
    (entry,) = data
    assert entry["direction"] == direction and entry["isolated"] is isolated
    assert set(entry["policies"]) == policies


def test_on_cilium_a_calico_policy_isolates_nothing(tmp_path: Path) -> None:
    """§2.4: which APIs count depends on the network plugin; a Calico
    GlobalNetworkPolicy with no rules isolates on Calico, and nothing on Cilium."""
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web", "namespace": "a", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c"}]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
         "metadata": {"name": "default-deny"},
         "spec": {"selector": "all()", "types": ["Ingress"]}},
    ]  # fmt: skip
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump_all(docs))
    code, calico = _explain("--manifests", str(tmp_path), "--to", "a/web")
    assert code == 0 and calico[0]["isolated"] is True
    assert calico[0]["policies"] == ["GlobalNetworkPolicy default-deny"]
    code, cilium = _explain(
        "--manifests", str(tmp_path), "--to", "a/web", "--network-plugin", "cilium"
    )
    assert code == 0 and cilium[0]["isolated"] is False and cilium[0]["policies"] == []


def test_unknown_workload_and_port_without_a_pair_are_usage_errors() -> None:
    assert main(["explain", "--manifests", str(DEMO), "--to", "shop/nope"]) == 2
    assert main(["explain", "--manifests", str(DEMO), "--to", "shop/cart", "--port", "80"]) == 2
