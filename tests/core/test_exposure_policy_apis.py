"""Exposure on clusters whose policies are not NetworkPolicy (issue 3 x issue 4).

The categories must follow each API's semantics (docs/semantics.md §2-3): Cilium's
`world` entity admits the internet, a CNP's namespace label peer reaches another
namespace, an AdminNetworkPolicy Deny of every pod takes other-namespace exposure away
even where a NetworkPolicy would admit it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter import usecases

WORKLOAD = """
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: a, image: x, ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: other}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: web}
spec: {type: LoadBalancer, selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}
"""

CNP_WORLD = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-world, namespace: web}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEntities: [world]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
"""

CNP_OTHER_NAMESPACE = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-other, namespace: web}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": other}}]
"""

CNP_SAME_NAMESPACE = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: same-namespace, namespace: web}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints: [{}]
"""

CNP_ALL_NAMESPACES = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: from-all-namespaces, namespace: web}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints:
    - matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: Exists}]
"""

NP_ALL_NAMESPACES = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-all-namespaces, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {}}]
"""

ANP_DENY_ALL_PODS = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: isolate-web}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: web}}}
  ingress:
  - name: deny-every-pod
    action: Deny
    from: [{namespaces: {}}]
"""


def _exposures(tmp_path: Path, *docs: str, plugin: str | None = None) -> set[tuple[str, bool]]:
    for i, doc in enumerate((WORKLOAD, *docs)):
        (tmp_path / f"{i}.yaml").write_text(doc)
    report = usecases.scan([tmp_path], network_plugin=plugin)
    assert report.errors == []
    return {
        (e.category.value, e.permitted)
        for e in report.exposures
        if (e.namespace, e.name) == ("web", "api")
    }


@pytest.mark.parametrize(
    ("case", "docs", "plugin", "present", "absent"),
    [
        (
            "§3.6 world entity admits the internet",
            (CNP_WORLD,),
            None,
            {("internet", True)},
            {("other_namespaces", True)},
        ),
        (
            "§3.3 namespace label peer reaches another namespace",
            (CNP_OTHER_NAMESPACE,),
            None,
            {("other_namespaces", True), ("internet", False)},
            {("all_namespaces", True)},
        ),
        (
            "§3.3 fromEndpoints [{}] in a CNP is its own namespace only",
            (CNP_SAME_NAMESPACE,),
            None,
            {("internet", False)},
            {("other_namespaces", True), ("all_namespaces", True)},
        ),
        (
            "§3.3 fromEndpoints requiring only a namespace admits every namespace",
            (CNP_ALL_NAMESPACES,),
            None,
            {("other_namespaces", True), ("all_namespaces", True)},
            set(),
        ),
        (
            "§1.3 namespaceSelector {} admits every namespace",
            (NP_ALL_NAMESPACES,),
            "generic",
            {("other_namespaces", True), ("all_namespaces", True)},
            set(),
        ),
        (
            "§2.2 an ANP Deny of every pod is decided before NetworkPolicy allows",
            (NP_ALL_NAMESPACES, ANP_DENY_ALL_PODS),
            "generic",
            set(),
            {("other_namespaces", True), ("all_namespaces", True)},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("§") else "",
)
def test_exposure_follows_each_policy_api(
    tmp_path: Path,
    case: str,
    docs: tuple[str, ...],
    plugin: str | None,
    present: set[tuple[str, bool]],
    absent: set[tuple[str, bool]],
) -> None:
    got = _exposures(tmp_path, *docs, plugin=plugin)
    assert present <= got, f"{case}: missing {present - got} in {got}"
    assert not (absent & got), f"{case}: unexpected {absent & got}"
