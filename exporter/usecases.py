"""Use-cases: what the CLI (and later the scheduler) asks for, wired from the layers."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from exporter.core.addresses import AddressRange, parse_address
from exporter.core.connectivity import Connection, EndpointFilter, connectivity_blocks
from exporter.core.coverage import NamespaceCoverage, coverage, coverage_findings
from exporter.core.engine import Endpoint, Engine, find_workloads
from exporter.core.explain import Explanation, PortQuery, explain
from exporter.core.exposure import (
    INGRESS_CONTROLLER,
    Category,
    Exposure,
    ExposureAnalysis,
    ExposureConfig,
    ExposureReport,
    InternetEgress,
    parse_controller,
)
from exporter.core.findings import Finding, InputError
from exporter.core.gc_pause import paused_gc
from exporter.core.intent import IntentError, IntentReport, evaluate_intent
from exporter.core.model import Direction, Protocol
from exporter.core.policy_use import allowing_policies
from exporter.core.verification import (
    VERIFIED,
    Reason,
    ScanState,
    Unverified,
    Verification,
    gap_findings,
    verified_findings,
    verify,
)
from exporter.inputs import Loaded, from_manifests
from exporter.sources.intent import LoadedIntent, load_intent
from exporter.sources.manifests import LoadResult, Progress, input_problems

__all__ = [
    "Category",
    "ExposureConfig",
    "LoadedIntent",
    "Progress",
    "ScanReport",
    "UsageError",
    "analyse",
    "connections",
    "explain_connection",
    "explain_exposure",
    "parse_controller",
    "read_intent",
    "scan",
]


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
    exposures: list[Exposure] = field(default_factory=list)
    internet_egress: list[InternetEgress] = field(default_factory=list)
    exposure_analysed: bool = True
    """False with --no-exposure: the exposure keys are then left out of the JSON."""
    network_plugin: str = "generic"
    """Which policy APIs were evaluated (cilium, calico, generic)."""
    network_plugin_source: str = "detected"
    """`detected` from the policy kinds present, or `configured`."""
    controller_namespaces: frozenset[str] = frozenset()
    """Namespaces of the ingress controller and gateway pods (for the Hubble joins)."""
    intent: IntentReport | None = None
    """The distance to the intent file (`--intent`), when one was given."""
    allowing_policies: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, name) -> kind of the policies Hubble can name as allowing traffic
    (stale-policy candidates, exporter.core.policy_use)."""
    verification: Verification = VERIFIED
    """What could not be verified (unreadable or unparsable kinds) and which namespaces'
    answers are therefore unknown: never shown as 0 or 1 (docs/json-output.md)."""
    unreadable: tuple[str, ...] = ()
    """Kinds the API server refused to list (403) in a live scan."""

    @property
    def state(self) -> ScanState:
        return self.verification.state

    def to_json(self) -> dict[str, object]:
        out = self._json()
        if self.intent is not None:
            out["intent"] = self.intent.to_json()
        return out

    def _json(self) -> dict[str, object]:
        pods = sum(n.pods for n in self.namespaces)
        by_severity = Counter(str(f.severity) for f in self.findings)
        known = self.verification
        summary: dict[str, object] = {
            "state": str(self.state),
            "namespaces": len(self.namespaces),
            "pods": pods,
            "workloads": self.workloads,
            "policies": self.policies,
            "default_deny_namespaces": {
                str(d): sum(
                    1
                    for n in self.namespaces
                    if n.direction(d).default_deny and known.coverage_known(n.name)
                )
                for d in Direction
            },
            "isolated_pods": {
                str(d): sum(
                    n.direction(d).isolated_pods
                    for n in self.namespaces
                    if known.coverage_known(n.name)
                )
                for d in Direction
            },
            "unknown_namespaces": {
                "coverage": len(known.coverage),
                "exposure": len(known.exposure),
            },
            "unverified": [g.to_json() for g in known.unverified],
            "findings": dict(sorted(by_severity.items())),
            "errors": len(self.errors),
            "ignored_kinds": self.ignored_kinds,
            "network_plugin": self.network_plugin,
            "network_plugin_source": self.network_plugin_source,
        }
        if not self.exposure_analysed:
            return {
                "summary": summary,
                "namespaces": [unknown_coverage_json(n, known) for n in self.namespaces],
                "findings": [f.to_json() for f in self.findings],
                "errors": [e.to_json() for e in self.errors],
            }
        summary["exposure"] = {
            str(c): sum(
                counts.get(str(c), 0)
                for ns, counts in self.exposure.items()
                if known.exposure_known(ns)
            )
            for c in Category
        }
        summary["internet_egress_workloads"] = sum(
            n for ns, n in self.internet_egress_workloads.items() if known.exposure_known(ns)
        )
        namespaces = []
        for n in self.namespaces:
            entry = unknown_coverage_json(n, known)
            counts = self.exposure.get(n.name, {})
            if known.exposure_known(n.name):
                entry["exposure"] = {str(c): counts.get(str(c), 0) for c in Category}
                entry["internet_egress_workloads"] = self.internet_egress_workloads.get(n.name, 0)
            else:
                entry["exposure"] = None
                entry["internet_egress_workloads"] = None
            namespaces.append(entry)
        return {
            "summary": summary,
            "namespaces": namespaces,
            "exposures": [e.to_json() for e in self.exposures],
            "internet_egress": [e.to_json() for e in self.internet_egress],
            "findings": [f.to_json() for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
        }


def unknown_coverage_json(ns: NamespaceCoverage, known: Verification) -> dict[str, object]:
    """A namespace's JSON; an unknown answer is `null` with the reasons beside it."""
    entry = ns.to_json()
    gaps = known.exposure.get(ns.name, ())
    entry["verified"] = {
        "coverage": known.coverage_known(ns.name),
        "exposure": known.exposure_known(ns.name),
    }
    if gaps:
        entry["unverified"] = [g.to_json() for g in gaps]
    if not known.coverage_known(ns.name):
        for direction in ("ingress", "egress"):
            entry[direction] = {
                "default_deny": None,
                "isolated_pods": None,
                "policies": [],
                "opened_by": [],
                "reason": "unknown: "
                + ", ".join(f"{g.kind} {g.reason}" for g in known.coverage[ns.name]),
            }
    return entry


def check_inputs(paths: Sequence[Path]) -> None:
    """UsageError (exit 2, said first, nothing else printed) when `--manifests` names
    nothing to read: a missing path or an empty directory is not a clean cluster."""
    problems = input_problems(paths)
    if problems:
        raise UsageError("; ".join(problems))


Source = Sequence[Path] | Loaded
"""Manifest paths, or objects already read (a live cluster, a snapshot: exporter/inputs.py)."""


def _loaded(source: Source, progress: Progress | None = None) -> Loaded:
    if isinstance(source, Loaded):
        return source
    check_inputs(source)
    return from_manifests(source, progress)


def load(
    source: Source, progress: Progress | None = None, network_plugin: str | None = None
) -> tuple[LoadResult, Engine]:
    """`network_plugin` None: what the live cluster's API groups say, else detected from
    the policy kinds present (Cilium kinds -> cilium, Calico kinds -> calico, else
    generic)."""
    loaded = _loaded(source, progress)
    plugin = network_plugin or loaded.network_plugin
    return loaded.result, Engine(loaded.result.snapshot, network_plugin=plugin)


def read_intent(path: Path) -> LoadedIntent:
    """The intent file, or a UsageError listing every problem (one per line)."""
    try:
        return load_intent(path)
    except IntentError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        raise UsageError(f"intent file rejected ({len(exc.problems)} problems):\n{lines}") from None


def scan(
    source: Source,
    progress: Progress | None = None,
    exposure_config: ExposureConfig | None = None,
    network_plugin: str | None = None,
    exposure: bool = True,
    intent: LoadedIntent | None = None,
    today: dt.date | None = None,
) -> ScanReport:
    """`source`: manifest paths, or what `exporter.inputs` read (a live cluster: its
    network plugin from the API groups, its unreadable kinds)."""
    loaded = _loaded(source, progress)
    return analyse(
        loaded.result,
        exposure_config,
        network_plugin or loaded.network_plugin,
        exposure,
        network_plugin_source=None if network_plugin else loaded.network_plugin_source,
        intent=intent,
        today=today,
        unreadable=loaded.unreadable,
    )


def analyse(
    result: LoadResult,
    exposure_config: ExposureConfig | None = None,
    network_plugin: str | None = None,
    exposure: bool = True,
    network_plugin_source: str | None = None,
    intent: LoadedIntent | None = None,
    today: dt.date | None = None,
    unreadable: Sequence[str] = (),
    engine: Engine | None = None,
) -> ScanReport:
    """The whole analysis of one snapshot, whatever source it came from (files or a live
    cluster): `scan` and the service's scheduled scans share it. `network_plugin` None:
    detected from the policy kinds present (a live scan passes what its CRDs say, with
    `network_plugin_source="crds"`)."""
    # The analysis builds millions of small acyclic objects on top of the snapshot's
    # millions: the cyclic collector would walk them all again and again (2.7 s of 7 s
    # on the 100,000-pod benchmark), so it is paused, as while loading.
    with paused_gc():
        return _analyse(
            result,
            exposure_config,
            network_plugin,
            exposure,
            network_plugin_source,
            intent,
            today,
            unreadable,
            engine,
        )


def _analyse(
    result: LoadResult,
    exposure_config: ExposureConfig | None,
    network_plugin: str | None,
    exposure: bool,
    network_plugin_source: str | None,
    intent: LoadedIntent | None = None,
    today: dt.date | None = None,
    unreadable: Sequence[str] = (),
    engine: Engine | None = None,
) -> ScanReport:
    """`engine`: one already built on `result.snapshot` (the diff reuses it, warm, for
    the connections)."""
    engine = engine or Engine(result.snapshot, network_plugin=network_plugin)
    namespaces = coverage(engine)
    exposed = ExposureAnalysis(engine, exposure_config).run() if exposure else ExposureReport()
    gaps = [Unverified(kind, Reason.UNREADABLE) for kind in unreadable]
    gaps += [Unverified(k, Reason.UNPARSABLE, ns) for k, ns in result.snapshot.unparsed]
    verification = verify(engine.namespaces, gaps, engine.network_plugin)
    found = verified_findings(
        coverage_findings(engine, namespaces) + exposed.findings, verification
    )
    found += gap_findings(unreadable, verification)
    intent_report = None
    if intent is not None:
        today = today or dt.datetime.now(dt.UTC).date()
        intent_report = evaluate_intent(
            intent.intent,
            intent.baseline,
            engine,
            namespaces,
            exposed if exposure else None,
            today,
            verification,
        )
        found += intent_report.findings
    found.sort(key=lambda f: (-f.severity.rank, f.namespace, f.check, f.object))
    return ScanReport(
        namespaces=namespaces,
        findings=found,
        exposure=exposed.counts(),
        internet_egress_workloads=exposed.egress_counts(),
        exposures=exposed.exposures,
        internet_egress=exposed.internet_egress,
        controller_namespaces=exposed.controller_namespaces,
        exposure_analysed=exposure,
        errors=result.errors,
        # One object with several Cilium `specs` is several normal-form policies.
        policies=len({p.ref for p in result.snapshot.policies}),
        workloads=len({g.workload for g in result.snapshot.pod_groups}),
        ignored_kinds=dict(result.snapshot.ignored_kinds),
        policies_by_kind=dict(
            Counter(
                (p.namespace, p.ref.kind)
                for p in {p.ref: p for p in result.snapshot.policies}.values()
            )
        ),
        verification=verification,
        unreadable=tuple(unreadable),
        network_plugin=str(engine.network_plugin),
        network_plugin_source=network_plugin_source
        or ("detected" if engine.network_plugin_detected else "configured"),
        intent=intent_report,
        allowing_policies=allowing_policies(result.snapshot.policies),
    )


def connections(
    paths: Source,
    progress: Progress | None = None,
    exposure_config: ExposureConfig | None = None,
    network_plugin: str | None = None,
    keep: EndpointFilter | None = None,
) -> tuple[list[Connection], list[InputError]]:
    blocks, errors = connection_blocks(paths, progress, exposure_config, network_plugin, keep)
    return [c for block in blocks for c in block], errors


def connection_blocks(
    paths: Source,
    progress: Progress | None = None,
    exposure_config: ExposureConfig | None = None,
    network_plugin: str | None = None,
    keep: EndpointFilter | None = None,
    analysis_progress: Progress | None = None,
) -> tuple[Iterator[list[Connection]], list[InputError]]:
    """`connections` as blocks to write out one by one (core.connectivity_blocks), in
    the same order; the connections through the ingress controller come last."""
    result, engine = load(paths, progress, network_plugin)
    routed = ExposureAnalysis(engine, exposure_config).run().controller_connections()
    through_controller = sorted(
        (
            c
            for c in (Connection(INGRESS_CONTROLLER, wl, ports) for wl, ports in routed.items())
            if c.conns and (keep is None or keep.connection(c))
        ),
        key=lambda c: (c.src, c.dst),
    )

    def blocks() -> Iterator[list[Connection]]:
        yield from connectivity_blocks(engine, keep, analysis_progress)
        if through_controller:
            yield through_controller

    return blocks(), result.errors


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


_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]+(/[0-9]+)?(-[0-9A-Fa-f:.]+)?")


def resolve(engine: Engine, text: str) -> list[Endpoint]:
    """A workload (`ns/name`, `ns/name[Kind]`) or an address, CIDR or range."""
    try:
        wanted: AddressRange | None = parse_address(text)
    except ValueError as exc:
        if _ADDRESS_LIKE.fullmatch(text) and any(c in text for c in ".:"):
            raise UsageError(f"{text}: invalid address ({exc})") from None
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
        names = sorted({f"{w.namespace}/{w.name}" for c in engine.classes for w in c.workloads})
        close = difflib.get_close_matches(text if "/" in text else f"default/{text}", names, 3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"{text}: no such workload (use ns/name or ns/name[Kind]){hint}")
    return found


def _as_asked(text: str, endpoint: Endpoint, label: str) -> str:
    """An address answered as the address asked: `8.8.8.8` lies in an atom such as
    1.0.0.0-9.255.255.255 that every policy treats alike, and is named as asked."""
    if not isinstance(endpoint, AddressRange):
        return label
    try:
        asked = parse_address(text)
    except ValueError:
        return label
    inside = endpoint.first <= asked.first and asked.last <= endpoint.last
    if not inside or (asked.first, asked.last) == (endpoint.first, endpoint.last):
        return label
    return f"{text} (in {label}, which every policy treats alike)"


def explain_connection(
    paths: Source,
    src: str,
    dst: str,
    port: str | None,
    network_plugin: str | None = None,
) -> tuple[list[Explanation], list[InputError]]:
    result, engine = load(paths, network_plugin=network_plugin)
    query = parse_port(port) if port else None
    out = []
    for s in resolve(engine, src):
        for d in resolve(engine, dst):
            if s is d:
                continue
            found = explain(engine, s, d, query)
            out.append(
                replace(
                    found,
                    src=_as_asked(src, s, found.src),
                    dst=_as_asked(dst, d, found.dst),
                )
            )
    return out, result.errors


@dataclass(frozen=True, slots=True)
class Isolation:
    """Why traffic no rule admits is dropped at one workload, in one direction: the
    policies that isolate it (of the APIs the network plugin enforces; the scan reports
    the others as `unenforced-policy`). What a Hubble `POLICY_DENIED` drop there
    (netfence's `policy="default-deny"`) is attributed to."""

    workload: str
    direction: Direction
    policies: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "direction": str(self.direction),
            "isolated": bool(self.policies),
            "policies": list(self.policies),
        }

    def lines(self) -> list[str]:
        if not self.policies:
            return [f"{self.workload} {self.direction}: NOT isolated: every connection is allowed"]
        return [
            f"{self.workload} {self.direction}: isolated; a connection no rule allows is "
            'dropped (Hubble: POLICY_DENIED, netfence: policy="default-deny") because of:',
            *(f"  {p}" for p in self.policies),
        ]


def explain_isolation(
    paths: Source,
    workload: str,
    direction: Direction,
    network_plugin: str | None = None,
) -> tuple[list[Isolation], list[InputError]]:
    """The policies that isolate a workload (`--to` alone: ingress; `--from`: egress)."""
    result, engine = load(paths, network_plugin=network_plugin)
    asked = resolve(engine, workload)  # invalid address, did-you-mean: said as for pairs
    if any(isinstance(e, AddressRange) for e in asked):
        raise UsageError(
            f"{workload}: an address is never isolated; give both --from and --to to ask "
            "about a connection"
        )
    classes = find_workloads(engine, workload)
    out: list[Isolation] = []
    for cls in classes:
        names = ", ".join(sorted(wl.id for wl in cls.workloads))
        found = Isolation(names, direction, tuple(p.id for p in engine.isolating(cls, direction)))
        if found not in out:  # several classes of one workload, isolated alike
            out.append(found)
    return out, result.errors


def explain_exposure(
    paths: Source,
    service: str,
    category: str,
    exposure_config: ExposureConfig | None = None,
) -> tuple[list[Exposure], list[InputError]]:
    """The exposures of one Service (or workload) in one category, with their reasons."""
    try:
        wanted = Category(category)
    except ValueError:
        choices = ", ".join(c.value for c in Category)
        raise UsageError(f"unknown exposure {category!r} (want one of {choices})") from None
    if "/" not in service:
        service = f"default/{service}"
    namespace, _, name = service.partition("/")
    result, engine = load(paths)
    analysis = ExposureAnalysis(engine, exposure_config)
    found = [
        e
        for e in analysis.run().exposures
        if e.namespace == namespace and e.name == name.split("[")[0] and e.category is wanted
    ]
    known = any(s.namespace == namespace and s.name == name for s in engine.snapshot.services)
    if not found and not known and not find_workloads(engine, service):
        raise UsageError(f"{service}: no such Service or workload")
    return found, result.errors
