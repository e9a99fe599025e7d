"""Loading manifests from disk: layouts, workload identity, bad input, YAML safety, CLI.

Everything goes through real files under tmp_path and `load_manifests` (or the CLI),
so the YAML reader, List flattening and `build_snapshot` are exercised together.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main
from exporter.core.findings import InputError
from exporter.sources.manifests import Limits, load_manifests

NP_OK = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: good-before, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
DEPLOY_OK = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: good-after, namespace: shop}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x}]}
"""


def workload_ids(result: Any) -> dict[str, int]:
    return {g.workload.id: g.pods for g in result.snapshot.pod_groups}


def policy_ids(result: Any) -> list[str]:
    return [p.id for p in result.snapshot.policies]


# -- layouts --------------------------------------------------------------------------------


def test_directories_are_read_recursively_yaml_yml_json(k8s: Any, cluster: Any) -> None:
    cluster.write([k8s.namespace("a")], "top.yaml")
    cluster.write([k8s.deployment("web", "a", {"app": "web"})], "sub/dir/deep.yml")
    cluster.write_text(json.dumps(k8s.deployment("api", "a", {"app": "api"})), "sub/api.json")
    cluster.write_text("not: a manifest\n", "sub/README.md")  # not a manifest suffix
    cluster.write([k8s.deployment("hidden", "a", {"app": "x"})], ".hidden/skip.yaml")
    result = cluster.load()
    assert result.errors == []
    assert result.files == 3
    assert workload_ids(result) == {"a/api[Deployment]": 1, "a/web[Deployment]": 1}


def test_several_paths_and_missing_path(k8s: Any, cluster: Any, tmp_path: Path) -> None:
    one = cluster.write([k8s.deployment("web", "a", {"app": "web"})], "one.yaml")
    two = cluster.write([k8s.deployment("api", "b", {"app": "api"})], "two.yaml")
    missing = tmp_path / "nope.yaml"
    result = load_manifests([one, two, missing])
    assert set(workload_ids(result)) == {"a/web[Deployment]", "b/api[Deployment]"}
    assert [(e.source, e.message) for e in result.errors] == [
        (str(missing), "no such file or directory")
    ]


def test_multi_document_file(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.namespace("a", {"team": "x"}),
        k8s.deployment("web", "a", {"app": "web"}),
        k8s.netpol("p", "a", {"podSelector": {}}),
    ]
    result = cluster.load(docs)
    assert result.errors == []
    assert result.documents == 3
    assert result.snapshot.namespaces["a"].labels == {
        "team": "x",
        "kubernetes.io/metadata.name": "a",
    }
    assert policy_ids(result) == ["NetworkPolicy a/p"]


def test_kind_list_and_typed_lists(k8s: Any, cluster: Any) -> None:
    generic = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [k8s.namespace("a"), k8s.deployment("web", "a", {"app": "web"})],
    }
    pod = k8s.pod("solo", "a", {"app": "solo"})
    del pod["kind"], pod["apiVersion"]
    pod_list = {"apiVersion": "v1", "kind": "PodList", "items": [pod]}
    policy = k8s.netpol("p", "a", {"podSelector": {}})
    del policy["kind"], policy["apiVersion"]
    policy_list = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicyList",
        "items": [policy],
    }
    result = cluster.load([generic, pod_list, policy_list])
    assert result.errors == []
    assert workload_ids(result) == {"a/web[Deployment]": 1, "a/solo[Pod]": 1}
    assert policy_ids(result) == ["NetworkPolicy a/p"]
    assert result.snapshot.namespaces["a"].defined is True


def test_kubectl_get_o_yaml_dump(cluster: Any) -> None:
    """The shape `kubectl get deploy,rs,pods,netpol -A -o yaml` prints: one List with
    status, managedFields, uids, ownerReferences with uid and blockOwnerDeletion."""
    dump = """\
apiVersion: v1
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    annotations: {deployment.kubernetes.io/revision: "1"}
    creationTimestamp: "2024-05-01T10:00:00Z"
    generation: 1
    labels: {app: web}
    managedFields:
    - apiVersion: apps/v1
      fieldsType: FieldsV1
      fieldsV1: {f:spec: {f:replicas: {}}}
      manager: kubectl
      operation: Update
      time: "2024-05-01T10:00:00Z"
    name: web
    namespace: shop
    resourceVersion: "1234"
    uid: 11111111-1111-1111-1111-111111111111
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {creationTimestamp: null, labels: {app: web}}
      spec:
        containers:
        - image: nginx:1.25
          name: nginx
          ports: [{containerPort: 8080, name: http, protocol: TCP}]
  status: {availableReplicas: 2, readyReplicas: 2, replicas: 2}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    labels: {app: web, pod-template-hash: 5d8f7}
    name: web-5d8f7
    namespace: shop
    ownerReferences:
    - {apiVersion: apps/v1, blockOwnerDeletion: true, controller: true, kind: Deployment,
       name: web, uid: 11111111-1111-1111-1111-111111111111}
  spec:
    replicas: 2
    template:
      metadata: {labels: {app: web, pod-template-hash: 5d8f7}}
      spec: {containers: [{image: nginx, name: nginx}]}
- apiVersion: v1
  kind: Pod
  metadata:
    labels: {app: web, pod-template-hash: 5d8f7}
    name: web-5d8f7-abcde
    namespace: shop
    ownerReferences:
    - {apiVersion: apps/v1, controller: true, kind: ReplicaSet, name: web-5d8f7, uid: x}
  spec:
    containers:
    - {image: nginx, name: nginx, ports: [{containerPort: 8080, name: http, protocol: TCP}]}
  status: {phase: Running, podIP: 10.244.1.7}
- apiVersion: v1
  kind: Pod
  metadata:
    labels: {app: web, pod-template-hash: 5d8f7}
    name: web-5d8f7-fghij
    namespace: shop
    ownerReferences:
    - {apiVersion: apps/v1, controller: true, kind: ReplicaSet, name: web-5d8f7, uid: x}
  spec:
    containers:
    - {image: nginx, name: nginx, ports: [{containerPort: 8080, name: http, protocol: TCP}]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: deny, namespace: shop, generation: 1}
  spec:
    podSelector: {}
    policyTypes: [Ingress]
kind: List
metadata:
  resourceVersion: ""
"""
    cluster.write_text(dump, "dump.yaml")
    result = cluster.load()
    assert result.errors == []
    assert workload_ids(result) == {"shop/web[Deployment]": 2}
    (group,) = result.snapshot.pod_groups
    assert group.labels == {"app": "web", "pod-template-hash": "5d8f7"}
    assert [(p.port, p.name) for p in group.ports] == [(8080, "http")]
    assert policy_ids(result) == ["NetworkPolicy shop/deny"]


def test_helm_rendered_output(cluster: Any) -> None:
    rendered = """\
---
# Source: shop/templates/serviceaccount.yaml
# (empty: disabled by values)
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-shop
  namespace: shop
spec:
  replicas: 3
  template:
    metadata:
      labels: {app.kubernetes.io/name: shop}
    spec:
      containers: [{name: shop, image: "shop:1.0"}]
---
# Source: shop/templates/networkpolicy.yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: release-shop
  namespace: shop
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: shop}
  policyTypes: [Ingress]
---
---
# Source: shop/templates/tests/test.yaml
"""
    cluster.write_text(rendered, "rendered.yaml")
    result = cluster.load()
    assert result.errors == []
    assert workload_ids(result) == {"shop/release-shop[Deployment]": 3}
    assert policy_ids(result) == ["NetworkPolicy shop/release-shop"]


def test_json_files_single_object_and_list(k8s: Any, cluster: Any) -> None:
    cluster.write_text(json.dumps(k8s.deployment("web", "a", {"app": "web"})), "web.json")
    cluster.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [k8s.netpol("p", "a", {})]}),
        "list.json",
    )
    result = cluster.load()
    assert result.errors == []
    assert set(workload_ids(result)) == {"a/web[Deployment]"}
    assert policy_ids(result) == ["NetworkPolicy a/p"]


# -- workload identity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "replicas", "expected_pods"),
    [
        ("Deployment", 3, 3),
        ("StatefulSet", 2, 2),
        ("DaemonSet", None, 1),
        ("ReplicaSet", 4, 4),
        ("Job", 5, 5),
        ("CronJob", 2, 2),
        ("ReplicationController", 2, 2),
    ],
)
def test_workload_identity_per_controller_kind(
    k8s: Any, cluster: Any, kind: str, replicas: int | None, expected_pods: int
) -> None:
    result = cluster.load([k8s.workload("w", "apps", {"app": "w"}, kind=kind, replicas=replicas)])
    assert result.errors == []
    assert workload_ids(result) == {f"apps/w[{kind}]": expected_pods}


def test_bare_pod_is_its_own_workload(k8s: Any, cluster: Any) -> None:
    result = cluster.load([k8s.pod("debug", "apps", {"run": "debug"})])
    assert workload_ids(result) == {"apps/debug[Pod]": 1}


def test_daemonset_status_gives_pod_count(k8s: Any, cluster: Any) -> None:
    ds = k8s.workload("agent", "infra", {"app": "agent"}, kind="DaemonSet")
    ds["status"] = {"desiredNumberScheduled": 7}
    assert workload_ids(cluster.load([ds])) == {"infra/agent[DaemonSet]": 7}


def test_pods_follow_owners_through_present_replicaset_to_deployment(
    k8s: Any, cluster: Any
) -> None:
    docs = [
        k8s.deployment("web", "shop", {"app": "web"}, replicas=3),
        k8s.workload(
            "web-abc",
            "shop",
            {"app": "web"},
            kind="ReplicaSet",
            replicas=3,
            owner=("Deployment", "web"),
        ),
        k8s.pod("web-abc-1", "shop", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
        k8s.pod("web-abc-2", "shop", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
    ]
    result = cluster.load(docs)
    assert result.errors == []
    # Counted once, from the two pods present (not 3 template + 3 RS + 2 pods).
    assert workload_ids(result) == {"shop/web[Deployment]": 2}


def test_pods_of_an_absent_owner_are_named_after_it(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.pod("web-abc-1", "shop", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
        k8s.pod("web-abc-2", "shop", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
    ]
    assert workload_ids(cluster.load(docs)) == {"shop/web-abc[ReplicaSet]": 2}


def test_deployment_with_replicaset_and_no_pods_counts_template(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.deployment("web", "shop", {"app": "web"}, replicas=3),
        k8s.workload(
            "web-abc",
            "shop",
            {"app": "web"},
            kind="ReplicaSet",
            replicas=3,
            owner=("Deployment", "web"),
        ),
    ]
    assert workload_ids(cluster.load(docs)) == {"shop/web[Deployment]": 3}


def test_cronjob_job_pod_chain(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.workload("backup", "ops", {"app": "backup"}, kind="CronJob"),
        k8s.workload(
            "backup-123", "ops", {"app": "backup"}, kind="Job", owner=("CronJob", "backup")
        ),
        k8s.pod("backup-123-x", "ops", {"app": "backup"}, owner=("Job", "backup-123")),
    ]
    assert workload_ids(cluster.load(docs)) == {"ops/backup[CronJob]": 1}


def test_objects_without_namespace_go_to_default(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.deployment("web", None, {"app": "web"}),
        k8s.netpol("deny", None, {"podSelector": {}}),
    ]
    result = cluster.load(docs)
    assert workload_ids(result) == {"default/web[Deployment]": 1}
    assert policy_ids(result) == ["NetworkPolicy default/deny"]
    ns = result.snapshot.namespaces["default"]
    assert ns.defined is False
    assert ns.labels == {"kubernetes.io/metadata.name": "default"}


def test_unknown_kinds_counted_not_errors(k8s: Any, cluster: Any) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "x"}},
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        k8s.deployment("web", "x", {"app": "web"}),
    ]
    result = cluster.load(docs)
    assert result.errors == []
    assert dict(result.snapshot.ignored_kinds) == {"ConfigMap": 2, "Widget": 1}


def test_exposure_and_other_policy_kinds_are_carried(cluster: Any) -> None:
    def obj(api: str, kind: str, name: str, ns: str | None = "x") -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if ns:
            meta["namespace"] = ns
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {}}

    docs = [
        obj("networking.k8s.io/v1", "Ingress", "ing"),
        obj("gateway.networking.k8s.io/v1", "Gateway", "gw"),
        obj("v1", "Service", "svc"),
        obj("cilium.io/v2", "CiliumNetworkPolicy", "cnp"),
        obj("crd.projectcalico.org/v1", "NetworkPolicy", "calico"),
    ]
    docs[3]["spec"] = {"endpointSelector": {}, "ingress": [{}]}
    result = cluster.load(docs)
    assert result.errors == []
    snapshot = result.snapshot
    # Kept raw in `carried`, or already parsed into a typed collection for the exposure
    # analysis (services, ingresses, gateways): either way, not dropped.
    kept = {(o["kind"], o["metadata"]["name"]) for o in snapshot.carried}
    for typed in ("services", "endpoint_slices", "ingresses", "gateways", "routes"):
        kept |= {(item.ref.kind, item.ref.name) for item in getattr(snapshot, typed, ())}
    # Cilium and Calico policies are parsed into the normal form by their own API
    # modules (policy kinds issue 4), each with its API, never as K8s NetworkPolicies.
    kept |= {(p.ref.kind, p.ref.name) for p in snapshot.policies}
    assert kept == {
        ("CiliumNetworkPolicy", "cnp"),
        ("Gateway", "gw"),
        ("Ingress", "ing"),
        ("NetworkPolicy", "calico"),
        ("Service", "svc"),
    }
    assert sorted(str(p.api) for p in result.snapshot.policies) == ["calico", "cilium"]
    assert result.snapshot.ignored_kinds == {}


# -- bad input ----------------------------------------------------------------------------------

BAD_POLICY_SPECS = [
    # (id, spec, words the message must contain)
    pytest.param(
        {"podSelector": {}, "ingress": 5}, ["spec.ingress", "list"], id="ingress-not-list"
    ),
    pytest.param({"podSelector": "all"}, ["spec.podSelector", "mapping"], id="selector-string"),
    pytest.param(
        {
            "podSelector": {
                "matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]
            }
        },
        ["spec.podSelector.matchExpressions[0]", "unknown operator", "Equals"],
        id="unknown-operator",
    ),
    pytest.param(
        {
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {"key": "a", "operator": "Exists", "values": ["x"]}
                                ]
                            }
                        }
                    ]
                }
            ]
        },
        ["spec.ingress[0].from[0].namespaceSelector", "takes no values"],
        id="exists-with-values",
    ),
    pytest.param(
        {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]},
        ["spec.ingress[0].from[0].ipBlock.cidr", "not a CIDR"],
        id="cidr-without-prefix",
    ),
    pytest.param(
        {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]},
        ["ipBlock.cidr", "not a valid CIDR"],
        id="invalid-cidr",
    ),
    pytest.param(
        {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}]}]},
        ["spec.egress[0].to[0].ipBlock.except[0]", "192.168.0.0/16", "not strictly inside"],
        id="except-outside-cidr",
    ),
    pytest.param(
        {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]},
        ["except[0]", "not strictly inside"],
        id="except-equal-to-cidr",
    ),
    pytest.param(
        {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
        ["spec.ingress[0].from[0]", "ipBlock cannot be combined"],
        id="ipblock-with-selector",
    ),
    pytest.param(
        {"ingress": [{"from": [{}]}]},
        ["spec.ingress[0].from[0]", "needs podSelector, namespaceSelector or ipBlock"],
        id="empty-peer",
    ),
    pytest.param(
        {"ingress": [{"ports": [{"endPort": 9000}]}]},
        ["spec.ingress[0].ports[0]", "endPort requires port"],
        id="end-port-without-port",
    ),
    pytest.param(
        {"ingress": [{"ports": [{"port": 9000, "endPort": 8000}]}]},
        ["spec.ingress[0].ports[0].endPort", "8000"],
        id="end-port-below-port",
    ),
    pytest.param(
        {"ingress": [{"ports": [{"port": "http", "endPort": 8000}]}]},
        ["endPort requires a numeric port"],
        id="end-port-with-named-port",
    ),
    pytest.param(
        {"ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]},
        ["spec.ingress[0].ports[0].protocol", "ICMP", "not TCP, UDP or SCTP"],
        id="unknown-protocol",
    ),
    pytest.param(
        {"ingress": [{"ports": [{"port": 70000}]}]},
        ["spec.ingress[0].ports[0].port", "out of range"],
        id="port-out-of-range",
    ),
    pytest.param(
        {"policyTypes": ["Ingress", "Both"]},
        ["spec.policyTypes", "Both"],
        id="unknown-policy-type",
    ),
]


@pytest.mark.parametrize(("spec", "words"), BAD_POLICY_SPECS)
def test_bad_policy_is_an_input_error_and_neighbours_load(
    cluster: Any, spec: dict[str, Any], words: list[str]
) -> None:
    bad = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "broken", "namespace": "shop"},
        "spec": spec,
    }
    text = "---\n".join([NP_OK, yaml.safe_dump(bad), DEPLOY_OK])
    path = cluster.write_text(text, "mixed.yaml")
    result = cluster.load()
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    (err,) = result.errors
    assert (err.source, err.document, err.kind, err.namespace, err.name) == (
        str(path),
        2,
        "NetworkPolicy",
        "shop",
        "broken",
    )
    for word in words:
        assert word in err.message, err.message
    text_form = str(err)
    for part in (str(path), "document 2", "NetworkPolicy", "shop/broken", words[0]):
        assert part in text_form, text_form
    # The other objects of the same file still load.
    assert policy_ids(result) == ["NetworkPolicy shop/good-before"]
    assert workload_ids(result) == {"shop/good-after[Deployment]": 2}
    as_json = err.to_json()
    assert as_json["document"] == 2 and as_json["name"] == "broken"


def test_malformed_yaml_names_file_document_and_line(cluster: Any) -> None:
    text = (
        NP_OK
        + "---\nkind: Deployment\nmetadata: {name: [unclosed\n  namespace: shop\n---\n"
        + DEPLOY_OK
    )
    path = cluster.write_text(text, "broken.yaml")
    result = cluster.load()
    (err,) = result.errors
    assert err.source == str(path)
    assert err.document == 2
    assert "invalid YAML" in err.message
    assert "line" in err.message
    assert f"{path} (document 2)" in str(err)
    assert policy_ids(result) == ["NetworkPolicy shop/good-before"]
    assert workload_ids(result) == {"shop/good-after[Deployment]": 2}


def test_document_index_counts_like_a_yaml_parser(cluster: Any) -> None:
    """Indexes are YAML stream positions (empty documents count), as PyYAML numbers them."""
    bad = "kind: NetworkPolicy\nmetadata: {name: broken, namespace: shop}\nspec: {ingress: 5}\n"
    text = "# leading comment\n" + NP_OK + "---\n# Source: chart/empty.yaml\n---\n" + bad
    cluster.write_text(text, "helm.yaml")
    (err,) = cluster.load().errors
    expected = [
        i
        for i, d in enumerate(yaml.safe_load_all(text), 1)
        if d and d.get("metadata", {}).get("name") == "broken"
    ]
    assert [err.document] == expected == [3]


def test_document_markers_crlf_bom_and_comments(cluster: Any) -> None:
    ns_a = "kind: Namespace\nmetadata: {name: a}\n"
    ns_b = "kind: Namespace\nmetadata: {name: b}\n"
    cluster.write_text(("\ufeff" + ns_a + "---\n" + ns_b).replace("\n", "\r\n"), "crlf.yaml")
    cluster.write_text("--- # first\n" + ns_a.replace(": a", ": c") + "--- # 2nd\n", "c.yaml")
    cluster.write_text("--- {kind: Namespace, metadata: {name: d}}\n...\n", "d.yaml")
    result = cluster.load()
    assert result.errors == []
    assert sorted(result.snapshot.namespaces) == ["a", "b", "c", "d"]


def test_yaml_directive_is_accepted(cluster: Any) -> None:
    """A `%YAML` directive before `---` is valid YAML (YAML 1.2 spec §9.2, l-directive-
    document); every YAML parser, PyYAML included, reads this as ONE document."""
    text = "%YAML 1.2\n---\nkind: Namespace\nmetadata: {name: a}\n"
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(text)] == ["a"]
    cluster.write_text(text, "directive.yaml")
    result = cluster.load()
    assert [str(e) for e in result.errors] == []
    assert sorted(result.snapshot.namespaces) == ["a"]


def test_bare_document_after_end_marker_is_not_silently_dropped(cluster: Any) -> None:
    """`...` ends a document; YAML 1.2 (§9.2 l-yaml-stream) lets a bare document follow,
    YAML 1.1 parsers (PyYAML, libyaml) reject it. Either way the second Namespace must
    not vanish without a word: it is loaded, or an error names the document."""
    text = "kind: Namespace\nmetadata: {name: a}\n...\nkind: Namespace\nmetadata: {name: b}\n"
    path = cluster.write_text(text, "ended.yaml")
    result = cluster.load()
    loaded = "b" in result.snapshot.namespaces
    reported = any(e.source == str(path) for e in result.errors)
    assert loaded or reported
    assert "a" in result.snapshot.namespaces


def test_non_string_label_values_are_errors_but_still_read(cluster: Any) -> None:
    """The API server rejects non-string label values (ObjectMeta.Labels is
    map[string]string); netfence reports the object and reads the value as its text."""
    text = DEPLOY_OK.replace("labels: {app: web}", "labels: {app: web, canary: true, v: 2}")
    path = cluster.write_text(text, "labels.yaml")
    result = cluster.load()
    assert {(e.source, e.name) for e in result.errors} == {(str(path), "good-after")}
    assert any("canary" in e.message and "not a string" in e.message for e in result.errors)
    (group,) = result.snapshot.pod_groups
    assert group.labels == {"app": "web", "canary": "true", "v": "2"}


def test_container_ports_include_native_sidecars_only(k8s: Any, cluster: Any) -> None:
    pod = k8s.pod("p", "a", {"app": "p"}, ["http=8080/TCP"])
    pod["spec"]["initContainers"] = [
        {
            "name": "proxy",
            "image": "envoy",
            "restartPolicy": "Always",
            "ports": [{"name": "admin", "containerPort": 15000}],
        },
        {"name": "migrate", "image": "tool", "ports": [{"name": "tmp", "containerPort": 9999}]},
    ]
    result = cluster.load([pod])
    (group,) = result.snapshot.pod_groups
    assert [(p.name, p.port) for p in group.ports] == [("http", 8080), ("admin", 15000)]


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        pytest.param({"metadata": {"name": "x"}}, "no kind", id="no-kind"),
        pytest.param({"kind": "Pod", "metadata": {}}, "metadata.name", id="no-name"),
        pytest.param(
            {"kind": "Pod", "metadata": {"name": "p", "namespace": 5}}, "namespace", id="ns-int"
        ),
        pytest.param(
            {
                "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "s"},
                "spec": {"template": 5},
            },
            "spec.template",
            id="template-not-mapping",
        ),
        pytest.param(
            {"kind": "Pod", "metadata": {"name": "p", "namespace": "s", "labels": ["a"]}},
            "metadata.labels",
            id="labels-list",
        ),
    ],
)
def test_structurally_bad_objects(cluster: Any, doc: dict[str, Any], words: str) -> None:
    cluster.write_text("---\n".join([NP_OK, yaml.safe_dump(doc), DEPLOY_OK]), "bad.yaml")
    result = cluster.load()
    (err,) = result.errors
    assert err.document == 2
    assert words in err.message
    assert workload_ids(result) == {"shop/good-after[Deployment]": 2}


def test_non_mapping_document_and_bad_list_items(cluster: Any) -> None:
    cluster.write_text("- just\n- a list\n---\nkind: List\nitems: 5\n---\n" + DEPLOY_OK, "odd.yaml")
    result = cluster.load()
    by_doc = {e.document: e.message for e in result.errors}
    assert set(by_doc) == {1, 2}
    assert "not a Kubernetes object" in by_doc[1]
    assert "items is not a list" in by_doc[2]
    assert workload_ids(result) == {"shop/good-after[Deployment]": 2}


def test_invalid_json_file(cluster: Any, k8s: Any) -> None:
    path = cluster.write_text('{"kind": "Pod", ', "bad.json")
    cluster.write([k8s.deployment("web", "a", {"app": "web"})], "ok.yaml")
    result = cluster.load()
    (err,) = result.errors
    assert err.source == str(path) and "invalid JSON" in err.message
    assert set(workload_ids(result)) == {"a/web[Deployment]"}


# -- YAML safety ---------------------------------------------------------------------------------

BILLION_LAUGHS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: lol, namespace: shop}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_is_refused_fast(cluster: Any) -> None:
    path = cluster.write_text("---\n".join([NP_OK, BILLION_LAUGHS, DEPLOY_OK]), "bomb.yaml")
    start = time.perf_counter()
    result = cluster.load()
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    (err,) = result.errors
    assert err.source == str(path) and err.document == 2
    assert "alias" in err.message
    assert policy_ids(result) == ["NetworkPolicy shop/good-before"]
    assert workload_ids(result) == {"shop/good-after[Deployment]": 2}


def test_small_alias_use_is_fine(cluster: Any) -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: &l {app: web}}
spec:
  template:
    metadata: {labels: *l}
    spec: {containers: [{name: c, image: x}]}
"""
    cluster.write_text(text, "alias.yaml")
    result = cluster.load()
    assert result.errors == []
    (group,) = result.snapshot.pod_groups
    assert group.labels == {"app": "web"}


def test_file_over_size_limit_is_refused(cluster: Any, k8s: Any) -> None:
    big = cluster.write_text(NP_OK + "# " + "x" * 5000 + "\n", "big.yaml")
    cluster.write([k8s.deployment("web", "a", {"app": "web"})], "small.yaml")
    result = cluster.load(limits=Limits(max_file_bytes=2000))
    (err,) = result.errors
    assert err.source == str(big)
    assert "limit" in err.message and "2000" in err.message
    assert policy_ids(result) == []
    assert set(workload_ids(result)) == {"a/web[Deployment]"}


PYTHON_TAGS = [
    pytest.param(
        "!!python/object/apply:os.system ['touch {marker}']\n", id="object-apply-document"
    ),
    pytest.param(
        "kind: !!python/object/apply:os.system ['touch {marker}']\nmetadata: {{name: x}}\n",
        id="object-apply-value",
    ),
    pytest.param(
        "!!python/object:os.system\nkind: Pod\nmetadata: {{name: evil, namespace: shop}}\n",
        id="object-tag-on-pod",
    ),
    pytest.param(
        "kind: Pod\nmetadata: {{name: evil, namespace: shop}}\n"
        "spec: !!python/object/new:os.system ['touch {marker}']\n",
        id="object-new",
    ),
]


@pytest.mark.parametrize("doc", PYTHON_TAGS)
def test_python_tags_never_execute_code(cluster: Any, tmp_path: Path, doc: str) -> None:
    marker = tmp_path / "pwned"
    cluster.write_text("---\n".join([NP_OK, doc.format(marker=marker), DEPLOY_OK]), "evil.yaml")
    result = cluster.load()
    assert not marker.exists()
    assert policy_ids(result) == ["NetworkPolicy shop/good-before"]
    assert workload_ids(result).get("shop/good-after[Deployment]") == 2


@pytest.mark.parametrize("doc", PYTHON_TAGS)
def test_python_tags_are_refused_with_an_error(cluster: Any, tmp_path: Path, doc: str) -> None:
    """A `!!python/...` tag is not Kubernetes YAML; the document must be refused with an
    error naming it, not read as if the tag were absent."""
    path = cluster.write_text(
        "---\n".join([NP_OK, doc.format(marker=tmp_path / "pwned"), DEPLOY_OK]), "evil.yaml"
    )
    result = cluster.load()
    assert [(e.source, e.document) for e in result.errors] == [(str(path), 2)]
    assert "python" in result.errors[0].message
    assert "shop/evil[Pod]" not in workload_ids(result)


# -- CLI -------------------------------------------------------------------------------------------


def clean_cluster(k8s: Any) -> list[Any]:
    return [
        k8s.namespace("shop"),
        k8s.deployment("web", "shop", {"app": "web"}, ["http=8080/TCP"]),
        k8s.deployment("cart", "shop", {"app": "cart"}),
        k8s.netpol("deny-all", "shop", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        k8s.netpol(
            "cart-to-web",
            "shop",
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app": "cart"}}}],
                        "ports": [{"port": "http"}],
                    }
                ],
            },
        ),
        k8s.netpol(
            "cart-out",
            "shop",
            {
                "podSelector": {"matchLabels": {"app": "cart"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
            },
        ),
    ]


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_cli_scan_clean_exit_0(k8s: Any, cluster: Any) -> None:
    cluster.write(clean_cluster(k8s))
    code, text = run(["scan", "--manifests", str(cluster.root), "--fail-on", "low"])
    assert code == 0, text
    assert "shop" in text


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("high", 1), ("critical", 0), ("never", 0), ("low", 1)],
)
def test_cli_scan_exit_code_follows_fail_on(
    k8s: Any, cluster: Any, fail_on: str, expected: int
) -> None:
    """One high finding: exit 1 when --fail-on is at or below high, 0 above it or never."""
    docs = [
        *clean_cluster(k8s),
        k8s.netpol("oops", "shop", {"podSelector": {}, "ingress": [{}]}),  # high allow-all-rule
    ]
    cluster.write(docs)
    _, text = run(["scan", "--manifests", str(cluster.root), "-o", "json", "--fail-on", "never"])
    severities = {f["severity"] for f in json.loads(text)["findings"]}
    assert "high" in severities and "critical" not in severities
    code, _ = run(["scan", "--manifests", str(cluster.root), "--fail-on", fail_on])
    assert code == expected


def test_cli_default_fail_on_is_high(k8s: Any, cluster: Any) -> None:
    # Only a medium finding (no ingress default deny in `lab`): exit 0 by default,
    # 1 with --fail-on medium.
    docs = [
        *clean_cluster(k8s),
        k8s.deployment("x", "lab", {"app": "x"}),
        k8s.netpol("out", "lab", {"podSelector": {}, "policyTypes": ["Egress"]}),
    ]
    cluster.write(docs)
    assert run(["scan", "--manifests", str(cluster.root)])[0] == 0
    assert run(["scan", "--manifests", str(cluster.root), "--fail-on", "medium"])[0] == 1


def test_cli_input_errors_exit_2_and_output_is_still_complete(
    k8s: Any, cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.write(clean_cluster(k8s))
    cluster.write_text("kind: [unclosed\n", "broken.yaml")
    code, text = run(["scan", "--manifests", str(cluster.root), "-o", "json", "--fail-on", "never"])
    assert code == 2
    data = json.loads(text)
    assert data["summary"]["errors"] == 1
    assert data["errors"][0]["source"].endswith("broken.yaml")
    assert [n["name"] for n in data["namespaces"]] == ["shop"]
    assert "broken.yaml" in capsys.readouterr().err
    for command in (["connectivity"], ["explain", "--from", "shop/cart", "--to", "shop/web"]):
        code, _ = run([*command, "--manifests", str(cluster.root)])
        assert code == 2, command


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["--from", "shop/nope", "--to", "shop/web"], id="unknown-source"),
        pytest.param(["--from", "shop/cart", "--to", "nope/web"], id="unknown-destination"),
        pytest.param(["--from", "shop/cart", "--to", "shop/web", "--port", "http"], id="bad-port"),
        pytest.param(
            ["--from", "shop/cart", "--to", "shop/web", "--port", "80/ICMP"], id="bad-proto"
        ),
        pytest.param(["--from", "2001:db8::1", "--to", "shop/web"], id="family-not-analysed"),
    ],
)
def test_cli_explain_usage_errors_exit_2(
    k8s: Any, cluster: Any, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    cluster.write(clean_cluster(k8s))
    code, _ = run(["explain", "--manifests", str(cluster.root), *extra])
    assert code == 2
    assert "netfence:" in capsys.readouterr().err


def test_cli_argument_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # `scan` alone reads the current kubeconfig context (tests/oneshot/).
    for argv in (["bogus"], ["scan", "--manifests", "x", "--fail-on", "sometimes"]):
        with pytest.raises(SystemExit) as info:
            main(argv, out=io.StringIO())
        assert info.value.code == 2, argv


def test_cli_scan_json_has_documented_keys(k8s: Any, cluster: Any) -> None:
    cluster.write(clean_cluster(k8s))
    code, text = run(["scan", "--manifests", str(cluster.root), "-o", "json"])
    assert code == 0
    data = json.loads(text)
    # docs/json-output.md: fields are only ever added, so check the documented ones.
    assert set(data) >= {"summary", "namespaces", "findings", "errors"}
    assert set(data["summary"]) >= {
        "namespaces",
        "pods",
        "workloads",
        "policies",
        "default_deny_namespaces",
        "isolated_pods",
        "findings",
        "errors",
        "ignored_kinds",
    }
    (ns,) = data["namespaces"]
    assert set(ns) >= {"name", "pods", "ingress", "egress"}
    assert set(ns["ingress"]) >= {
        "default_deny",
        "isolated_pods",
        "policies",
        "opened_by",
        "reason",
    }
    assert ns["ingress"]["default_deny"] is True and ns["egress"]["default_deny"] is True
    assert data["summary"]["pods"] == 2 and data["summary"]["policies"] == 3


def test_cli_connectivity_json(k8s: Any, cluster: Any) -> None:
    cluster.write(clean_cluster(k8s))
    code, text = run(["connectivity", "--manifests", str(cluster.root), "-o", "json"])
    assert code == 0
    assert json.loads(text) == [
        {"src": "shop/cart[Deployment]", "dst": "shop/web[Deployment]", "conns": ["TCP/8080"]}
    ]


def test_cli_explain_json(k8s: Any, cluster: Any) -> None:
    cluster.write(clean_cluster(k8s))
    code, text = run(
        [
            "explain",
            "--manifests",
            str(cluster.root),
            "--from",
            "shop/cart",
            "--to",
            "shop/web",
            "--port",
            "8080/TCP",
            "-o",
            "json",
        ]
    )
    assert code == 0
    (item,) = json.loads(text)
    assert set(item) >= {"src", "dst", "port", "allowed", "conns", "egress", "ingress"}
    assert item["allowed"] is True and item["port"] == "TCP/8080"
    assert set(item["ingress"]) >= {"verdict", "isolated", "isolated_by", "conns", "allowed_by"}
    assert [m["policy"] for m in item["ingress"]["allowed_by"]] == [
        "NetworkPolicy shop/cart-to-web"
    ]
    code, text = run(
        [
            "explain",
            "--manifests",
            str(cluster.root),
            "--from",
            "shop/web",
            "--to",
            "shop/cart",
            "-o",
            "json",
        ]
    )
    assert code == 0
    (back,) = json.loads(text)
    assert back["allowed"] is False and back["conns"] == []


def test_input_error_str_without_document_or_name() -> None:
    assert str(InputError("x.yaml", "boom")) == "x.yaml: boom"
    err = InputError("x.yaml", "bad", kind="Pod", namespace="a", name="p", document=3)
    assert str(err) == "x.yaml (document 3): Pod a/p: bad"
