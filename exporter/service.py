"""Use-cases: what the CLI (and later the scheduler) asks for, wired from the layers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exporter.core.addresses import AddressRange, parse_address
from exporter.core.connectivity import Connection, connectivity
from exporter.core.coverage import NamespaceCoverage, coverage, findings
from exporter.core.engine import Endpoint, Engine, find_workloads
from exporter.core.explain import Explanation, PortQuery, explain
from exporter.core.findings import Finding, InputError
from exporter.core.model import Direction, Protocol
from exporter.sources.manifests import LoadResult, Progress, load_manifests

__all__ = ["Progress", "ScanReport", "UsageError", "connections", "explain_connection", "scan"]


class UsageError(ValueError):
    """The user asked for something that does not exist; exit code 2."""


@dataclass(frozen=True, slots=True)
class ScanReport:
    namespaces: list[NamespaceCoverage]
    findings: list[Finding]
    errors: list[InputError]
    policies: int
    workloads: int
    ignored_kinds: dict[str, int]
    exposure: dict[str, dict[str, int]] = field(default_factory=dict)
    """namespace -> exposure category -> permitted exposures (filled by the exposure analysis)."""
    internet_egress_workloads: dict[str, int] = field(default_factory=dict)
    """namespace -> workloads that can reach public addresses."""
    policies_by_kind: dict[tuple[str, str], int] = field(default_factory=dict)
    """(namespace or "" for cluster-scoped, kind) -> number of policies."""

    def to_json(self) -> dict[str, object]:
        pods = sum(n.pods for n in self.namespaces)
        by_severity = Counter(str(f.severity) for f in self.findings)
        summary: dict[str, object] = {
            "namespaces": len(self.namespaces),
            "pods": pods,
            "workloads": self.workloads,
            "policies": self.policies,
            "default_deny_namespaces": {
                str(d): sum(1 for n in self.namespaces if n.direction(d).default_deny)
                for d in Direction
            },
            "isolated_pods": {
                str(d): sum(n.direction(d).isolated_pods for n in self.namespaces)
                for d in Direction
            },
            "findings": dict(sorted(by_severity.items())),
            "errors": len(self.errors),
            "ignored_kinds": self.ignored_kinds,
        }
        return {
            "summary": summary,
            "namespaces": [n.to_json() for n in self.namespaces],
            "findings": [f.to_json() for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
        }


def load(paths: Sequence[Path], progress: Progress | None = None) -> tuple[LoadResult, Engine]:
    result = load_manifests(paths, progress=progress)
    return result, Engine(result.snapshot)


def scan(paths: Sequence[Path], progress: Progress | None = None) -> ScanReport:
    result, engine = load(paths, progress)
    namespaces = coverage(engine)
    return ScanReport(
        namespaces=namespaces,
        findings=findings(engine, namespaces),
        errors=result.errors,
        policies=len(result.snapshot.policies),
        workloads=len({g.workload for g in result.snapshot.pod_groups}),
        ignored_kinds=dict(result.snapshot.ignored_kinds),
        policies_by_kind=dict(
            Counter((p.namespace, p.ref.kind) for p in result.snapshot.policies)
        ),
    )


def connections(
    paths: Sequence[Path], progress: Progress | None = None
) -> tuple[list[Connection], list[InputError]]:
    result, engine = load(paths, progress)
    return connectivity(engine), result.errors


def parse_port(text: str) -> PortQuery:
    """`80`, `80/TCP`, `TCP/80`, `53/udp`."""
    parts = text.replace(":", "/").split("/")
    number = next((p for p in parts if p.isdigit()), None)
    proto = next((p for p in parts if not p.isdigit()), "TCP")
    if number is None or len(parts) > 2:
        raise UsageError(f"bad --port {text!r} (want e.g. 8080/TCP)")
    try:
        protocol = Protocol(proto.upper())
    except ValueError:
        raise UsageError(f"bad protocol in --port {text!r} (want TCP, UDP or SCTP)") from None
    if not 1 <= int(number) <= 65535:
        raise UsageError(f"port out of range in --port {text!r}")
    return PortQuery(protocol, int(number))


def resolve(engine: Engine, text: str) -> list[Endpoint]:
    """A workload (`ns/name`, `ns/name[Kind]`) or an address, CIDR or range."""
    try:
        wanted: AddressRange | None = parse_address(text)
    except ValueError:
        wanted = None
    if wanted is not None:
        hits = [
            a
            for a in engine.atoms
            if a.family == wanted.family and a.first <= wanted.last and wanted.first <= a.last
        ]
        if not hits:
            raise UsageError(f"{text}: IPv{wanted.family} is not analysed in this cluster")
        return list(hits)
    found: list[Endpoint] = list(find_workloads(engine, text))
    if not found:
        raise UsageError(f"{text}: no such workload (use ns/name or ns/name[Kind])")
    return found


def explain_connection(
    paths: Sequence[Path], src: str, dst: str, port: str | None
) -> tuple[list[Explanation], list[InputError]]:
    result, engine = load(paths)
    query = parse_port(port) if port else None
    out = [
        explain(engine, s, d, query)
        for s in resolve(engine, src)
        for d in resolve(engine, dst)
        if s is not d
    ]
    return out, result.errors
