"""A small world for the per-API rule tables: three namespaces, a few workloads.

Namespaces `a` (team=a), `b` (team=b) and `kube-system`; workloads `a/web`
(app=web, TCP 80 named http, TCP 443), `a/client` (app=client), `b/client`
(app=client, service account `robot`), `b/db` (app=db, TCP 5432), `kube-system/dns`
(k8s-app=kube-dns, UDP/TCP 53) and `kube-system/agent` (hostNetwork). Each table row
adds policies and asks for verdicts through the real layers (`build_snapshot` ->
`Engine` -> coverage / explain); nothing here knows the expected answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from exporter.core.addresses import parse_address
from exporter.core.coverage import NamespaceCoverage, coverage, coverage_findings
from exporter.core.engine import Endpoint, Engine, PodClass, find_workloads
from exporter.core.explain import Explanation, PortQuery, explain
from exporter.core.findings import Finding
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.model import Direction, Protocol

Doc = dict[str, Any]


def _deployment(
    name: str,
    ns: str,
    labels: dict[str, str],
    ports: Sequence[tuple[int, str, str | None]] = (),
    *,
    host_network: bool = False,
    service_account: str | None = None,
) -> Doc:
    container: Doc = {"name": "main", "image": "example/app:1"}
    if ports:
        container["ports"] = [
            {"containerPort": p, "protocol": proto, **({"name": n} if n else {})}
            for p, proto, n in ports
        ]
    spec: Doc = {"containers": [container]}
    if host_network:
        spec["hostNetwork"] = True
    if service_account:
        spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def base_cluster() -> list[Doc]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
        for n, labels in (("a", {"team": "a"}), ("b", {"team": "b"}), ("kube-system", {}))
    ] + [
        _deployment("web", "a", {"app": "web"}, [(80, "TCP", "http"), (443, "TCP", None)]),
        _deployment("client", "a", {"app": "client"}),
        _deployment("client", "b", {"app": "client"}, service_account="robot"),
        _deployment("db", "b", {"app": "db"}, [(5432, "TCP", None)]),
        _deployment(
            "dns", "kube-system", {"k8s-app": "kube-dns"}, [(53, "UDP", None), (53, "TCP", None)]
        ),
        _deployment("agent", "kube-system", {"app": "agent"}, host_network=True),
    ]


class World:
    def __init__(self, docs: Iterable[Doc], plugin: str | None = None) -> None:
        snapshot, errors = build_snapshot(RawObject(d, "test.yaml") for d in docs)
        assert [str(e) for e in errors] == []
        self.engine = Engine(snapshot, network_plugin=plugin)

    def endpoint(self, text: str) -> Endpoint:
        try:
            wanted = parse_address(text)
        except ValueError:
            found = find_workloads(self.engine, text)
            assert len(found) == 1, text
            return found[0]
        return next(a for a in self.engine.atoms if a.contains(wanted) or wanted.contains(a))

    def cls(self, text: str) -> PodClass:
        found = self.endpoint(text)
        assert isinstance(found, PodClass)
        return found

    def allowed(self, src: str, dst: str, port: str) -> bool:
        proto, _, number = port.partition("/")
        conns = self.engine.connection(self.endpoint(src), self.endpoint(dst))[0]
        return conns.contains(Protocol(proto), int(number))

    def isolated(self, workload: str, direction: str) -> bool:
        return self.engine.is_isolated(self.cls(workload), Direction(direction))

    def coverage(self, namespace: str) -> NamespaceCoverage:
        return next(n for n in coverage(self.engine) if n.name == namespace)

    def findings(self) -> list[Finding]:
        return coverage_findings(self.engine, coverage(self.engine))

    def explain(self, src: str, dst: str, port: str | None = None) -> Explanation:
        query = None
        if port:
            proto, _, number = port.partition("/")
            query = PortQuery(Protocol(proto), int(number))
        return explain(self.engine, self.endpoint(src), self.endpoint(dst), query)


def world_with(policies: Iterable[Doc], plugin: str | None = None) -> World:
    return World([*base_cluster(), *policies], plugin)


@pytest.fixture
def world() -> Any:
    return world_with


Check = tuple[str, str, str, bool]
"""(source, destination, `PROTO/port`, allowed?)"""


def run_checks(w: World, checks: Sequence[Check], rule: str) -> None:
    wrong = [
        f"{src} -> {dst} {port}: expected {'allowed' if want else 'denied'}"
        for src, dst, port, want in checks
        if w.allowed(src, dst, port) != want
    ]
    assert not wrong, f"{rule}: " + "; ".join(wrong)


@pytest.fixture
def check() -> Any:
    return run_checks
