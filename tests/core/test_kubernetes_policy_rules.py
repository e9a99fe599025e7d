"""Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, one table per rule group.

Every row cites the rule it pins (docs/semantics.md section and upstream source) and
is evaluated end to end: manifest dicts -> `build_snapshot` (parsing, defaulting,
workload grouping) -> `Engine.connection` / `is_isolated` / `explain`.

All rows run against the same small cluster (`BASE`), plus the row's policies:

    namespace  labels           workloads (pod labels; container ports)
    prod       env=prod         web  (app=web, tier=front; http=8080/TCP, metrics=9090/TCP)
                                api  (app=api, tier=middle; http=9000/TCP)
                                db   (app=db, tier=back; pg=5432/TCP)        [StatefulSet]
                                client (app=client)
                                hostagent (app=web, tier=front; hostNetwork) [DaemonSet]
    dev        env=dev          client (app=client), tool (app=tool, tier=front)
    other      (none)           client (app=client),
                                dns (app=dns; dns=53/UDP, dns-tcp=53/TCP)
    implicit   (never defined)  worker (app=worker)

Expected verdicts are written as `str(PortSet)`: "all", "none", "TCP/8080", ...
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.core.model import Direction

EXTERNAL = "203.0.113.7"

WORKLOADS: list[tuple[str, str, dict[str, str], list[str], dict[str, Any]]] = [
    ("web", "prod", {"app": "web", "tier": "front"}, ["http=8080/TCP", "metrics=9090/TCP"], {}),
    ("api", "prod", {"app": "api", "tier": "middle"}, ["http=9000/TCP"], {}),
    ("db", "prod", {"app": "db", "tier": "back"}, ["pg=5432/TCP"], {"kind": "StatefulSet"}),
    ("client", "prod", {"app": "client"}, [], {}),
    (
        "hostagent",
        "prod",
        {"app": "web", "tier": "front"},
        ["http=8080/TCP"],
        {"kind": "DaemonSet", "host_network": True},
    ),
    ("client", "dev", {"app": "client"}, [], {}),
    ("tool", "dev", {"app": "tool", "tier": "front"}, [], {}),
    ("client", "other", {"app": "client"}, [], {}),
    ("dns", "other", {"app": "dns"}, ["dns=53/UDP", "dns-tcp=53/TCP"], {}),
    ("worker", "implicit", {"app": "worker"}, [], {}),
]


def base(k8s: Any) -> list[dict[str, Any]]:
    docs = [
        k8s.namespace("prod", {"env": "prod"}),
        k8s.namespace("dev", {"env": "dev"}),
        k8s.namespace("other"),
    ]
    for name, ns, labels, ports, extra in WORKLOADS:
        docs.append(k8s.workload(name, ns, labels, ports, **extra))
    return docs


def np(name: str, spec: dict[str, Any], namespace: str = "prod") -> tuple[str, str, dict[str, Any]]:
    return (name, namespace, spec)


WEB = {"matchLabels": {"app": "web"}}
DB = {"matchLabels": {"app": "db"}}
ALL_NS = {"namespaceSelector": {}}


def run_row(
    k8s: Any, probe: Any, policies: list[tuple[str, str, dict[str, Any]]], rule: str
) -> Any:
    docs = base(k8s) + [k8s.netpol(name, ns, spec) for name, ns, spec in policies]
    return probe(docs)


def check_all(engine: Any, checks: list[tuple[str, str, str]], rule: str) -> None:
    got = [(src, dst, str(engine.conn(src, dst))) for src, dst, _ in checks]
    assert got == checks, f"rule: {rule}"


# ---------------------------------------------------------------------------------------
# §1.2 policyTypes defaulting (kubernetes/kubernetes:pkg/apis/networking/v1/defaults.go
# SetDefaults_NetworkPolicy): absent -> [Ingress] + Egress iff len(spec.egress) != 0.
# ---------------------------------------------------------------------------------------

POLICY_TYPES = [
    pytest.param(
        "§1.2 table row 1 defaults.go: no rules, no policyTypes -> "
        "[Ingress]: ingress deny-all, egress open",
        {"podSelector": WEB},
        {"ingress": True, "egress": False},
        [
            ("prod/client", "prod/web", "none"),
            ("prod/web", "prod/db", "all"),
            ("prod/web", EXTERNAL, "all"),
        ],
        id="no-ingress-no-egress",
    ),
    pytest.param(
        "§1.2 table row 2 defaults.go: `egress: []` is len 0 -> [Ingress]: egress NOT isolated",
        {"podSelector": WEB, "egress": []},
        {"ingress": True, "egress": False},
        [("prod/client", "prod/web", "none"), ("prod/web", "prod/db", "all")],
        id="empty-egress-list",
    ),
    pytest.param(
        "§1.2 table row 3 defaults.go: egress rules without "
        "policyTypes -> [Ingress, Egress]: ingress becomes deny-all",
        {"podSelector": WEB, "egress": [{"to": [{"podSelector": DB}]}]},
        {"ingress": True, "egress": True},
        [
            ("prod/client", "prod/web", "none"),
            ("prod/web", "prod/db", "all"),
            ("prod/web", "prod/api", "none"),
            ("prod/web", EXTERNAL, "none"),
        ],
        id="egress-rules-without-policy-types",
    ),
    pytest.param(
        "§1.2 table row 4 defaults.go: only ingress rules -> [Ingress]: egress unaffected",
        {
            "podSelector": WEB,
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        },
        {"ingress": True, "egress": False},
        [
            ("prod/client", "prod/web", "all"),
            ("prod/api", "prod/web", "none"),
            ("prod/web", "prod/api", "all"),
        ],
        id="only-ingress-rules",
    ),
    pytest.param(
        "§1.2 defaults.go: `policyTypes: []` (len 0) is defaulted like an absent one",
        {"podSelector": WEB, "policyTypes": [], "egress": [{"to": [{"podSelector": DB}]}]},
        {"ingress": True, "egress": True},
        [("prod/client", "prod/web", "none"), ("prod/web", "prod/api", "none")],
        id="empty-policy-types-list-is-defaulted",
    ),
    pytest.param(
        "§1.2 'To write an egress-only policy you must set "
        "policyTypes: [Egress]': ingress stays open",
        {"podSelector": WEB, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": DB}]}]},
        {"ingress": False, "egress": True},
        [("prod/client", "prod/web", "all"), ("prod/web", "prod/api", "none")],
        id="explicit-egress-only",
    ),
    pytest.param(
        "§1.1.2 + §1.2: isolation per effective policyTypes; egress "
        "rules of an [Ingress] policy do not isolate egress",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "egress": [{"to": [{"podSelector": DB}]}],
        },
        {"ingress": True, "egress": False},
        [("prod/web", "prod/api", "all"), ("prod/web", EXTERNAL, "all")],
        id="egress-rules-ignored-when-types-lack-egress",
    ),
    pytest.param(
        "§1.1.2 + §1.2: ingress rules of an [Egress] policy do not "
        "isolate ingress; egress with no rules is deny-all",
        {
            "podSelector": WEB,
            "policyTypes": ["Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        },
        {"ingress": False, "egress": True},
        [("prod/api", "prod/web", "all"), ("prod/web", "prod/api", "none")],
        id="ingress-rules-ignored-when-types-lack-ingress",
    ),
    pytest.param(
        "§1.7 website 'Default policies': [Ingress, Egress] without rules denies both directions",
        {"podSelector": WEB, "policyTypes": ["Ingress", "Egress"]},
        {"ingress": True, "egress": True},
        [
            ("prod/client", "prod/web", "none"),
            ("prod/web", "prod/client", "none"),
            (EXTERNAL, "prod/web", "none"),
            ("prod/web", EXTERNAL, "none"),
        ],
        id="both-types-no-rules",
    ),
]


@pytest.mark.parametrize(("rule", "spec", "isolated", "checks"), POLICY_TYPES)
def test_policy_types_defaulting(
    k8s: Any, probe: Any, rule: str, spec: Any, isolated: Any, checks: Any
) -> None:
    engine = run_row(k8s, probe, [np("p", spec)], rule)
    got = {d: engine.isolated("prod/web", d) for d in ("ingress", "egress")}
    assert got == isolated, f"rule: {rule}"
    expected_types = {Direction(d) for d, on in isolated.items() if on}
    (policy,) = engine.engine.snapshot.policies
    assert set(policy.isolates) == expected_types, f"rule: {rule}"
    check_all(engine, checks, rule)


# ---------------------------------------------------------------------------------------
# §1.3 empty vs absent (types.go field documentation; website "Default policies").
# ---------------------------------------------------------------------------------------

CLIENT = {"podSelector": {"matchLabels": {"app": "client"}}}

EMPTY_VS_ABSENT = [
    pytest.param(
        "§1.3 types.go: `ingress: [{}]` = allow all ingress (all "
        "sources incl. external IPs and nodes, all ports)",
        {"podSelector": WEB, "policyTypes": ["Ingress"], "ingress": [{}]},
        [
            ("prod/client", "prod/web", "all"),
            ("dev/client", "prod/web", "all"),
            ("implicit/worker", "prod/web", "all"),
            (EXTERNAL, "prod/web", "all"),
            ("prod/hostagent", "prod/web", "all"),
        ],
        id="ingress-empty-rule-allows-all",
    ),
    pytest.param(
        "§1.3 types.go: `ingress: []` = no rule -> isolated pod admits nothing",
        {"podSelector": WEB, "policyTypes": ["Ingress"], "ingress": []},
        [
            ("prod/client", "prod/web", "none"),
            ("dev/client", "prod/web", "none"),
            (EXTERNAL, "prod/web", "none"),
        ],
        id="ingress-empty-list-denies-all",
    ),
    pytest.param(
        "§1.3 types.go: `ingress` absent = no rule -> deny all",
        {"podSelector": WEB, "policyTypes": ["Ingress"]},
        [("prod/client", "prod/web", "none"), (EXTERNAL, "prod/web", "none")],
        id="ingress-absent-denies-all",
    ),
    pytest.param(
        "§1.3 types.go NetworkPolicyIngressRule.From: absent -> "
        "rule matches all sources (incl. external)",
        {"podSelector": WEB, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8080}]}]},
        [
            ("dev/client", "prod/web", "TCP/8080"),
            ("other/client", "prod/web", "TCP/8080"),
            (EXTERNAL, "prod/web", "TCP/8080"),
        ],
        id="from-absent-all-sources",
    ),
    pytest.param(
        "§1.3 types.go: `from: []` (empty) -> all sources, like absent",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [], "ports": [{"port": 8080}]}],
        },
        [
            ("dev/client", "prod/web", "TCP/8080"),
            (EXTERNAL, "prod/web", "TCP/8080"),
        ],
        id="from-empty-list-all-sources",
    ),
    pytest.param(
        "§1.3 types.go NetworkPolicyIngressRule.Ports: absent -> all ports and protocols",
        {"podSelector": WEB, "policyTypes": ["Ingress"], "ingress": [{"from": [CLIENT]}]},
        [("prod/client", "prod/web", "all"), ("prod/api", "prod/web", "none")],
        id="ports-absent-all-ports",
    ),
    pytest.param(
        "§1.3 types.go: `ports: []` -> all ports, like absent",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [CLIENT], "ports": []}],
        },
        [("prod/client", "prod/web", "all"), ("prod/api", "prod/web", "none")],
        id="ports-empty-list-all-ports",
    ),
    pytest.param(
        "§1.3 'egress: same with egress, to': `egress: [{}]` = allow all egress",
        {"podSelector": WEB, "policyTypes": ["Egress"], "egress": [{}]},
        [
            ("prod/web", "prod/db", "all"),
            ("prod/web", "dev/client", "all"),
            ("prod/web", EXTERNAL, "all"),
        ],
        id="egress-empty-rule-allows-all",
    ),
    pytest.param(
        "§1.3: `egress: []` with Egress in policyTypes -> deny all",
        {"podSelector": WEB, "policyTypes": ["Egress"], "egress": []},
        [("prod/web", "prod/db", "none"), ("prod/web", EXTERNAL, "none")],
        id="egress-empty-list-denies-all-when-isolated",
    ),
    pytest.param(
        "§1.3 types.go NetworkPolicyEgressRule.To: empty -> all destinations",
        {
            "podSelector": WEB,
            "policyTypes": ["Egress"],
            "egress": [{"to": [], "ports": [{"port": 53, "protocol": "UDP"}]}],
        },
        [("prod/web", "other/dns", "UDP/53"), ("prod/web", EXTERNAL, "UDP/53")],
        id="to-empty-list-all-destinations",
    ),
]


@pytest.mark.parametrize(("rule", "spec", "checks"), EMPTY_VS_ABSENT)
def test_empty_versus_absent(k8s: Any, probe: Any, rule: str, spec: Any, checks: Any) -> None:
    check_all(run_row(k8s, probe, [np("p", spec)], rule), checks, rule)


# ---------------------------------------------------------------------------------------
# §1.3 / §1.4 peers: podSelector namespace-local, namespaceSelector, AND vs OR.
# All rows isolate prod/db for ingress and allow from the given peers.
# ---------------------------------------------------------------------------------------


def db_from(*peers: dict[str, Any]) -> dict[str, Any]:
    return {"podSelector": DB, "policyTypes": ["Ingress"], "ingress": [{"from": list(peers)}]}


PEERS = [
    pytest.param(
        "§1.3/§1.8.5 types.go NetworkPolicyPeer.PodSelector: without "
        "namespaceSelector selects pods in the policy's namespace only",
        db_from(CLIENT),
        [
            ("prod/client", "prod/db", "all"),
            ("dev/client", "prod/db", "none"),
            ("other/client", "prod/db", "none"),
            ("prod/web", "prod/db", "none"),
        ],
        id="pod-selector-alone-is-namespace-local",
    ),
    pytest.param(
        "§1.3: peer `podSelector: {}` alone = all pods in the policy's namespace",
        db_from({"podSelector": {}}),
        [
            ("prod/client", "prod/db", "all"),
            ("prod/web", "prod/db", "all"),
            ("dev/client", "prod/db", "none"),
            (EXTERNAL, "prod/db", "none"),
        ],
        id="empty-pod-selector-alone-all-pods-of-own-namespace",
    ),
    pytest.param(
        "§1.3 types.go NetworkPolicyPeer.NamespaceSelector alone: all pods in matching namespaces",
        db_from({"namespaceSelector": {"matchLabels": {"env": "dev"}}}),
        [
            ("dev/client", "prod/db", "all"),
            ("dev/tool", "prod/db", "all"),
            ("prod/client", "prod/db", "none"),
            ("other/client", "prod/db", "none"),
        ],
        id="namespace-selector-alone-all-pods-of-matching-namespaces",
    ),
    pytest.param(
        "§1.3: `namespaceSelector: {}` alone = all pods in all namespaces, not external IPs",
        db_from(ALL_NS),
        [
            ("dev/client", "prod/db", "all"),
            ("other/client", "prod/db", "all"),
            ("implicit/worker", "prod/db", "all"),
            ("prod/web", "prod/db", "all"),
            (EXTERNAL, "prod/db", "none"),
        ],
        id="empty-namespace-selector-all-pods-not-external",
    ),
    pytest.param(
        "§1.3 note: `from: [{namespaceSelector: {}, podSelector: {}}]` "
        "covers only cluster pods, unlike `ingress: [{}]`",
        db_from({"namespaceSelector": {}, "podSelector": {}}),
        [("dev/tool", "prod/db", "all"), (EXTERNAL, "prod/db", "none")],
        id="all-pods-all-namespaces-is-narrower-than-empty-rule",
    ),
    pytest.param(
        "§1.3 types.go: peer with namespaceSelector and podSelector = "
        "pods matching podSelector in namespaces matching (AND)",
        db_from({"namespaceSelector": {"matchLabels": {"env": "dev"}}, **CLIENT}),
        [
            ("dev/client", "prod/db", "all"),
            ("dev/tool", "prod/db", "none"),
            ("prod/client", "prod/db", "none"),
            ("other/client", "prod/db", "none"),
        ],
        id="both-selectors-in-one-peer-are-and",
    ),
    pytest.param(
        "§1.3/§1.8.4: `- namespaceSelector` and `- podSelector` as two list items = OR",
        db_from({"namespaceSelector": {"matchLabels": {"env": "dev"}}}, CLIENT),
        [
            ("dev/client", "prod/db", "all"),
            ("dev/tool", "prod/db", "all"),
            ("prod/client", "prod/db", "all"),
            ("other/client", "prod/db", "none"),
            ("prod/web", "prod/db", "none"),
        ],
        id="two-peers-are-or",
    ),
]


@pytest.mark.parametrize(("rule", "spec", "checks"), PEERS)
def test_peers(k8s: Any, probe: Any, rule: str, spec: Any, checks: Any) -> None:
    check_all(run_row(k8s, probe, [np("p", spec)], rule), checks, rule)


# ---------------------------------------------------------------------------------------
# §1.4 label selectors (apimachinery pkg/labels/selector.go Requirement.Matches) and the
# kubernetes.io/metadata.name namespace label (website "Targeting a Namespace by its name").
# ---------------------------------------------------------------------------------------

SOURCES = ["prod/web", "prod/api", "prod/client", "dev/client", "dev/tool", "other/client"]


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


SELECTORS = [
    pytest.param(
        "§1.4 selector.go: In matches objects whose value is listed",
        {
            "namespaceSelector": {},
            "podSelector": {"matchExpressions": [expr("tier", "In", "front")]},
        },
        {"prod/web", "dev/tool"},
        id="in",
    ),
    pytest.param(
        "§1.4 selector.go: In with several values is a set membership",
        {
            "namespaceSelector": {},
            "podSelector": {"matchExpressions": [expr("tier", "In", "front", "middle")]},
        },
        {"prod/web", "prod/api", "dev/tool"},
        id="in-several-values",
    ),
    pytest.param(
        "§1.4 selector.go Requirement.Matches: NotIn also matches objects without the key",
        {
            "namespaceSelector": {},
            "podSelector": {"matchExpressions": [expr("tier", "NotIn", "front")]},
        },
        {"prod/api", "prod/client", "dev/client", "other/client"},
        id="notin-matches-pods-without-the-key",
    ),
    pytest.param(
        "§1.4 selector.go: Exists matches objects having the key",
        {"namespaceSelector": {}, "podSelector": {"matchExpressions": [expr("tier", "Exists")]}},
        {"prod/web", "prod/api", "dev/tool"},
        id="exists",
    ),
    pytest.param(
        "§1.4 selector.go: DoesNotExist matches objects without the key",
        {
            "namespaceSelector": {},
            "podSelector": {"matchExpressions": [expr("tier", "DoesNotExist")]},
        },
        {"prod/client", "dev/client", "other/client"},
        id="does-not-exist-matches-pods-without-the-key",
    ),
    pytest.param(
        "§1.4 types.go LabelSelector: matchLabels AND matchExpressions",
        {
            "namespaceSelector": {},
            "podSelector": {
                "matchLabels": {"tier": "front"},
                "matchExpressions": [expr("app", "NotIn", "web")],
            },
        },
        {"dev/tool"},
        id="match-labels-and-expressions-are-anded",
    ),
    pytest.param(
        "§1.4 selector.go: NotIn on namespace labels also matches a "
        "namespace without that label (`other`)",
        {"namespaceSelector": {"matchExpressions": [expr("env", "NotIn", "prod")]}},
        {"dev/client", "dev/tool", "other/client"},
        id="namespace-notin-matches-namespace-without-the-key",
    ),
    pytest.param(
        "§1.4 selector.go: DoesNotExist on namespace labels",
        {"namespaceSelector": {"matchExpressions": [expr("env", "DoesNotExist")]}},
        {"other/client"},
        id="namespace-does-not-exist",
    ),
    pytest.param(
        "§1.4 website 'Targeting a Namespace by its name': "
        "kubernetes.io/metadata.name is set on every namespace",
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dev"}}},
        {"dev/client", "dev/tool"},
        id="metadata-name-label-on-labelled-namespace",
    ),
    pytest.param(
        "§1.4: the control plane sets kubernetes.io/metadata.name even "
        "when the manifest has no labels",
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}},
        {"other/client"},
        id="metadata-name-label-on-namespace-without-labels",
    ),
    pytest.param(
        "§1.4: namespaces selected by name via In on kubernetes.io/metadata.name",
        {
            "namespaceSelector": {
                "matchExpressions": [
                    expr("kubernetes.io/metadata.name", "In", "dev", "other"),
                ]
            },
            **CLIENT,
        },
        {"dev/client", "other/client"},
        id="metadata-name-in-expression",
    ),
]


@pytest.mark.parametrize(("rule", "peer", "allowed"), SELECTORS)
def test_selector_semantics_in_peers(
    k8s: Any, probe: Any, rule: str, peer: Any, allowed: set[str]
) -> None:
    engine = run_row(k8s, probe, [np("p", db_from(peer))], rule)
    got = {src for src in SOURCES if engine.conn(src, "prod/db")}
    assert got == allowed, f"rule: {rule}"
    # Every source the peer admits gets all ports; the others get nothing.
    for src in allowed:
        assert engine.conn(src, "prod/db").is_all, f"rule: {rule}"


def test_metadata_name_label_on_implicitly_created_namespace(k8s: Any, probe: Any) -> None:
    """§1.4 website: every namespace carries kubernetes.io/metadata.name, including one
    that the manifests only reference (`implicit`, never defined as a Namespace)."""
    spec = db_from(
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "implicit"}}}
    )
    engine = run_row(k8s, probe, [np("p", spec)], "§1.4")
    assert str(engine.conn("implicit/worker", "prod/db")) == "all"
    assert str(engine.conn("dev/client", "prod/db")) == "none"
    ns = engine.engine.namespaces["implicit"]
    assert ns.labels == {"kubernetes.io/metadata.name": "implicit"}
    assert ns.defined is False


def test_metadata_name_label_cannot_be_spoofed(k8s: Any, probe: Any) -> None:
    """§1.4: the control plane sets the *immutable* label to the namespace's name, so a
    manifest claiming another value for it does not make the namespace match that name."""
    docs = [
        *base(k8s),
        k8s.namespace("sneaky", {"kubernetes.io/metadata.name": "prod-ops"}),
        k8s.deployment("client", "sneaky", {"app": "client"}),
        k8s.netpol(
            "p",
            "prod",
            db_from(
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prod-ops"}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dev"}}},
            ),
        ),
    ]
    engine = probe(docs)
    assert str(engine.conn("sneaky/client", "prod/db")) == "none"
    assert str(engine.conn("dev/client", "prod/db")) == "all"
    assert engine.engine.namespaces["sneaky"].labels["kubernetes.io/metadata.name"] == "sneaky"


POLICY_SELECTOR = [
    pytest.param(
        "§1.1.1 + §1.4 selector.go: a policy's podSelector NotIn "
        "selects (isolates) pods lacking the key",
        {"matchExpressions": [expr("tier", "NotIn", "front")]},
        {"prod/api": True, "prod/db": True, "prod/client": True, "prod/web": False},
        id="notin-selects-pods-without-key",
    ),
    pytest.param(
        "§1.1.1 + §1.4 selector.go: DoesNotExist podSelector",
        {"matchExpressions": [expr("tier", "DoesNotExist")]},
        {"prod/api": False, "prod/db": False, "prod/client": True, "prod/web": False},
        id="does-not-exist-selects-pods-without-key",
    ),
    pytest.param(
        "§1.1.1 types.go NetworkPolicySpec.PodSelector: {} selects all pods of the namespace",
        {},
        {"prod/api": True, "prod/db": True, "prod/client": True, "prod/web": True},
        id="empty-selects-all-in-namespace",
    ),
    pytest.param(
        "§1.1.1 types.go: podSelector optional; unspecified = empty selector = all pods",
        None,
        {"prod/api": True, "prod/db": True, "prod/client": True, "prod/web": True},
        id="absent-selects-all-in-namespace",
    ),
]


@pytest.mark.parametrize(("rule", "selector", "isolated"), POLICY_SELECTOR)
def test_policy_pod_selector_decides_isolation(
    k8s: Any, probe: Any, rule: str, selector: Any, isolated: Any
) -> None:
    spec: dict[str, Any] = {"policyTypes": ["Ingress"]}
    if selector is not None:
        spec["podSelector"] = selector
    engine = run_row(k8s, probe, [np("p", spec)], rule)
    got = {wl: engine.isolated(wl, "ingress") for wl in isolated}
    assert got == isolated, f"rule: {rule}"
    for wl, on in isolated.items():
        assert str(engine.conn("dev/client", wl)) == ("none" if on else "all"), f"rule: {rule}"
    # Other namespaces are never selected by a prod policy (§1.1.1).
    assert not engine.isolated("dev/client", "ingress")


# ---------------------------------------------------------------------------------------
# §1.4 ipBlock: cidr minus except; exclusive peer; never matches pods (docs/semantics.md,
# Cilium language.rst "IP/CIDR based": CIDR rules never match managed pods).
# ---------------------------------------------------------------------------------------

IP_BLOCK = [
    pytest.param(
        "§1.4 types.go IPBlock: cidr allowed except the `except` "
        "ranges (addresses inside except denied)",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/28"]}}]}
            ],
        },
        [
            ("203.0.113.7", "prod/web", "none"),
            ("203.0.113.15", "prod/web", "none"),
            ("203.0.113.16", "prod/web", "all"),
            ("203.0.113.200", "prod/web", "all"),
            ("198.51.100.1", "prod/web", "none"),
        ],
        id="ingress-cidr-with-except",
    ),
    pytest.param(
        "§1.4 + docs/semantics.md: ipBlock (even 0.0.0.0/0) never "
        "matches pods; pod verdicts come from selectors only",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        },
        [
            ("198.51.100.1", "prod/web", "all"),
            ("prod/client", "prod/web", "none"),
            ("dev/client", "prod/web", "none"),
            ("prod/hostagent", "prod/web", "none"),
        ],
        id="ipblock-never-matches-pods",
    ),
    pytest.param(
        "§1.4 types.go IPBlock for egress: except carves a hole; ipBlock does not reach pods",
        {
            "podSelector": WEB,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                    "ports": [{"port": 443}],
                }
            ],
        },
        [
            ("prod/web", "10.2.3.4", "TCP/443"),
            ("prod/web", "10.1.2.3", "none"),
            ("prod/web", "11.0.0.1", "none"),
            ("prod/web", "prod/db", "none"),
        ],
        id="egress-cidr-with-except",
    ),
    pytest.param(
        "§1.4 types.go IPBlock: IPv6 CIDRs follow the same rule",
        {
            "podSelector": WEB,
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}}]}
            ],
        },
        [
            ("2001:db8:2::1", "prod/web", "all"),
            ("2001:db8:1::1", "prod/web", "none"),
            ("203.0.113.7", "prod/web", "none"),
        ],
        id="ipv6-cidr-with-except",
    ),
]


@pytest.mark.parametrize(("rule", "spec", "checks"), IP_BLOCK)
def test_ip_block(k8s: Any, probe: Any, rule: str, spec: Any, checks: Any) -> None:
    check_all(run_row(k8s, probe, [np("p", spec)], rule), checks, rule)


# ---------------------------------------------------------------------------------------
# §1.5 ports: protocol default TCP (SetDefaults_NetworkPolicyPort), numeric and named
# ports, endPort ranges (types.go NetworkPolicyPort, validation.go).
# ---------------------------------------------------------------------------------------


def web_ports(*port_items: dict[str, Any]) -> dict[str, Any]:
    return {
        "podSelector": WEB,
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [CLIENT], "ports": list(port_items)}],
    }


PORTS = [
    pytest.param(
        "§1.5 defaults.go SetDefaults_NetworkPolicyPort: protocol omitted = TCP only",
        web_ports({"port": 8080}),
        "TCP/8080",
        id="protocol-defaults-to-tcp",
    ),
    pytest.param(
        "§1.5/§1.8.8: UDP must be explicit",
        web_ports({"port": 53, "protocol": "UDP"}),
        "UDP/53",
        id="udp-explicit",
    ),
    pytest.param(
        "§1.5 types.go: protocol SCTP",
        web_ports({"port": 3868, "protocol": "SCTP"}),
        "SCTP/3868",
        id="sctp-explicit",
    ),
    pytest.param(
        "§1.5 types.go NetworkPolicyPort.Port: absent -> all ports of that protocol",
        web_ports({"protocol": "UDP"}),
        "UDP/1-65535",
        id="port-absent-all-ports-of-protocol",
    ),
    pytest.param(
        "§1.5 types.go: a numeric port matches traffic to that port "
        "whether or not a containerPort declares it",
        web_ports({"port": 1234}),
        "TCP/1234",
        id="numeric-port-need-not-be-declared",
    ),
    pytest.param(
        "§1.5 types.go NetworkPolicyPort.EndPort: inclusive range port..endPort",
        web_ports({"port": 8000, "endPort": 8100}),
        "TCP/8000-8100",
        id="end-port-inclusive-range",
    ),
    pytest.param(
        "§1.5 validation.go: endPort >= port (equal allowed)",
        web_ports({"port": 8000, "endPort": 8000, "protocol": "UDP"}),
        "UDP/8000",
        id="end-port-equal-to-port",
    ),
    pytest.param(
        "§1.5/§1.1.3: a rule's ports list is a union",
        web_ports({"port": 443}, {"port": 80}, {"port": 53, "protocol": "UDP"}),
        "TCP/80, TCP/443, UDP/53",
        id="several-ports-union",
    ),
    pytest.param(
        "§1.5: ingress named port resolves against the selected "
        "(destination) pod's containerPort names",
        web_ports({"port": "http"}),
        "TCP/8080",
        id="named-port-resolved-on-selected-pod",
    ),
    pytest.param(
        "§1.5: a named port matches a containerPort of the same name "
        "AND protocol (web's `http` is TCP)",
        web_ports({"port": "http", "protocol": "UDP"}),
        "none",
        id="named-port-protocol-must-match",
    ),
    pytest.param(
        "§1.5: the name must exist on the destination pod (`pg` is db's, not web's)",
        web_ports({"port": "pg"}),
        "none",
        id="named-port-of-another-pod-does-not-resolve",
    ),
    pytest.param(
        "§1.5: several named ports resolve individually",
        web_ports({"port": "metrics"}, {"port": "http"}),
        "TCP/8080, TCP/9090",
        id="several-named-ports",
    ),
]


@pytest.mark.parametrize(("rule", "spec", "expected"), PORTS)
def test_ports(k8s: Any, probe: Any, rule: str, spec: Any, expected: str) -> None:
    engine = run_row(k8s, probe, [np("p", spec)], rule)
    assert str(engine.conn("prod/client", "prod/web")) == expected, f"rule: {rule}"
    # The sources not named by the rule get nothing, whatever the ports.
    assert str(engine.conn("prod/api", "prod/web")) == "none", f"rule: {rule}"


def test_ingress_named_port_from_external_source_resolves_on_selected_pod(
    k8s: Any, probe: Any
) -> None:
    """§1.5: for ingress the destination is the selected pod even when the SOURCE is an
    external address (ipBlock or any peer): `port: http` opens web's TCP/8080 to it."""
    spec = {
        "podSelector": WEB,
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": "http"}]},
            {"ports": [{"port": "metrics"}]},
        ],
    }
    engine = run_row(k8s, probe, [np("p", spec)], "§1.5")
    assert str(engine.conn(EXTERNAL, "prod/web")) == "TCP/8080, TCP/9090"
    assert str(engine.conn("198.51.100.1", "prod/web")) == "TCP/9090"
    listed = {(c.src, c.dst): str(c.conns) for c in engine.connectivity()}
    assert listed[("203.0.113.0/24", "prod/web[Deployment]")] == "TCP/8080, TCP/9090"


def test_ingress_named_port_resolves_per_selected_pod(k8s: Any, probe: Any) -> None:
    """§1.5: one rule `port: http` selecting two workloads opens each one's own `http`
    container port (web 8080, api 9000), never the other's."""
    spec = {
        "podSelector": {"matchExpressions": [expr("app", "In", "web", "api")]},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [CLIENT], "ports": [{"port": "http"}]}],
    }
    engine = run_row(k8s, probe, [np("p", spec)], "§1.5")
    assert str(engine.conn("prod/client", "prod/web")) == "TCP/8080"
    assert str(engine.conn("prod/client", "prod/api")) == "TCP/9000"


EGRESS_NAMED = [
    pytest.param(
        "§1.5: egress named port resolves against the PEER (destination) "
        "pod; web itself has no `pg`",
        [{"to": [ALL_NS], "ports": [{"port": "pg"}]}],
        [
            ("prod/web", "prod/db", "TCP/5432"),
            ("prod/web", "prod/api", "none"),
            ("prod/web", "other/dns", "none"),
        ],
        id="egress-named-port-resolves-on-peer-pod",
    ),
    pytest.param(
        "§1.5: the source's own `http` (8080) plays no part; api's `http` is 9000",
        [{"to": [ALL_NS], "ports": [{"port": "http"}]}],
        [
            ("prod/web", "prod/api", "TCP/9000"),
            ("prod/web", "prod/db", "none"),
        ],
        id="egress-named-port-source-name-irrelevant",
    ),
    pytest.param(
        "§1.5: named port + protocol: UDP `dns` and TCP `dns-tcp`",
        [{"to": [ALL_NS], "ports": [{"port": "dns", "protocol": "UDP"}, {"port": "dns-tcp"}]}],
        [("prod/web", "other/dns", "TCP/53, UDP/53")],
        id="egress-named-ports-multi-protocol",
    ),
    pytest.param(
        "§1.5: `port: dns` defaults to TCP; dns's `dns` port is UDP",
        [{"to": [ALL_NS], "ports": [{"port": "dns"}]}],
        [("prod/web", "other/dns", "none")],
        id="egress-named-port-default-tcp-misses-udp-port",
    ),
    pytest.param(
        "§1.5: towards non-pod destinations (ipBlock) a named port "
        "cannot be resolved and matches nothing",
        [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": "pg"}, {"port": 443}]}],
        [("prod/web", EXTERNAL, "TCP/443"), ("prod/web", "prod/db", "none")],
        id="named-port-towards-ipblock-matches-nothing",
    ),
    pytest.param(
        "§1.5: with `to` absent, a named port still resolves only on "
        "pods; external destinations get nothing",
        [{"ports": [{"port": "pg"}]}],
        [("prod/web", "prod/db", "TCP/5432"), ("prod/web", EXTERNAL, "none")],
        id="named-port-with-any-peer-external-matches-nothing",
    ),
]


@pytest.mark.parametrize(("rule", "egress", "checks"), EGRESS_NAMED)
def test_egress_named_ports(k8s: Any, probe: Any, rule: str, egress: Any, checks: Any) -> None:
    spec = {"podSelector": WEB, "policyTypes": ["Egress"], "egress": egress}
    check_all(run_row(k8s, probe, [np("p", spec)], rule), checks, rule)


# ---------------------------------------------------------------------------------------
# §1.1.3 union of policies; §0 both sides; §1.1.1 namespace scoping; §1.6 hostNetwork.
# ---------------------------------------------------------------------------------------

DENY_ALL_PROD = np("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})

COMBINATIONS = [
    pytest.param(
        "§1.1.3 website: policies are additive; allowed set = union "
        "of all applicable policies' rules",
        [
            np("a", web_ports({"port": 8080})),
            np(
                "b",
                {
                    "podSelector": WEB,
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}],
                            "ports": [{"port": 9090}],
                        }
                    ],
                },
            ),
        ],
        [
            ("prod/client", "prod/web", "TCP/8080"),
            ("dev/client", "prod/web", "TCP/9090"),
            ("other/client", "prod/web", "none"),
        ],
        id="policies-are-a-union",
    ),
    pytest.param(
        "§1.1.3 types.go: traffic is allowed if it matches at least one rule",
        [
            np(
                "two-rules",
                {
                    "podSelector": WEB,
                    "ingress": [
                        {"from": [CLIENT], "ports": [{"port": 8080}]},
                        {"from": [CLIENT], "ports": [{"port": 9090}]},
                    ],
                },
            ),
        ],
        [("prod/client", "prod/web", "TCP/8080, TCP/9090")],
        id="rules-of-one-policy-are-a-union",
    ),
    pytest.param(
        "§1.1.3: no deny rules; a deny-all policy plus an allow policy allows what the allow says",
        [
            np("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
            np("allow-client", web_ports({"port": 8080})),
        ],
        [("prod/client", "prod/web", "TCP/8080"), ("prod/client", "prod/db", "none")],
        id="deny-all-plus-allow",
    ),
    pytest.param(
        "§1.8.6: an allow-all policy cannot be overridden by a stricter NP (union semantics)",
        [
            np("allow-all", {"podSelector": WEB, "ingress": [{}]}),
            np("strict", web_ports({"port": 8080})),
        ],
        [("prod/api", "prod/web", "all"), (EXTERNAL, "prod/web", "all")],
        id="allow-all-cannot-be-narrowed",
    ),
    pytest.param(
        "§0/§1.1.2 website 'The two sorts of pod isolation': directions are independent",
        [np("deny-in", {"podSelector": WEB, "policyTypes": ["Ingress"]})],
        [
            ("prod/web", "prod/api", "all"),
            ("prod/web", EXTERNAL, "all"),
            ("prod/api", "prod/web", "none"),
        ],
        id="ingress-isolation-leaves-egress-open",
    ),
    pytest.param(
        "§0/§1.1.2: egress isolation does not isolate ingress",
        [np("deny-out", {"podSelector": WEB, "policyTypes": ["Egress"]})],
        [("prod/api", "prod/web", "all"), ("prod/web", "prod/api", "none")],
        id="egress-isolation-leaves-ingress-open",
    ),
    pytest.param(
        "§0 website/Cilium language.rst: src->dst needs egress at src "
        "AND ingress at dst; egress at src denies here",
        [
            np("deny-out", {"podSelector": {}, "policyTypes": ["Egress"]}, namespace="dev"),
            np(
                "allow-dev",
                {
                    "podSelector": WEB,
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}]}],
                },
            ),
        ],
        [("dev/client", "prod/web", "none"), ("prod/client", "prod/web", "none")],
        id="egress-at-source-denies",
    ),
    pytest.param(
        "§0: egress at src allows, ingress at dst denies -> denied",
        [
            np(
                "dev-out",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]}],
                },
                namespace="dev",
            ),
            np("deny-in", {"podSelector": WEB, "policyTypes": ["Ingress"]}),
        ],
        [
            ("dev/client", "prod/web", "none"),
            ("dev/client", "prod/api", "all"),
            ("dev/client", "other/client", "none"),
        ],
        id="ingress-at-destination-denies",
    ),
    pytest.param(
        "§0: the allowed ports are those BOTH sides allow",
        [
            np(
                "dev-out",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}],
                            "ports": [{"port": 8080}, {"port": 9090}],
                        }
                    ],
                },
                namespace="dev",
            ),
            np(
                "web-in",
                {
                    "podSelector": WEB,
                    "ingress": [{"from": [ALL_NS], "ports": [{"port": 8080}, {"port": 8443}]}],
                },
            ),
        ],
        [("dev/client", "prod/web", "TCP/8080")],
        id="both-sides-intersect",
    ),
    pytest.param(
        "§1.1.1 types.go: spec.podSelector selects pods in the policy's namespace only",
        [
            np(
                "deny-dev",
                {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                namespace="dev",
            ),
            np("web-lookalike", {"podSelector": WEB, "policyTypes": ["Ingress"]}, namespace="dev"),
        ],
        [
            ("prod/client", "prod/web", "all"),
            ("prod/web", "prod/api", "all"),
            ("prod/client", "dev/client", "none"),
        ],
        id="policy-cannot-isolate-pods-of-another-namespace",
    ),
    pytest.param(
        "§1.6 website 'NetworkPolicy and hostNetwork pods': hostNetwork "
        "pods are ignored by podSelector (not isolated)",
        [DENY_ALL_PROD],
        [
            (EXTERNAL, "prod/hostagent", "all"),
            ("dev/client", "prod/hostagent", "all"),
            ("prod/hostagent", EXTERNAL, "all"),
            ("prod/hostagent", "dev/client", "all"),
            # prod/client is isolated both ways, so its side still denies.
            ("prod/client", "prod/hostagent", "none"),
            ("prod/hostagent", "prod/client", "none"),
        ],
        id="host-network-pods-not-isolated",
    ),
    pytest.param(
        "§1.6: hostNetwork pods' traffic is node traffic, not matched by pod/namespace selectors",
        [np("web-from-all-pods", {"podSelector": WEB, "ingress": [{"from": [ALL_NS]}]})],
        [("prod/hostagent", "prod/web", "none"), ("prod/client", "prod/web", "all")],
        id="host-network-pods-not-matched-as-peers",
    ),
]


@pytest.mark.parametrize(("rule", "policies", "checks"), COMBINATIONS)
def test_combinations(k8s: Any, probe: Any, rule: str, policies: Any, checks: Any) -> None:
    check_all(run_row(k8s, probe, policies, rule), checks, rule)


def test_host_network_pod_is_never_isolated(k8s: Any, probe: Any) -> None:
    """§1.6: a deny-all selecting every pod of prod isolates web but not hostagent,
    although both carry app=web."""
    engine = run_row(k8s, probe, [DENY_ALL_PROD], "§1.6")
    assert engine.isolated("prod/web", "ingress") and engine.isolated("prod/web", "egress")
    assert not engine.isolated("prod/hostagent", "ingress")
    assert not engine.isolated("prod/hostagent", "egress")


# ---------------------------------------------------------------------------------------
# §0 through explain and connectivity: the verdict names the side and policy.
# ---------------------------------------------------------------------------------------


def test_explain_names_the_denying_side_and_allowing_rule(k8s: Any, probe: Any) -> None:
    """§0: egress at dev/client allows TCP/8080 (policy dev/out); ingress at prod/web is
    isolated by prod/deny-in with no rule -> denied, and explain says which side."""
    policies = [
        np(
            "out",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [ALL_NS], "ports": [{"port": 8080}]}],
            },
            namespace="dev",
        ),
        np("deny-in", {"podSelector": WEB, "policyTypes": ["Ingress"]}),
    ]
    engine = run_row(k8s, probe, policies, "§0")
    result = engine.explain("dev/client", "prod/web", "TCP/8080")
    assert result.allowed is False
    data = result.to_json()
    assert data["egress"]["verdict"] == "allowed"
    assert [m["policy"] for m in data["egress"]["allowed_by"]] == ["NetworkPolicy dev/out"]
    assert data["ingress"]["verdict"] == "denied"
    assert data["ingress"]["isolated_by"] == ["NetworkPolicy prod/deny-in"]
    assert data["ingress"]["allowed_by"] == []
    # A port egress does not allow is denied at the source side.
    other = engine.explain("dev/client", "prod/api", "TCP/9000").to_json()
    assert other["allowed"] is False
    assert other["egress"]["verdict"] == "denied"
    assert other["ingress"]["verdict"] == "allowed"
    assert other["ingress"]["isolated"] is False


def test_connectivity_agrees_with_pairwise_connection(k8s: Any, probe: Any) -> None:
    """The whole-cluster list (precomputed maps) must give the same verdict as
    `Engine.connection` for every pair, on a policy mix touching every rule group."""
    policies = [
        DENY_ALL_PROD,
        np("web-in", web_ports({"port": "http"}, {"port": 9090})),
        np(
            "client-out",
            {
                "podSelector": {"matchLabels": {"app": "client"}},
                "egress": [
                    {"to": [{"podSelector": WEB}]},
                    {"to": [ALL_NS], "ports": [{"port": "dns", "protocol": "UDP"}]},
                    {
                        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                        "ports": [{"port": 443}],
                    },
                ],
            },
        ),
        np("db-in", db_from({"namespaceSelector": {"matchLabels": {"env": "dev"}}, **CLIENT})),
    ]
    engine = run_row(k8s, probe, policies, "§0")
    listed = {(c.src, c.dst): str(c.conns) for c in engine.connectivity()}
    names = {cls.index: cls.workloads[0].id for cls in engine.engine.classes}
    for src in engine.engine.classes:
        for dst in engine.engine.classes:
            if src is dst:
                continue
            allowed, _, _ = engine.engine.connection(src, dst)
            key = (names[src.index], names[dst.index])
            assert listed.get(key, "none") == str(allowed), key
    assert listed[("prod/client[Deployment]", "prod/web[Deployment]")] == "TCP/8080, TCP/9090"
    assert ("dev/client[Deployment]", "prod/web[Deployment]") not in listed
    assert listed[("dev/client[Deployment]", "prod/db[StatefulSet]")] == "all"
    assert ("prod/client[Deployment]", "prod/db[StatefulSet]") not in listed
    assert listed[("prod/client[Deployment]", "other/dns[Deployment]")] == "UDP/53"
    assert listed[("prod/client[Deployment]", "0.0.0.0-9.255.255.255")] == "TCP/443"
    assert listed[("prod/client[Deployment]", "11.0.0.0-255.255.255.255")] == "TCP/443"
    assert ("prod/client[Deployment]", "10.0.0.0/8") not in listed
