"""Default-deny coverage per namespace and direction, and the policy findings.

`default_deny` is true only when every current and future pod of the namespace is
isolated in that direction (a policy with an empty podSelector isolating it,
docs/semantics.md §1.7) AND no rule in the namespace admits every peer on every port
in that direction (so `ingress: [{}]`, §1.3, is not default-deny however it is named).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporter.core.engine import Engine, covers_everything
from exporter.core.findings import Check, Finding, Severity
from exporter.core.model import Direction, Protocol
from exporter.core.policies import (
    Action,
    IPBlockPeer,
    NamedPort,
    NetworkPlugin,
    Policy,
    PolicyAPI,
    Rule,
)


@dataclass(frozen=True, slots=True)
class DirectionCoverage:
    default_deny: bool
    isolated_pods: int
    policies: tuple[str, ...]
    """Policies that isolate every pod of the namespace in this direction."""
    opened_by: tuple[str, ...]
    """Policies with a rule admitting every peer on every port."""
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "default_deny": self.default_deny,
            "isolated_pods": self.isolated_pods,
            "policies": list(self.policies),
            "opened_by": list(self.opened_by),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class NamespaceCoverage:
    name: str
    pods: int
    ingress: DirectionCoverage
    egress: DirectionCoverage

    def direction(self, direction: Direction) -> DirectionCoverage:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "pods": self.pods,
            "ingress": self.ingress.to_json(),
            "egress": self.egress.to_json(),
        }


def rule_admits_everything(rule: Rule, families: Iterable[int]) -> bool:
    """An Allow rule for every peer (all pods, all nodes and all addresses) on every port."""
    return rule.all_ports and rule.action is Action.ALLOW and covers_everything(rule, families)


def opens_everything(policy: Policy, direction: Direction, families: Iterable[int]) -> bool:
    """A rule admitting every peer on every port that nothing in the policy overrides
    (a Cilium deny rule, an earlier Deny/Pass of an ordered policy)."""
    families = tuple(families)
    for rule in policy.effective_rules(direction):
        if rule_admits_everything(rule, families):
            return True
        if rule.action in (Action.DENY, Action.PASS):
            return False
    return False


def coverage(engine: Engine) -> list[NamespaceCoverage]:
    out = []
    for name in engine.namespaces:
        classes = engine.classes_by_ns.get(name, [])
        policies = [
            *engine.policies_by_ns.get(name, []),
            *(p for p in engine.cluster_policies if engine.covers_namespace(p, name)),
        ]
        pods = sum(c.pods for c in classes)
        sides = {}
        for direction in Direction:
            isolated = sum(c.pods for c in classes if engine.is_isolated(c, direction))
            establishing = tuple(p.id for p in engine.establishing(name, direction))
            opened = tuple(
                p.id
                for p in policies
                if (direction in p.isolates or p.api is not PolicyAPI.KUBERNETES)
                and opens_everything(p, direction, engine.families)
            )
            # hostNetwork pods share the node's network: no pod policy isolates them
            # (docs/semantics.md §1.6), so their namespace is not wholly default-deny.
            exposed_host = sum(
                c.pods for c in classes if c.host_network and not engine.is_isolated(c, direction)
            )
            if not establishing:
                reason = (
                    f"no policy isolates every pod for {direction}"
                    f" ({isolated} of {pods} pods isolated; new pods would be open)"
                )
            elif opened:
                reason = f"{', '.join(opened)} admits every peer on every port"
            elif exposed_host:
                reason = (
                    f"{exposed_host} hostNetwork pod(s) cannot be isolated for {direction}; "
                    f"the others are, by {', '.join(establishing)}"
                )
            else:
                reason = f"every pod is isolated for {direction} by {', '.join(establishing)}"
            sides[direction] = DirectionCoverage(
                default_deny=bool(establishing) and not opened and not exposed_host,
                isolated_pods=isolated,
                policies=establishing,
                opened_by=opened,
                reason=reason,
            )
        out.append(NamespaceCoverage(name, pods, sides[Direction.INGRESS], sides[Direction.EGRESS]))
    return out


def coverage_findings(engine: Engine, namespaces: list[NamespaceCoverage]) -> list[Finding]:
    """The findings of the coverage analysis: namespaces without default deny, policies
    that select nothing, and rules of each API that do not do what they seem to."""
    found: list[Finding] = []
    for ns in namespaces:
        for direction in Direction:
            side = ns.direction(direction)
            genuine = [p for p in side.policies if p not in side.opened_by]
            if genuine and side.opened_by:
                found.append(
                    Finding(
                        Check.ALLOW_ALL_BESIDE_DEFAULT_DENY,
                        Severity.HIGH,
                        ns.name,
                        f"Namespace {ns.name}",
                        f"{direction} default-deny by {', '.join(genuine)} is undone by "
                        f"{', '.join(side.opened_by)}, which admits every peer on every port",
                        direction=str(direction),
                    )
                )
            if not side.default_deny and not side.opened_by:
                found.append(
                    Finding(
                        Check.NO_DEFAULT_DENY,
                        Severity.MEDIUM if direction is Direction.INGRESS else Severity.LOW,
                        ns.name,
                        f"Namespace {ns.name}",
                        f"no {direction} default-deny: {side.reason}",
                        direction=str(direction),
                    )
                )
    for policy in engine.snapshot.policies:
        found.extend(_policy_findings(engine, policy))
    for cls in engine.classes:
        if cls.host_network and any(
            p.pod_selector.matches(cls.labels) for p in engine.policies_by_ns.get(cls.namespace, ())
        ):
            wl = ", ".join(w.id for w in cls.workloads)
            found.append(
                Finding(
                    Check.HOST_NETWORK_UNPROTECTED,
                    Severity.LOW,
                    cls.namespace,
                    wl,
                    f"{wl} uses hostNetwork: NetworkPolicy does not isolate it although "
                    "policies select its labels",
                )
            )
    found.sort(key=lambda f: (-f.severity.rank, f.namespace, f.check, f.object))
    return found


_ENFORCERS = {
    PolicyAPI.CILIUM: "Cilium",
    PolicyAPI.CALICO: "Calico",
    PolicyAPI.ADMIN: "a plugin implementing AdminNetworkPolicy (not Cilium)",
}


def _api_findings(engine: Engine, policy: Policy) -> Iterable[Finding]:
    """What the policy's API or the network plugin makes of it, said rather than hidden."""
    ns, obj = policy.namespace, policy.id
    if not engine.is_enforced(policy):
        yield Finding(
            Check.UNENFORCED_POLICY,
            Severity.MEDIUM,
            ns,
            obj,
            f"{obj} has no effect: the network plugin is {engine.network_plugin}, and "
            f"{policy.ref.kind} is enforced only by {_ENFORCERS.get(policy.api, 'others')}",
        )
        return
    if policy.notes:
        yield Finding(
            Check.NOT_EVALUATED,
            Severity.INFO,
            ns,
            obj,
            f"{obj}: " + "; ".join(policy.notes),
        )
    if engine.network_plugin is NetworkPlugin.CILIUM:
        for rule in (*policy.ingress, *policy.egress):
            blocks = [p.block for p in rule.peers or () if isinstance(p, IPBlockPeer)]
            if blocks:
                yield Finding(
                    Check.CIDR_IGNORES_PODS,
                    Severity.LOW,
                    ns,
                    obj,
                    f"{obj} {rule.direction} rule {rule.name}: on Cilium, CIDR/ipBlock rules "
                    f"never match pods (and by default not nodes): "
                    f"{', '.join(str(b) for b in blocks)} admits only addresses outside the "
                    "cluster",
                    direction=str(rule.direction),
                )


def _policy_findings(engine: Engine, policy: Policy) -> Iterable[Finding]:
    ns, obj = policy.namespace, policy.id
    yield from _api_findings(engine, policy)
    if not engine.is_enforced(policy) or policy.host_policy:
        return
    if engine.selected_pods.get(id(policy), 0) == 0:
        yield Finding(
            Check.POLICY_SELECTS_NO_PODS,
            Severity.LOW,
            ns,
            obj,
            f"{obj} selects no pods (podSelector [{policy.pod_selector}])",
        )
    for direction in Direction:
        if direction not in policy.isolates and policy.api in (
            PolicyAPI.KUBERNETES,
            PolicyAPI.CALICO,
        ):
            if policy.rules(direction):
                yield Finding(
                    Check.IGNORED_RULES,
                    Severity.LOW,
                    ns,
                    obj,
                    f"{obj} has {direction} rules but policyTypes lacks "
                    f"{direction.value.capitalize()}: they have no effect",
                    direction=str(direction),
                )
            continue
        for rule in policy.rules(direction):
            if rule_admits_everything(rule, engine.families):
                yield Finding(
                    Check.ALLOW_ALL_RULE,
                    Severity.HIGH if policy.pod_selector.is_empty else Severity.MEDIUM,
                    ns,
                    obj,
                    f"{obj} {direction} rule #{rule.index} admits every peer on every port"
                    + (" for every pod of the namespace" if policy.pod_selector.is_empty else ""),
                    direction=str(direction),
                )
            yield from _named_port_findings(engine, policy, rule)
    if (
        policy.api is PolicyAPI.KUBERNETES
        and not policy.policy_types_explicit
        and policy.egress
        and not policy.ingress
    ):
        yield Finding(
            Check.IMPLICIT_INGRESS_DENY,
            Severity.MEDIUM,
            ns,
            obj,
            f"{obj} has egress rules and no policyTypes, so it also isolates ingress: "
            f"all ingress to its {engine.selected_pods.get(id(policy), 0)} pods is denied "
            "(set policyTypes: [Egress] if that was not meant)",
            direction="ingress",
        )
    if policy.declared_empty_egress:
        yield Finding(
            Check.EMPTY_EGRESS_NOT_ISOLATING,
            Severity.LOW,
            ns,
            obj,
            f"{obj} declares `egress: []` without policyTypes: egress is NOT isolated "
            "(add policyTypes: [Ingress, Egress] to deny egress)",
            direction="egress",
        )


def _named_port_findings(engine: Engine, policy: Policy, rule: Rule) -> Iterable[Finding]:
    if rule.ports is None:
        return
    named = [m for m in rule.ports if isinstance(m, NamedPort)]
    if not named:
        return
    if rule.direction is Direction.INGRESS:
        available: frozenset[tuple[str | None, Protocol]] = frozenset(
            (cp.name, cp.protocol)
            for c in engine.classes_by_ns.get(policy.namespace, ())
            if any(p is policy for p in engine.selecting(c))
            for cp in c.ports
        )
    else:
        available = engine.named_ports()
    for match in named:
        if (match.name, match.protocol) not in available:
            yield Finding(
                Check.UNRESOLVED_NAMED_PORT,
                Severity.LOW,
                policy.namespace,
                policy.id,
                f"{policy.id} {rule.direction} rule #{rule.index}: named port "
                f"{match.protocol}/{match.name} matches no container port of the "
                f"{'selected' if rule.direction is Direction.INGRESS else 'cluster'}'s pods",
                direction=str(rule.direction),
            )
