"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, one row per rule of
docs/semantics.md §3 (each row cites the section and its upstream source)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.core.findings import Check
from exporter.core.model import Direction

Doc = dict[str, Any]


def cnp(name: str, ns: str, spec: Doc | None = None, specs: list[Doc] | None = None) -> Doc:
    doc: Doc = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
    }
    if spec is not None:
        doc["spec"] = spec
    if specs is not None:
        doc["specs"] = specs
    return doc


def ccnp(name: str, spec: Doc) -> Doc:
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


WEB = {"matchLabels": {"app": "web"}}
TCP80 = [{"ports": [{"port": "80", "protocol": "TCP"}]}]

ROWS = [
    pytest.param(
        "§3.5 (cilium/cilium:examples/minikube/sw_deny_policy.yaml): `ingress: [{}]` "
        "isolates and allows nothing — the opposite of a NetworkPolicy",
        [cnp("deny", "a", {"endpointSelector": WEB, "ingress": [{}]})],
        [("a/client", "a/web", "TCP/80", False), ("b/client", "a/web", "TCP/80", False)],
        id="empty-rule-is-deny-all",
    ),
    pytest.param(
        "§3.3 (ParseToCiliumRule): `fromEndpoints: [{}]` in a CNP is its own namespace only",
        [cnp("ns", "a", {"endpointSelector": WEB, "ingress": [{"fromEndpoints": [{}]}]})],
        [("a/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/80", False)],
        id="cnp-from-endpoints-empty-is-namespace-local",
    ),
    pytest.param(
        "§3.3: `fromEndpoints: [{}]` in a CCNP is every pod of every namespace",
        [ccnp("all", {"endpointSelector": WEB, "ingress": [{"fromEndpoints": [{}]}]})],
        [
            ("a/client", "a/web", "TCP/80", True),
            ("b/client", "a/web", "TCP/80", True),
            ("203.0.113.7", "a/web", "TCP/80", False),
        ],
        id="ccnp-from-endpoints-empty-is-every-pod",
    ),
    pytest.param(
        "§3.2/§3.3: `k8s:io.kubernetes.pod.namespace` selects another namespace",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {
                                    "matchLabels": {
                                        "k8s:io.kubernetes.pod.namespace": "b",
                                        "k8s:app": "client",
                                    }
                                }
                            ]
                        }
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True), ("a/client", "a/web", "TCP/80", False)],
        id="namespace-label-key",
    ),
    pytest.param(
        "§3.2: `io.cilium.k8s.namespace.labels.<key>` matches namespace labels",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {"matchLabels": {"io.cilium.k8s.namespace.labels.team": "b"}}
                            ]
                        }
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True), ("a/client", "a/web", "TCP/80", False)],
        id="namespace-labels-key",
    ),
    pytest.param(
        "§3.2: `io.cilium.k8s.policy.serviceaccount` selects by service account",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {
                                    "matchLabels": {
                                        "io.cilium.k8s.policy.serviceaccount": "robot",
                                        "k8s:io.kubernetes.pod.namespace": "b",
                                    }
                                }
                            ]
                        }
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/db", "a/web", "TCP/80", False)],
        id="service-account",
    ),
    pytest.param(
        "§3.3: a CNP endpointSelector never selects pods of another namespace",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": {
                        "matchLabels": {"k8s:io.kubernetes.pod.namespace": "b", "app": "db"}
                    },
                    "ingress": [{}],
                },
            )
        ],
        [("a/client", "b/db", "TCP/5432", True)],
        id="cnp-cannot-select-other-namespace",
    ),
    pytest.param(
        "§3.5: `toPorts` alone = any peer (incl. world) on those ports",
        [cnp("x", "a", {"endpointSelector": WEB, "ingress": [{"toPorts": TCP80}]})],
        [
            ("b/client", "a/web", "TCP/80", True),
            ("203.0.113.7", "a/web", "TCP/80", True),
            ("b/client", "a/web", "TCP/443", False),
        ],
        id="ports-only-wildcard-peer",
    ),
    pytest.param(
        "§3.8 (l4.go): port without protocol = ANY (TCP, UDP and SCTP)",
        [
            cnp(
                "x",
                "a",
                {"endpointSelector": WEB, "ingress": [{"toPorts": [{"ports": [{"port": "80"}]}]}]},
            )
        ],
        [("b/client", "a/web", "UDP/80", True), ("b/client", "a/web", "SCTP/80", True)],
        id="protocol-any",
    ),
    pytest.param(
        "§3.8: port ranges with endPort; named ports resolve on the destination",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {
                            "toPorts": [
                                {"ports": [{"port": "440", "endPort": 450, "protocol": "TCP"}]},
                                {"ports": [{"port": "http", "protocol": "TCP"}]},
                            ]
                        }
                    ],
                },
            )
        ],
        [
            ("b/client", "a/web", "TCP/443", True),
            ("b/client", "a/web", "TCP/80", True),
            ("b/client", "a/web", "TCP/8080", False),
        ],
        id="port-range-and-named-port",
    ),
    pytest.param(
        "§3.5 (deny.rst): a deny rule wins over any allow, from any policy",
        [
            cnp("allow", "a", {"endpointSelector": WEB, "ingress": [{"fromEntities": ["all"]}]}),
            ccnp(
                "deny-b",
                {
                    "endpointSelector": {},
                    "ingressDeny": [
                        {
                            "fromEndpoints": [
                                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "b"}}
                            ],
                            "toPorts": TCP80,
                        }
                    ],
                },
            ),
        ],
        [
            ("b/client", "a/web", "TCP/80", False),
            ("b/client", "a/web", "TCP/443", True),
            ("a/client", "a/web", "TCP/80", True),
        ],
        id="deny-wins",
    ),
    pytest.param(
        "§3.5/§0: a deny also overrides a Kubernetes NetworkPolicy allow",
        [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "allow-all", "namespace": "a"},
                "spec": {"podSelector": {}, "ingress": [{}]},
            },
            cnp(
                "deny-world",
                "a",
                {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]},
            ),
        ],
        [("203.0.113.7", "a/web", "TCP/80", False), ("b/client", "a/web", "TCP/80", True)],
        id="deny-over-networkpolicy",
    ),
    pytest.param(
        "§3.6 (entity.go): `world` is every address outside the cluster, never a pod",
        [cnp("x", "a", {"endpointSelector": WEB, "ingress": [{"fromEntities": ["world"]}]})],
        [("203.0.113.7", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/80", False)],
        id="entity-world",
    ),
    pytest.param(
        "§3.6: `cluster` is every pod and node, not the world",
        [cnp("x", "a", {"endpointSelector": WEB, "ingress": [{"fromEntities": ["cluster"]}]})],
        [
            ("b/client", "a/web", "TCP/80", True),
            ("kube-system/agent", "a/web", "TCP/80", True),
            ("203.0.113.7", "a/web", "TCP/80", False),
        ],
        id="entity-cluster",
    ),
    pytest.param(
        "§3.6: `remote-node`/`host` are the nodes, incl. their hostNetwork pods",
        [cnp("x", "a", {"endpointSelector": WEB, "ingress": [{"fromEntities": ["remote-node"]}]})],
        [("kube-system/agent", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/80", False)],
        id="entity-remote-node",
    ),
    pytest.param(
        "§3.7 (language.rst): CIDR rules never match pods; except carves out ranges",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {"fromCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["198.51.100.0/24"]}]}
                    ],
                },
            )
        ],
        [
            ("203.0.113.7", "a/web", "TCP/80", True),
            ("198.51.100.9", "a/web", "TCP/80", False),
            ("b/client", "a/web", "TCP/80", False),
        ],
        id="cidr-set-except",
    ),
    pytest.param(
        "§3.4 (rule.go EnableDefaultDeny): `enableDefaultDeny.ingress: false` adds rules "
        "without isolating",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "enableDefaultDeny": {"ingress": False},
                    "ingress": [{"fromEntities": ["world"]}],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True)],
        id="enable-default-deny-false",
    ),
    pytest.param(
        "§3.4: egress rules isolate egress only; ingress stays open",
        [cnp("x", "a", {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]})],
        [
            ("a/client", "203.0.113.7", "TCP/443", True),
            ("a/client", "b/db", "TCP/5432", False),
            ("b/client", "a/web", "TCP/80", True),
        ],
        id="egress-only",
    ),
    pytest.param(
        "§3.8: L7 rules allow the L4 port (the L7 limits are reported, not evaluated)",
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": WEB,
                    "ingress": [
                        {
                            "toPorts": [
                                {
                                    "ports": [{"port": "80", "protocol": "TCP"}],
                                    "rules": {"http": [{"method": "GET", "path": "/"}]},
                                }
                            ]
                        }
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/443", False)],
        id="l7-allows-l4",
    ),
    pytest.param(
        "§3.1 (cnp_types.go): `specs` is a list of rules, each with its own selector",
        [
            cnp(
                "two",
                "a",
                specs=[
                    {"endpointSelector": WEB, "ingress": [{}]},
                    {
                        "endpointSelector": {"matchLabels": {"app": "client"}},
                        "egress": [{}],
                    },
                ],
            )
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "b/db", "TCP/5432", False)],
        id="specs",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "checks"), ROWS)
def test_cilium_rule(
    rule: str, policies: list[Doc], checks: list[Any], world: Any, check: Any
) -> None:
    check(world(policies, "cilium"), checks, rule)


def test_ccnp_default_deny_covers_namespaces_without_policies(world: Any) -> None:
    """Issue 4 coverage semantics: a CCNP isolating every pod gives default-deny to
    namespaces with no policy of their own, and coverage names it."""
    w = world([ccnp("baseline", {"endpointSelector": {}, "ingress": [{}], "egress": [{}]})])
    for ns in ("a", "b"):
        cov = w.coverage(ns)
        assert cov.ingress.default_deny and cov.egress.default_deny
        assert cov.ingress.policies == ("CiliumClusterwideNetworkPolicy baseline",)
    # kube-system holds a hostNetwork pod, which no policy isolates (§3.9).
    assert not w.coverage("kube-system").ingress.default_deny


def test_ccnp_excluding_kube_system_by_namespace_label(world: Any) -> None:
    """§3.3: the CCNP endpointSelector is not scoped; a NotIn on the namespace key
    selects every pod of the other namespaces, present and future."""
    sel = {
        "matchExpressions": [
            {"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": ["a"]}
        ]
    }
    w = world([ccnp("not-a", {"endpointSelector": sel, "ingress": [{}]})])
    assert not w.coverage("a").ingress.default_deny
    assert w.coverage("b").ingress.default_deny


def test_explain_names_the_deny_rule_and_cluster_policy(world: Any) -> None:
    w = world(
        [
            ccnp(
                "no-world",
                {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]},
            )
        ]
    )
    exp = w.explain("203.0.113.7", "a/web", "TCP/80")
    assert not exp.allowed
    text = "\n".join(exp.lines())
    assert "denied by CiliumClusterwideNetworkPolicy no-world rule ingressDeny[0]" in text
    js = exp.to_json()
    assert js["ingress"]["denied_by"][0]["policy"] == "CiliumClusterwideNetworkPolicy no-world"


def test_host_policy_is_reported_not_applied(world: Any) -> None:
    """§3.1/§3.9 (host.rst): nodeSelector rules select nodes, not pods."""
    w = world(
        [ccnp("host", {"nodeSelector": {"matchLabels": {"type": "worker"}}, "ingress": [{}]})]
    )
    assert not w.isolated("a/web", "ingress")
    assert any(f.check is Check.NOT_EVALUATED and "host policy" in f.message for f in w.findings())


def test_on_cilium_admin_policies_are_unenforced(world: Any) -> None:
    """§2.4: Cilium does not implement AdminNetworkPolicy; findings say so."""
    anp = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "deny-b"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {}},
            "ingress": [
                {"action": "Deny", "from": [{"namespaces": {"matchLabels": {"team": "b"}}}]}
            ],
        },
    }
    w = world([anp], "cilium")
    assert w.allowed("b/client", "a/web", "TCP/80")
    assert any(f.check is Check.UNENFORCED_POLICY for f in w.findings())
    assert not world([anp], "generic").allowed("b/client", "a/web", "TCP/80")


def test_on_cilium_ipblock_rules_are_flagged(world: Any) -> None:
    """§3.7: on Cilium ipBlock/CIDR never matches pods: said in a finding."""
    netpol = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "pods-by-cidr", "namespace": "a"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
    }
    w = world([netpol], "cilium")
    assert not w.allowed("b/client", "a/web", "TCP/80")
    assert any(f.check is Check.CIDR_IGNORES_PODS for f in w.findings())
    assert not any(f.check is Check.CIDR_IGNORES_PODS for f in world([netpol]).findings())


def test_cilium_is_detected_from_kinds(world: Any) -> None:
    w = world([cnp("x", "a", {"endpointSelector": WEB, "ingress": [{}]})])
    assert str(w.engine.network_plugin) == "cilium"
    assert w.engine.is_isolated(w.cls("a/web"), Direction.INGRESS)


def test_fqdn_and_service_egress_are_named_destinations(world: Any) -> None:
    """§3.8: toFQDNs/toServices are egress to named external destinations: listed by
    connectivity as `fqdn:<name>` / `service:<ns>/<name>`, reported as not evaluated."""
    from exporter.core.connectivity import connectivity

    w = world(
        [
            cnp(
                "x",
                "a",
                {
                    "endpointSelector": {"matchLabels": {"app": "client"}},
                    "egress": [
                        {"toFQDNs": [{"matchName": "api.example.com"}], "toPorts": TCP80},
                        {"toServices": [{"k8sService": {"serviceName": "ext", "namespace": "a"}}]},
                    ],
                },
            )
        ]
    )
    named = {(c.src, c.dst): c.conns.to_json() for c in connectivity(w.engine)}
    assert named[("a/client[Deployment]", "fqdn:api.example.com")] == ["TCP/80"]
    assert named[("a/client[Deployment]", "service:a/ext")] == "all"
    assert not w.allowed("a/client", "203.0.113.7", "TCP/80")
    assert any(f.check is Check.NOT_EVALUATED and "FQDN" in f.message for f in w.findings())
