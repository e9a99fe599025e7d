"""Why a connection is allowed or denied: both sides, with the policies and rules."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.engine import Endpoint, Engine, PodClass, RuleMatch, SideDecision
from exporter.core.model import Direction, Protocol
from exporter.core.ports import PortSet


@dataclass(frozen=True, slots=True)
class PortQuery:
    """One port the user asked about (`--port 8080/TCP`); None in its place means every
    port."""

    protocol: Protocol
    port: int

    def __str__(self) -> str:
        return f"{self.protocol}/{self.port}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """The verdict for one connection with both sides' reasons: egress at the source and
    ingress at the destination, each with the rules that allowed, denied or passed it
    on (a connection is allowed only when both sides allow it, docs/semantics.md §0)."""

    src: str
    dst: str
    port: PortQuery | None
    allowed: bool
    conns: PortSet
    egress: SideDecision
    ingress: SideDecision

    def to_json(self) -> dict[str, object]:
        """The `explain -o json` entry (docs/json-output.md): the verdict, the allowed
        connections and each side with its isolating policies and deciding rules."""
        return {
            "src": self.src,
            "dst": self.dst,
            "port": str(self.port) if self.port else None,
            "allowed": self.allowed,
            "conns": self.conns.to_json(),
            "egress": _side_json(self.egress, self.port),
            "ingress": _side_json(self.ingress, self.port),
        }

    def lines(self) -> list[str]:
        """The `explain -o table` text: the verdict, then per side the rules that decided
        it (with --port, only those that decided that port)."""
        what = f" on {self.port}" if self.port else ""
        verdict = "ALLOWED" if self.allowed else "DENIED"
        out = [f"{self.src} => {self.dst}{what}: {verdict}"]
        if not self.port:
            out.append(f"  allowed connections: {self.conns}")
        for side, at in ((self.egress, self.src), (self.ingress, self.dst)):
            out.append(f"  {side.direction} at {at}: {_side_summary(side, self.port)}")
            for verb, found in (
                ("denied by", side.denies),
                ("passed on by", side.passes),
                ("allowed by", side.matches),
            ):
                for match in found:
                    if self.port and not match.ports.contains(self.port.protocol, self.port.port):
                        continue
                    out.append(f"    {verb} {match.policy.id} {match.rule.describe()}")
        return out


def _side_verdict(side: SideDecision, port: PortQuery | None) -> str:
    if not side.applies:
        return "not-enforced"
    ok = side.ports.contains(port.protocol, port.port) if port else bool(side.ports)
    return "allowed" if ok else "denied"


def _side_summary(side: SideDecision, port: PortQuery | None) -> str:
    verdict = _side_verdict(side, port)
    if not side.applies:
        return "outside the cluster, no policy applies"
    if not side.isolated and not side.policies:
        return (
            f"allowed: not isolated for {side.direction} (no policy selecting it has "
            f"{side.direction.value.capitalize()} in its policyTypes)"
        )
    on = f" on {port}" if port else ""
    denied_here = [m for m in side.denies if not port or m.ports.contains(port.protocol, port.port)]
    if verdict == "denied" and denied_here:
        by = ", ".join(sorted({m.policy.id for m in denied_here}))
        return f"denied{on} by a deny rule of {by}"
    if not side.isolated:
        applied = ", ".join(p.id for p in side.policies)
        if verdict == "denied":
            return f"denied{on} by {applied}"
        default = (
            side.default_allowed.contains(port.protocol, port.port)
            if port
            else bool(side.default_allowed)
        )
        why = "no rule decides it and the pod is not isolated" if default else "a rule allows it"
        return f"allowed ({side.ports}): {why} (policies: {applied})"
    by = ", ".join(p.id for p in side.isolating)
    if verdict == "denied":
        return f"denied: isolated by {by} and no {side.direction} rule admits this peer{on}"
    return f"allowed ({side.ports}): isolated by {by}"


def _side_json(side: SideDecision, port: PortQuery | None) -> dict[str, object]:
    return {
        "verdict": _side_verdict(side, port),
        "isolated": side.isolated,
        "isolated_by": [p.id for p in side.isolating],
        "conns": side.ports.to_json(),
        "allowed_by": _matches_json(side.matches, port),
        "denied_by": _matches_json(side.denies, port),
        "passed_by": _matches_json(side.passes, port),
        "policies": [p.id for p in side.policies],
    }


def _matches_json(found: tuple[RuleMatch, ...], port: PortQuery | None) -> list[dict[str, object]]:
    return [
        {
            "policy": m.policy.id,
            "rule": m.rule.name,
            "description": m.rule.describe(),
            "conns": m.ports.to_json(),
        }
        for m in found
        if not port or m.ports.contains(port.protocol, port.port)
    ]


def explain(engine: Engine, src: Endpoint, dst: Endpoint, port: PortQuery | None) -> Explanation:
    """Why `src` may or may not connect to `dst` (on `port`, or on any port when None):
    the engine's decision for both sides, with the rules behind it."""
    conns, egress, ingress = engine.connection(src, dst)
    allowed = conns.contains(port.protocol, port.port) if port else bool(conns)
    return Explanation(_name(src), _name(dst), port, allowed, conns, egress, ingress)


def _name(endpoint: Endpoint) -> str:
    if isinstance(endpoint, PodClass):
        return ", ".join(w.id for w in endpoint.workloads)
    return str(endpoint)


__all__ = ["Direction", "Explanation", "PortQuery", "explain"]
