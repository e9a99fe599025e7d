"""Findings (what is wrong with the policy) and input errors (what we could not read)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {s: i for i, s in enumerate(Severity)}


class Check(StrEnum):
    """Closed vocabulary: these names are metric label values and a JSON contract."""

    NO_DEFAULT_DENY = "no-default-deny"
    ALLOW_ALL_RULE = "allow-all-rule"
    POLICY_SELECTS_NO_PODS = "policy-selects-no-pods"
    IMPLICIT_INGRESS_DENY = "implicit-ingress-deny"
    EMPTY_EGRESS_NOT_ISOLATING = "empty-egress-not-isolating"
    IGNORED_RULES = "ignored-rules"
    UNRESOLVED_NAMED_PORT = "unresolved-named-port"
    HOST_NETWORK_UNPROTECTED = "host-network-unprotected"
    EGRESS_INTERNET_ANY_PORT = "egress-internet-any-port"
    DATABASE_PORT_ALL_NAMESPACES = "database-port-all-namespaces"
    SENSITIVE_NAMESPACE_OPEN = "sensitive-namespace-open"
    ALLOW_ALL_BESIDE_DEFAULT_DENY = "allow-all-beside-default-deny"
    ROUTE_BACKEND_NOT_GRANTED = "route-backend-not-granted"
    UNENFORCED_POLICY = "unenforced-policy"
    """A policy of an API the cluster's network plugin does not implement."""
    CIDR_IGNORES_PODS = "cidr-ignores-pods"
    """On Cilium, CIDR/ipBlock rules never match pods."""
    NOT_EVALUATED = "not-evaluated"
    """Parts of a policy netfence reports but cannot evaluate (L7, FQDN, host policies)."""
    UNREADABLE_KIND = "unreadable-kind"
    """A live scan was refused (403) a kind: whatever it holds is not analysed."""
    UNVERIFIABLE_POLICY = "unverifiable-policy"
    """An object of a kind that decides an answer could not be read at all: the answers
    of its namespace (every namespace, when cluster-scoped) are unknown."""
    GUARDRAIL_VIOLATION = "guardrail-violation"
    """The intent file's guardrail is not met (docs/intent.md)."""
    EXCEPTION_EXPIRED = "exception-expired"
    """A guardrail exception's expiry date has passed: the guardrail applies again."""
    BASELINE_DRIFT = "baseline-drift"
    """A baseline policy is missing, modified or present under another name."""
    UNUSED_POLICY = "unused-policy"
    """Hubble saw the policy allow no connection for the whole window (serve, Cilium)."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: Check
    severity: Severity
    namespace: str
    object: str
    message: str
    direction: str = ""
    """`ingress` or `egress` where the check has a direction (the metric's label), else ""."""

    def to_json(self) -> dict[str, str]:
        """The JSON entry (docs/json-output.md); `direction` only where the check has one,
        so a consumer can tell ingress and egress findings apart without the message."""
        out = {
            "check": str(self.check),
            "severity": str(self.severity),
            "namespace": self.namespace,
            "object": self.object,
        }
        if self.direction:
            out["direction"] = self.direction
        out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class InputError:
    """One object (or file) we could not use, named so the user can find and fix it."""

    source: str
    message: str
    kind: str = ""
    namespace: str = ""
    name: str = ""
    document: int | None = None
    stage: str = "load"

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "document": self.document,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "stage": self.stage,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.source + (f" (document {self.document})" if self.document is not None else "")
        what = " ".join(
            p for p in (self.kind, f"{self.namespace}/{self.name}" if self.name else "") if p
        )
        return f"{where}: {what + ': ' if what else ''}{self.message}"
