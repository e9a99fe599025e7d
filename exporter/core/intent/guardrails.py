"""Guardrails: named rules over the namespaces a selector picks, with expiring exceptions.

Each rule kind reads an analysis the scan already made (coverage, exposures) or asks the
engine the same questions the scan asks; nothing here re-implements policy semantics.
An exception suppresses the violations it covers until the end of its `expires` day;
after that the violation counts again and the expired exception is a finding itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exporter.core.addresses import AddressRange, is_public
from exporter.core.coverage import NamespaceCoverage
from exporter.core.engine import Engine, PodClass
from exporter.core.exposure import ExposureReport
from exporter.core.findings import Check, Finding, Severity
from exporter.core.intent.schema import EgressAllow, Guardrail, GuardrailException, Intent
from exporter.core.intent.teams import TeamMap
from exporter.core.model import Direction
from exporter.core.policies import EndpointPeer, PodPeer
from exporter.core.ports import NONE, PortSet
from exporter.core.verification import VERIFIED, Verification

EXPIRED_SEVERITY = Severity.MEDIUM
_POD_PEERS = (PodPeer, EndpointPeer)


class Rule:
    """The `rule` names a violation carries (closed vocabulary, JSON contract)."""

    @staticmethod
    def default_deny(direction: Direction) -> str:
        return f"default-deny-{direction}"

    @staticmethod
    def exposure(category: str) -> str:
        return f"exposure-{category}".replace("_", "-")

    INTERNET_EGRESS = "internet-egress"
    POLICY_FOR_EVERY_POD = "policy-for-every-pod"


@dataclass(frozen=True, slots=True)
class Violation:
    guardrail: str
    rule: str
    namespace: str
    target: str
    """The object in violation (JSON `object`)."""
    team: str
    severity: Severity
    message: str
    exception: GuardrailException | None = None
    """The exception that matched it (active: suppressed; expired: it counts)."""
    excepted: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "guardrail": self.guardrail,
            "rule": self.rule,
            "namespace": self.namespace,
            "object": self.target,
            "team": self.team,
            "severity": str(self.severity),
            "message": self.message,
            "excepted": self.excepted,
            "exception": _exception_json(self.exception) if self.exception else None,
        }

    def finding(self) -> Finding:
        return Finding(
            Check.GUARDRAIL_VIOLATION,
            self.severity,
            self.namespace,
            self.target,
            f"guardrail {self.guardrail}: {self.message}",
        )


@dataclass(frozen=True, slots=True)
class ExceptionStatus:
    guardrail: str
    exception: GuardrailException
    expired: bool
    matched: int
    """Violations it matched in this scan (0: it excuses nothing today)."""

    def to_json(self) -> dict[str, object]:
        return {
            "guardrail": self.guardrail,
            **_exception_json(self.exception),
            "expired": self.expired,
            "matched": self.matched,
        }

    def finding(self) -> Finding:
        e = self.exception
        return Finding(
            Check.EXCEPTION_EXPIRED,
            EXPIRED_SEVERITY,
            e.namespace,
            f"guardrail {self.guardrail} exception" + (f" for {e.object}" if e.object else ""),
            f"exception owned by {e.owner} expired on {e.expires.isoformat()} "
            f"({e.reason}); the guardrail applies again",
        )


def _exception_json(e: GuardrailException) -> dict[str, object]:
    return {
        "namespace": e.namespace,
        "object": e.object,
        "reason": e.reason,
        "owner": e.owner,
        "expires": e.expires.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    violations: list[Violation]
    exceptions: list[ExceptionStatus]
    notes: list[str]
    """Rules that could not be evaluated (and why): never reported as passing."""
    scope: dict[str, tuple[str, ...]]
    """guardrail -> the namespaces it applies to (for zero-valued series)."""


def evaluate_guardrails(
    intent: Intent,
    engine: Engine,
    coverage: Sequence[NamespaceCoverage],
    exposure: ExposureReport | None,
    teams: TeamMap,
    today: dt.date,
    verification: Verification = VERIFIED,
) -> GuardrailResult:
    """A rule whose answer in a namespace is unknown (a kind that decides it could not
    be read) is neither a violation nor met there: it becomes a note, and the namespace
    leaves the guardrail's scope (no zero-valued series)."""
    checker = _Checker(engine, {c.name: c for c in coverage}, exposure, teams, verification)
    violations: list[Violation] = []
    statuses: list[ExceptionStatus] = []
    notes: list[str] = []
    scope: dict[str, tuple[str, ...]] = {}
    for g in intent.guardrails:
        raw, skipped = checker.run(g)
        scope[g.name] = tuple(n for n in checker.selected(g) if n not in checker.unknown)
        notes += [f"guardrail {g.name}: {s}" for s in skipped]
        matched = [0] * len(g.exceptions)
        for v in raw:
            hit = next(
                (
                    i
                    for i, e in enumerate(g.exceptions)
                    if e.covers(v.namespace, v.target, _name(v))
                ),
                None,
            )
            if hit is None:
                violations.append(v)
                continue
            matched[hit] += 1
            e = g.exceptions[hit]
            active = e.expires >= today
            message = v.message if active else f"{v.message} (exception expired {e.expires})"
            violations.append(
                Violation(
                    v.guardrail,
                    v.rule,
                    v.namespace,
                    v.target,
                    v.team,
                    v.severity,
                    message,
                    e,
                    active,
                )
            )
        statuses += [
            ExceptionStatus(g.name, e, e.expires < today, n)
            for e, n in zip(g.exceptions, matched, strict=True)
        ]
    violations.sort(key=lambda v: (v.guardrail, v.namespace, v.rule, v.target))
    return GuardrailResult(violations, statuses, notes, scope)


def _name(v: Violation) -> str:
    """The bare name of the object (`redis` of `Service databases/redis`)."""
    tail = v.target.rsplit(" ", 1)[-1]
    return tail.rsplit("/", 1)[-1].split("[", 1)[0]


class _Checker:
    def __init__(
        self,
        engine: Engine,
        coverage: Mapping[str, NamespaceCoverage],
        exposure: ExposureReport | None,
        teams: TeamMap,
        verification: Verification = VERIFIED,
    ) -> None:
        self.engine = engine
        self.verification = verification
        self.unknown: set[str] = set()
        """Namespaces where the last guardrail run had an unknown answer."""
        self.coverage = coverage
        self.exposure = exposure
        self.teams = teams
        self.public = [a for a in engine.atoms if is_public(a)]
        self._egress: dict[tuple[object, ...], list[tuple[AddressRange, PortSet]]] = {}

    def selected(self, g: Guardrail) -> tuple[str, ...]:
        return tuple(
            name
            for name, ns in self.engine.namespaces.items()
            if g.namespace_selector.matches(ns.labels)
        )

    def run(self, g: Guardrail) -> tuple[list[Violation], list[str]]:
        selected = self.selected(g)
        out: list[Violation] = []
        skipped: list[str] = []
        self.unknown = set()
        known = self.verification

        def unknown(ns: str, what: str) -> None:
            if ns not in self.unknown:
                self.unknown.add(ns)
                skipped.append(f"{ns}: {what} unknown (a kind that decides it was not read)")

        coverage_rules = bool(g.require_default_deny or g.require_policy_for_every_pod)
        exposure_rules = bool(g.forbid_exposure or g.internet_egress is not None)
        for ns in selected:
            if coverage_rules and not known.coverage_known(ns):
                unknown(ns, "default-deny and isolation")
            elif exposure_rules and not known.exposure_known(ns):
                unknown(ns, "exposure")
        answerable = [n for n in selected if n not in self.unknown]

        def add(rule: str, ns: str, obj: str, message: str, workloads: Sequence[str] = ()) -> None:
            team = self.teams.of(ns, workloads)
            out.append(Violation(g.name, rule, ns, obj, team, g.severity, message))

        for ns in answerable:
            cov = self.coverage.get(ns)
            for d in g.require_default_deny:
                if cov is None:
                    skipped.append(f"{ns}: no coverage computed, default-deny unknown")
                elif not (side := cov.direction(d)).default_deny:
                    add(
                        Rule.default_deny(d),
                        ns,
                        f"Namespace {ns}",
                        f"{d} is not default-deny: {side.reason}",
                    )
        if g.forbid_exposure:
            if self.exposure is None:
                skipped.append("exposure not analysed (--no-exposure): forbid_exposure unknown")
            else:
                chosen = set(answerable)
                for e in self.exposure.exposures:
                    if e.permitted and e.namespace in chosen and e.category in g.forbid_exposure:
                        add(
                            Rule.exposure(e.category),
                            e.namespace,
                            f"{e.kind} {e.namespace}/{e.name}",
                            f"{e.kind} {e.namespace}/{e.name} is exposed ({e.category}) "
                            f"on {e.ports}",
                            e.workloads,
                        )
        classes = [c for ns in answerable for c in self.engine.classes_by_ns.get(ns, ())]
        if g.internet_egress is not None and self.exposure is None:
            skipped.append("exposure not analysed (--no-exposure): internet_egress unknown")
        elif g.internet_egress is not None:
            reaching = {e.workload for e in self.exposure.internet_egress}  # type: ignore[union-attr]
            for cls in classes:
                if not any(wl.id in reaching for wl in cls.workloads):
                    continue  # the scan found no public address it may open
                reach = self._outside_allowlist(cls, g.internet_egress)
                if reach:
                    shown = ", ".join(f"{a} ({p})" for a, p in reach[:3])
                    more = f" and {len(reach) - 3} more ranges" if len(reach) > 3 else ""
                    for wl in cls.workloads:
                        add(
                            Rule.INTERNET_EGRESS,
                            cls.namespace,
                            wl.id,
                            f"{wl.id} can reach public addresses outside the allowlist: "
                            f"{shown}{more}",
                            (wl.id,),
                        )
        if g.require_policy_for_every_pod:
            for cls in classes:
                if not self.engine.selecting(cls):
                    for wl in cls.workloads:
                        why = " (hostNetwork: no pod policy selects it)" if cls.host_network else ""
                        add(
                            Rule.POLICY_FOR_EVERY_POD,
                            cls.namespace,
                            wl.id,
                            f"no policy selects the pods of {wl.id}{why}",
                            (wl.id,),
                        )
        return _dedup(out), skipped

    def _outside_allowlist(
        self, cls: PodClass, allow: Sequence[EgressAllow]
    ) -> list[tuple[AddressRange, PortSet]]:
        """Public ranges (and ports) the class may open that the allowlist does not list.
        An allowed CIDR covers an address range only if it contains all of it: a range
        reaching past the CIDR is reported, since some of its addresses are not allowed.
        Memoised by what a verdict towards an address can depend on, by content (fleets
        stamp the same policies into thousands of namespaces): the selecting policies'
        order, isolation and address-capable egress peers, and host networking (pod and
        endpoint selectors never match an address)."""
        egress = Direction.EGRESS
        key = (
            self.engine.is_isolated(cls, egress),
            cls.host_network,
            tuple(allow),
            tuple(
                (
                    p.api,
                    p.tier_order,
                    p.priority,
                    p.tier_passes,
                    p.ordered,
                    egress in p.isolates,
                    tuple(
                        (
                            r.action,
                            r.index,
                            None
                            if r.peers is None
                            else tuple(x for x in r.peers if not isinstance(x, _POD_PEERS)),
                            r.ports,
                        )
                        for r in p.rules(egress)
                    ),
                )
                for p in self.engine.selecting(cls)
            ),
        )
        hit = self._egress.get(key)
        if hit is None:
            hit = []
            for atom in self.public:
                ports = self.engine.decide(Direction.EGRESS, cls, atom).ports
                allowed = NONE
                for a in allow:
                    if a.cidr.contains(atom):
                        allowed = allowed | a.ports
                rest = ports - allowed
                if rest:
                    hit.append((atom, rest))
            self._egress[key] = hit
        return hit


def _dedup(violations: list[Violation]) -> list[Violation]:
    """One violation per (rule, object): a workload split over several pod classes is
    still one workload."""
    seen: set[tuple[str, str]] = set()
    out = []
    for v in violations:
        if (v.rule, v.target) not in seen:
            seen.add((v.rule, v.target))
            out.append(v)
    return out
