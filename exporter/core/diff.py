"""What a change does to a cluster's network policy: the semantic diff of two analyses
(`netfence diff`), per namespace.

Compared: default-deny per direction (gained / lost), permitted exposures per category
and internet egress (added / removed, with the objects that open them), allowed
connections (workload to workload and to or from address ranges, compared address by
address so a range split differently on each side is not a change, then merged back
into readable ranges), and findings (new / resolved). A policy object that changed
while nothing of the above changed in its namespace (for a cluster-scoped policy:
anywhere) is named as changed without effect.

Connections are compared only for the namespaces whose objects changed
(`changed_namespaces`): a connection's verdict depends only on the objects of its two
ends' namespaces and on cluster-scoped policies, so the others cannot have changed.
The caller passes the connections of those namespaces on each side.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from exporter.core.addresses import AddressRange, parse_address
from exporter.core.connectivity import Connection
from exporter.core.coverage import NamespaceCoverage
from exporter.core.exposure import Exposure, InternetEgress
from exporter.core.findings import Finding, Severity
from exporter.core.model import Direction
from exporter.core.ports import NONE, PortSet

INTERNET_EGRESS = "internet_egress"
"""The exposure category of a workload that can reach public addresses."""
CLUSTER = ""
"""The `namespace` of cluster-scoped findings and policies."""


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


@dataclass(frozen=True, slots=True)
class Exposed:
    """A permitted exposure (or a workload's internet egress) on one side."""

    namespace: str
    name: str
    kind: str
    category: str
    ports: PortSet
    objects: tuple[str, ...]
    workloads: tuple[str, ...]

    def with_ports(self, ports: PortSet) -> Exposed:
        return Exposed(
            self.namespace, self.name, self.kind, self.category, ports, self.objects, self.workloads
        )

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "category": self.category,
            "ports": self.ports.to_json(),
            "objects": list(self.objects),
            "workloads": list(self.workloads),
        }

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}] {self.category} on {self.ports}"


@dataclass(frozen=True, slots=True)
class PolicyChange:
    policy: str
    namespace: str
    change: Change
    effect: bool
    """False: nothing netfence reports for its namespace (cluster-wide for a
    cluster-scoped policy) changed."""

    def to_json(self) -> dict[str, object]:
        return {"policy": self.policy, "change": str(self.change), "effect": self.effect}


@dataclass(frozen=True, slots=True)
class DefaultDenyChange:
    direction: Direction
    gained: bool
    reason: str
    """The head's reason (docs/json-output.md `reason`)."""

    def to_json(self) -> dict[str, object]:
        return {
            "direction": str(self.direction),
            "change": "gained" if self.gained else "lost",
            "reason": self.reason,
        }


@dataclass(slots=True)
class NamespaceDiff:
    name: str
    status: str
    """`added`, `removed`, `changed` (its objects differ) or `unchanged` (they do not,
    yet results changed through another namespace or a cluster-scoped object)."""
    default_deny: list[DefaultDenyChange] = field(default_factory=list)
    exposures_added: list[Exposed] = field(default_factory=list)
    exposures_removed: list[Exposed] = field(default_factory=list)
    connections_added: list[Connection] = field(default_factory=list)
    connections_removed: list[Connection] = field(default_factory=list)
    findings_new: list[Finding] = field(default_factory=list)
    findings_resolved: list[Finding] = field(default_factory=list)
    policies: list[PolicyChange] = field(default_factory=list)

    @property
    def has_effect(self) -> bool:
        return bool(
            self.default_deny
            or self.exposures_added
            or self.exposures_removed
            or self.connections_added
            or self.connections_removed
            or self.findings_new
            or self.findings_resolved
        )

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "default_deny": [d.to_json() for d in self.default_deny],
            "exposures": {
                "added": [e.to_json() for e in self.exposures_added],
                "removed": [e.to_json() for e in self.exposures_removed],
            },
            "connections": {
                "added": [c.to_json() for c in self.connections_added],
                "removed": [c.to_json() for c in self.connections_removed],
            },
            "findings": {
                "new": [f.to_json() for f in self.findings_new],
                "resolved": [f.to_json() for f in self.findings_resolved],
            },
            "policies": [p.to_json() for p in self.policies],
        }


@dataclass(frozen=True, slots=True)
class Side:
    """One side's analysis, as the diff needs it."""

    coverage: Mapping[str, NamespaceCoverage]
    exposures: Mapping[tuple[str, str, str, str], Exposed]
    findings: Mapping[tuple[str, str, str], Finding]
    connections: Sequence[Connection]
    policies: Mapping[str, tuple[str, object]]
    """Policy id (`Kind ns/name`) -> (namespace or "", what decides its meaning)."""

    @staticmethod
    def of(
        namespaces: Iterable[NamespaceCoverage],
        exposures: Iterable[Exposure],
        internet_egress: Iterable[InternetEgress],
        findings: Iterable[Finding],
        connections: Sequence[Connection],
        policies: Mapping[str, tuple[str, object]],
    ) -> Side:
        exposed: dict[tuple[str, str, str, str], Exposed] = {}
        for e in exposures:
            if e.permitted and e.ports:
                item = Exposed(
                    e.namespace, e.name, e.kind, str(e.category), e.ports, e.objects, e.workloads
                )
                _merge_exposed(exposed, item)
        for g in internet_egress:
            name, _, kind = g.workload.partition("/")[2].partition("[")
            item = Exposed(
                g.namespace,
                name,
                kind.rstrip("]"),
                INTERNET_EGRESS,
                g.ports,
                g.objects,
                (g.workload,),
            )
            _merge_exposed(exposed, item)
        return Side(
            coverage={n.name: n for n in namespaces},
            exposures=exposed,
            findings={(f.namespace, str(f.check), f.object): f for f in findings},
            connections=connections,
            policies=policies,
        )


def _merge_exposed(into: dict[tuple[str, str, str, str], Exposed], item: Exposed) -> None:
    key = (item.namespace, item.name, item.kind, item.category)
    prev = into.get(key)
    into[key] = item if prev is None else prev.with_ports(prev.ports | item.ports)


@dataclass(slots=True)
class PolicyDiff:
    namespaces: list[NamespaceDiff]
    cluster: NamespaceDiff
    """Cluster-scoped findings and policies."""
    changed_namespaces: int
    connections_compared: bool
    connections_note: str = ""

    def all(self) -> list[NamespaceDiff]:
        return [*self.namespaces, self.cluster]

    def summary(self) -> dict[str, object]:
        every = self.all()
        policies = [p for d in every for p in d.policies]
        findings_new = [f for d in every for f in d.findings_new]
        return {
            "namespaces_with_changed_objects": self.changed_namespaces,
            "namespaces_with_changed_results": sum(1 for d in self.namespaces if d.has_effect),
            "default_deny": {
                "gained": sum(1 for d in every for c in d.default_deny if c.gained),
                "lost": sum(1 for d in every for c in d.default_deny if not c.gained),
            },
            "exposures": {
                "added": sum(len(d.exposures_added) for d in every),
                "removed": sum(len(d.exposures_removed) for d in every),
            },
            "connections": {
                "compared": self.connections_compared,
                "added": sum(len(d.connections_added) for d in every),
                "removed": sum(len(d.connections_removed) for d in every),
                **({"note": self.connections_note} if self.connections_note else {}),
            },
            "findings": {
                "new": len(findings_new),
                "resolved": sum(len(d.findings_resolved) for d in every),
                "new_by_severity": dict(
                    sorted(_count(str(f.severity) for f in findings_new).items())
                ),
            },
            "policies": {
                "changed": len(policies),
                "without_effect": sum(1 for p in policies if not p.effect),
            },
        }

    def to_json(self) -> dict[str, object]:
        return {
            "summary": self.summary(),
            "namespaces": [d.to_json() for d in self.namespaces],
            "cluster": {
                "findings": {
                    "new": [f.to_json() for f in self.cluster.findings_new],
                    "resolved": [f.to_json() for f in self.cluster.findings_resolved],
                },
                "policies": [p.to_json() for p in self.cluster.policies],
            },
        }

    def failures(self, fail_on: Severity | None) -> list[str]:
        """Why the head should not merge: default-deny lost, an exposure gained, or a
        new finding at or above `fail_on` (None: never)."""
        if fail_on is None:
            return []
        out: list[str] = []
        for d in self.all():
            out += [
                f"{d.name}: default-deny {c.direction} lost" for c in d.default_deny if not c.gained
            ]
            out += [f"exposure added: {e.label}" for e in d.exposures_added]
            out += [
                f"new {f.severity} finding {f.check} {f.object}"
                for f in d.findings_new
                if f.severity.rank >= fail_on.rank
            ]
        return out


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[item] += 1
    return dict(out)


def diff(
    base: Side,
    head: Side,
    changed_namespaces: Collection[str],
    connections_compared: bool = True,
    connections_note: str = "",
) -> PolicyDiff:
    names = sorted(set(base.coverage) | set(head.coverage) | set(changed_namespaces) - {CLUSTER})
    by_name = {n: NamespaceDiff(n, _status(n, base, head, changed_namespaces)) for n in names}
    cluster = NamespaceDiff(CLUSTER, "changed" if CLUSTER in changed_namespaces else "unchanged")

    def entry(namespace: str) -> NamespaceDiff:
        if namespace == CLUSTER:
            return cluster
        if namespace not in by_name:
            by_name[namespace] = NamespaceDiff(namespace, "unchanged")
        return by_name[namespace]

    for name in names:
        _coverage_diff(by_name[name], base.coverage.get(name), head.coverage.get(name))
    for key in sorted(set(base.exposures) | set(head.exposures)):
        was, now = base.exposures.get(key), head.exposures.get(key)
        target = entry(key[0])
        if now is not None and (gained := now.ports - (was.ports if was else NONE)):
            target.exposures_added.append(now.with_ports(gained))
        if was is not None and (lost := was.ports - (now.ports if now else NONE)):
            target.exposures_removed.append(was.with_ports(lost))
    for fkey in sorted(set(base.findings) | set(head.findings)):
        if fkey not in base.findings:
            entry(fkey[0]).findings_new.append(head.findings[fkey])
        elif fkey not in head.findings:
            entry(fkey[0]).findings_resolved.append(base.findings[fkey])
    touched: set[str] = set()
    if connections_compared:
        added, removed = connection_changes(base.connections, head.connections)
        for conns, attr in ((added, "connections_added"), (removed, "connections_removed")):
            for c in conns:
                ends = {n for n in (_namespace_of(c.src), _namespace_of(c.dst)) if n is not None}
                touched |= ends
                getattr(entry(_owner(c, changed_namespaces)), attr).append(c)
    _policy_changes(base, head, entry)
    changed_anything = any(d.has_effect for d in [*by_name.values(), cluster])
    namespaces = [by_name[n] for n in sorted(by_name)]
    for d in [*namespaces, cluster]:
        effect = changed_anything if d is cluster else (d.has_effect or d.name in touched)
        d.policies = [PolicyChange(p.policy, p.namespace, p.change, effect) for p in d.policies]
    kept = [d for d in namespaces if d.has_effect or d.policies or d.status != "unchanged"]
    return PolicyDiff(
        kept,
        cluster,
        changed_namespaces=len(set(changed_namespaces) - {CLUSTER}),
        connections_compared=connections_compared,
        connections_note=connections_note,
    )


def _status(name: str, base: Side, head: Side, changed: Collection[str]) -> str:
    if name not in base.coverage and name in head.coverage:
        return "added"
    if name in base.coverage and name not in head.coverage:
        return "removed"
    return "changed" if name in changed else "unchanged"


def _coverage_diff(
    target: NamespaceDiff, was: NamespaceCoverage | None, now: NamespaceCoverage | None
) -> None:
    if was is None or now is None:
        return  # a namespace that appears or goes: its findings say what it brings
    for direction in Direction:
        before, after = was.direction(direction), now.direction(direction)
        if before.default_deny != after.default_deny:
            target.default_deny.append(
                DefaultDenyChange(direction, after.default_deny, after.reason)
            )


def _policy_changes(base: Side, head: Side, entry: Callable[[str], NamespaceDiff]) -> None:
    for policy in sorted(set(base.policies) | set(head.policies)):
        was, now = base.policies.get(policy), head.policies.get(policy)
        if was is not None and now is not None and was[1] == now[1]:
            continue
        change = Change.ADDED if was is None else Change.REMOVED if now is None else Change.MODIFIED
        namespace = (now or was or ("", None))[0]
        entry(namespace).policies.append(PolicyChange(policy, namespace, change, True))


# -- connections -------------------------------------------------------------------------


def _namespace_of(endpoint: str) -> str | None:
    """The namespace of a workload (`ns/name[Kind]`); None for an address or a name."""
    return endpoint.split("/", 1)[0] if endpoint.endswith("]") and "/" in endpoint else None


def _owner(c: Connection, changed: Collection[str]) -> str:
    """The namespace a connection change is listed under: the changed end, the
    destination workload's when both (or neither) changed."""
    src, dst = _namespace_of(c.src), _namespace_of(c.dst)
    if dst is None:
        return src or CLUSTER
    if src is None or dst in changed or src not in changed:
        return dst
    return src


def _address(endpoint: str) -> AddressRange | None:
    if endpoint.endswith("]") or endpoint.startswith(("{", "fqdn:")):
        return None
    try:
        return parse_address(endpoint)
    except ValueError:
        return None


def connection_changes(
    base: Sequence[Connection], head: Sequence[Connection]
) -> tuple[list[Connection], list[Connection]]:
    """(added, removed) connections, ports being the difference. Address ranges are
    compared address by address and merged back, per workload and direction."""
    plain_base, ranges_base = _split(base)
    plain_head, ranges_head = _split(head)
    added: list[Connection] = []
    removed: list[Connection] = []
    for key in sorted(set(plain_base) | set(plain_head)):
        was, now = plain_base.get(key, NONE), plain_head.get(key, NONE)
        if gained := now - was:
            added.append(Connection(key[0], key[1], gained))
        if lost := was - now:
            removed.append(Connection(key[0], key[1], lost))
    for rkey in sorted(set(ranges_base) | set(ranges_head)):
        workload, outbound = rkey
        gained_r, lost_r = _range_changes(ranges_base.get(rkey, []), ranges_head.get(rkey, []))
        for rng, ports in gained_r:
            added.append(_range_connection(workload, outbound, rng, ports))
        for rng, ports in lost_r:
            removed.append(_range_connection(workload, outbound, rng, ports))
    added.sort(key=lambda c: (c.src, c.dst))
    removed.sort(key=lambda c: (c.src, c.dst))
    return added, removed


def _range_connection(
    workload: str, outbound: bool, rng: AddressRange, ports: PortSet
) -> Connection:
    return (
        Connection(workload, str(rng), ports) if outbound else Connection(str(rng), workload, ports)
    )


def _split(
    conns: Sequence[Connection],
) -> tuple[
    dict[tuple[str, str], PortSet], dict[tuple[str, bool], list[tuple[AddressRange, PortSet]]]
]:
    plain: dict[tuple[str, str], PortSet] = {}
    ranges: dict[tuple[str, bool], list[tuple[AddressRange, PortSet]]] = defaultdict(list)
    for c in conns:
        dst_range, src_range = _address(c.dst), _address(c.src)
        if dst_range is not None:
            ranges[(c.src, True)].append((dst_range, c.conns))
        elif src_range is not None:
            ranges[(c.dst, False)].append((src_range, c.conns))
        else:
            plain[(c.src, c.dst)] = plain.get((c.src, c.dst), NONE) | c.conns
    return plain, ranges


def _range_changes(
    base: list[tuple[AddressRange, PortSet]], head: list[tuple[AddressRange, PortSet]]
) -> tuple[list[tuple[AddressRange, PortSet]], list[tuple[AddressRange, PortSet]]]:
    added: list[tuple[AddressRange, PortSet]] = []
    removed: list[tuple[AddressRange, PortSet]] = []
    for family in sorted({r.family for r, _ in base} | {r.family for r, _ in head}):
        b = sorted(((r, p) for r, p in base if r.family == family), key=lambda x: x[0])
        h = sorted(((r, p) for r, p in head if r.family == family), key=lambda x: x[0])
        cuts = sorted({r.first for r, _ in b + h} | {r.last + 1 for r, _ in b + h})
        for lo, hi in itertools.pairwise(cuts):
            piece = AddressRange(family, lo, hi - 1)
            was, now = _ports_at(b, lo), _ports_at(h, lo)
            if gained := now - was:
                _append_merged(added, piece, gained)
            if lost := was - now:
                _append_merged(removed, piece, lost)
    return added, removed


def _ports_at(ranges: list[tuple[AddressRange, PortSet]], address: int) -> PortSet:
    """Ports of the range holding `address` (ranges of one side do not overlap)."""
    i = bisect.bisect_right([r.first for r, _ in ranges], address) - 1
    if i >= 0 and ranges[i][0].last >= address:
        return ranges[i][1]
    return NONE


def _append_merged(
    out: list[tuple[AddressRange, PortSet]], piece: AddressRange, ports: PortSet
) -> None:
    if out and out[-1][1] == ports and out[-1][0].last + 1 == piece.first:
        prev = out[-1][0]
        out[-1] = (AddressRange(prev.family, prev.first, piece.last), ports)
    else:
        out.append((piece, ports))


def severity_of(text: str) -> Severity | None:
    return None if text == "never" else Severity(text)
