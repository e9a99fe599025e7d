"""Default-deny coverage per namespace and direction, and every finding check.

`default_deny` (docs/json-output.md; docs/semantics.md §1.7): true only when every
current and future pod of the namespace is isolated in that direction -- a policy with
an empty podSelector whose effective policyTypes contain it -- AND no rule of the
namespace admits every peer on every port in that direction (§1.3: `ingress: [{}]` is
allow-all). Evaluated through YAML on disk -> `usecases.scan`.
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.core.findings import Check, Severity

DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
DENY_EGRESS = {"podSelector": {}, "policyTypes": ["Egress"]}
DENY_BOTH = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
WEB = {"matchLabels": {"app": "web"}}


def team(k8s: Any, *policies: tuple[str, dict[str, Any]], ns: str = "team") -> list[Any]:
    """Namespace `team` with web (3 replicas) and worker (2 replicas) + the policies."""
    return [
        k8s.namespace(ns),
        k8s.deployment("web", ns, {"app": "web"}, ["http=8080/TCP"], replicas=3),
        k8s.deployment("worker", ns, {"app": "worker"}, [], replicas=2),
        *(k8s.netpol(name, ns, spec) for name, spec in policies),
    ]


def coverage_of(report: Any, name: str = "team") -> dict[str, Any]:
    by_name = {n.name: n.to_json() for n in report.namespaces}
    return by_name[name]


def side(report: Any, direction: str, name: str = "team") -> dict[str, Any]:
    return coverage_of(report, name)[direction]


# -- default_deny ----------------------------------------------------------------------------

DEFAULT_DENY = [
    # (rule, policies, ingress (default_deny, isolated_pods), egress (default_deny, isolated))
    pytest.param(
        "no policy: nothing isolated, no default deny",
        [],
        (False, 0),
        (False, 0),
        id="no-policies",
    ),
    pytest.param(
        "§1.7 website 'Default policies': podSelector {} + [Ingress], no rules",
        [("deny-in", DENY_INGRESS)],
        (True, 5),
        (False, 0),
        id="deny-ingress",
    ),
    pytest.param(
        "§1.7: podSelector {} + [Egress] (egress must be explicit)",
        [("deny-out", DENY_EGRESS)],
        (False, 0),
        (True, 5),
        id="deny-egress",
    ),
    pytest.param(
        "§1.7: podSelector {} + [Ingress, Egress], no rules",
        [("deny-all", DENY_BOTH)],
        (True, 5),
        (True, 5),
        id="deny-both",
    ),
    pytest.param(
        "§1.2 defaulting: podSelector {} and no policyTypes, no rules -> [Ingress]",
        [("bare", {"podSelector": {}})],
        (True, 5),
        (False, 0),
        id="no-policy-types",
    ),
    pytest.param(
        "§1.2 table row 2: `egress: []` without policyTypes does not isolate egress",
        [("looks-like-deny-all", {"podSelector": {}, "ingress": [], "egress": []})],
        (True, 5),
        (False, 0),
        id="empty-egress-not-isolating",
    ),
    pytest.param(
        "§1.2 table row 3: egress rules without policyTypes isolate both directions",
        [
            (
                "egress-dns",
                {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]},
            )
        ],
        (True, 5),
        (True, 5),
        id="egress-rules-imply-ingress",
    ),
    pytest.param(
        "§1.7: every CURRENT pod isolated by non-empty selectors is not default deny "
        "(future pods would be open)",
        [
            ("web", {"podSelector": WEB, "policyTypes": ["Ingress"]}),
            (
                "worker",
                {"podSelector": {"matchLabels": {"app": "worker"}}, "policyTypes": ["Ingress"]},
            ),
        ],
        (False, 5),
        (False, 0),
        id="all-current-pods-by-label-only",
    ),
    pytest.param(
        "§1.1.2: a label-selected policy isolates only its pods (counted with replicas)",
        [("web", {"podSelector": WEB, "policyTypes": ["Ingress", "Egress"]})],
        (False, 3),
        (False, 3),
        id="partial-isolation-with-replicas",
    ),
    pytest.param(
        "§1.3: `ingress: [{}]` on podSelector {} is allow-all, not default deny",
        [("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})],
        (False, 5),
        (False, 0),
        id="allow-all-named-default-deny",
    ),
    pytest.param(
        "§1.3/§1.8.6: deny-all plus a policy admitting every peer on every port to some "
        "pods is not default deny",
        [("deny-all", DENY_BOTH), ("open-web", {"podSelector": WEB, "ingress": [{}]})],
        (False, 5),
        (True, 5),
        id="deny-all-opened-by-another-policy",
    ),
    pytest.param(
        "§1.3: `namespaceSelector: {}` admits all pods but no external address -> still "
        "default deny",
        [
            ("deny-all", DENY_BOTH),
            (
                "from-cluster",
                {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]},
            ),
        ],
        (True, 5),
        (True, 5),
        id="all-pods-is-not-everything",
    ),
    pytest.param(
        "§1.3: all pods + ipBlock 0.0.0.0/0 on all ports admits every peer",
        [
            ("deny-all", DENY_BOTH),
            (
                "everything",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}]}
                    ],
                },
            ),
        ],
        (True, 5),
        (False, 5),
        id="all-pods-and-all-addresses-egress",
    ),
    pytest.param(
        "§1.3: a rule from any peer on ONE port does not admit everything",
        [
            ("deny-all", DENY_BOTH),
            ("https", {"podSelector": {}, "ingress": [{"ports": [{"port": 443}]}]}),
        ],
        (True, 5),
        (True, 5),
        id="any-peer-one-port",
    ),
    pytest.param(
        "§1.5: ports covering every port of TCP, UDP and SCTP = all ports",
        [
            ("deny-all", DENY_BOTH),
            (
                "every-port",
                {
                    "podSelector": {},
                    "ingress": [
                        {
                            "ports": [
                                {"port": 1, "endPort": 65535},
                                {"protocol": "UDP"},
                                {"protocol": "SCTP"},
                            ]
                        }
                    ],
                },
            ),
        ],
        (False, 5),
        (True, 5),
        id="ports-cover-everything",
    ),
    pytest.param(
        "§1.5: every TCP port only is not every port",
        [
            ("deny-all", DENY_BOTH),
            ("tcp", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP"}]}]}),
        ],
        (True, 5),
        (True, 5),
        id="only-tcp-is-not-everything",
    ),
    pytest.param(
        "§1.1.2/§1.2: allow-all rules of a direction missing from policyTypes are ignored",
        [
            ("deny-all", DENY_BOTH),
            (
                "ignored",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "ingress": [{}],
                    "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}],
                },
            ),
        ],
        (True, 5),
        (True, 5),
        id="ignored-allow-all",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "ingress", "egress"), DEFAULT_DENY)
def test_default_deny(
    k8s: Any,
    cluster: Any,
    rule: str,
    policies: list[Any],
    ingress: tuple[bool, int],
    egress: tuple[bool, int],
) -> None:
    report = cluster.scan(team(k8s, *policies))
    assert report.errors == []
    ns = coverage_of(report)
    assert ns["pods"] == 5, rule
    got = {d: (ns[d]["default_deny"], ns[d]["isolated_pods"]) for d in ("ingress", "egress")}
    assert got == {"ingress": ingress, "egress": egress}, rule


def test_policies_and_opened_by_name_the_policies(k8s: Any, cluster: Any) -> None:
    report = cluster.scan(
        team(
            k8s,
            ("deny-all", DENY_BOTH),
            ("deny-in-too", DENY_INGRESS),
            ("web-only", {"podSelector": WEB, "policyTypes": ["Ingress"]}),
            ("open-web", {"podSelector": WEB, "ingress": [{}]}),
        )
    )
    ingress, egress = side(report, "ingress"), side(report, "egress")
    # Only empty-podSelector policies establish the namespace-wide isolation.
    assert ingress["policies"] == ["NetworkPolicy team/deny-all", "NetworkPolicy team/deny-in-too"]
    assert ingress["opened_by"] == ["NetworkPolicy team/open-web"]
    assert ingress["default_deny"] is False
    assert "open-web" in ingress["reason"]
    assert egress["policies"] == ["NetworkPolicy team/deny-all"]
    assert egress["opened_by"] == []
    assert egress["default_deny"] is True
    assert "deny-all" in egress["reason"]


def test_reason_says_how_many_pods_are_isolated(k8s: Any, cluster: Any) -> None:
    report = cluster.scan(team(k8s, ("web", {"podSelector": WEB, "policyTypes": ["Ingress"]})))
    ingress = side(report, "ingress")
    assert ingress["policies"] == []
    assert "3 of 5" in ingress["reason"]


def test_policy_in_another_namespace_does_not_cover(k8s: Any, cluster: Any) -> None:
    """§1.1.1: a deny-all in `other` neither isolates nor covers `team`."""
    docs = [*team(k8s), k8s.namespace("other"), k8s.netpol("deny-all", "other", DENY_BOTH)]
    report = cluster.scan(docs)
    assert side(report, "ingress")["default_deny"] is False
    assert side(report, "ingress")["isolated_pods"] == 0
    other = coverage_of(report, "other")
    assert other["pods"] == 0
    # A namespace without pods but with a deny-all is covered: future pods are isolated.
    assert other["ingress"]["default_deny"] is True
    assert other["egress"]["default_deny"] is True


def test_host_network_pods_count_as_pods_but_are_never_isolated(k8s: Any, cluster: Any) -> None:
    """§1.6: hostNetwork pods are not isolated by NetworkPolicy."""
    docs = [
        *team(k8s, ("deny-all", DENY_BOTH)),
        k8s.workload("agent", "team", {"app": "agent"}, kind="DaemonSet", host_network=True),
    ]
    ns = coverage_of(cluster.scan(docs))
    assert ns["pods"] == 6
    assert ns["ingress"]["isolated_pods"] == 5
    assert ns["egress"]["isolated_pods"] == 5


def test_host_network_pod_means_not_every_pod_is_isolated(k8s: Any, cluster: Any) -> None:
    """docs/json-output.md: `default_deny` is true only when EVERY current and future pod
    is isolated; §1.6: a hostNetwork pod is never isolated, so a namespace holding one
    (here 1 of 6 pods open to everything) is not in default deny, podSelector {} or not."""
    docs = [
        *team(k8s, ("deny-all", DENY_BOTH)),
        k8s.workload("agent", "team", {"app": "agent"}, kind="DaemonSet", host_network=True),
    ]
    ns = coverage_of(cluster.scan(docs))
    assert (ns["pods"], ns["ingress"]["isolated_pods"]) == (6, 5)
    assert ns["ingress"]["default_deny"] is False
    assert ns["egress"]["default_deny"] is False


def test_pod_counts_follow_replicas_and_pods(k8s: Any, cluster: Any) -> None:
    docs = [
        k8s.namespace("team"),
        k8s.deployment("web", "team", {"app": "web"}, replicas=4),
        k8s.deployment("off", "team", {"app": "off"}, replicas=0),
        k8s.workload("db", "team", {"app": "db"}, kind="StatefulSet", replicas=2),
        k8s.pod("debug", "team", {"app": "debug"}),
        k8s.netpol(
            "web",
            "team",
            {
                "podSelector": {
                    "matchExpressions": [
                        {"key": "app", "operator": "In", "values": ["web", "debug", "off"]}
                    ]
                }
            },
        ),
    ]
    ns = coverage_of(cluster.scan(docs))
    assert ns["pods"] == 7
    assert ns["ingress"]["isolated_pods"] == 5


# -- findings ----------------------------------------------------------------------------------


def findings_of(report: Any) -> set[tuple[str, str, str, str]]:
    return {(str(f.check), str(f.severity), f.namespace, f.object) for f in report.findings}


def checks_of(report: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(str(f.check), set()).add(f.object)
    return out


# The policy-shape checks this file pins. Later analyses (exposure, live scans) add their
# own checks with their own tests; the rows below compare only these.
IN_SCOPE = {
    Check.NO_DEFAULT_DENY,
    Check.ALLOW_ALL_RULE,
    Check.POLICY_SELECTS_NO_PODS,
    Check.IMPLICIT_INGRESS_DENY,
    Check.EMPTY_EGRESS_NOT_ISOLATING,
    Check.IGNORED_RULES,
    Check.UNRESOLVED_NAMED_PORT,
    Check.HOST_NETWORK_UNPROTECTED,
}

FINDINGS = [
    # (rule, policies, expected in-scope findings as (check, severity, object)): exactly
    # these fire, so every row also says which checks must NOT fire.
    pytest.param(
        "§1.7: namespace without default deny in either direction",
        [],
        {
            ("no-default-deny", "medium", "Namespace team"),
            ("no-default-deny", "low", "Namespace team"),
        },
        id="no-default-deny-both-directions",
    ),
    pytest.param(
        "§1.7: fully covered namespace has no findings",
        [("deny-all", DENY_BOTH)],
        set(),
        id="clean",
    ),
    pytest.param(
        "§1.7: no-default-deny for the one uncovered direction",
        [("deny-in", DENY_INGRESS)],
        {("no-default-deny", "low", "Namespace team")},
        id="no-default-deny-egress-only",
    ),
    pytest.param(
        "§1.3: `ingress: [{}]` on every pod is an allow-all rule (high)",
        [("deny-all", DENY_BOTH), ("allow-all", {"podSelector": {}, "ingress": [{}]})],
        {("allow-all-rule", "high", "NetworkPolicy team/allow-all")},
        id="allow-all-rule-every-pod",
    ),
    pytest.param(
        "§1.3: allow-all rule on some pods (medium)",
        [("deny-all", DENY_BOTH), ("open-web", {"podSelector": WEB, "ingress": [{}]})],
        {("allow-all-rule", "medium", "NetworkPolicy team/open-web")},
        id="allow-all-rule-some-pods",
    ),
    pytest.param(
        "§1.3: egress `[{}]` is allow-all too",
        [
            ("deny-all", DENY_BOTH),
            ("out", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": []}]}),
        ],
        {("allow-all-rule", "high", "NetworkPolicy team/out")},
        id="allow-all-rule-egress",
    ),
    pytest.param(
        "§1.3: `namespaceSelector: {}` is not allow-all (no external peers)",
        [
            ("deny-all", DENY_BOTH),
            ("cluster", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
        ],
        set(),
        id="all-namespaces-is-not-allow-all",
    ),
    pytest.param(
        "§1.1.1: a policy whose podSelector matches no pod of its namespace",
        [("deny-all", DENY_BOTH), ("ghost", {"podSelector": {"matchLabels": {"app": "ghost"}}})],
        {("policy-selects-no-pods", "low", "NetworkPolicy team/ghost")},
        id="policy-selects-no-pods",
    ),
    pytest.param(
        "§1.2 table row 3: egress rules and no policyTypes silently deny ingress",
        [
            ("deny-all", DENY_BOTH),
            ("web-out", {"podSelector": WEB, "egress": [{"ports": [{"port": 443}]}]}),
        ],
        {("implicit-ingress-deny", "medium", "NetworkPolicy team/web-out")},
        id="implicit-ingress-deny",
    ),
    pytest.param(
        "§1.2: explicit policyTypes [Egress] does not deny ingress: no finding",
        [
            ("deny-all", DENY_BOTH),
            (
                "web-out",
                {
                    "podSelector": WEB,
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": 443}]}],
                },
            ),
        ],
        set(),
        id="explicit-egress-no-implicit-finding",
    ),
    pytest.param(
        "§1.2: egress and ingress rules without policyTypes: ingress rules exist, no implicit deny",
        [
            ("deny-all", DENY_BOTH),
            (
                "web-both",
                {
                    "podSelector": WEB,
                    "ingress": [{"ports": [{"port": 8080}]}],
                    "egress": [{"ports": [{"port": 443}]}],
                },
            ),
        ],
        set(),
        id="both-rule-lists-no-implicit-finding",
    ),
    pytest.param(
        "§1.2 table row 2: `egress: []` without policyTypes isolates nothing",
        [("deny-in", DENY_INGRESS), ("fake-deny-out", {"podSelector": {}, "egress": []})],
        {
            ("empty-egress-not-isolating", "low", "NetworkPolicy team/fake-deny-out"),
            ("no-default-deny", "low", "Namespace team"),
        },
        id="empty-egress-not-isolating",
    ),
    pytest.param(
        "§1.2: `egress: []` WITH policyTypes Egress isolates: no finding",
        [("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": []})],
        set(),
        id="empty-egress-with-policy-types",
    ),
    pytest.param(
        "§1.1.2/§1.2: rules of a direction missing from policyTypes have no effect",
        [
            ("deny-all", DENY_BOTH),
            (
                "in-only",
                {
                    "podSelector": WEB,
                    "policyTypes": ["Ingress"],
                    "egress": [{"ports": [{"port": 443}]}],
                },
            ),
        ],
        {("ignored-rules", "low", "NetworkPolicy team/in-only")},
        id="ignored-rules",
    ),
    pytest.param(
        "§1.5: ingress named port missing on the selected pods",
        [
            ("deny-all", DENY_BOTH),
            ("grpc", {"podSelector": WEB, "ingress": [{"ports": [{"port": "grpc"}]}]}),
        ],
        {("unresolved-named-port", "low", "NetworkPolicy team/grpc")},
        id="unresolved-named-port-ingress",
    ),
    pytest.param(
        "§1.5: named port with the wrong protocol does not resolve",
        [
            ("deny-all", DENY_BOTH),
            (
                "udp-http",
                {"podSelector": WEB, "ingress": [{"ports": [{"port": "http", "protocol": "UDP"}]}]},
            ),
        ],
        {("unresolved-named-port", "low", "NetworkPolicy team/udp-http")},
        id="unresolved-named-port-protocol",
    ),
    pytest.param(
        "§1.5: ingress named port present on the selected pods: no finding",
        [
            ("deny-all", DENY_BOTH),
            ("http", {"podSelector": WEB, "ingress": [{"ports": [{"port": "http"}]}]}),
        ],
        set(),
        id="resolved-named-port-ingress",
    ),
    pytest.param(
        "§1.5: ingress named port on another pod than the selected ones",
        [
            ("deny-all", DENY_BOTH),
            (
                "worker-http",
                {
                    "podSelector": {"matchLabels": {"app": "worker"}},
                    "ingress": [{"ports": [{"port": "http"}]}],
                },
            ),
        ],
        {("unresolved-named-port", "low", "NetworkPolicy team/worker-http")},
        id="unresolved-named-port-wrong-pod",
    ),
    pytest.param(
        "§1.5: egress named port declared by no pod of the cluster",
        [
            ("deny-all", DENY_BOTH),
            (
                "out",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": "db"}]}],
                },
            ),
        ],
        {("unresolved-named-port", "low", "NetworkPolicy team/out")},
        id="unresolved-named-port-egress",
    ),
    pytest.param(
        "§1.5: egress named port declared by some pod: no finding",
        [
            ("deny-all", DENY_BOTH),
            (
                "out",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": "http"}]}],
                },
            ),
        ],
        set(),
        id="resolved-named-port-egress",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "expected"), FINDINGS)
def test_findings(
    k8s: Any, cluster: Any, rule: str, policies: list[Any], expected: set[tuple[str, str, str]]
) -> None:
    report = cluster.scan(team(k8s, *policies))
    assert report.errors == []
    got = {
        (c, s, o) for c, s, ns, o in findings_of(report) if ns == "team" and Check(c) in IN_SCOPE
    }
    assert got == expected, rule
    # Checks outside IN_SCOPE are pinned by their own tests; none other may appear in
    # `team` unseen (the filter above would hide a new or misfiring check).
    others = {Check(c) for c, _, ns, _ in findings_of(report) if ns == "team"} - IN_SCOPE
    assert others <= {Check.ALLOW_ALL_BESIDE_DEFAULT_DENY}, (rule, others)


def test_host_network_unprotected(k8s: Any, cluster: Any) -> None:
    """§1.6: a hostNetwork pod whose labels a policy selects is flagged; one that no
    policy selects, and normal pods, are not."""
    docs = [
        *team(k8s, ("deny-all", DENY_BOTH)),
        k8s.workload("node-agent", "team", {"app": "agent"}, kind="DaemonSet", host_network=True),
        k8s.namespace("infra"),
        k8s.netpol("web-only", "infra", {"podSelector": WEB, "policyTypes": ["Ingress", "Egress"]}),
        k8s.workload("exporter", "infra", {"app": "exporter"}, kind="DaemonSet", host_network=True),
        k8s.deployment("web", "infra", {"app": "web"}),
    ]
    report = cluster.scan(docs)
    got = checks_of(report).get("host-network-unprotected")
    assert got == {"team/node-agent[DaemonSet]"}
    (finding,) = [f for f in report.findings if f.check is Check.HOST_NETWORK_UNPROTECTED]
    assert finding.severity is Severity.LOW
    assert finding.namespace == "team"


def test_every_check_is_exercised() -> None:
    """Guard: the FINDINGS table (plus the hostNetwork test) covers every in-scope check."""
    covered = {c for p in FINDINGS for c, _, _ in p.values[2]} | {"host-network-unprotected"}
    assert covered == {str(c) for c in IN_SCOPE}


def test_findings_sorted_by_severity_first(k8s: Any, cluster: Any) -> None:
    report = cluster.scan(
        team(
            k8s,
            ("allow-all", {"podSelector": {}, "ingress": [{}]}),
            ("ghost", {"podSelector": {"matchLabels": {"app": "ghost"}}}),
        )
    )
    ranks = [f.severity.rank for f in report.findings]
    assert ranks == sorted(ranks, reverse=True)
    assert report.findings[0].check is Check.ALLOW_ALL_RULE
