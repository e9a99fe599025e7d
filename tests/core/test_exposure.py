"""Exposure analysis (issue 3): per Service / workload and category, declared vs permitted.

Every row cites the rule it pins: the text of issue 3 ("Exposure analysis") or a section
of docs/semantics.md. Expected values are derived by hand from
those rules. Clusters are built as plain dicts and evaluated through the real layers
(`probe` -> Engine -> ExposureAnalysis, or YAML via `cluster` -> service / CLI).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pytest

from exporter.cli import main
from exporter.core.exposure import ControllerSpec, ExposureAnalysis, ExposureConfig
from exporter.core.selectors import LabelSelector, Operator, Requirement

Doc = dict[str, Any]
NAME = "kubernetes.io/metadata.name"
GW_LABEL = "gateway.networking.k8s.io/gateway-name"

# -- builders (only fields the rows need) ----------------------------------------------


def ns(name: str, **labels: str) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {NAME: name, **labels}},
    }


def service(
    name: str,
    namespace: str,
    selector: dict[str, str] | None,
    ports: Sequence[tuple[int, int | str] | tuple[int, int | str, str]],
    svc_type: str | None = None,
    **spec: Any,
) -> Doc:
    """ports: (port, targetPort[, name])."""
    body: Doc = {
        "ports": [
            {"port": p[0], "targetPort": p[1], **({"name": p[2]} if len(p) > 2 else {})}
            for p in ports
        ]
    }
    if selector is not None:
        body["selector"] = selector
    if svc_type:
        body["type"] = svc_type
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def endpoint_slice(name: str, namespace: str, svc: str, pods: Sequence[str]) -> Doc:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"10.1.0.{i + 10}"], "targetRef": {"kind": "Pod", "name": p}}
            for i, p in enumerate(pods)
        ],
    }


def ingress(name: str, namespace: str, svc: str, port: int | str = 80) -> Doc:
    port_ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": svc, "port": port_ref}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def gateway(name: str, namespace: str, *listeners: Doc) -> Doc:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"gatewayClassName": "example", "listeners": list(listeners)},
    }


def listener(name: str, allowed_from: str = "Same", selector: Doc | None = None) -> Doc:
    spaces: Doc = {"from": allowed_from}
    if selector is not None:
        spaces["selector"] = selector
    return {
        "name": name,
        "protocol": "HTTP",
        "port": 80,
        "allowedRoutes": {"namespaces": spaces},
    }


def httproute(
    name: str,
    namespace: str,
    parent: tuple[str, str] | tuple[str, str, str],
    backend: str,
    backend_ns: str | None = None,
    port: int = 80,
) -> Doc:
    parent_ref: Doc = {"name": parent[1], "namespace": parent[0]}
    if len(parent) > 2:
        parent_ref["sectionName"] = parent[2]
    ref: Doc = {"name": backend, "port": port}
    if backend_ns:
        ref["namespace"] = backend_ns
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"parentRefs": [parent_ref], "rules": [{"backendRefs": [ref]}]},
    }


def reference_grant(namespace: str, from_ns: str, svc: str | None = None) -> Doc:
    to: Doc = {"group": "", "kind": "Service"}
    if svc:
        to["name"] = svc
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": f"from-{from_ns}", "namespace": namespace},
        "spec": {
            "from": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from_ns}
            ],
            "to": [to],
        },
    }


def netpol(name: str, namespace: str, spec: Doc) -> Doc:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def deny_ingress(namespace: str) -> Doc:
    return netpol("deny-ingress", namespace, {"podSelector": {}, "policyTypes": ["Ingress"]})


def web_allows(*peers: Doc, port: int | str | None = None) -> Doc:
    """shop/web ingress policy: one rule with `peers` (none: `from` absent)."""
    rule: Doc = {}
    if peers:
        rule["from"] = list(peers)
    if port is not None:
        rule["ports"] = [{"port": port}]
    return netpol(
        "web-ingress",
        "shop",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
    )


def host_port_pod(name: str, namespace: str, container: int, host: int) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "example/app:1",
                    "ports": [
                        {"containerPort": container, "hostPort": host, "name": "edge"},
                        {"containerPort": 9090, "name": "metrics"},
                    ],
                }
            ]
        },
    }


def ns_peer(name: str) -> Doc:
    return {"namespaceSelector": {"matchLabels": {NAME: name}}}


ALL_NS: Doc = {"namespaceSelector": {}}
EVERY_POD: Doc = {"namespaceSelector": {}, "podSelector": {}}

# -- the cluster every row starts from ----------------------------------------------------


def base(k8s: Any, *, controller: bool = True) -> list[Doc]:
    """shop/web (http=8080, metrics=9090) behind Service web 80 -> http; a client in
    `other`; an ingress-nginx controller (default label) unless `controller=False`."""
    docs = [
        ns("shop"),
        ns("other", team="other"),
        ns("ingress-nginx"),
        k8s.deployment("web", "shop", {"app": "web"}, ["http=8080/TCP", "metrics=9090/TCP"]),
        k8s.deployment("client", "other", {"app": "client"}, ["8000/TCP"]),
        service("web", "shop", {"app": "web"}, [(80, "http", "http")]),
    ]
    if controller:
        docs.append(
            k8s.deployment(
                "ingress-nginx-controller",
                "ingress-nginx",
                {"app.kubernetes.io/name": "ingress-nginx"},
                ["http=80/TCP", "https=443/TCP"],
            )
        )
    return docs


def analyse(probe: Any, docs: list[Doc], config: ExposureConfig | None = None) -> Any:
    return ExposureAnalysis(probe(docs).engine, config).run()


def table(report: Any) -> dict[tuple[str, str, str], tuple[bool, bool, Any]]:
    out = {}
    for e in report.exposures:
        key = (e.namespace, e.name, str(e.category))
        assert key not in out, f"duplicate exposure {key}"
        out[key] = (e.declared, e.permitted, e.ports.to_json())
    return out


ABSENT = None
T8080 = ["TCP/8080"]
OPEN_8080 = (True, True, T8080)
NOT_PERMITTED = (True, False, [])

# -- rows: (id, rule, extra docs on top of base, controller?, {key: expected}) --------------

Row = tuple[str, str, Any, bool, dict[tuple[str, str, str], Any]]


def rows_namespaces() -> list[Row]:
    web_o = ("shop", "web", "other_namespaces")
    web_a = ("shop", "web", "all_namespaces")
    return [
        (
            "no-policy-is-open-to-every-namespace",
            "§1.1.2 unselected pods are unrestricted; issue 3: all_namespaces when every "
            "namespace (incl. future) is admitted; only ports the Service targets (8080)",
            [],
            True,
            {web_o: OPEN_8080, web_a: OPEN_8080},
        ),
        (
            "deny-all-exposes-nothing",
            "§1.3 ingress absent => nothing allowed in",
            [deny_ingress("shop")],
            True,
            {web_o: ABSENT, web_a: ABSENT},
        ),
        (
            "namespace-selector-other",
            "issue 3 other_namespaces: admits pods from at least one other namespace; "
            "§1.4 namespaceSelector",
            [web_allows(ns_peer("other"), port=8080)],
            True,
            {web_o: OPEN_8080, web_a: ABSENT},
        ),
        (
            "namespace-selector-own-namespace-only",
            "§1.4: a selector matching only shop admits no other namespace",
            [web_allows(ns_peer("shop"), port=8080)],
            True,
            {web_o: ABSENT, web_a: ABSENT},
        ),
        (
            "pod-selector-alone-is-namespace-local",
            "§1.3 / §1.8.5 podSelector alone = policy's namespace",
            [web_allows({"podSelector": {}})],
            True,
            {web_o: ABSENT, web_a: ABSENT},
        ),
        (
            "empty-namespace-selector-is-every-namespace",
            "§1.3 namespaceSelector: {} = all pods in all namespaces (future ones too)",
            [web_allows(ALL_NS, port="http")],
            True,
            {web_o: OPEN_8080, web_a: OPEN_8080},
        ),
        (
            "from-absent-is-every-source",
            "§1.3 rule with `from` absent matches all sources",
            [web_allows(port=8080)],
            True,
            {web_o: OPEN_8080, web_a: OPEN_8080},
        ),
        (
            "port-not-targeted-by-service",
            "issue 3: 'on a port the Service targets' -- 9090 is not a Service target",
            [web_allows(ALL_NS, port=9090)],
            True,
            {web_o: ABSENT, web_a: ABSENT},
        ),
        (
            "ipblock-matches-no-pod",
            "§1.4 ipBlock is for cluster-external addresses; docs/semantics.md: ipBlock "
            "never matches pods -> no namespace is admitted",
            [web_allows({"ipBlock": {"cidr": "0.0.0.0/0"}})],
            True,
            {web_o: ABSENT, web_a: ABSENT},
        ),
    ]


def rows_ingress() -> list[Row]:
    key = ("shop", "web", "ingress")
    ing = ingress("web", "shop", "web", 80)
    return [
        (
            "no-ingress-object-no-ingress-exposure",
            "issue 3: ingress = backend of an Ingress rule (declared needs a route)",
            [web_allows(ns_peer("ingress-nginx"))],
            True,
            {key: ABSENT},
        ),
        (
            "ingress-permitted-from-controller-namespace",
            "issue 3: permitted when the backend's ingress policy admits the controller's "
            "pods (default label app.kubernetes.io/name=ingress-nginx)",
            [ing, deny_ingress("shop"), web_allows(ns_peer("ingress-nginx"), port="http")],
            True,
            {key: OPEN_8080},
        ),
        (
            "ingress-by-port-name",
            "Ingress backend service.port.name -> Service port `http` -> targetPort http",
            [ingress("web", "shop", "web", "http"), web_allows(ns_peer("ingress-nginx"))],
            True,
            {key: OPEN_8080},
        ),
        (
            "ingress-declared-not-permitted",
            "issue 3: declared (route exists) vs permitted -- web admits only `other`",
            [ing, web_allows(ns_peer("other"))],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "unknown-controller-needs-every-pod-of-every-namespace",
            "exposure.py / docs: no controller pods -> unknown pod in unknown namespace; "
            "a rule for one namespace does not admit it",
            [ing, web_allows(ns_peer("ingress-nginx"))],
            False,
            {key: NOT_PERMITTED},
        ),
        (
            "unknown-controller-admitted-by-every-pod-rule",
            "np-guard {ingress-controller}: admitted by namespaceSelector {} + podSelector {}",
            [ing, web_allows(EVERY_POD, port=8080)],
            False,
            {key: OPEN_8080},
        ),
        (
            "unknown-controller-admitted-when-not-isolated",
            "§1.1.2 not isolated -> every source",
            [ing],
            False,
            {key: OPEN_8080},
        ),
        (
            "unknown-controller-not-admitted-by-pod-selector-in-all-namespaces",
            "a podSelector narrowing pods in every namespace may miss the unknown controller",
            [
                ing,
                web_allows({"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}}),
            ],
            False,
            {key: NOT_PERMITTED},
        ),
    ]


def rows_internet() -> list[Row]:
    def web_svc(svc_type: str | None, **spec: Any) -> Doc:
        return service("web-public", "shop", {"app": "web"}, [(80, 8080)], svc_type, **spec)

    key = ("shop", "web-public", "internet")
    public_only = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}
    return [
        (
            "clusterip-is-not-internet",
            "issue 3: internet needs LoadBalancer, NodePort, externalIPs, hostNetwork or hostPort",
            [web_svc(None)],
            True,
            {key: ABSENT},
        ),
        (
            "nodeport-open",
            "issue 3: NodePort AND no isolation",
            [web_svc("NodePort")],
            True,
            {key: OPEN_8080},
        ),
        (
            "nodeport-isolated-without-external-allow",
            "issue 3 trap: NodePort whose pods are ingress-isolated with no external allow",
            [web_svc("NodePort"), deny_ingress("shop"), web_allows(ns_peer("other"))],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "ipblock-private-only-is-not-internet",
            "issue 3 trap: ipBlock 10.0.0.0/8 only (private, RFC 1918)",
            [web_svc("NodePort"), web_allows({"ipBlock": {"cidr": "10.0.0.0/8"}})],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "ipblock-public-except-private-is-internet",
            "issue 3: an ipBlock covering public addresses; §1.4 except",
            [web_svc("NodePort"), web_allows(public_only, port=8080)],
            True,
            {key: OPEN_8080},
        ),
        (
            "ipblock-public-on-other-port",
            "issue 3: only targeted ports count (the rule admits 9090, the Service targets 8080)",
            [web_svc("NodePort"), web_allows(public_only, port=9090)],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "loadbalancer-source-ranges-private",
            "issue 3 trap: narrowed by loadBalancerSourceRanges ([10.0.0.0/8]: no public source)",
            [web_svc("LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/8"])],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "loadbalancer-source-ranges-public",
            "issue 3: loadBalancerSourceRanges [203.0.113.0/24] is public",
            [web_svc("LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"])],
            True,
            {key: OPEN_8080},
        ),
        (
            "loadbalancer-source-ranges-disjoint-from-policy",
            "issue 3: permitted only for those ranges -- policy admits 198.51.100.0/24 only",
            [
                web_svc("LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"]),
                web_allows({"ipBlock": {"cidr": "198.51.100.0/24"}}),
            ],
            True,
            {key: NOT_PERMITTED},
        ),
        (
            "loadbalancer-source-ranges-inside-policy",
            "issue 3: policy admits 203.0.113.0/25, within the source range",
            [
                web_svc("LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"]),
                web_allows({"ipBlock": {"cidr": "203.0.113.0/25"}}),
            ],
            True,
            {key: OPEN_8080},
        ),
        (
            "loadbalancer-without-ranges-policy-public-block",
            "issue 3: LoadBalancer + ipBlock covering public addresses",
            [web_svc("LoadBalancer"), web_allows({"ipBlock": {"cidr": "198.51.100.0/24"}})],
            True,
            {key: OPEN_8080},
        ),
        (
            "external-ips",
            "issue 3: externalIPs",
            [web_svc(None, externalIPs=["198.51.100.7"])],
            True,
            {key: OPEN_8080},
        ),
    ]


ROWS: list[Row] = rows_namespaces() + rows_ingress() + rows_internet()


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_category_rows(row: Row, k8s: Any, probe: Any) -> None:
    rid, rule, extra, controller, expected = row
    got = table(analyse(probe, base(k8s, controller=controller) + extra))
    for key, want in expected.items():
        assert got.get(key) == want, f"{rid} ({rule}): {key}"
    # The row's namespaces hold nothing else in the row's categories (other namespaces'
    # workloads, e.g. the unisolated client, are not what the row is about).
    about = {(key[0], key[2]) for key in expected}
    extra_rows = {k: v for k, v in got.items() if (k[0], k[2]) in about and k not in expected}
    assert extra_rows == {}, f"{rid} ({rule}): unexpected {extra_rows}"


# -- how a Service finds its pods and ports ----------------------------------------------


def test_target_port_by_number_and_by_name(k8s: Any, probe: Any) -> None:
    """issue 3: 'on a port the Service targets' -- targetPort 8080 (number) and `metrics`
    (name, resolved on the pod to 9090) on two Services over the same open pods."""
    docs = [
        *base(k8s),
        service("by-number", "shop", {"app": "web"}, [(80, 8080)]),
        service("by-name", "shop", {"app": "web"}, [(9000, "metrics")]),
    ]
    got = table(analyse(probe, docs))
    assert got[("shop", "by-number", "all_namespaces")] == OPEN_8080
    assert got[("shop", "by-name", "all_namespaces")] == (True, True, ["TCP/9090"])


def test_workload_without_service_is_reported_by_kind(k8s: Any, probe: Any) -> None:
    """issue 3: 'per workload for pods without a Service'; unisolated -> every port."""
    got = table(analyse(probe, base(k8s)))
    assert got[("other", "client", "all_namespaces")] == (True, True, "all")
    report = analyse(probe, base(k8s))
    (e,) = [x for x in report.exposures if x.name == "client" and x.category == "all_namespaces"]
    assert e.kind == "Deployment"
    # web has a Service: it is reported through it, not again as a workload.
    assert not [x for x in report.exposures if x.name == "web" and x.kind != "Service"]


def test_selectorless_service_uses_endpoint_slice_pods(k8s: Any, probe: Any) -> None:
    """services.py: a selector-less Service's pods are those its EndpointSlices name."""
    docs = [
        ns("legacy"),
        k8s.pod("legacy-0", "legacy", {"app": "legacy"}, ["7000/TCP"]),
        k8s.pod("other-0", "legacy", {"app": "other"}, ["7001/TCP"]),
        service("legacy", "legacy", None, [(70, 7000)]),
        endpoint_slice("legacy-abc", "legacy", "legacy", ["legacy-0"]),
    ]
    report = analyse(probe, docs)
    got = table(report)
    assert got[("legacy", "legacy", "all_namespaces")] == (True, True, ["TCP/7000"])
    (e,) = [x for x in report.exposures if x.name == "legacy" and x.category == "all_namespaces"]
    assert e.workloads == ("legacy/legacy-0[Pod]",)


def test_headless_and_external_name_services(k8s: Any, probe: Any) -> None:
    """A headless Service still selects pods (pod IPs are reachable); an ExternalName
    Service has no pods, so it exposes nothing in any category."""
    docs = [
        *base(k8s),
        service("web-headless", "shop", {"app": "web"}, [(8080, 8080)], clusterIP="None"),
        service("ext", "shop", None, [(443, 443)], "ExternalName", externalName="example.com"),
    ]
    report = analyse(probe, docs)
    got = table(report)
    assert got[("shop", "web-headless", "other_namespaces")] == OPEN_8080
    assert ("shop", "web-headless", "internet") not in got
    assert not [e for e in report.exposures if e.name == "ext"]


# -- which pods are the controllers ------------------------------------------------------


def _edge_cluster(k8s: Any) -> list[Doc]:
    """A custom proxy (app=edge-proxy in ns edge) that no default selector matches; web
    admits only namespace edge."""
    docs = [
        *base(k8s, controller=False),
        ns("edge"),
        k8s.deployment("edge-proxy", "edge", {"app": "edge-proxy"}, ["8443/TCP"]),
        ingress("web", "shop", "web"),
        web_allows(ns_peer("edge")),
    ]
    return docs


def test_controllers_from_config(k8s: Any, probe: Any) -> None:
    """issue 3: 'Which pods are the ingress controllers ... comes from config
    (namespace + label selector), with defaults for common controllers'."""
    key = ("shop", "web", "ingress")
    docs = _edge_cluster(k8s)
    # defaults: no controller pod in the input -> unknown controller, not admitted by
    # a rule for namespace edge
    assert table(analyse(probe, docs))[key] == NOT_PERMITTED
    spec = ControllerSpec(
        "edge proxy",
        LabelSelector((Requirement("app", Operator.IN, frozenset({"edge-proxy"})),)),
        namespace="edge",
    )
    assert table(analyse(probe, docs, ExposureConfig(controllers=(spec,))))[key] == OPEN_8080
    # the same selector in the wrong namespace matches no pod -> unknown controller
    wrong = ControllerSpec("elsewhere", spec.selector, namespace="shop")
    assert table(analyse(probe, docs, ExposureConfig(controllers=(wrong,))))[key] == NOT_PERMITTED


def test_default_controller_in_other_namespace_than_admitted(k8s: Any, probe: Any) -> None:
    """declared true, permitted false: the default controller (ingress-nginx) exists but
    web admits only namespace `edge`."""
    docs = [*base(k8s), ns("edge"), ingress("web", "shop", "web"), web_allows(ns_peer("edge"))]
    assert table(analyse(probe, docs))[("shop", "web", "ingress")] == NOT_PERMITTED


# -- Gateway API --------------------------------------------------------------------------


def _gw_cluster(k8s: Any, *listeners: Doc, route_ns: str = "shop") -> list[Doc]:
    """Gateway `gw` in ns gateways (its pods carry the gateway-name label); web admits
    only namespace gateways; an HTTPRoute in `route_ns` sends to shop/web."""
    docs = [
        *base(k8s, controller=False),
        ns("gateways"),
        ns("apps", **{"gateway-access": "true"}),
        k8s.deployment("gw", "gateways", {GW_LABEL: "gw"}, ["8080/TCP"]),
        gateway("gw", "gateways", *listeners),
        web_allows(ns_peer("gateways")),
    ]
    backend_ns = None if route_ns == "shop" else "shop"
    docs.append(httproute("web", route_ns, ("gateways", "gw"), "web", backend_ns))
    return docs


GW_KEY = ("shop", "web", "gateway")


@pytest.mark.parametrize(
    ("listeners", "route_ns", "expected", "rule"),
    [
        ([listener("l", "All")], "shop", OPEN_8080, "allowedRoutes.from All"),
        ([listener("l", "Same")], "shop", ABSENT, "from Same: route in shop, gateway in gateways"),
        (
            [listener("l", "Selector", {"matchLabels": {"gateway-access": "true"}})],
            "shop",
            ABSENT,
            "from Selector: shop lacks gateway-access=true",
        ),
    ],
    ids=["from-all", "from-same", "from-selector-miss"],
)
def test_gateway_listener_namespaces(
    k8s: Any, probe: Any, listeners: list[Doc], route_ns: str, expected: Any, rule: str
) -> None:
    """issue 3 gateway: backend of a Gateway API route *attached* to a Gateway
    (gateway-api allowedRoutes.namespaces.from: Same by default, All, Selector)."""
    got = table(analyse(probe, _gw_cluster(k8s, *listeners, route_ns=route_ns)))
    assert got.get(GW_KEY) == expected, rule


def test_gateway_selector_match_and_same_namespace(k8s: Any, probe: Any) -> None:
    """from: Selector matching the route's namespace attaches; from: Same attaches a
    route in the Gateway's own namespace."""
    sel = listener("l", "Selector", {"matchLabels": {"gateway-access": "true"}})
    docs = [*_gw_cluster(k8s, sel, route_ns="apps"), reference_grant("shop", "apps")]
    assert table(analyse(probe, docs)).get(GW_KEY) == OPEN_8080
    docs = [
        *_gw_cluster(k8s, listener("l", "Same"), route_ns="gateways"),
        reference_grant("shop", "gateways", "web"),
    ]
    assert table(analyse(probe, docs)).get(GW_KEY) == OPEN_8080


def test_gateway_section_name(k8s: Any, probe: Any) -> None:
    """parentRef.sectionName attaches to that listener only."""
    listeners = (listener("internal", "Same"), listener("public", "All"))
    for section, want in (("internal", ABSENT), ("public", OPEN_8080)):
        docs = _gw_cluster(k8s, *listeners)
        docs[-1] = httproute("web", "shop", ("gateways", "gw", section), "web")
        assert table(analyse(probe, docs)).get(GW_KEY) == want, section


def test_gateway_backend_isolated_declared_not_permitted(k8s: Any, probe: Any) -> None:
    """issue 3: declared (attached route) but web admits only namespace `other`."""
    docs = _gw_cluster(k8s, listener("l", "All"))
    docs = [d for d in docs if d["metadata"]["name"] != "web-ingress"]
    docs.append(web_allows(ns_peer("other")))
    assert table(analyse(probe, docs)).get(GW_KEY) == NOT_PERMITTED


def test_cross_namespace_backend_needs_reference_grant(k8s: Any, probe: Any) -> None:
    """gateway-api ReferenceGrant: a backendRef into another namespace is valid only
    with a grant there; issue 3 trap 'a route in another namespace without a
    ReferenceGrant (not exposed)' + finding route-backend-not-granted."""
    docs = _gw_cluster(k8s, listener("l", "All"), route_ns="apps")
    report = analyse(probe, docs)
    assert table(report).get(GW_KEY) is ABSENT
    assert [f.check for f in report.findings].count("route-backend-not-granted") == 1
    # a grant for another Service, or from another namespace, does not count
    for grant in (reference_grant("shop", "apps", "db"), reference_grant("shop", "other")):
        report = analyse(probe, [*docs, grant])
        assert table(report).get(GW_KEY) is ABSENT
    report = analyse(probe, [*docs, reference_grant("shop", "apps", "web")])
    assert table(report).get(GW_KEY) == OPEN_8080
    assert "route-backend-not-granted" not in [f.check for f in report.findings]


# -- hostNetwork and hostPort --------------------------------------------------------------


def test_host_network_pods_are_internet_exposed(k8s: Any, probe: Any) -> None:
    """§1.6: hostNetwork pods are not isolated by NetworkPolicy; issue 3 lists hostNetwork
    as an internet exposure, even beside a deny-all."""
    docs = [
        ns("monitoring"),
        k8s.workload(
            "node-exporter",
            "monitoring",
            {"app": "node-exporter"},
            ["metrics=9100/TCP"],
            kind="DaemonSet",
            host_network=True,
        ),
        deny_ingress("monitoring"),
    ]
    report = analyse(probe, docs)
    got = table(report)
    assert got[("monitoring", "node-exporter", "internet")] == (True, True, ["TCP/9100"])
    (e,) = [x for x in report.exposures if x.category == "internet"]
    assert e.kind == "DaemonSet"


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ([], (True, True, ["TCP/8443"])),
        ([deny_ingress("edge")], NOT_PERMITTED),
        (
            [
                netpol(
                    "public-metrics",
                    "edge",
                    {
                        "podSelector": {},
                        "ingress": [
                            {
                                "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                "ports": [{"port": 9090}],
                            }
                        ],
                    },
                )
            ],
            NOT_PERMITTED,
        ),
    ],
    ids=["open", "deny-all", "public-only-on-non-host-port"],
)
def test_host_port(k8s: Any, probe: Any, policies: list[Doc], expected: Any) -> None:
    """issue 3: hostPort exposure AND an ingress policy admitting external sources; only
    the container ports that carry a hostPort (8443, not 9090) count."""
    docs = [ns("edge"), host_port_pod("proxy", "edge", 8443, 443), *policies]
    assert table(analyse(probe, docs))[("edge", "proxy", "internet")] == expected


# -- internet egress ----------------------------------------------------------------------


def _egress(k8s: Any, spec: Doc | None) -> dict[str, Any]:
    docs = [ns("app"), k8s.deployment("job", "app", {"app": "job"}, ["8080/TCP"])]
    if spec is not None:
        docs.append(netpol("egress", "app", {"podSelector": {}, "policyTypes": ["Egress"], **spec}))
    return docs


@pytest.mark.parametrize(
    ("spec", "expected", "rule"),
    [
        (None, "all", "egress not isolated"),
        ({}, None, "egress deny-all"),
        (
            {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
            None,
            "private range only is not the internet",
        ),
        (
            {
                "egress": [
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": "0.0.0.0/0",
                                    "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
                                }
                            }
                        ],
                        "ports": [{"port": 443}],
                    }
                ]
            },
            ["TCP/443"],
            "public ranges on 443: say which ports",
        ),
        (
            {"egress": [{"to": [{"namespaceSelector": {}}]}]},
            None,
            "§1.3 namespaceSelector {} is pods only, not external IPs",
        ),
    ],
    ids=["not-isolated", "deny-all", "private-only", "public-443", "all-pods-only"],
)
def test_internet_egress(k8s: Any, probe: Any, spec: Doc | None, expected: Any, rule: str) -> None:
    """issue 3: 'Internet egress per workload: egress not isolated, or allowed to public
    address ranges (say which ports)'."""
    report = analyse(probe, _egress(k8s, spec))
    got = {e.workload: e.ports.to_json() for e in report.internet_egress}
    assert got.get("app/job[Deployment]") == expected, rule


# -- findings -----------------------------------------------------------------------------


def _checks(cluster: Any, docs: list[Doc]) -> list[str]:
    return [str(f.check) for f in cluster.scan(docs).findings]


def _db(k8s: Any, peer: Doc, port: int = 5432) -> list[Doc]:
    return [
        ns("data"),
        k8s.workload("postgres", "data", {"app": "pg"}, ["pg=5432/TCP"], kind="StatefulSet"),
        netpol(
            "pg",
            "data",
            {
                "podSelector": {"matchLabels": {"app": "pg"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [peer], "ports": [{"port": port}]}],
            },
        ),
    ]


FINDING_ROWS = [
    (
        "egress-any-port-to-everywhere",
        "issue 3: egress to 0.0.0.0/0 on any port",
        "egress-internet-any-port",
        True,
        lambda k8s: _egress(k8s, {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
    ),
    (
        "egress-443-to-everywhere",
        "issue 3: 'on any port' -- a rule naming 443 is not it",
        "egress-internet-any-port",
        False,
        lambda k8s: _egress(
            k8s,
            {"egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}]},
        ),
    ),
    (
        "database-port-all-namespaces",
        "issue 3: a database port admitted from all namespaces",
        "database-port-all-namespaces",
        True,
        lambda k8s: _db(k8s, ALL_NS),
    ),
    (
        "database-port-one-namespace",
        "issue 3: one namespace is not all namespaces",
        "database-port-all-namespaces",
        False,
        lambda k8s: _db(k8s, ns_peer("app")),
    ),
    (
        "database-port-all-namespaces-named-port",
        "issue 3 + §1.5 named port `pg` resolves to 5432 on the selected pod",
        "database-port-all-namespaces",
        True,
        lambda k8s: _db(k8s, ALL_NS, port="pg"),
    ),
    (
        "sensitive-namespace-open",
        "issue 3: ingress from all namespaces to a namespace labelled netfence.io/sensitive",
        "sensitive-namespace-open",
        True,
        lambda k8s: [ns("data", **{"netfence.io/sensitive": "true"}), *_db(k8s, ALL_NS)[1:]],
    ),
    (
        "sensitive-namespace-unlabelled",
        "issue 3: only namespaces labelled sensitive",
        "sensitive-namespace-open",
        False,
        lambda k8s: _db(k8s, ALL_NS),
    ),
    (
        "sensitive-namespace-one-namespace",
        "issue 3: 'from all namespaces' -- one other namespace is not",
        "sensitive-namespace-open",
        False,
        lambda k8s: [
            ns("data", **{"netfence.io/sensitive": "true"}),
            *_db(k8s, ns_peer("app"))[1:],
        ],
    ),
    (
        "allow-all-beside-default-deny",
        "issue 3: allow-all rules beside a default-deny (§1.3 ingress: [{}] is allow-all)",
        "allow-all-beside-default-deny",
        True,
        lambda k8s: [
            ns("team"),
            k8s.deployment("api", "team", {"app": "api"}, ["8080/TCP"]),
            deny_ingress("team"),
            netpol("allow-everything", "team", {"podSelector": {}, "ingress": [{}]}),
        ],
    ),
    (
        "default-deny-alone",
        "issue 3: a default-deny alone is not flagged",
        "allow-all-beside-default-deny",
        False,
        lambda k8s: [
            ns("team"),
            k8s.deployment("api", "team", {"app": "api"}, ["8080/TCP"]),
            deny_ingress("team"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("check", "fires", "make", "rule"),
    [(r[2], r[3], r[4], r[1]) for r in FINDING_ROWS],
    ids=[r[0] for r in FINDING_ROWS],
)
def test_findings(cluster: Any, k8s: Any, check: str, fires: bool, make: Any, rule: str) -> None:
    assert (check in _checks(cluster, make(k8s))) is fires, rule


def test_sensitive_namespace_fixture_fires_for_the_right_namespace(cluster: Any, k8s: Any) -> None:
    """The sensitive-namespace row above relabels `data`; the finding names that namespace."""
    docs = [ns("data", **{"netfence.io/sensitive": "true"}), *_db(k8s, ALL_NS)[1:]]
    found = [f for f in cluster.scan(docs).findings if f.check == "sensitive-namespace-open"]
    assert [f.namespace for f in found] == ["data"]


# -- connectivity, explain, JSON ------------------------------------------------------------


def test_connectivity_lists_ingress_controller(cluster: Any, k8s: Any) -> None:
    """docs/json-output.md: `{ingress-controller}` as src for permitted ingress/gateway
    backends, on the permitted ports; none for declared-but-not-permitted ones."""
    docs = [
        *base(k8s, controller=False),
        ns("api"),
        k8s.deployment("api", "api", {"app": "api"}, ["9000/TCP"]),
        service("api", "api", {"app": "api"}, [(80, 9000)]),
        ingress("api", "api", "api"),
        deny_ingress("api"),
        ingress("web", "shop", "web"),
        web_allows(EVERY_POD, port=8080),
    ]
    conns, errors = cluster.connections(docs)
    assert errors == []
    lines = {(c.dst, str(c.conns)) for c in conns if c.src == "{ingress-controller}"}
    assert lines == {("shop/web[Deployment]", "TCP/8080")}


def test_explain_internet_exposure(cluster: Any, k8s: Any) -> None:
    """`explain --service ns/name --exposure internet` names the Service and the policy."""
    public = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}
    docs = [
        *base(k8s),
        service("web-public", "shop", {"app": "web"}, [(80, 8080)], "NodePort"),
        web_allows(public, port=8080),
    ]
    path = cluster.write(docs)
    out = io.StringIO()
    argv = ["explain", "--manifests", str(path), "--service", "shop/web-public"]
    code = main([*argv, "--exposure", "internet"], out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "shop/web-public" in text
    assert "NetworkPolicy shop/web-ingress" in text
    out = io.StringIO()
    assert main([*argv, "--exposure", "internet", "-o", "json"], out=out) == 0
    (entry,) = json.loads(out.getvalue())
    assert entry["permitted"] is True and entry["ports"] == T8080
    assert entry["reasons"]


def test_explain_unknown_category_is_usage_error(cluster: Any, k8s: Any) -> None:
    path = cluster.write(base(k8s))
    argv = ["explain", "--manifests", str(path), "--service", "shop/web", "--exposure", "moon"]
    assert main(argv, out=io.StringIO()) == 2


def test_scan_json_exposure_fields(cluster: Any, k8s: Any) -> None:
    """docs/json-output.md "Exposure": namespaces[].exposure (permitted counts per
    category), internet_egress_workloads, summary totals, top-level exposures and
    internet_egress with the documented keys."""
    docs = [
        *base(k8s),
        service("web-public", "shop", {"app": "web"}, [(80, 8080)], "NodePort"),
        ingress("web", "shop", "web"),
        deny_ingress("shop"),
        web_allows(ns_peer("ingress-nginx"), port=8080),
    ]
    data = cluster.scan(docs).to_json()
    categories = {"other_namespaces", "all_namespaces", "ingress", "gateway", "internet"}
    shop = next(n for n in data["namespaces"] if n["name"] == "shop")
    assert set(shop["exposure"]) == categories
    # web: ingress permitted; other_namespaces permitted (ns ingress-nginx); internet declared
    # only (NodePort, no external allow) -> not counted
    assert shop["exposure"] == {
        "other_namespaces": 2,  # Services web and web-public
        "all_namespaces": 0,
        "ingress": 1,
        "gateway": 0,
        "internet": 0,
    }
    assert shop["internet_egress_workloads"] == 1
    assert set(data["summary"]["exposure"]) == categories
    assert isinstance(data["summary"]["internet_egress_workloads"], int)
    keys = {"namespace", "name", "kind", "category", "declared", "permitted", "ports"}
    for e in data["exposures"]:
        assert keys | {"objects", "workloads"} == set(e)
    internet = [e for e in data["exposures"] if e["category"] == "internet"]
    assert internet and internet[0]["declared"] and not internet[0]["permitted"]
    for e in data["internet_egress"]:
        assert set(e) == {"namespace", "workload", "ports", "objects"}


# -- more traps ---------------------------------------------------------------------------

MORE_ROWS: list[Row] = [
    (
        "from-empty-list-is-every-source",
        "§1.3 rule with `from: []` matches all sources",
        [
            netpol(
                "web-ingress",
                "shop",
                {
                    "podSelector": {"matchLabels": {"app": "web"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [], "ports": [{"port": 8080}]}],
                },
            )
        ],
        True,
        {
            ("shop", "web", "other_namespaces"): OPEN_8080,
            ("shop", "web", "all_namespaces"): OPEN_8080,
        },
    ),
    (
        "unknown-controller-admitted-by-namespace-selector-alone",
        "§1.3 namespaceSelector: {} alone = all pods in all namespaces (so the unknown one)",
        [ingress("web", "shop", "web"), web_allows(ALL_NS)],
        False,
        {("shop", "web", "ingress"): OPEN_8080},
    ),
    (
        "unknown-controller-not-admitted-by-pod-selector-alone",
        "§1.8.5 podSelector alone is namespace-local",
        [ingress("web", "shop", "web"), web_allows({"podSelector": {}})],
        False,
        {("shop", "web", "ingress"): NOT_PERMITTED},
    ),
    (
        "unknown-controller-not-admitted-by-ipblock",
        "docs: the unknown controller is a pod; ipBlock never matches pods",
        [ingress("web", "shop", "web"), web_allows({"ipBlock": {"cidr": "0.0.0.0/0"}})],
        False,
        {("shop", "web", "ingress"): NOT_PERMITTED},
    ),
    (
        "nodeport-all-namespaces-is-not-internet",
        "§1.3 namespaceSelector {} covers pods only, not external IPs",
        [
            service("web-public", "shop", {"app": "web"}, [(80, 8080)], "NodePort"),
            web_allows(ALL_NS),
        ],
        True,
        {("shop", "web-public", "internet"): NOT_PERMITTED},
    ),
    (
        "ipblock-cgnat-is-not-internet",
        "exposure.py/docs: internet = outside RFC 1918, CGNAT (100.64.0.0/10), ...",
        [
            service("web-public", "shop", {"app": "web"}, [(80, 8080)], "NodePort"),
            web_allows({"ipBlock": {"cidr": "100.64.0.0/10"}}),
        ],
        True,
        {("shop", "web-public", "internet"): NOT_PERMITTED},
    ),
    (
        "loadbalancer-source-ranges-mixed",
        "issue 3: narrowed by loadBalancerSourceRanges -- a public range among them keeps it",
        [
            service(
                "web-public",
                "shop",
                {"app": "web"},
                [(80, 8080)],
                "LoadBalancer",
                loadBalancerSourceRanges=["10.0.0.0/8", "203.0.113.0/24"],
            )
        ],
        True,
        {("shop", "web-public", "internet"): OPEN_8080},
    ),
    (
        "ingress-backend-port-not-in-service",
        "the Ingress names Service port 81, which web does not have: declared, nothing reaches",
        [ingress("web", "shop", "web", 81)],
        True,
        {("shop", "web", "ingress"): NOT_PERMITTED},
    ),
]


@pytest.mark.parametrize("row", MORE_ROWS, ids=[r[0] for r in MORE_ROWS])
def test_more_rows(row: Row, k8s: Any, probe: Any) -> None:
    rid, rule, extra, controller, expected = row
    got = table(analyse(probe, base(k8s, controller=controller) + extra))
    for key, want in expected.items():
        assert got.get(key) == want, f"{rid} ({rule}): {key}"
    # The row's namespaces hold nothing else in the row's categories (other namespaces'
    # workloads, e.g. the unisolated client, are not what the row is about).
    about = {(key[0], key[2]) for key in expected}
    extra_rows = {k: v for k, v in got.items() if (k[0], k[2]) in about and k not in expected}
    assert extra_rows == {}, f"{rid} ({rule}): unexpected {extra_rows}"


def test_host_network_controller_is_not_a_namespace_peer(k8s: Any, probe: Any) -> None:
    """§1.6: hostNetwork pods are ignored in podSelector/namespaceSelector matching (their
    traffic is node traffic). A hostNetwork ingress-nginx is therefore not admitted by a
    rule for namespace ingress-nginx: declared, not permitted."""
    docs = [
        *base(k8s, controller=False),
        k8s.workload(
            "ingress-nginx-controller",
            "ingress-nginx",
            {"app.kubernetes.io/name": "ingress-nginx"},
            ["http=80/TCP"],
            kind="DaemonSet",
            host_network=True,
        ),
        ingress("web", "shop", "web"),
        web_allows(ns_peer("ingress-nginx")),
    ]
    assert table(analyse(probe, docs))[("shop", "web", "ingress")] == NOT_PERMITTED


def test_one_exposure_per_service_and_category(cluster: Any, k8s: Any) -> None:
    """issue 3: 'Categories, per Service': two Ingresses (and a defaultBackend plus a rule)
    sending to the same Service are one `ingress` exposure of that Service, and the
    namespace counts one permitted ingress exposure."""
    second = ingress("web-admin", "shop", "web")
    second["spec"]["defaultBackend"] = {"service": {"name": "web", "port": {"number": 80}}}
    docs = [*base(k8s), ingress("web", "shop", "web"), second]
    data = cluster.scan(docs).to_json()
    entries = [
        e
        for e in data["exposures"]
        if (e["namespace"], e["name"], e["category"]) == ("shop", "web", "ingress")
    ]
    shop = next(n for n in data["namespaces"] if n["name"] == "shop")
    assert len(entries) == 1, entries
    assert shop["exposure"]["ingress"] == 1


def test_database_port_not_declared_by_the_pod(cluster: Any, k8s: Any) -> None:
    """issue 3: 'a database port admitted from all namespaces'. The policy admits TCP/5432
    from every namespace; containerPort declarations are informational (traffic to an
    undeclared port still arrives), so the rule is as broad with or without them."""
    docs = [
        ns("data"),
        k8s.workload("postgres", "data", {"app": "pg"}, [], kind="StatefulSet"),
        netpol(
            "pg",
            "data",
            {
                "podSelector": {"matchLabels": {"app": "pg"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [ALL_NS], "ports": [{"port": 5432}]}],
            },
        ),
    ]
    assert "database-port-all-namespaces" in _checks(cluster, docs)


def test_one_exposure_per_workload_when_pods_differ_in_labels(k8s: Any, probe: Any) -> None:
    """issue 3 'per workload for pods without a Service' + docs/json-output.md ('When a
    workload's pods differ in labels, its entry is the union over its pods'): two pods of
    one Deployment with different `version` labels are one entry per category."""
    docs = [
        ns("shop"),
        k8s.deployment("web", "shop", {"app": "web"}, ["8080/TCP"]),
        k8s.pod(
            "web-a", "shop", {"app": "web", "v": "1"}, ["8080/TCP"], owner=("Deployment", "web")
        ),
        k8s.pod(
            "web-b", "shop", {"app": "web", "v": "2"}, ["8080/TCP"], owner=("Deployment", "web")
        ),
    ]
    got = table(analyse(probe, docs))  # `table` fails on a duplicate key
    assert got[("shop", "web", "all_namespaces")] == (True, True, "all")


def test_one_gateway_exposure_for_two_parent_refs(k8s: Any, probe: Any) -> None:
    """issue 3 'Categories, per Service': a route attached to two Gateways (or twice to
    one through two listeners) still makes one `gateway` exposure of its backend."""
    docs = _gw_cluster(k8s, listener("a", "All"), listener("b", "All"))
    route = docs[-1]
    route["spec"]["parentRefs"] = [
        {"name": "gw", "namespace": "gateways", "sectionName": "a"},
        {"name": "gw", "namespace": "gateways", "sectionName": "b"},
    ]
    assert table(analyse(probe, docs)).get(GW_KEY) == OPEN_8080
