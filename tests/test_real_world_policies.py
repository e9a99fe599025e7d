"""Real-world NetworkPolicy examples with documented answers.

Fixtures: `tests/fixtures/k8s-networkpolicy/` (see SOURCES.md there):
`kubernetes-website/` — the examples of the Kubernetes docs page "Network Policies"
(CC BY 4.0); `ahmetb-recipes/` — ahmetb/kubernetes-network-policy-recipes
(Apache-2.0). Expected answers follow the rules of
`docs/semantics.md` §1 (cited as §1.x per row); they agree
with what the docs / recipes say each example does.

The policies carry no pods, so each test writes the workloads it needs into a
manifest under tmp_path (`default` is the namespace of every policy without
`metadata.namespace`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter import usecases

FIXTURES = Path(__file__).parent / "fixtures" / "k8s-networkpolicy"
WEBSITE = FIXTURES / "kubernetes-website"
RECIPES = FIXTURES / "ahmetb-recipes"

ALL_FILES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


# --- helpers ------------------------------------------------------------------------


def deployment(
    name: str, labels: dict[str, str], namespace: str = "default", port: int = 8080
) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": name, "image": "nginx", "ports": [{"containerPort": port}]}
                    ]
                },
            },
        },
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def write_manifest(tmp_path: Path, *objects: dict[str, object]) -> Path:
    """JSON is valid YAML; one document per object."""
    path = tmp_path / "workloads.yaml"
    path.write_text("\n---\n".join(json.dumps(o) for o in objects) + "\n")
    return path


def policy_documents(path: Path) -> list[str]:
    """The `---`-separated documents of a fixture file (for files holding variants)."""
    docs = path.read_text().split("\n---\n")
    return [d for d in docs if d.strip() and "kind:" in d]


def load_clean(paths: list[Path]) -> usecases.ScanReport:
    report = usecases.scan(paths)
    assert [str(e) for e in report.errors] == []
    return report


def ns_json(report: usecases.ScanReport, name: str) -> dict:
    for ns in report.to_json()["namespaces"]:  # type: ignore[union-attr]
        if ns["name"] == name:
            return ns
    raise AssertionError(f"namespace {name} missing from the scan report")


def conns_between(paths: list[Path], src: str, dst: str) -> object:
    """netfence's allowed connections src -> dst (`"all"`, a list, or None = nothing)."""
    _, engine = usecases.load(paths)
    for endpoint in (src, dst):  # a typo must not pass as "no connection"
        assert usecases.resolve(engine, endpoint), endpoint
    conns, errors = usecases.connections(paths)
    assert [str(e) for e in errors] == []
    found = [c.to_json()["conns"] for c in conns if c.src == src and c.dst == dst]
    assert len(found) <= 1
    return found[0] if found else None


def verdict(paths: list[Path], src: str, dst: str, port: str) -> bool:
    explanations, errors = usecases.explain_connection(paths, src, dst, port)
    assert [str(e) for e in errors] == []
    assert len(explanations) == 1, explanations
    return explanations[0].allowed


# --- every fixture file loads ---------------------------------------------------------


def test_fixture_inventory() -> None:
    assert len(list(WEBSITE.glob("*.yaml"))) == 8
    assert len(list(RECIPES.glob("*.yaml"))) == 14


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_file_loads_with_zero_input_errors(path: Path) -> None:
    report = usecases.scan([path])
    assert [str(e) for e in report.errors] == []
    summary = report.to_json()["summary"]
    assert summary["policies"] >= 1  # type: ignore[index]
    assert summary["ignored_kinds"] == {}  # type: ignore[index]


# --- kubernetes-website "Default policies" examples -------------------------------------


@dataclass(frozen=True)
class DefaultPolicyCase:
    file: str
    ingress_default_deny: bool
    egress_default_deny: bool
    allow_all_direction: str | None = None  # direction of the expected allow-all-rule finding


WEBSITE_CASES = [
    pytest.param(
        DefaultPolicyCase("network-policy-default-deny-ingress.yaml", True, False),
        # §1.7: empty podSelector + policyTypes [Ingress], no rules -> ingress default deny;
        # §1.1.2: egress untouched (no Egress in policyTypes).
        id="default-deny-ingress: §1.7 ingress deny, §1.1.2 egress open",
    ),
    pytest.param(
        DefaultPolicyCase("network-policy-default-deny-egress.yaml", False, True),
        # §1.7: egress default deny needs explicit policyTypes [Egress] — present here.
        id="default-deny-egress: §1.7 egress deny (explicit policyTypes Egress)",
    ),
    pytest.param(
        DefaultPolicyCase("network-policy-default-deny-all.yaml", True, True),
        # §1.7 "Both": policyTypes [Ingress, Egress], no rules.
        id="default-deny-all: §1.7 both directions",
    ),
    pytest.param(
        DefaultPolicyCase("network-policy-allow-all-ingress.yaml", False, False, "ingress"),
        # §1.3 / §1.8.1: `ingress: [{}]` is allow-all, not deny-all.
        id="allow-all-ingress: §1.3 ingress [{}] is allow-all",
    ),
    pytest.param(
        DefaultPolicyCase("network-policy-allow-all-egress.yaml", False, False, "egress"),
        # §1.3: `egress: [{}]` admits every destination on every port.
        id="allow-all-egress: §1.3 egress [{}] is allow-all",
    ),
    pytest.param(
        DefaultPolicyCase(
            "network-policy-allow-all-egress-deny-all-ingress.yaml", True, False, "egress"
        ),
        # §1.3: `ingress: []` with Ingress in policyTypes -> nothing in (deny);
        # `egress: [{}]` -> allow-all egress, so egress is isolated but not default-deny.
        id="allow-egress-deny-ingress: §1.3 ingress [] denies, egress [{}] allows",
    ),
]


@pytest.mark.parametrize("case", WEBSITE_CASES)
def test_website_default_policy_coverage(case: DefaultPolicyCase, tmp_path: Path) -> None:
    workloads = write_manifest(tmp_path, deployment("web", {"app": "web"}))
    report = load_clean([WEBSITE / case.file, workloads])
    ns = ns_json(report, "default")
    assert ns["pods"] == 1
    assert ns["ingress"]["default_deny"] is case.ingress_default_deny, ns["ingress"]["reason"]
    assert ns["egress"]["default_deny"] is case.egress_default_deny, ns["egress"]["reason"]
    allow_all = [f for f in report.findings if str(f.check) == "allow-all-rule"]
    if case.allow_all_direction is None:
        assert allow_all == []
    else:
        assert len(allow_all) == 1, [f.message for f in allow_all]
        assert allow_all[0].namespace == "default"
        assert f"{case.allow_all_direction} rule" in allow_all[0].message
        # an allow-all policy opens the direction it isolates (§1.3): named in opened_by
        side = ns[case.allow_all_direction]
        assert side["opened_by"] and side["isolated_pods"] == 1


def test_website_allow_all_ingress_admits_external_and_other_namespaces(tmp_path: Path) -> None:
    """§1.3: `ingress: [{}]` admits every source, external addresses included."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}, namespace="other"),
    )
    paths = [WEBSITE / "network-policy-allow-all-ingress.yaml", workloads]
    assert conns_between(paths, "0.0.0.0/0", "default/web[Deployment]") == "all"
    assert conns_between(paths, "other/client[Deployment]", "default/web[Deployment]") == "all"


def test_website_default_deny_all_blocks_both_directions(tmp_path: Path) -> None:
    """§1.7: with default-deny-all nothing reaches `default` pods and they reach nothing."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}, namespace="other"),
    )
    paths = [WEBSITE / "network-policy-default-deny-all.yaml", workloads]
    conns, _ = usecases.connections(paths)
    touching = [c.to_json() for c in conns if "default/web[Deployment]" in (c.src, c.dst)]
    assert touching == []


# networkpolicy.yaml (the docs' "example NetworkPolicy"): role=db pods in `default`
# accept TCP 6379 from 172.17.0.0/16 except 172.17.1.0/24, from namespaces labelled
# project=myproject and from role=frontend pods of `default`; they may open TCP 5978 to
# 10.0.0.0/24 only (§1.4 peers are ORed, ipBlock except; §1.5 ports).
NETPOL_EXAMPLE_CONNECTIONS = [
    pytest.param("172.17.0.5", "default/db", "6379/TCP", True, id="ipBlock cidr §1.4"),
    pytest.param("172.17.1.5", "default/db", "6379/TCP", False, id="ipBlock except §1.4"),
    pytest.param("172.17.0.5", "default/db", "6380/TCP", False, id="other port §1.5"),
    pytest.param("172.17.0.5", "default/db", "6379/UDP", False, id="protocol TCP only §1.5"),
    pytest.param("myproject/client", "default/db", "6379/TCP", True, id="nsSelector §1.4"),
    pytest.param("other/client", "default/db", "6379/TCP", False, id="unlabelled ns §1.4"),
    pytest.param("default/frontend", "default/db", "6379/TCP", True, id="podSelector §1.3"),
    pytest.param(
        "other/frontend", "default/db", "6379/TCP", False, id="podSelector is ns-local §1.8.5"
    ),
    pytest.param("default/db", "10.0.0.7", "5978/TCP", True, id="egress ipBlock §1.4"),
    pytest.param("default/db", "10.0.1.7", "5978/TCP", False, id="egress outside cidr §1.4"),
    pytest.param(
        "default/db", "default/frontend", "5978/TCP", False, id="egress pods denied §1.1.3"
    ),
]


@pytest.mark.parametrize("src,dst,port,allowed", NETPOL_EXAMPLE_CONNECTIONS)
def test_website_example_networkpolicy(
    src: str, dst: str, port: str, allowed: bool, tmp_path: Path
) -> None:
    workloads = write_manifest(
        tmp_path,
        namespace("myproject", {"project": "myproject"}),
        namespace("other"),
        deployment("db", {"role": "db"}, port=6379),
        deployment("frontend", {"role": "frontend"}),
        deployment("client", {"app": "client"}, namespace="myproject"),
        deployment("client", {"app": "client"}, namespace="other"),
        deployment("frontend", {"role": "frontend"}, namespace="other"),
    )
    assert verdict([WEBSITE / "networkpolicy.yaml", workloads], src, dst, port) is allowed


@pytest.mark.parametrize(
    "port,allowed",
    [("32000/TCP", True), ("32768/TCP", True), ("32769/TCP", False), ("31999/TCP", False)],
    ids=lambda v: str(v),
)
def test_website_multiport_egress_end_port_is_inclusive(
    port: str, allowed: bool, tmp_path: Path
) -> None:
    """§1.5: `endPort` makes the inclusive range port..endPort (32000-32768)."""
    workloads = write_manifest(tmp_path, deployment("db", {"role": "db"}))
    paths = [WEBSITE / "networkpolicy-multiport-egress.yaml", workloads]
    assert verdict(paths, "default/db", "10.0.0.1", port) is allowed


# --- ahmetb recipes -----------------------------------------------------------------------


def test_recipe_01_deny_all_to_app_isolates_only_the_app(tmp_path: Path) -> None:
    """§1.1.2 + §1.3: `ingress: []` on app=web pods -> nothing reaches web; other pods
    stay open; the namespace is not default-deny (podSelector is not empty, §1.7)."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}),
    )
    paths = [RECIPES / "01-deny-all-traffic-to-an-application.yaml", workloads]
    ns = ns_json(load_clean(paths), "default")
    assert ns["ingress"]["default_deny"] is False
    assert ns["ingress"]["isolated_pods"] == 1
    assert conns_between(paths, "default/client[Deployment]", "default/web[Deployment]") is None
    assert conns_between(paths, "default/web[Deployment]", "default/client[Deployment]") == "all"


def test_recipe_02a_allow_all_to_app_admits_everything(tmp_path: Path) -> None:
    """§1.3: `ingress: [{}]` admits all sources on all ports — pods of every namespace
    and also external addresses (broader than the recipe's prose, see SOURCES.md)."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}, namespace="other"),
    )
    paths = [RECIPES / "02a-allow-all-traffic-to-an-application.yaml", workloads]
    report = load_clean(paths)
    assert [
        (str(f.check), str(f.severity))
        for f in report.findings
        if f.namespace == "default" and str(f.check) == "allow-all-rule"
    ] == [("allow-all-rule", "medium")]
    assert conns_between(paths, "other/client[Deployment]", "default/web[Deployment]") == "all"
    assert conns_between(paths, "0.0.0.0/0", "default/web[Deployment]") == "all"


def test_recipe_03_namespace_ingress_default_deny(tmp_path: Path) -> None:
    """§1.7: empty podSelector, no policyTypes, `ingress: []` -> effective [Ingress]
    (§1.2) with no rule: namespace-wide ingress default deny; egress stays open."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}),
    )
    paths = [RECIPES / "03-deny-all-non-whitelisted-traffic-in-the-namespace.yaml", workloads]
    ns = ns_json(load_clean(paths), "default")
    assert ns["ingress"]["default_deny"] is True
    assert ns["ingress"]["isolated_pods"] == 2
    assert ns["egress"]["default_deny"] is False
    assert conns_between(paths, "default/client[Deployment]", "default/web[Deployment]") is None


@pytest.mark.parametrize(
    "src,expected",
    [
        pytest.param("default/client[Deployment]", "all", id="same namespace allowed §1.3"),
        pytest.param("other/client[Deployment]", None, id="other namespace denied §1.8.5"),
        pytest.param("0.0.0.0/0", None, id="external denied §1.3"),
    ],
)
def test_recipe_04_deny_traffic_from_other_namespaces(
    src: str, expected: object, tmp_path: Path
) -> None:
    """`podSelector: {matchLabels: null}` is empty (all pods of `default`, §1.1.1);
    `from: [{podSelector: {}}]` = pods of the policy's namespace only (§1.3, §1.8.5)."""
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}),
        deployment("client", {"app": "client"}, namespace="other"),
    )
    paths = [RECIPES / "04-deny-traffic-from-other-namespaces.yaml", workloads]
    ns = ns_json(load_clean(paths), "default")
    # every pod isolated and no rule admits every peer -> default deny (§1.7)
    assert ns["ingress"]["default_deny"] is True
    assert conns_between(paths, src, "default/web[Deployment]") == expected


@pytest.mark.parametrize(
    "src,expected",
    [
        pytest.param("other/client[Deployment]", "all", id="any namespace allowed §1.3"),
        pytest.param("default/client[Deployment]", "all", id="own namespace allowed §1.3"),
        pytest.param("0.0.0.0/0", None, id="namespaceSelector {} is pods only §1.3"),
    ],
)
def test_recipe_05_allow_traffic_from_all_namespaces(
    src: str, expected: object, tmp_path: Path
) -> None:
    workloads = write_manifest(
        tmp_path,
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}),
        deployment("client", {"app": "client"}, namespace="other"),
    )
    paths = [RECIPES / "05-allow-traffic-from-all-namespaces.yaml", workloads]
    assert conns_between(paths, src, "default/web[Deployment]") == expected


@pytest.mark.parametrize(
    "src,expected",
    [
        pytest.param("prod/client[Deployment]", "all", id="purpose=production allowed §1.4"),
        pytest.param("dev/client[Deployment]", None, id="other label value denied §1.4"),
        pytest.param("default/client[Deployment]", None, id="own namespace unlabelled §1.4"),
        pytest.param("0.0.0.0/0", None, id="external denied §1.3"),
    ],
)
def test_recipe_06_allow_traffic_from_a_namespace(
    src: str, expected: object, tmp_path: Path
) -> None:
    workloads = write_manifest(
        tmp_path,
        namespace("prod", {"purpose": "production"}),
        namespace("dev", {"purpose": "development"}),
        deployment("web", {"app": "web"}),
        deployment("client", {"app": "client"}),
        deployment("client", {"app": "client"}, namespace="prod"),
        deployment("client", {"app": "client"}, namespace="dev"),
    )
    paths = [RECIPES / "06-allow-traffic-from-a-namespace.yaml", workloads]
    assert conns_between(paths, src, "default/web[Deployment]") == expected


def _recipe_11_workloads(tmp_path: Path) -> Path:
    return write_manifest(
        tmp_path,
        deployment("foo", {"app": "foo"}),
        deployment("web", {"app": "web"}),
        deployment("kube-dns", {"k8s-app": "kube-dns"}, namespace="kube-system", port=53),
        deployment("kube-dns", {"k8s-app": "kube-dns"}, namespace="other", port=53),
    )


def test_recipe_11_file_holds_two_variants() -> None:
    docs = policy_documents(RECIPES / "11-deny-egress-traffic-from-an-application.yaml")
    assert len(docs) == 2
    assert "egress: []" in docs[0] and "port: 53" in docs[1]


def test_recipe_11a_deny_all_egress_from_app(tmp_path: Path) -> None:
    """§1.2 + §1.3: policyTypes [Egress] with `egress: []` -> app=foo may open nothing;
    ingress is not isolated (no Ingress in policyTypes, §1.1.2)."""
    doc = policy_documents(RECIPES / "11-deny-egress-traffic-from-an-application.yaml")[0]
    (tmp_path / "policy.yaml").write_text(doc)
    paths = [tmp_path / "policy.yaml", _recipe_11_workloads(tmp_path)]
    conns, errors = usecases.connections(paths)
    assert errors == []
    assert [c.to_json() for c in conns if c.src == "default/foo[Deployment]"] == []
    assert conns_between(paths, "default/web[Deployment]", "default/foo[Deployment]") == "all"
    ns = ns_json(load_clean(paths), "default")
    assert ns["egress"]["isolated_pods"] == 1
    assert ns["egress"]["default_deny"] is False  # only app=foo, not every pod (§1.7)


@pytest.mark.parametrize(
    "dst,expected",
    [
        pytest.param("kube-system/kube-dns[Deployment]", ["TCP/53", "UDP/53"], id="DNS §1.4 §1.5"),
        pytest.param("other/kube-dns[Deployment]", None, id="AND of ns+pod selector §1.3"),
        pytest.param("default/web[Deployment]", None, id="other pods denied §1.1.3"),
        pytest.param("0.0.0.0/0", None, id="external denied §1.1.3"),
    ],
)
def test_recipe_11b_deny_egress_but_dns(dst: str, expected: object, tmp_path: Path) -> None:
    """Second variant: egress only to kube-dns pods in the namespace named kube-system
    (matched by the automatic `kubernetes.io/metadata.name` label, §1.4), TCP and UDP 53."""
    doc = policy_documents(RECIPES / "11-deny-egress-traffic-from-an-application.yaml")[1]
    (tmp_path / "policy.yaml").write_text(doc)
    paths = [tmp_path / "policy.yaml", _recipe_11_workloads(tmp_path)]
    assert conns_between(paths, "default/foo[Deployment]", dst) == expected


def test_recipe_12_namespace_egress_default_deny(tmp_path: Path) -> None:
    """§1.7: empty podSelector + explicit policyTypes [Egress] + `egress: []`."""
    workloads = write_manifest(tmp_path, deployment("web", {"app": "web"}))
    paths = [RECIPES / "12-deny-all-non-whitelisted-traffic-from-the-namespace.yaml", workloads]
    ns = ns_json(load_clean(paths), "default")
    assert ns["egress"]["default_deny"] is True
    assert ns["ingress"]["default_deny"] is False
