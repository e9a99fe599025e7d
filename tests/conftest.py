"""Shared helpers: a tiny manifest builder and ways to run netfence on built objects.

Tests build plain Kubernetes dicts (as any source yields them) and evaluate them
through the real layers: `build_snapshot` -> `Engine` for the rule tables, or YAML
written to `tmp_path` -> `load_manifests` / `usecases.scan` / `usecases.connections`
for the loader, coverage and CLI tests. Nothing here knows the expected answers.

The helpers are handed out as fixtures (`k8s`, `probe`, `cluster`) so test modules
never import this file.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter import usecases
from exporter.core.addresses import parse_address
from exporter.core.connectivity import Connection, connectivity
from exporter.core.engine import Endpoint, Engine, PodClass, find_workloads
from exporter.core.explain import Explanation, PortQuery, explain
from exporter.core.findings import InputError
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.model import Direction, Protocol
from exporter.core.ports import PortSet
from exporter.sources.manifests import Limits, LoadResult, load_manifests

Doc = dict[str, Any]


# -- manifest builder ------------------------------------------------------------------


def _container_ports(ports: Iterable[str]) -> list[Doc]:
    """`"http=8080/TCP"`, `"53/UDP"` or `"8080"` -> containerPort dicts."""
    out: list[Doc] = []
    for text in ports:
        name, _, rest = text.rpartition("=")
        number, _, proto = rest.partition("/")
        port: Doc = {"containerPort": int(number)}
        if proto:
            port["protocol"] = proto
        if name:
            port["name"] = name
        out.append(port)
    return out


def _pod_spec(ports: Iterable[str], host_network: bool) -> Doc:
    spec: Doc = {"containers": [{"name": "main", "image": "example/app:1"}]}
    container_ports = _container_ports(ports)
    if container_ports:
        spec["containers"][0]["ports"] = container_ports
    if host_network:
        spec["hostNetwork"] = True
    return spec


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None) -> Doc:
    meta: Doc = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


class K8s:
    """Builders for the few kinds the tests need; every argument maps to one field."""

    @staticmethod
    def namespace(name: str, labels: Mapping[str, str] | None = None) -> Doc:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, None, labels)}

    @staticmethod
    def workload(
        name: str,
        namespace: str | None,
        labels: Mapping[str, str],
        ports: Sequence[str] = (),
        *,
        kind: str = "Deployment",
        replicas: int | None = None,
        host_network: bool = False,
        owner: tuple[str, str] | None = None,
    ) -> Doc:
        """A controller (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
        ReplicationController) whose pod template carries `labels` and `ports`."""
        template = {
            "metadata": {"labels": dict(labels)},
            "spec": _pod_spec(ports, host_network),
        }
        spec: Doc = {}
        if kind == "CronJob":
            spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
            if replicas is not None:
                spec["jobTemplate"]["spec"]["parallelism"] = replicas
        else:
            spec = {"template": template}
            if kind not in ("DaemonSet", "Job", "ReplicationController"):
                spec["selector"] = {"matchLabels": dict(labels)}
            if replicas is not None:
                spec["parallelism" if kind == "Job" else "replicas"] = replicas
        api = {
            "Job": "batch/v1",
            "CronJob": "batch/v1",
            "ReplicationController": "v1",
        }.get(kind, "apps/v1")
        meta = _meta(name, namespace)
        if owner is not None:
            meta["ownerReferences"] = [
                {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}
            ]
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}

    @staticmethod
    def deployment(
        name: str,
        namespace: str | None,
        labels: Mapping[str, str],
        ports: Sequence[str] = (),
        **kwargs: Any,
    ) -> Doc:
        return K8s.workload(name, namespace, labels, ports, kind="Deployment", **kwargs)

    @staticmethod
    def pod(
        name: str,
        namespace: str | None,
        labels: Mapping[str, str],
        ports: Sequence[str] = (),
        *,
        owner: tuple[str, str] | None = None,
        host_network: bool = False,
    ) -> Doc:
        meta = _meta(name, namespace, labels)
        if owner is not None:
            meta["ownerReferences"] = [
                {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}
            ]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": _pod_spec(ports, host_network),
        }

    @staticmethod
    def netpol(name: str, namespace: str | None, spec: Mapping[str, Any]) -> Doc:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(name, namespace),
            "spec": dict(spec),
        }


def dump_yaml(docs: Iterable[Doc]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def write_yaml(directory: Path, docs: Iterable[Doc], name: str = "cluster.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(docs))
    return path


# -- evaluating built objects ------------------------------------------------------------


class Probe:
    """Questions about one engine, by workload name (`ns/name`) or IP address."""

    def __init__(self, engine: Engine, errors: Sequence[InputError] = ()) -> None:
        self.engine = engine
        self.errors = list(errors)

    def endpoint(self, text: str) -> Endpoint:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            found = find_workloads(self.engine, text)
            assert len(found) == 1, f"{text}: expected one pod class, found {len(found)}"
            return found[0]
        wanted = parse_address(text)
        atoms = [a for a in self.engine.atoms if a.contains(wanted)]
        assert len(atoms) == 1, f"{text}: expected one address atom, found {atoms}"
        return atoms[0]

    def conn(self, src: str, dst: str) -> PortSet:
        allowed, _egress, _ingress = self.engine.connection(self.endpoint(src), self.endpoint(dst))
        return allowed

    def isolated(self, workload: str, direction: str) -> bool:
        cls = self.endpoint(workload)
        assert isinstance(cls, PodClass)
        return self.engine.is_isolated(cls, Direction(direction))

    def explain(self, src: str, dst: str, port: str | None = None) -> Explanation:
        query = None
        if port is not None:
            proto, _, number = port.partition("/")
            query = PortQuery(Protocol(proto), int(number))
        return explain(self.engine, self.endpoint(src), self.endpoint(dst), query)

    def connectivity(self) -> list[Connection]:
        return connectivity(self.engine)


def engine_of(docs: Iterable[Doc], *, allow_errors: bool = False) -> Probe:
    raws = [RawObject(doc, "test.yaml", i) for i, doc in enumerate(docs, 1)]
    snapshot, errors = build_snapshot(raws)
    if not allow_errors:
        assert errors == [], [str(e) for e in errors]
    return Probe(Engine(snapshot), errors)


class Cluster:
    """Write docs under a tmp directory and run the loader or a service use-case."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._n = 0

    def write(self, docs: Iterable[Doc], name: str | None = None) -> Path:
        self._n += 1
        return write_yaml(self.root, docs, name or f"manifests-{self._n}.yaml")

    def write_text(self, text: str | bytes, name: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def load(self, docs: Iterable[Doc] | None = None, limits: Limits | None = None) -> LoadResult:
        if docs is not None:
            self.write(docs)
        return load_manifests([self.root], limits)

    def scan(self, docs: Iterable[Doc] | None = None) -> usecases.ScanReport:
        if docs is not None:
            self.write(docs)
        return usecases.scan([self.root])

    def connections(
        self, docs: Iterable[Doc] | None = None
    ) -> tuple[list[Connection], list[InputError]]:
        if docs is not None:
            self.write(docs)
        return usecases.connections([self.root])


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def k8s() -> type[K8s]:
    return K8s


@pytest.fixture
def probe() -> Any:
    """`probe(docs)` -> a `Probe` over `build_snapshot(docs)` (fails on input errors)."""
    return engine_of


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path / "cluster")


@pytest.fixture(scope="session")
def openssl() -> str:
    """The openssl command, with which the TLS tests make their certificates. Missing, it
    FAILS the test in CI (CI=true: .ci/debian-packages installs it) and skips it with
    this reason elsewhere."""
    found = shutil.which("openssl")
    if found is None:
        message = "openssl is not installed (Debian package openssl, see .ci/debian-packages)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found
