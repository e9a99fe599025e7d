"""The intent (docs/intent.md): guardrails per rule kind, exceptions and their expiry,
teams, intended exposures and baseline drift per state, evaluated through the real
layers (build_snapshot -> Engine -> coverage / exposure -> evaluate_intent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from exporter.core.coverage import coverage
from exporter.core.engine import Engine
from exporter.core.exposure import ExposureAnalysis
from exporter.core.findings import Check, Severity
from exporter.core.intent import (
    BaselineError,
    IntentError,
    IntentReport,
    evaluate_intent,
    parse_intent,
    read_baseline,
)
from exporter.core.inventory import RawObject, build_snapshot

TODAY = dt.date(2026, 6, 15)
Doc = dict[str, Any]

DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
DENY_BOTH = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
ALLOW_ALL_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}
WEB = {"matchLabels": {"app": "web"}}


def service(name: str, ns: str, selector: Mapping[str, str], type_: str = "ClusterIP") -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "type": type_,
            "selector": dict(selector),
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def egress_to(cidr: str, port: int | None = None) -> Doc:
    rule: Doc = {"to": [{"ipBlock": {"cidr": cidr}}]}
    if port is not None:
        rule["ports"] = [{"protocol": "TCP", "port": port}]
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}


def base(
    k8s: Any, *policies: tuple[str, Doc], ns_labels: Mapping[str, str] | None = None
) -> list[Doc]:
    """`prod` (env=prod, the guardrails' target) and `dev` (env=dev, never selected), each
    with a `web` Deployment (2 pods, TCP/8080) behind a Service `web`; policies go to prod."""
    docs: list[Doc] = []
    for ns, labels in (("prod", {"env": "prod", **(ns_labels or {})}), ("dev", {"env": "dev"})):
        docs += [
            k8s.namespace(ns, labels),
            k8s.deployment("web", ns, {"app": "web"}, ["http=8080/TCP"], replicas=2),
            service("web", ns, {"app": "web"}),
        ]
    docs += [k8s.netpol(name, "prod", spec) for name, spec in policies]
    return docs


def evaluate(
    docs: Iterable[Doc],
    intent: Mapping[str, Any],
    baseline: Iterable[Doc] = (),
    today: dt.date = TODAY,
) -> IntentReport:
    snapshot, errors = build_snapshot([RawObject(d, "test.yaml", i) for i, d in enumerate(docs, 1)])
    assert errors == [], [str(e) for e in errors]
    engine = Engine(snapshot)
    parsed = parse_intent(dict(intent))
    policies = read_baseline([RawObject(d, "baseline.yaml", i) for i, d in enumerate(baseline, 1)])
    return evaluate_intent(
        parsed, policies, engine, coverage(engine), ExposureAnalysis(engine).run(), today
    )


def guardrail(**rules: Any) -> dict[str, Any]:
    return {
        "guardrails": [
            {"name": "g", "namespace_selector": {"matchLabels": {"env": "prod"}}, **rules}
        ]
    }


def violations(report: IntentReport) -> list[tuple[str, str]]:
    return sorted((v.rule, v.target) for v in report.violations if not v.excepted)


# -- one table per guardrail kind ----------------------------------------------------------

DEFAULT_DENY = [
    pytest.param(["ingress"], [], [("default-deny-ingress", "Namespace prod")], id="no-policy"),
    pytest.param(["ingress"], [("deny", DENY_INGRESS)], [], id="deny-ingress-meets-it"),
    pytest.param(
        ["ingress", "egress"],
        [("deny", DENY_INGRESS)],
        [("default-deny-egress", "Namespace prod")],
        id="egress-missing",
    ),
    pytest.param(["ingress", "egress"], [("deny", DENY_BOTH)], [], id="both"),
    pytest.param(
        ["ingress"],
        [("default-deny", ALLOW_ALL_INGRESS)],
        [("default-deny-ingress", "Namespace prod")],
        id="allow-all-named-default-deny",
    ),
    pytest.param(
        ["ingress"],
        [("web-only", {"podSelector": WEB, "policyTypes": ["Ingress"]})],
        [("default-deny-ingress", "Namespace prod")],
        id="every-pod-isolated-but-not-future-ones",
    ),
]


@pytest.mark.parametrize(("directions", "policies", "expected"), DEFAULT_DENY)
def test_require_default_deny(
    k8s: Any, directions: list[str], policies: Any, expected: Any
) -> None:
    report = evaluate(base(k8s, *policies), guardrail(require_default_deny=directions))
    assert violations(report) == expected


FORBID_EXPOSURE = [
    pytest.param(
        ["all_namespaces"], [], [], [("exposure-all-namespaces", "Service prod/web")], id="open"
    ),
    pytest.param(["all_namespaces"], [("deny", DENY_INGRESS)], [], [], id="denied"),
    pytest.param(
        ["all_namespaces"],
        [
            ("deny", DENY_INGRESS),
            (
                "from-dev",
                {
                    "podSelector": {},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "dev"}}}]}],
                },
            ),
        ],
        [],
        [],
        id="one-other-namespace-is-not-all",
    ),
    pytest.param(
        ["internet"],
        [],
        [service("lb", "prod", {"app": "web"}, "LoadBalancer")],
        [("exposure-internet", "Service prod/lb")],
        id="loadbalancer-open",
    ),
    pytest.param(
        ["internet"],
        [("deny", DENY_INGRESS)],
        [service("lb", "prod", {"app": "web"}, "LoadBalancer")],
        [],
        id="loadbalancer-blocked-by-policy",
    ),
]


@pytest.mark.parametrize(("categories", "policies", "extra", "expected"), FORBID_EXPOSURE)
def test_forbid_exposure(
    k8s: Any, categories: list[str], policies: Any, extra: list[Doc], expected: Any
) -> None:
    report = evaluate([*base(k8s, *policies), *extra], guardrail(forbid_exposure=categories))
    assert violations(report) == expected


WEB_ID = "prod/web[Deployment]"
INTERNET_EGRESS = [
    pytest.param([], [], [("internet-egress", WEB_ID)], id="no-allowlist-open-egress"),
    pytest.param([], [("deny", DENY_BOTH)], [], id="egress-denied"),
    pytest.param([{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}], [], [], id="everything-allowed"),
    pytest.param(
        [{"cidr": "203.0.113.0/24", "ports": ["TCP/443"]}],
        [("deny", DENY_BOTH), ("psp", egress_to("203.0.113.0/24", 443))],
        [],
        id="exactly-the-allowlist",
    ),
    pytest.param(
        [{"cidr": "203.0.113.0/24", "ports": ["TCP/443"]}],
        [("deny", DENY_BOTH), ("psp", egress_to("203.0.113.0/24"))],
        [("internet-egress", WEB_ID)],
        id="listed-cidr-other-ports",
    ),
    pytest.param(
        [{"cidr": "203.0.113.0/24", "ports": ["TCP/443"]}],
        [("deny", DENY_BOTH), ("other", egress_to("198.51.100.0/24", 443))],
        [("internet-egress", WEB_ID)],
        id="unlisted-cidr",
    ),
    pytest.param(
        [{"cidr": "203.0.113.0/25", "ports": ["443"]}],
        [("deny", DENY_BOTH), ("wider", egress_to("203.0.113.0/24", 443))],
        [("internet-egress", WEB_ID)],
        id="rule-wider-than-listed-cidr",
    ),
    pytest.param(
        [],
        [("deny", DENY_BOTH), ("private", egress_to("10.0.0.0/8"))],
        [],
        id="private-ranges-are-not-internet",
    ),
]


@pytest.mark.parametrize(("allow", "policies", "expected"), INTERNET_EGRESS)
def test_internet_egress_allowlist(k8s: Any, allow: Any, policies: Any, expected: Any) -> None:
    report = evaluate(base(k8s, *policies), guardrail(internet_egress={"allow": allow}))
    assert violations(report) == expected


EVERY_POD = [
    pytest.param([], [], [("policy-for-every-pod", WEB_ID)], id="no-policy"),
    pytest.param(
        [("web", {"podSelector": WEB, "policyTypes": ["Ingress"]})], [], [], id="selected"
    ),
    pytest.param(
        [("web", {"podSelector": WEB, "policyTypes": ["Ingress"]})],
        ["worker"],
        [("policy-for-every-pod", "prod/worker[Deployment]")],
        id="one-workload-left-out",
    ),
]


@pytest.mark.parametrize(("policies", "more", "expected"), EVERY_POD)
def test_require_policy_for_every_pod(
    k8s: Any, policies: Any, more: list[str], expected: Any
) -> None:
    docs = base(k8s, *policies) + [k8s.deployment(n, "prod", {"app": n}, []) for n in more]
    report = evaluate(docs, guardrail(require_policy_for_every_pod=True))
    assert violations(report) == expected


def test_guardrail_violations_are_findings_with_the_guardrail_severity(k8s: Any) -> None:
    report = evaluate(base(k8s), guardrail(require_default_deny=["ingress"], severity="critical"))
    [finding] = report.findings
    assert (finding.check, finding.severity, finding.namespace) == (
        Check.GUARDRAIL_VIOLATION,
        Severity.CRITICAL,
        "prod",
    )
    assert finding.message.startswith("guardrail g: ingress is not default-deny")


# -- exceptions ------------------------------------------------------------------------------

EXCEPTIONS = [
    # (exception fields, violation still counts, expired finding)
    pytest.param({"expires": "2026-06-15"}, False, False, id="last-day-still-holds"),
    pytest.param({"expires": "2026-06-14"}, True, True, id="expired-yesterday"),
    pytest.param({"expires": "2027-01-01", "object": "Namespace prod"}, False, False, id="object"),
    pytest.param({"expires": "2027-01-01", "object": "prod"}, False, False, id="bare-name"),
    pytest.param(
        {"expires": "2027-01-01", "object": "Service prod/db"}, True, False, id="other-object"
    ),
    pytest.param({"expires": "2027-01-01", "namespace": "dev"}, True, False, id="other-namespace"),
]


@pytest.mark.parametrize(("fields", "counts", "expired"), EXCEPTIONS)
def test_exceptions(k8s: Any, fields: dict[str, str], counts: bool, expired: bool) -> None:
    exception = {"namespace": "prod", "reason": "migration", "owner": "ops@example.com", **fields}
    intent = guardrail(require_default_deny=["ingress"], exceptions=[exception])
    report = evaluate(base(k8s), intent)
    checks = sorted(str(f.check) for f in report.findings)
    expected = (["exception-expired"] if expired else []) + (
        ["guardrail-violation"] if counts else []
    )
    assert checks == expected
    [status] = report.exceptions
    assert status.expired is expired
    [violation] = report.violations
    assert violation.excepted is not counts


# -- teams -------------------------------------------------------------------------------------


def test_teams_explicit_map_then_label_then_annotation_then_unowned(k8s: Any) -> None:
    docs = [
        k8s.namespace("a", {"team": "from-label"}),
        k8s.namespace("b", {"team": "from-label"}),
        {
            **k8s.namespace("c"),
            "metadata": {"name": "c", "annotations": {"owner": "from-annotation"}},
        },
        k8s.namespace("d"),
    ]
    intent = {
        "teams": {
            "namespace_label": "team",
            "namespace_annotation": "owner",
            "namespaces": {"b": "explicit"},
        }
    }
    report = evaluate(docs, intent)
    assert dict(report.teams.namespaces) == {
        "a": "from-label",
        "b": "explicit",
        "c": "from-annotation",
        "d": "unowned",
    }


def test_pod_label_team_owns_workload_violations_in_a_shared_namespace(k8s: Any) -> None:
    docs = [
        k8s.namespace("shared", {"team": "platform", "env": "prod"}),
        k8s.deployment("billing", "shared", {"app": "billing", "team": "payments"}, []),
        k8s.deployment("misc", "shared", {"app": "misc"}, []),
    ]
    intent = {
        "teams": {"namespace_label": "team", "pod_label": "team"},
        **guardrail(require_policy_for_every_pod=True, require_default_deny=["ingress"]),
    }
    report = evaluate(docs, intent)
    assert sorted((v.target, v.team) for v in report.violations) == [
        ("Namespace shared", "platform"),
        ("shared/billing[Deployment]", "payments"),
        ("shared/misc[Deployment]", "platform"),
    ]
    assert report.teams.namespaces["shared"] == "platform"


def test_namespace_label_allowlist(k8s: Any) -> None:
    docs = [k8s.namespace("a", {"env": "prod", "secret-ish": "x", "sensitivity": "high"})]
    report = evaluate(docs, {"namespace_labels": ["env", "sensitivity", "absent"]})
    assert report.namespace_labels["a"] == {"env": "prod", "sensitivity": "high"}


# -- intended exposures ------------------------------------------------------------------------


def test_intended_exposures_are_marked_and_counted_apart(k8s: Any) -> None:
    docs = base(k8s)
    intent = {
        "intended_exposures": [
            {"namespace": "prod", "name": "web", "exposure": ["all_namespaces"], "reason": "r"},
            {"namespace": "dev", "name": "*", "exposure": "internet_egress", "reason": "r2"},
        ]
    }
    report = evaluate(docs, intent)
    assert report.intended[("prod", "web", "all_namespaces")] == "r"
    assert ("dev", "web", "all_namespaces") not in report.intended
    assert report.intended[("dev", "dev/web[Deployment]", "internet_egress")] == "r2"
    assert ("prod", "prod/web[Deployment]", "internet_egress") not in report.intended


# -- baseline drift: one row per state ---------------------------------------------------------


def netpol(k8s: Any, name: str, spec: Doc, ns: str | None = None) -> Doc:
    return k8s.netpol(name, ns, spec)


DRIFT = [
    pytest.param([("default-deny", DENY_BOTH)], "in_sync", id="in-sync"),
    pytest.param(
        [
            (
                "default-deny",
                {"policyTypes": ["Egress", "Ingress"], "podSelector": {"matchLabels": {}}},
            )
        ],
        "in_sync",
        id="same-meaning-other-bytes",
    ),
    pytest.param([("default-deny", DENY_INGRESS)], "modified", id="modified-types"),
    pytest.param(
        [("default-deny", {**DENY_BOTH, "podSelector": WEB})], "modified", id="modified-selector"
    ),
    pytest.param([], "missing", id="missing"),
    pytest.param([("deny-everything", DENY_BOTH)], "present_elsewhere", id="renamed"),
    pytest.param([("other", DENY_INGRESS)], "missing", id="other-policy-is-not-it"),
]


@pytest.mark.parametrize(("policies", "state"), DRIFT)
def test_namespaced_baseline_drift(k8s: Any, policies: Any, state: str) -> None:
    intent = {
        "baseline": {"directory": "b", "namespace_selector": {"matchLabels": {"env": "prod"}}}
    }
    report = evaluate(base(k8s, *policies), intent, [netpol(k8s, "default-deny", DENY_BOTH)])
    assert [(d.namespace, d.policy, str(d.state)) for d in report.drift] == [
        ("prod", "NetworkPolicy/default-deny", state)
    ]
    drift_findings = [f for f in report.findings if f.check is Check.BASELINE_DRIFT]
    assert len(drift_findings) == (0 if state == "in_sync" else 1)


def test_baseline_with_a_namespace_is_required_there_only(k8s: Any) -> None:
    intent = {"baseline": {"directory": "b", "namespace_selector": {}}}
    report = evaluate(base(k8s), intent, [netpol(k8s, "default-deny", DENY_BOTH, ns="dev")])
    assert [(d.namespace, str(d.state)) for d in report.drift] == [("dev", "missing")]


def anp(name: str, action: str = "Deny", priority: int = 10) -> Doc:
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "priority": priority,
            "subject": {"namespaces": {"matchLabels": {"env": "prod"}}},
            "ingress": [{"name": "r", "action": action, "from": [{"namespaces": {}}]}],
        },
    }


CLUSTER_DRIFT = [
    pytest.param([anp("guard")], "in_sync", id="in-sync"),
    pytest.param([anp("guard", action="Allow")], "modified", id="modified-action"),
    pytest.param([anp("guard", priority=20)], "modified", id="modified-priority"),
    pytest.param([], "missing", id="missing"),
    pytest.param([anp("renamed")], "present_elsewhere", id="renamed"),
]


@pytest.mark.parametrize(("cluster", "state"), CLUSTER_DRIFT)
def test_cluster_wide_baseline_drift(k8s: Any, cluster: list[Doc], state: str) -> None:
    intent = {"baseline": {"directory": "b"}}
    report = evaluate([*base(k8s), *cluster], intent, [anp("guard")])
    assert [(d.namespace, d.policy, str(d.state)) for d in report.drift] == [
        ("", "AdminNetworkPolicy/guard", state)
    ]


def test_baseline_objects_must_be_policies(k8s: Any) -> None:
    with pytest.raises(BaselineError) as err:
        read_baseline(
            [
                RawObject(k8s.namespace("x"), "b/ns.yaml", 1),
                RawObject(k8s.netpol("bad", None, {"podSelector": "nope"}), "b/bad.yaml", 1),
            ]
        )
    text = str(err.value)
    assert "b/ns.yaml (document 1): Namespace x is not a policy kind" in text
    assert "b/bad.yaml (document 1): NetworkPolicy bad:" in text


# -- the schema ----------------------------------------------------------------------------------


def test_a_full_intent_parses() -> None:
    intent = parse_intent(
        {
            "apiVersion": "netfence.io/v1alpha1",
            "kind": "Intent",
            "teams": {"namespace_label": "team", "namespaces": {"kube-system": "platform"}},
            "namespace_labels": ["env"],
            "guardrails": [
                {
                    "name": "g",
                    "namespace_selector": {},
                    "require_default_deny": "ingress",
                    "internet_egress": {
                        "allow": [{"cidr": "203.0.113.7", "ports": ["TCP/443", "UDP/53"]}]
                    },
                    "exceptions": [
                        {"namespace": "a", "reason": "r", "owner": "o", "expires": "2026-01-02"}
                    ],
                }
            ],
            "intended_exposures": [
                {
                    "namespace": "kube-system",
                    "name": "kube-dns",
                    "exposure": ["all_namespaces"],
                    "reason": "dns",
                }
            ],
            "baseline": {"directory": "baseline"},
        }
    )
    [g] = intent.guardrails
    assert [str(d) for d in g.require_default_deny] == ["ingress"]
    assert g.internet_egress is not None
    assert g.internet_egress[0].text == "203.0.113.7/32"
    assert g.exceptions[0].expires == dt.date(2026, 1, 2)


def test_every_problem_is_reported_at_once_with_its_key() -> None:
    with pytest.raises(IntentError) as err:
        parse_intent(
            {
                "kind": "Policy",
                "colour": "blue",
                "teams": {"namespace_lable": "team"},
                "guardrails": [
                    {
                        "name": "Bad Name",
                        "namespace_selector": {"matchLabels": {"env": ["prod"]}},
                        "severity": "urgent",
                        "require_default_deny": ["sideways"],
                        "forbid_exposure": ["moon"],
                        "internet_egress": {
                            "allow": [{"cidr": "10.0.0.0/33", "ports": ["TCP/99999"]}]
                        },
                        "exceptions": [{"namespace": "a", "expires": "soon", "extra": 1}],
                    },
                    {"name": "no-rules", "namespace_selector": {}},
                    {"name": "no-rules", "require_default_deny": ["ingress"]},
                ],
                "intended_exposures": [
                    {"namespace": "a", "name": "b", "exposure": "space", "reason": "r"}
                ],
                "baseline": {"namespace_selector": {}},
            }
        )
    got = {(p.key, p.message.split(" (")[0]) for p in err.value.problems}
    expected_keys = {
        "kind",
        "colour",
        "teams.namespace_lable",
        "guardrails[0].name",
        "guardrails[0].namespace_selector",
        "guardrails[0].severity",
        "guardrails[0].require_default_deny[0]",
        "guardrails[0].forbid_exposure[0]",
        "guardrails[0].internet_egress.allow[0].cidr",
        "guardrails[0].exceptions[0].extra",
        "guardrails[0].exceptions[0].reason",
        "guardrails[0].exceptions[0].owner",
        "guardrails[0].exceptions[0].expires",
        "guardrails[1]",
        "guardrails[2].namespace_selector",
        "guardrails[2].name",
        "intended_exposures[0].exposure[0]",
        "baseline.directory",
    }
    assert {k for k, _ in got} == expected_keys, got
    assert ("guardrails[2].name", "'no-rules' is used by an earlier guardrail") in got
    assert ("colour", "unknown key") in got


def test_bad_ports_in_the_allowlist_are_named() -> None:
    with pytest.raises(IntentError) as err:
        parse_intent(
            guardrail(
                internet_egress={
                    "allow": [{"cidr": "203.0.113.0/24", "ports": ["TCP/99999", "ICMP/1"]}]
                }
            )
        )
    assert [p.key for p in err.value.problems] == [
        "guardrails[0].internet_egress.allow[0].ports[0]",
        "guardrails[0].internet_egress.allow[0].ports[1]",
    ]


# -- unknown answers (a kind that decides them could not be read) ---------------------------


def test_an_unreadable_policy_kind_makes_guardrails_and_drift_unknown_not_violated(
    k8s: Any,
) -> None:
    """With NetworkPolicy unreadable (403) nothing about default-deny or the baseline's
    NetworkPolicies is known: no violation, no zero series, no drift finding; notes say
    why. Exposure guardrails, decided by the same kind, are unknown too."""
    from exporter.sources.intent import LoadedIntent
    from exporter.sources.manifests import LoadResult
    from exporter.usecases import analyse

    docs = base(k8s)
    snapshot, errors = build_snapshot([RawObject(d, "t.yaml", i) for i, d in enumerate(docs, 1)])
    assert not errors
    intent = parse_intent(
        {
            **guardrail(require_default_deny=["ingress"], forbid_exposure=["all_namespaces"]),
            "baseline": {"directory": "b", "namespace_selector": {"matchLabels": {"env": "prod"}}},
        }
    )
    baseline = read_baseline([RawObject(netpol(k8s, "default-deny", DENY_BOTH), "b.yaml", 1)])
    loaded = LoadedIntent(intent, tuple(baseline), "intent.yaml")
    known = analyse(LoadResult(snapshot, []), intent=loaded, today=TODAY)
    assert known.intent is not None
    assert violations(known.intent) == [
        ("default-deny-ingress", "Namespace prod"),
        ("exposure-all-namespaces", "Service prod/web"),
    ]
    assert [str(d.state) for d in known.intent.drift] == ["missing"]

    report = analyse(
        LoadResult(snapshot, []),
        intent=loaded,
        today=TODAY,
        unreadable=("networking.k8s.io/NetworkPolicy",),
    )
    assert report.intent is not None
    assert list(report.intent.violations) == []
    assert report.intent.scope == {"g": ()}
    assert report.intent.notes == [
        "guardrail g: prod: default-deny and isolation unknown (a kind that decides it was "
        "not read)"
    ]
    assert [str(d.state) for d in report.intent.drift] == ["unknown"]
    assert not [f for f in report.findings if f.check in _INTENT_CHECKS]


_INTENT_CHECKS = {Check.GUARDRAIL_VIOLATION, Check.BASELINE_DRIFT, Check.EXCEPTION_EXPIRED}
