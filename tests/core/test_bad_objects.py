"""One bad object is that object's input error, never the scan's end (issue 11).

Each case below crashed `scan` and `connectivity` with a traceback before (and failed
the whole cluster's scan in `serve`); now it is an input error naming the object and
the field, and every other object is analysed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from exporter import usecases as service
from exporter.core.findings import Check
from exporter.core.inventory import RawObject, build_snapshot
from exporter.sources.manifests import LoadResult

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "a"},
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
        }
    },
}
OTHER = {**copy.deepcopy(DEPLOY), "metadata": {"name": "other", "namespace": "a"}}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "a"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "web", "namespace": "a"},
    "spec": {
        "rules": [
            {
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                }
            }
        ]
    },
}
BASE = [NS, DEPLOY, SERVICE, INGRESS, OTHER]


def _mutate(index: int, path: tuple[Any, ...], value: Any) -> list[dict[str, Any]]:
    objects = copy.deepcopy(BASE)
    target: Any = objects[index]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return objects


CONTAINER = ("spec", "template", "spec")
CASES = {
    "containers: 70000": (1, (*CONTAINER, "containers"), 70000, "spec.template.spec.containers"),
    "ports: 8080": (1, (*CONTAINER, "containers", 0, "ports"), 8080, "containers[0].ports"),
    "protocol: [TCP]": (
        1,
        (*CONTAINER, "containers", 0, "ports", 0, "protocol"),
        ["TCP"],
        "protocol",
    ),
    "initContainers: 5": (1, (*CONTAINER, "initContainers"), 5, "initContainers"),
    "Service ports: 80": (2, ("spec", "ports"), 80, "spec.ports"),
    "Service ports: mapping": (2, ("spec", "ports"), {"port": 80}, "spec.ports"),
    "Service protocol: [TCP]": (2, ("spec", "ports", 0, "protocol"), ["TCP"], "protocol"),
    "Service type: [x]": (2, ("spec", "type"), ["x"], "spec.type"),
    "loadBalancerSourceRanges: 5": (
        2,
        ("spec", "loadBalancerSourceRanges"),
        5,
        "loadBalancerSourceRanges",
    ),
    "Ingress rules: 5": (3, ("spec", "rules"), 5, "spec.rules"),
    "Ingress paths: mapping": (
        3,
        ("spec", "rules", 0, "http", "paths"),
        {"path": "/"},
        "http.paths",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_wrong_typed_field_is_a_named_input_error(case: str) -> None:
    index, path, value, field = CASES[case]
    objects = _mutate(index, path, value)
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in objects])
    (error,) = errors
    bad = objects[index]
    assert (error.kind, error.namespace, error.name) == (
        bad["kind"],
        "a",
        bad["metadata"]["name"],
    )
    assert field in error.message and "Error" not in error.message  # named, not a traceback
    # The rest is analysed: scan and connectivity both produce their output.
    report = service.analyse(LoadResult(snapshot, errors))
    assert [n.name for n in report.namespaces] == ["a"]
    workloads = {g.workload.name for g in snapshot.pod_groups}
    assert "other" in workloads
    assert report.errors == errors


def test_an_unforeseen_shape_is_still_only_that_objects_error() -> None:
    """The last line of defence: a shape no check foresaw (an allowedRoutes of the wrong
    type deep inside a Gateway) names the object and is skipped."""
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "a"},
        "spec": {"listeners": [{"name": "h", "allowedRoutes": {"namespaces": ["All"]}}]},
    }
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, gateway]])
    (error,) = errors
    assert (error.kind, error.name) == ("Gateway", "gw")
    assert len(snapshot.services) == 1


def test_network_policy_with_an_unknown_api_version_is_an_error() -> None:
    policy = {
        "apiVersion": "networking.example.com/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "a"},
        "spec": {"podSelector": {}},
    }
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, policy]])
    (error,) = errors
    assert error.kind == "NetworkPolicy" and error.name == "deny"
    assert "networking.example.com/v1" in error.message
    assert "networking.k8s.io/v1" in error.message
    assert snapshot.policies == ()


@pytest.mark.parametrize(
    ("meta", "why"),
    [
        ({"name": "a" * 254, "namespace": "a"}, "not a valid name"),
        ({"name": "web\x00", "namespace": "a"}, "not a valid name"),
        ({"name": "web", "namespace": "\ud800"}, "not a valid namespace"),
        ({"name": "web", "namespace": "A_B"}, "not a valid namespace"),
        ({"name": "web", "namespace": "n" * 64}, "not a valid namespace"),
    ],
)
def test_names_the_api_server_would_refuse_are_reported_and_skipped(
    meta: dict[str, str], why: str
) -> None:
    bad = {**copy.deepcopy(SERVICE), "metadata": meta}
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, bad]])
    (error,) = errors
    assert why in error.message
    assert "\x00" not in error.message and "\ud800" not in error.message  # escaped
    assert [s.name for s in snapshot.services] == ["web"]
    assert set(snapshot.namespaces) == {"a"}


def test_a_namespace_object_with_an_invalid_name_is_skipped() -> None:
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x\ud800"}}
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, bad]])
    (error,) = errors
    assert "not a valid namespace" in error.message
    assert set(snapshot.namespaces) == {"a"}


def test_an_unparsable_enforced_policy_makes_its_namespace_unknown() -> None:
    """`scan` on manifests: a NetworkPolicy that cannot be read at all could have
    opened or closed namespace b, so b's answers are unknown; a is still verified."""
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "broken", "namespace": "b"},
        "spec": {"podSelector": 5},
    }
    ns_b = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, ns_b, policy]])
    assert len(errors) == 1
    report = service.analyse(LoadResult(snapshot, errors))
    assert str(report.state) == "degraded"
    data = report.to_json()
    by_name = {n["name"]: n for n in data["namespaces"]}  # type: ignore[union-attr]
    assert by_name["b"]["ingress"]["default_deny"] is None
    assert by_name["b"]["verified"] == {"coverage": False, "exposure": False}
    assert by_name["a"]["ingress"]["default_deny"] is False
    assert by_name["a"]["verified"] == {"coverage": True, "exposure": True}
    (gap,) = [f for f in report.findings if f.check is Check.UNVERIFIABLE_POLICY]
    assert gap.namespace == "b" and gap.object == "networking.k8s.io/NetworkPolicy"
    assert not [
        f for f in report.findings if f.check is Check.NO_DEFAULT_DENY and f.namespace == "b"
    ]
    assert {f.namespace for f in report.findings if f.check is Check.NO_DEFAULT_DENY} == {"a"}


def test_an_unparsable_unenforced_policy_changes_no_answer() -> None:
    """A broken CiliumNetworkPolicy on a cluster configured as Calico decides nothing."""
    policy = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "broken", "namespace": "a"},
        "spec": {"endpointSelector": 5},
    }
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in [*BASE, policy]])
    assert len(errors) == 1
    report = service.analyse(LoadResult(snapshot, errors), network_plugin="calico")
    assert str(report.state) == "success"


@pytest.mark.parametrize(
    "owners",
    [
        [{"apiVersion": "v1", "kind": "Node", "name": "node-1", "controller": True}],
        [{"name": "rs-1", "controller": True}],
        [{"kind": "", "name": "rs-1"}],
    ],
)
def test_pods_owned_by_a_node_or_by_no_kind_are_bare(owners: list[dict[str, Any]]) -> None:
    """Static (mirror) pods: etcd and the API server on one node are two workloads."""
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{component}-node-1",
                "namespace": "kube-system",
                "labels": {"component": component},
                "ownerReferences": owners,
            },
            "spec": {"containers": [{"name": "c"}]},
        }
        for component in ("etcd", "kube-apiserver")
    ]
    snapshot, errors = build_snapshot([RawObject(o, "m.yaml") for o in pods])
    assert errors == []
    workloads = sorted(str(g.workload.name) + "/" + g.workload.kind for g in snapshot.pod_groups)
    assert workloads == ["etcd-node-1/Pod", "kube-apiserver-node-1/Pod"]
