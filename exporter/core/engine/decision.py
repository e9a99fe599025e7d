"""One decision with its reasons: the ports one side (egress at the source, ingress
at the destination) admits from or to one peer, and the rules that decided them."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.engine.classes import Endpoint, PodClass
from exporter.core.engine.peers import covers_every_address
from exporter.core.engine.selection import Plan, Selection
from exporter.core.model import (
    Direction,
)
from exporter.core.policies import (
    Action,
    NamedPeer,
    Policy,
    Rule,
)
from exporter.core.ports import ALL, NONE, PortSet


@dataclass(frozen=True, slots=True)
class RuleMatch:
    policy: Policy
    rule: Rule
    ports: PortSet
    action: Action = Action.ALLOW


@dataclass(frozen=True, slots=True)
class SideDecision:
    """One side's verdict (egress at the source or ingress at the destination)."""

    direction: Direction
    applies: bool
    """False when this side is outside the cluster and enforces nothing we model."""
    isolated: bool
    """Default deny: traffic no rule decides is denied (see `Engine.is_isolated`)."""
    ports: PortSet
    isolating: tuple[Policy, ...] = ()
    matches: tuple[RuleMatch, ...] = ()
    """Allow rules that admitted ports (after earlier deny/pass rules)."""
    denies: tuple[RuleMatch, ...] = ()
    """Deny rules that decided ports (Cilium deny, ANP/BANP/Calico Deny)."""
    passes: tuple[RuleMatch, ...] = ()
    """Pass rules that handed ports on to the next tier."""
    policies: tuple[Policy, ...] = ()
    """Every enforced policy selecting the subject with an effect in this direction."""
    default_allowed: PortSet = NONE
    """Ports no tier decided, allowed by the Kubernetes default."""


class Decision(Selection):
    """The third layer of `Engine`: the tier-by-tier walk of one connection side."""

    def decide(self, direction: Direction, subject: Endpoint, peer: Endpoint) -> SideDecision:
        """The ports `subject` admits from/to `peer` in `direction`, and why."""
        if not isinstance(subject, PodClass):
            return SideDecision(direction, applies=False, isolated=False, ports=ALL)
        plan = self.plan(subject, direction)
        isolating = tuple(self.isolating(subject, direction))
        if not plan.tiers:
            return SideDecision(
                direction, applies=True, isolated=False, ports=ALL, default_allowed=ALL
            )
        dst = subject if direction is Direction.INGRESS else peer
        allowed, default, matches, denies, passes = self._evaluate(plan, peer, dst, True)
        policies = tuple(p for t in plan.tiers for p in t.policies)
        return SideDecision(
            direction,
            True,
            bool(isolating),
            allowed,
            isolating,
            tuple(matches),
            tuple(denies),
            tuple(passes),
            policies,
            default,
        )

    def _evaluate(
        self, plan: Plan, peer: Endpoint, dst: Endpoint, explain: bool = False
    ) -> tuple[PortSet, PortSet, list[RuleMatch], list[RuleMatch], list[RuleMatch]]:
        """Walk the tiers: the first rule matching a port decides it (docs/semantics.md
        §2.2, §3.5, §4)."""
        undecided = ALL
        allowed = NONE
        matches: list[RuleMatch] = []
        denies: list[RuleMatch] = []
        passes: list[RuleMatch] = []
        for tier in plan.tiers:
            tier_open = undecided
            blocked = NONE
            passed = NONE
            for policy, rule in tier.rules:
                if not undecided and not explain:
                    break
                if rule.peers is not None and not any(
                    self.peer_matches(p, peer) for p in rule.peers
                ):
                    continue
                ports = self.rule_ports(rule.ports, dst)
                if not ports or rule.action is Action.LOG:
                    continue
                if rule.action is Action.ALLOW:
                    got = (ports & tier_open) - blocked
                    if got:
                        allowed = allowed | got
                        undecided = undecided - got
                        if explain:
                            matches.append(RuleMatch(policy, rule, got))
                    continue
                got = ports & undecided
                if not got:
                    continue
                undecided = undecided - got
                blocked = blocked | got
                if rule.action is Action.DENY:
                    if explain:
                        denies.append(RuleMatch(policy, rule, got, Action.DENY))
                else:
                    passed = passed | got
                    if explain:
                        passes.append(RuleMatch(policy, rule, got, Action.PASS))
            if tier.ends_in_deny:
                undecided = NONE
            undecided = undecided | passed
        return allowed | undecided, undecided, matches, denies, passes

    def named_destinations(self, cls: PodClass) -> dict[str, PortSet]:
        """Egress to destinations named rather than addressed (Cilium `toFQDNs` and
        `toServices`, ANP `domainNames`): `kind:name` -> ports an allow rule opens,
        less what a deny rule for every outside address takes away (FQDN IPs are
        `world`, §3.8)."""
        plan = self.plan(cls, Direction.EGRESS)
        out: dict[str, PortSet] = {}
        denied = NONE
        for tier in plan.tiers:
            for _policy, rule in tier.rules:
                if rule.action is Action.DENY and (
                    rule.peers is None or any(covers_every_address(p) for p in rule.peers)
                ):
                    denied = denied | self.rule_ports(rule.ports, cls)
        for tier in plan.tiers:
            for _policy, rule in tier.rules:
                if rule.action is not Action.ALLOW:
                    continue
                for peer in rule.peers or ():
                    if isinstance(peer, NamedPeer):
                        ports = self.rule_ports(rule.ports, self.atoms[0]) - denied
                        if ports:
                            key = f"{peer.kind}:{peer.name}"
                            out[key] = out.get(key, NONE) | ports
        return out

    def connection(
        self, src: Endpoint, dst: Endpoint
    ) -> tuple[PortSet, SideDecision, SideDecision]:
        egress = self.decide(Direction.EGRESS, src, dst)
        ingress = self.decide(Direction.INGRESS, dst, src)
        return egress.ports & ingress.ports, egress, ingress
