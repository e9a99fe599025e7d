# ruff: noqa: E501 - one sample object of each kind per line reads best as a table
"""Property-based fuzzing of every kind the loader reads (issue 11).

One valid object of each kind lives in namespace `fuzz`; hypothesis replaces one field
somewhere inside some of them with a hostile value (a number where a list belongs, a list
where a name belongs, a lone surrogate, a huge string, ...). Whatever it draws:
- no exception escapes `netfence scan` or `netfence connectivity`;
- the exit code is 0, 1 or 2;
- the untouched objects of namespace `witness` are all still in the output.

The example count is bounded (FUZZ_EXAMPLES, default 60) so `make test` stays quick;
raise it to search harder: `FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/test_fuzz_manifests.py`.
"""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import cli

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))

_TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}]}], "initContainers": [{"name": "s", "restartPolicy": "Always", "ports": [{"containerPort": 9}]}], "hostNetwork": False, "serviceAccountName": "web"}}  # fmt: skip
_RULE = [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "endPort": 90}]}]  # fmt: skip
_ANP_RULES = [{"name": "r", "action": "Allow", "from": [{"namespaces": {"matchLabels": {"team": "a"}}}, {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}}], "ports": [{"portNumber": {"port": 80, "protocol": "TCP"}}]}]  # fmt: skip


def _kinds(ns: str) -> list[dict[str, Any]]:
    """One valid object of every kind the loader reads (exporter/core/inventory.py)."""
    meta = {"name": "obj", "namespace": ns, "labels": {"app": "web"}}
    sel = {"matchLabels": {"app": "web"}}
    tpl = copy.deepcopy(_TEMPLATE)
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": "a"}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "name": "pod", "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": True}]}, "spec": tpl["spec"]},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 2, "selector": sel, "template": tpl}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {**meta, "name": "sts"}, "spec": {"replicas": 1, "template": tpl}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {**meta, "name": "ds"}, "spec": {"template": {**tpl, "spec": {**tpl["spec"], "hostNetwork": True}}}, "status": {"desiredNumberScheduled": 3}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {**meta, "name": "rs", "ownerReferences": [{"kind": "Deployment", "name": "obj"}]}, "spec": {"replicas": 2, "template": tpl}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**meta, "name": "job"}, "spec": {"parallelism": 1, "template": tpl}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {**meta, "name": "cron"}, "spec": {"jobTemplate": {"spec": {"template": tpl}}}},
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {**meta, "name": "rc"}, "spec": {"replicas": 1, "template": tpl}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {**meta, "name": "np"}, "spec": {"podSelector": sel, "policyTypes": ["Ingress", "Egress"], "ingress": _RULE, "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {**meta, "name": "cnp"}, "spec": {"endpointSelector": sel, "ingress": [{"fromEndpoints": [sel], "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}], "egress": [{"toEntities": ["world"], "toCIDR": ["1.1.1.1/32"], "toFQDNs": [{"matchName": "x.io"}]}], "ingressDeny": [{"fromEntities": ["cluster"]}]}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": f"{ns}-ccnp"}, "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": ns}}, "ingress": [{"fromEntities": ["cluster"]}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": {"name": f"{ns}-anp"}, "spec": {"priority": 10, "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}, "ingress": _ANP_RULES}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy", "metadata": {"name": "default"}, "spec": {"subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}, "ingress": [{"name": "d", "action": "Deny", "from": [{"namespaces": {}}]}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy", "metadata": {"name": f"{ns}-cnp"}, "spec": {"tier": "Admin", "priority": 5, "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}, "ingress": [{"name": "a", "action": "Accept", "from": [{"namespaces": {}}]}]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {**meta, "name": "default.calico"}, "spec": {"tier": "default", "order": 100, "selector": "app == 'web'", "types": ["Ingress"], "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"namespaceSelector": "projectcalico.org/name == 'a'", "nets": ["10.0.0.0/8"]}, "destination": {"ports": [80, "8000:8080"]}}]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": f"{ns}-gnp"}, "spec": {"order": 10, "namespaceSelector": "projectcalico.org/name != 'kube-system'", "types": ["Egress"], "egress": [{"action": "Deny", "destination": {"nets": ["0.0.0.0/0"]}}]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": f"{ns}-tier"}, "spec": {"order": 50, "defaultAction": "Pass"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": "svc"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30080}], "externalIPs": ["1.2.3.4"], "loadBalancerSourceRanges": ["0.0.0.0/0"]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {**meta, "name": "svc-1", "labels": {"kubernetes.io/service-name": "svc"}}, "endpoints": [{"targetRef": {"kind": "Pod", "name": "pod"}}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {**meta, "name": "ing", "annotations": {"kubernetes.io/ingress.class": "nginx"}}, "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "svc", "port": {"number": 80}}}, "rules": [{"host": "x.io", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "svc", "port": {"name": "http"}}}}]}}], "tls": [{"hosts": ["x.io"]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": f"{ns}-nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
        {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {**meta, "name": "route"}, "spec": {"to": {"kind": "Service", "name": "svc"}, "alternateBackends": [{"kind": "Service", "name": "svc"}], "port": {"targetPort": 80}}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": f"{ns}-gc"}, "spec": {"controllerName": "x.io/gw"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {**meta, "name": "gw"}, "spec": {"gatewayClassName": f"{ns}-gc", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Selector", "selector": sel}, "kinds": [{"kind": "HTTPRoute"}]}}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {**meta, "name": "route"}, "spec": {"parentRefs": [{"name": "gw", "sectionName": "http"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80, "namespace": ns}]}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {**meta, "name": "grpc"}, "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {**meta, "name": "grant"}, "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": ns}], "to": [{"group": "", "kind": "Service", "name": "svc"}]}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"{ns}-node", "labels": {"kubernetes.io/hostname": "n"}}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}},
    ]  # fmt: skip
    return copy.deepcopy(objects)  # nothing shared: a mutation touches one object only


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "a\x00b", "x" * 300, "TCP", "80", "0.0.0.0/0", "::/0", "*", ""]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _wrong_type(value: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type than `value`'s: where the parsers' type checks live."""
    if isinstance(value, list):
        return st.sampled_from([70000, "8080", {"a": 1}, True, None])
    if isinstance(value, dict):
        return st.sampled_from([["x"], 8080, "x", False])
    if isinstance(value, str):
        return st.sampled_from([["TCP"], {"k": "v"}, 8080, True, "\ud800", "x" * 300])
    return st.sampled_from([["x"], {"k": 1}, "8080", None, -1, 2**70])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside an object (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


WITNESS = _kinds("witness")


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(argv, out)
    return code, out.getvalue()


def _write(tmp: Path, objects: list[Any]) -> Path:
    # JSON, one file each: a hostile value (a lone surrogate) cannot break its neighbours.
    directory = tmp / "manifests"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for i, obj in enumerate(objects):
        text = json.dumps(obj, ensure_ascii=True, allow_nan=True)
        (directory / f"{i:03}.json").write_text(text)
    return directory


def _witness_seen(report: dict[str, Any]) -> None:
    namespaces = {n["name"]: n for n in report["namespaces"]}
    assert "witness" in namespaces
    clean = json.loads(_run(["scan", "--manifests", str(_CLEAN), "-o", "json"])[1])
    (expected,) = [n for n in clean["namespaces"] if n["name"] == "witness"]
    assert namespaces["witness"]["pods"] == expected["pods"]
    assert report["summary"]["policies"] >= clean["summary"]["policies"]
    assert report["summary"]["workloads"] >= clean["summary"]["workloads"]


_CLEAN: Path


def setup_module() -> None:
    global _CLEAN
    import tempfile

    _CLEAN = _write(Path(tempfile.mkdtemp(prefix="netfence-fuzz-")), WITNESS)
    code, text = _run(["scan", "--manifests", str(_CLEAN), "-o", "json"])
    assert code in (0, 1) and json.loads(text)["errors"] == []  # every kind's sample is valid


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes on a lucky draw
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_object_crashes_the_scan(tmp_path: Path, data: st.DataObject) -> None:
    fuzzed = _kinds("fuzz")
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        index = data.draw(st.integers(0, len(fuzzed) - 1), label="object")
        paths = _paths(fuzzed[index])
        path = data.draw(st.sampled_from(paths), label="path")
        current: Any = fuzzed[index]
        for step in path:
            current = current[step]
        value = data.draw(st.one_of(_wrong_type(current), _VALUES), label="value")
        _set(fuzzed[index], path, value)
    directory = _write(tmp_path, [*copy.deepcopy(WITNESS), *fuzzed])
    for command in ("scan", "connectivity"):
        code, text = _run([command, "--manifests", str(directory), "-o", "json"])
        assert code in (0, 1, 2), command
        report = json.loads(text)
        if command == "scan":
            _witness_seen(report)
        else:
            assert any(c["src"].startswith("witness/") for c in report)
