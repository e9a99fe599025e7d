"""AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1) and ClusterNetworkPolicy
(v1alpha2), one row per rule of docs/semantics.md §2 (sources:
kubernetes-sigs/network-policy-api apis/v1alpha1/*_types.go,
apis/v1alpha2/clusternetworkpolicy_types.go)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exporter import usecases
from exporter.core.findings import Check

Doc = dict[str, Any]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "policy-apis" / "network-policy-api"


def anp(name: str, priority: int, spec: Doc) -> Doc:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, "subject": {"namespaces": {}}, **spec},
    }


def banp(spec: Doc) -> Doc:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {"subject": {"namespaces": {}}, **spec},
    }


def cnp(name: str, tier: str, priority: int, spec: Doc) -> Doc:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"tier": tier, "priority": priority, "subject": {"namespaces": {}}, **spec},
    }


def netpol(name: str, ns: str, spec: Doc) -> Doc:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


FROM_B = [{"namespaces": {"matchLabels": {"team": "b"}}}]
ALL_PODS = [{"namespaces": {}}]
TCP80 = [{"portNumber": {"protocol": "TCP", "port": 80}}]

ROWS = [
    pytest.param(
        "§2.1: Deny is final, before any NetworkPolicy",
        [
            anp("deny-b", 10, {"ingress": [{"action": "Deny", "from": FROM_B}]}),
            netpol("allow-all", "a", {"podSelector": {}, "ingress": [{}]}),
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "a/web", "TCP/80", True)],
        id="deny-before-networkpolicy",
    ),
    pytest.param(
        "§2.1: Allow is final, whatever NetworkPolicy isolates",
        [
            anp("allow-b", 10, {"ingress": [{"action": "Allow", "from": FROM_B, "ports": TCP80}]}),
            netpol("deny-all", "a", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/443", False)],
        id="allow-over-networkpolicy",
    ),
    pytest.param(
        "§2.1: lower priority value wins",
        [
            anp("deny", 20, {"ingress": [{"action": "Deny", "from": FROM_B}]}),
            anp("allow", 5, {"ingress": [{"action": "Allow", "from": FROM_B, "ports": TCP80}]}),
            netpol("deny-all", "a", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/client", "a/web", "TCP/443", False)],
        id="priority-order",
    ),
    pytest.param(
        "§2.1: rules in list order, the first match decides",
        [
            anp(
                "ordered",
                10,
                {
                    "ingress": [
                        {"action": "Allow", "from": FROM_B, "ports": TCP80},
                        {"action": "Deny", "from": ALL_PODS},
                    ]
                },
            )
        ],
        [
            ("b/client", "a/web", "TCP/80", True),
            ("b/client", "a/web", "TCP/443", False),
            ("a/client", "a/web", "TCP/80", False),
        ],
        id="rule-order",
    ),
    pytest.param(
        "§2.1/§2.2: Pass hands over to NetworkPolicy when one isolates the pod",
        [
            anp("pass", 10, {"ingress": [{"action": "Pass", "from": FROM_B}]}),
            banp({"ingress": [{"action": "Allow", "from": FROM_B}]}),
            netpol("deny-all", "a", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ],
        [("b/client", "a/web", "TCP/80", False)],
        id="pass-to-networkpolicy",
    ),
    pytest.param(
        "§2.2: Pass goes to the BANP when no NetworkPolicy selects the pod",
        [
            anp("pass", 10, {"ingress": [{"action": "Pass", "from": FROM_B}]}),
            banp({"ingress": [{"action": "Deny", "from": FROM_B}]}),
        ],
        [("b/client", "a/web", "TCP/80", False), ("a/client", "a/web", "TCP/80", True)],
        id="pass-to-baseline",
    ),
    pytest.param(
        "§2.2: BANP is not consulted for pods a NetworkPolicy isolates",
        [
            banp({"ingress": [{"action": "Deny", "from": ALL_PODS}]}),
            netpol(
                "allow-b",
                "a",
                {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]},
            ),
        ],
        [("b/client", "a/web", "TCP/80", True), ("b/client", "b/db", "TCP/5432", False)],
        id="networkpolicy-over-baseline",
    ),
    pytest.param(
        "§2.1: no implicit isolation — an ANP with only Allow rules denies nothing",
        [anp("allow", 10, {"ingress": [{"action": "Allow", "from": FROM_B}]})],
        [("a/client", "a/web", "TCP/80", True)],
        id="no-implicit-isolation",
    ),
    pytest.param(
        "§2.1: `networks` also covers pods when it spans the whole family",
        [
            anp(
                "deny-all-egress",
                10,
                {"egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]},
            )
        ],
        [("a/client", "b/db", "TCP/5432", False), ("a/client", "203.0.113.7", "TCP/443", False)],
        id="networks-cover-pods",
    ),
    pytest.param(
        "§2.1: a `networks` range matches external addresses only (pod IPs unknown)",
        [
            anp(
                "deny-net",
                10,
                {"egress": [{"action": "Deny", "to": [{"networks": ["203.0.113.0/24"]}]}]},
            )
        ],
        [
            ("a/client", "203.0.113.7", "TCP/443", False),
            ("a/client", "198.51.100.1", "TCP/443", True),
        ],
        id="networks-external",
    ),
    pytest.param(
        "§2.1: port ranges and named ports",
        [
            anp(
                "deny-ports",
                10,
                {
                    "ingress": [
                        {
                            "action": "Deny",
                            "from": ALL_PODS,
                            "ports": [
                                {"portRange": {"protocol": "TCP", "start": 400, "end": 500}},
                                {"namedPort": "http"},
                            ],
                        }
                    ]
                },
            )
        ],
        [
            ("b/client", "a/web", "TCP/443", False),
            ("b/client", "a/web", "TCP/80", False),
            ("b/client", "b/db", "TCP/5432", True),
        ],
        id="port-range-named-port",
    ),
    pytest.param(
        "§2.3: ClusterNetworkPolicy Admin Accept / Baseline Deny around NetworkPolicy",
        [
            cnp(
                "admin",
                "Admin",
                10,
                {
                    "ingress": [
                        {
                            "action": "Accept",
                            "from": FROM_B,
                            "protocols": [{"tcp": {"destinationPort": {"number": 80}}}],
                        }
                    ]
                },
            ),
            cnp("baseline", "Baseline", 10, {"ingress": [{"action": "Deny", "from": ALL_PODS}]}),
        ],
        [
            ("b/client", "a/web", "TCP/80", True),
            ("b/client", "a/web", "TCP/443", False),
            ("a/client", "a/web", "TCP/80", False),
        ],
        id="cnp-tiers",
    ),
    pytest.param(
        "§2.3: Pass in the Baseline tier skips the rest of the tier (default allow)",
        [
            cnp("pass", "Baseline", 1, {"ingress": [{"action": "Pass", "from": FROM_B}]}),
            cnp("deny", "Baseline", 2, {"ingress": [{"action": "Deny", "from": ALL_PODS}]}),
        ],
        [("b/client", "a/web", "TCP/80", True), ("a/client", "a/web", "TCP/80", False)],
        id="cnp-baseline-pass",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "checks"), ROWS)
def test_admin_rule(
    rule: str, policies: list[Doc], checks: list[Any], world: Any, check: Any
) -> None:
    check(world(policies, "generic"), checks, rule)


def test_baseline_deny_all_is_default_deny_for_namespaces_without_policy(world: Any) -> None:
    """Issue 4: a Baseline tier denying every peer gives default-deny to namespaces with
    no policy of their own, and coverage names the cluster-wide policy. A Deny of every
    pod alone (ingress peers cannot name outside addresses, §2.1) leaves the internet
    allowed, so it is not default deny."""
    w = world(
        [
            banp(
                {
                    "ingress": [{"action": "Deny", "from": ALL_PODS}],
                    "egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}],
                }
            )
        ]
    )
    cov = w.coverage("a")
    assert cov.egress.default_deny
    assert cov.egress.policies == ("BaselineAdminNetworkPolicy default",)
    assert not cov.ingress.default_deny
    assert w.allowed("203.0.113.7", "a/web", "TCP/80")
    assert not w.allowed("b/client", "a/web", "TCP/80")
    # A NetworkPolicy of its own takes the namespace out of the baseline (§2.2).
    w = world(
        [
            banp({"egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]}),
            netpol(
                "egress-ok", "a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
            ),
        ]
    )
    assert w.allowed("a/client", "203.0.113.7", "TCP/443")
    assert not w.allowed("b/client", "203.0.113.7", "TCP/443")


@pytest.mark.parametrize(
    ("networks", "default_deny"),
    [(["0.0.0.0/0"], False), (["0.0.0.0/0", "::/0"], True)],
    ids=["ipv4-only", "both-families"],
)
def test_baseline_deny_all_covers_every_address_family_in_play(
    networks: list[str], default_deny: bool, world: Any
) -> None:
    """§6.8: once a policy names an IPv6 block, outside space is IPv4 and IPv6. A Deny of
    `0.0.0.0/0` then leaves IPv6 addresses allowed, so it is not default deny (it was,
    when only IPv4 was checked); denying `::/0` too is."""
    v6 = netpol(
        "v6-out",
        "b",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}]}],
        },
    )
    w = world(
        [banp({"egress": [{"action": "Deny", "to": [*ALL_PODS, {"networks": networks}]}]}), v6]
    )
    assert w.coverage("a").egress.default_deny is default_deny
    assert w.allowed("a/client", "2001:db8::7", "TCP/443") is not default_deny
    assert not w.allowed("a/client", "203.0.113.7", "TCP/443")


def test_explain_names_the_admin_policy(world: Any) -> None:
    w = world(
        [anp("deny-b", 10, {"ingress": [{"action": "Deny", "name": "no-b", "from": FROM_B}]})]
    )
    text = "\n".join(w.explain("b/client", "a/web", "TCP/80").lines())
    assert "DENIED" in text
    assert "denied by AdminNetworkPolicy deny-b rule ingress[0] no-b" in text


def test_unknown_peer_fails_closed(world: Any) -> None:
    """§2.1: an unrecognised peer makes a Deny rule match everything."""
    w = world([anp("x", 1, {"ingress": [{"action": "Deny", "from": [{"future": {}}]}]})])
    assert not w.allowed("a/client", "a/web", "TCP/80")
    assert any(f.check is Check.NOT_EVALUATED for f in w.findings())


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (anp("x", 2000, {}), ["spec.priority", "1000"]),
        (banp({}) | {"metadata": {"name": "other"}}, ["named default"]),
        (anp("x", 1, {"ingress": [{"action": "Accept", "from": ALL_PODS}]}), ["action", "Allow"]),
        (cnp("x", "Middle", 1, {}), ["spec.tier"]),
        (anp("x", 1, {"ingress": [{"action": "Allow", "from": []}]}), ["at least one peer"]),
    ],
)
def test_invalid_objects_are_input_errors(doc: Doc, words: list[str], tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(doc))
    report = usecases.scan([path])
    assert len(report.errors) == 1
    for word in words:
        assert word in report.errors[0].message


def test_network_policy_api_examples_load() -> None:
    report = usecases.scan([FIXTURES])
    assert [str(e) for e in report.errors] == []
    kinds = {k: n for (_, k), n in report.policies_by_kind.items()}
    assert kinds["ClusterNetworkPolicy"] == 8


def test_decide_reports_deny_pass_and_allow_matches(world: Any) -> None:
    """The engine API others build on: `decide` keeps `ports`, `isolated`, `matches`
    and adds `denies`, `passes` and `policies`."""
    from exporter.core.model import Direction
    from exporter.core.policies import Action

    w = world(
        [
            anp(
                "mixed",
                10,
                {
                    "ingress": [
                        {"action": "Deny", "from": FROM_B, "ports": TCP80},
                        {"action": "Pass", "from": FROM_B},
                    ]
                },
            ),
            netpol("allow-443", "a", {"podSelector": {}, "ingress": [{"ports": [{"port": 443}]}]}),
        ]
    )
    side = w.engine.decide(Direction.INGRESS, w.cls("a/web"), w.cls("b/client"))
    assert side.isolated
    assert [str(p) for p in side.ports.items()] == ["TCP/443"]
    assert [(m.policy.name, m.action) for m in side.denies] == [("mixed", Action.DENY)]
    assert [m.policy.name for m in side.passes] == ["mixed"]
    assert [m.policy.name for m in side.matches] == ["allow-443"]
    assert {p.name for p in side.policies} == {"mixed", "allow-443"}


def test_admin_policies_are_enforced_on_calico(world: Any) -> None:
    """§2.4/§4: Calico implements ANP (tier order 1,000, before its default tier)."""
    w = world([anp("deny-b", 10, {"ingress": [{"action": "Deny", "from": FROM_B}]})], "calico")
    assert not w.allowed("b/client", "a/web", "TCP/80")
