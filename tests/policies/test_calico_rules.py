"""Calico NetworkPolicy / GlobalNetworkPolicy and the selector language, one row per
rule of docs/semantics.md §4 (sources: projectcalico/calico
api/pkg/apis/projectcalico/v3/{networkpolicy,globalnetworkpolicy,policy_common,tier}.go,
libcalico-go/lib/selector; tigera/docs tiered-policy.mdx)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.core.calico_selectors import CalicoSelectorError, parse_calico_selector
from exporter.core.findings import Check

Doc = dict[str, Any]


def calico(name: str, ns: str, spec: Doc, api: str = "projectcalico.org/v3") -> Doc:
    return {
        "apiVersion": api,
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def gnp(name: str, spec: Doc) -> Doc:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def tier(name: str, order: float, default_action: str | None = None) -> Doc:
    spec: Doc = {"order": order}
    if default_action:
        spec["defaultAction"] = default_action
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Tier",
        "metadata": {"name": name},
        "spec": spec,
    }


def netpol(name: str, ns: str, spec: Doc) -> Doc:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


WEB = "app == 'web'"

ROWS = [
    pytest.param(
        "§4: a selected pod is isolated for its types; rules allow",
        [
            calico(
                "web",
                "a",
                {
                    "selector": WEB,
                    "ingress": [
                        {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/443", False)],
        id="isolation-and-allow",
    ),
    pytest.param(
        "§4: rules in order, the first Allow/Deny wins",
        [
            calico(
                "web",
                "a",
                {
                    "selector": WEB,
                    "ingress": [
                        {"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}},
                        {"action": "Allow"},
                    ],
                },
            )
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "a/web", "TCP/80", True)],
        id="first-match",
    ),
    pytest.param(
        "§4: order across policies — a lower order Deny precedes a Kubernetes "
        "NetworkPolicy (order 1000 in the default tier)",
        [
            calico(
                "deny-b",
                "a",
                {
                    "order": 100,
                    "selector": "all()",
                    "ingress": [{"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}}],
                },
            ),
            netpol("allow-all", "a", {"podSelector": {}, "ingress": [{}]}),
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "a/web", "TCP/80", True)],
        id="order-vs-networkpolicy",
    ),
    pytest.param(
        "§4: a NetworkPolicy `selector` without namespaceSelector is namespace-local",
        [
            calico(
                "web",
                "a",
                {
                    "selector": WEB,
                    "ingress": [{"action": "Allow", "source": {"selector": "app == 'client'"}}],
                },
            )
        ],
        [("a/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/80", False)],
        id="local-selector",
    ),
    pytest.param(
        "§4: Log decides nothing; evaluation goes on",
        [
            calico(
                "web",
                "a",
                {
                    "selector": WEB,
                    "ingress": [
                        {"action": "Log"},
                        {"action": "Allow", "source": {"selector": "app == 'client'"}},
                    ],
                },
            )
        ],
        [("a/client", "a/web", "TCP/80", True), ("a/client", "a/client", "TCP/80", True)],
        id="log-continues",
    ),
    pytest.param(
        "§4: Pass skips to the next tier; a tier with selecting policies denies the rest",
        [
            tier("security", 100),
            calico(
                "security.pass-b",
                "a",
                {
                    "tier": "security",
                    "selector": "all()",
                    "ingress": [{"action": "Pass", "source": {"namespaceSelector": "team == 'b'"}}],
                },
            ),
        ],
        [("b/client", "a/web", "TCP/80", True), ("a/client", "a/web", "TCP/80", False)],
        id="pass-and-end-of-tier-deny",
    ),
    pytest.param(
        "§4 (tier.mdx): a tier with `defaultAction: Pass` lets undecided traffic through",
        [
            tier("security", 100, "Pass"),
            calico(
                "security.nothing",
                "a",
                {
                    "tier": "security",
                    "selector": "all()",
                    "ingress": [{"action": "Deny", "source": {"namespaceSelector": "team == 'b'"}}],
                },
            ),
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "a/web", "TCP/80", True)],
        id="tier-default-pass",
    ),
    pytest.param(
        "§4: GlobalNetworkPolicy applies in every namespace; namespaceSelector narrows",
        [
            gnp(
                "deny-egress",
                {
                    "selector": "all()",
                    "namespaceSelector": "team == 'a'",
                    "types": ["Egress"],
                    "egress": [
                        {
                            "action": "Allow",
                            "destination": {
                                "selector": "k8s-app == 'kube-dns'",
                                "namespaceSelector": "all()",
                            },
                        }
                    ],
                },
            )
        ],
        [
            ("a/client", "b/db", "TCP/5432", False),
            ("a/client", "kube-system/dns", "UDP/53", True),
            ("b/client", "a/web", "TCP/80", True),
        ],
        id="global-policy",
    ),
    pytest.param(
        "§4: nets / notNets match addresses; notNets of private space keeps pods out",
        [
            calico(
                "egress",
                "a",
                {
                    "selector": "all()",
                    "types": ["Egress"],
                    "egress": [
                        {
                            "action": "Allow",
                            "destination": {"notNets": ["10.0.0.0/8", "192.168.0.0/16"]},
                        }
                    ],
                },
            )
        ],
        [
            ("a/client", "203.0.113.7", "TCP/443", True),
            ("a/client", "10.1.2.3", "TCP/443", False),
            ("a/client", "b/db", "TCP/5432", False),
        ],
        id="nets-not-nets",
    ),
    pytest.param(
        "§4: serviceAccounts.names matches the pod's service account",
        [
            calico(
                "db",
                "b",
                {
                    "selector": "app == 'db'",
                    "ingress": [
                        {"action": "Allow", "source": {"serviceAccounts": {"names": ["robot"]}}}
                    ],
                },
            )
        ],
        [("b/client", "b/db", "TCP/5432", True), ("a/client", "b/db", "TCP/5432", False)],
        id="service-accounts",
    ),
    pytest.param(
        "§4: ports need a protocol; port ranges `lo:hi`; notPorts",
        [
            calico(
                "web",
                "a",
                {
                    "selector": WEB,
                    "ingress": [
                        {
                            "action": "Allow",
                            "protocol": "TCP",
                            "destination": {"ports": ["1:1000"], "notPorts": [80]},
                        }
                    ],
                },
            )
        ],
        [
            ("b/client", "a/web", "TCP/443", True),
            ("b/client", "a/web", "TCP/80", False),
            ("b/client", "a/web", "UDP/443", False),
        ],
        id="ports-and-not-ports",
    ),
    pytest.param(
        "§4: crd.projectcalico.org/v1 objects are the same API",
        [
            calico(
                "web",
                "a",
                {"selector": WEB, "ingress": [{"action": "Deny"}]},
                api="crd.projectcalico.org/v1",
            )
        ],
        [("a/client", "a/web", "TCP/80", False)],
        id="crd-api-group",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "checks"), ROWS)
def test_calico_rule(
    rule: str, policies: list[Doc], checks: list[Any], world: Any, check: Any
) -> None:
    check(world(policies, "calico"), checks, rule)


def test_global_policy_gives_default_deny_to_namespaces_without_policies(world: Any) -> None:
    w = world([gnp("default-deny", {"selector": "all()", "types": ["Ingress", "Egress"]})])
    assert str(w.engine.network_plugin) == "calico"
    cov = w.coverage("b")
    assert cov.ingress.default_deny and cov.egress.default_deny
    assert cov.ingress.policies == ("GlobalNetworkPolicy default-deny",)


def test_selector_on_namespace_label_covers_the_namespace(world: Any) -> None:
    sel = "projectcalico.org/namespace != 'kube-system'"
    w = world([gnp("dd", {"selector": sel, "types": ["Ingress"]})])
    assert w.coverage("a").ingress.default_deny
    assert not w.coverage("kube-system").ingress.default_deny


def test_calico_policies_are_unenforced_elsewhere(world: Any) -> None:
    w = world([calico("web", "a", {"selector": WEB, "ingress": [{"action": "Deny"}]})], "generic")
    assert w.allowed("a/client", "a/web", "TCP/80")
    assert any(f.check is Check.UNENFORCED_POLICY for f in w.findings())


SELECTORS = [
    # (selector, labels, matches?)
    ("", {}, True),
    ("all()", {"a": "1"}, True),
    ("global()", {}, False),
    ("app == 'web'", {"app": "web"}, True),
    ('app == "web"', {"app": "db"}, False),
    ("app != 'web'", {}, True),
    ("app in {'a', 'b'}", {"app": "b"}, True),
    ("app not in {'a', 'b'}", {}, True),
    ("has(tier)", {"tier": ""}, True),
    ("!has(tier)", {"tier": "x"}, False),
    ("a == '1' && b == '2' || c == '3'", {"c": "3"}, True),
    ("a == '1' && (b == '2' || c == '3')", {"c": "3"}, False),
    ("name starts with 'web' && name ends with '-1'", {"name": "web-x-1"}, True),
    ("name contains 'x'", {"name": "abc"}, False),
    ("projectcalico.org/namespace == 'a'", {"projectcalico.org/namespace": "a"}, True),
]


@pytest.mark.parametrize(("text", "labels", "want"), SELECTORS)
def test_selector_language(text: str, labels: dict[str, str], want: bool) -> None:
    assert parse_calico_selector(text).matches(labels) is want


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("app = 'web'", ["position"]),
        ("app == web", ["quoted string"]),
        ("app == 'web' &&", ["end of selector"]),
        ("(app == 'web'", ["')'"]),
        ("app in {'a' 'b'}", ["'}'"]),
        ("app ~ 'x'", ["unexpected character '~'"]),
    ],
)
def test_selector_errors_are_clear(text: str, words: list[str]) -> None:
    with pytest.raises(CalicoSelectorError) as info:
        parse_calico_selector(text, "spec.selector")
    assert str(info.value).startswith("spec.selector: ")
    for word in words:
        assert word in str(info.value)


def test_bad_selector_is_an_input_error(world: Any) -> None:
    from exporter.core.inventory import RawObject, build_snapshot

    _, errors = build_snapshot([RawObject(calico("x", "a", {"selector": "app === 'x'"}), "p.yaml")])
    assert len(errors) == 1
    assert "spec.selector" in errors[0].message and errors[0].kind == "NetworkPolicy"


def test_namespace_selector_on_the_implicit_name_label(world: Any) -> None:
    """Calico labels every namespace `projectcalico.org/name: <name>`: a GlobalNetworkPolicy
    with `namespaceSelector: projectcalico.org/name != 'kube-system'` must not select
    kube-system (it did: the label was missing, so `!=` matched everywhere)."""
    ns_sel = "projectcalico.org/name != 'kube-system'"
    w = world([gnp("dd", {"namespaceSelector": ns_sel, "selector": "all()", "types": ["Ingress"]})])
    assert w.coverage("a").ingress.default_deny
    assert w.isolated("a/web", "ingress")
    assert not w.isolated("kube-system/dns", "ingress")


def test_rule_namespace_selector_on_the_implicit_name_label(world: Any) -> None:
    w = world(
        [
            calico(
                "web",
                "a",
                {
                    "selector": "app == 'web'",
                    "ingress": [
                        {
                            "action": "Allow",
                            "source": {"namespaceSelector": "projectcalico.org/name == 'b'"},
                        }
                    ],
                },
            )
        ],
        "calico",
    )
    assert w.allowed("b/client", "a/web", "TCP/80")
    assert not w.allowed("a/client", "a/web", "TCP/80")


def test_service_account_selector_on_the_implicit_name_label(world: Any) -> None:
    """ServiceAccounts carry `projectcalico.org/name` too: a policy for the `robot`
    account selects b/client (which runs as robot) and not b/db."""
    w = world(
        [
            calico(
                "robot-only",
                "b",
                {
                    "selector": "all()",
                    "serviceAccountSelector": "projectcalico.org/name == 'robot'",
                    "types": ["Ingress"],
                },
            ),
            calico(
                "db",
                "b",
                {
                    "selector": "app == 'db'",
                    "ingress": [
                        {
                            "action": "Allow",
                            "source": {
                                "serviceAccounts": {"selector": "projectcalico.org/name == 'robot'"}
                            },
                        }
                    ],
                },
            ),
        ],
        "calico",
    )
    assert w.isolated("b/client", "ingress")
    assert not w.isolated("a/client", "ingress")
    assert w.allowed("b/client", "b/db", "TCP/5432")  # runs as robot
    assert not w.allowed("a/client", "b/db", "TCP/5432")  # runs as default
    assert not [f for f in w.findings() if "service-account labels" in f.message]
