"""Baseline drift: policies that must exist, unmodified, in the selected namespaces
(namespaced kinds) or once per cluster (cluster-wide kinds: CCNP, ANP, BANP, CNP, GNP).

Compared by meaning, not bytes: both sides go through the same parser to the engine's
normal form, and only what cannot change enforcement is set aside (where the object was
read from, Calico tier order, which the cluster's Tier objects decide). A baseline
policy without `metadata.namespace` is a template stamped into every selected
namespace; with one, it is required in that namespace only.

States per (namespace, policy): `in_sync`; `modified` (an object of that kind and name
exists, with another meaning); `missing` (none, and no equal one under another name);
`present_elsewhere` (not under its name, but a policy of the same kind with the same
meaning exists there under another name: the protection is in force, the inventory is
not as declared).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum

from exporter.core.findings import Check, Finding, Severity
from exporter.core.intent.schema import BaselineSpec
from exporter.core.inventory import CLUSTER_SCOPED_KINDS, RawObject, build_snapshot
from exporter.core.model import Namespace
from exporter.core.policies import Policy


class DriftState(StrEnum):
    IN_SYNC = "in_sync"
    MISSING = "missing"
    MODIFIED = "modified"
    PRESENT_ELSEWHERE = "present_elsewhere"
    UNKNOWN = "unknown"
    """The policy's kind could not be read (403, unparsable): nothing is claimed."""


@dataclass(frozen=True, slots=True)
class BaselinePolicy:
    kind: str
    name: str
    namespace: str | None
    """As written; None: a template for every selected namespace (or cluster-scoped)."""
    cluster_scoped: bool
    raw: RawObject

    @property
    def label(self) -> str:
        """The `policy` label value: `Kind/name`."""
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class DriftEntry:
    namespace: str
    """"" for a cluster-wide policy."""
    policy: str
    state: DriftState
    message: str
    severity: Severity

    def to_json(self) -> dict[str, object]:
        return {
            "namespace": self.namespace,
            "policy": self.policy,
            "state": str(self.state),
            "message": self.message,
        }

    def finding(self) -> Finding:
        where = f"{self.namespace}/" if self.namespace else ""
        kind, _, name = self.policy.partition("/")
        return Finding(
            Check.BASELINE_DRIFT,
            self.severity,
            self.namespace,
            f"{kind} {where}{name}",
            self.message,
        )


class BaselineError(ValueError):
    """A baseline object netfence cannot use (the intent file is then rejected)."""


def read_baseline(objects: Sequence[RawObject]) -> list[BaselinePolicy]:
    """Check every baseline object is a policy netfence parses; raise with all problems."""
    out: list[BaselinePolicy] = []
    problems: list[str] = []
    for raw in objects:
        obj = raw.obj
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        where = f"{raw.source}" + (f" (document {raw.document})" if raw.document else "")
        if not isinstance(kind, str) or not isinstance(name, str) or not name:
            problems.append(f"{where}: not a Kubernetes object with kind and metadata.name")
            continue
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        scoped = kind in CLUSTER_SCOPED_KINDS
        probe = _instantiate(raw, None if scoped else (ns or "default"))
        policies, errors = probe
        if errors:
            problems += [f"{where}: {kind} {name}: {e}" for e in errors]
        elif not policies:
            problems.append(f"{where}: {kind} {name} is not a policy kind netfence reads")
        else:
            out.append(BaselinePolicy(kind, name, None if scoped else ns, scoped, raw))
    if problems:
        raise BaselineError("; ".join(problems))
    return out


def baseline_drift(
    spec: BaselineSpec,
    baseline: Sequence[BaselinePolicy],
    namespaces: Mapping[str, Namespace],
    policies: Sequence[Policy],
    unread: Collection[tuple[str, str]] = (),
) -> list[DriftEntry]:
    """`unread`: (Kind, namespace or "" for all) the scan could not read."""
    by_ref: dict[tuple[str, str | None, str], list[Policy]] = defaultdict(list)
    for p in policies:
        by_ref[(p.ref.kind, p.ref.namespace, p.ref.name)].append(p)
    by_place = _Places(by_ref)
    selected = [n for n, ns in namespaces.items() if spec.namespace_selector.matches(ns.labels)]
    out: list[DriftEntry] = []
    for b in baseline:
        targets: list[str | None]
        if b.cluster_scoped:
            targets = [None]
        elif b.namespace is not None:
            targets = [b.namespace]
        else:
            targets = list(selected)
        for ns in targets:
            if (b.kind, "") in unread or (b.kind, ns or "") in unread:
                where = f"in namespace {ns}" if ns else "in the cluster"
                message = f"baseline {b.label} {where} is unknown: {b.kind} could not be read"
                out.append(
                    DriftEntry(ns or "", b.label, DriftState.UNKNOWN, message, Severity.INFO)
                )
                continue
            want, _ = _instantiate(b.raw, ns)
            out.append(_compare(spec, b, ns, want, by_ref, by_place))
    out.sort(key=lambda e: (e.namespace, e.policy))
    return out


def _compare(
    spec: BaselineSpec,
    b: BaselinePolicy,
    ns: str | None,
    want: list[Policy],
    by_ref: Mapping[tuple[str, str | None, str], list[Policy]],
    by_place: _Places,
) -> DriftEntry:
    where = f"in namespace {ns}" if ns else "in the cluster"
    label = b.label

    def entry(state: DriftState, message: str) -> DriftEntry:
        severity = Severity.INFO if state is DriftState.IN_SYNC else spec.severity
        if state is DriftState.PRESENT_ELSEWHERE:
            severity = Severity.LOW
        return DriftEntry(ns or "", label, state, message, severity)

    have = by_ref.get((b.kind, ns, b.name))
    if have:
        normal_have, normal_want = _normal(have, ns), _normal(want, ns)
        if normal_have == normal_want:
            return entry(DriftState.IN_SYNC, f"baseline {label} is in force {where}")
        diff = _differences(normal_want, normal_have)
        return entry(
            DriftState.MODIFIED,
            f"baseline {label} is modified {where} ({diff} differ from the baseline)",
        )
    anonymous = _normal(want, ns, anonymous=True)
    twins = sorted(name for name, norm in by_place.get(b.kind, ns) if norm == anonymous)
    if twins:
        return entry(
            DriftState.PRESENT_ELSEWHERE,
            f"baseline {label} is not {where} under its name, but {b.kind} "
            f"{', '.join(twins)} has the same meaning",
        )
    return entry(DriftState.MISSING, f"baseline {label} is missing {where}")


class _Places:
    """The cluster's policies of one kind in one place, by name, in anonymous normal
    form: computed only for the places a missing baseline policy is looked for."""

    def __init__(self, by_ref: Mapping[tuple[str, str | None, str], list[Policy]]) -> None:
        self._refs: dict[tuple[str, str | None], list[tuple[str, list[Policy]]]] = defaultdict(list)
        for (kind, ns, name), parts in by_ref.items():
            self._refs[(kind, ns)].append((name, parts))
        self._done: dict[tuple[str, str | None], list[tuple[str, Meaning]]] = {}

    def get(self, kind: str, ns: str | None) -> list[tuple[str, Meaning]]:
        found = self._done.get((kind, ns))
        if found is None:
            found = [
                (name, _normal(parts, ns, anonymous=True))
                for name, parts in self._refs.get((kind, ns), ())
            ]
            self._done[(kind, ns)] = found
        return found


def _instantiate(raw: RawObject, namespace: str | None) -> tuple[list[Policy], list[str]]:
    obj = raw.obj
    if namespace is not None:  # a shallow copy: the parsers never modify their input
        meta = obj.get("metadata")
        obj = {
            **obj,
            "metadata": {**(meta if isinstance(meta, dict) else {}), "namespace": namespace},
        }
    snapshot, errors = build_snapshot([RawObject(obj, raw.source, raw.document)])
    return list(snapshot.policies), [e.message for e in errors]


_MEANING = tuple(
    f.name for f in fields(Policy) if f.name not in ("ref", "tier_order", "tier_passes")
)
"""What a policy means: everything but where it was read from (`ref`: kind and name
are the lookup key already) and the tier order, which the cluster's Tier objects decide."""

Meaning = tuple[tuple[object, ...], ...]


def _normal(parts: Sequence[Policy], ns: str | None, anonymous: bool = False) -> Meaning:
    """The meaning of one object's policies (one per Cilium `specs` entry), by part.
    `ns` and `anonymous` are implied by how callers look policies up (same kind and
    place; same name unless anonymous), so they change nothing here."""
    del ns, anonymous
    return tuple(sorted((tuple(getattr(p, name) for name in _MEANING) for p in parts), key=_part))


_PART = _MEANING.index("part")


def _part(meaning: tuple[object, ...]) -> str:
    return str(meaning[_PART])


_FIELD_NAMES = {
    "pod_selector": "pod selector",
    "isolates": "policy types",
    "ingress": "ingress rules",
    "egress": "egress rules",
    "namespace_selector": "namespace selector",
    "priority": "priority",
    "tier": "tier",
}


def _differences(want: Meaning, have: Meaning) -> str:
    if len(want) != len(have):
        return "the number of specs"
    names: list[str] = []
    for w, h in zip(want, have, strict=True):
        for name, x, y in zip(_MEANING, w, h, strict=True):
            if x != y:
                label = _FIELD_NAMES.get(name, name.replace("_", " "))
                if label not in names:
                    names.append(label)
    return ", ".join(names) or "details"
