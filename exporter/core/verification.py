"""Which answers a scan could verify, and which it could not (docs/semantics.md §6.12).

A compliance tool must never publish what it did not see. When a kind that decides an
answer could not be read (the API server refused to list it, 403) or an object of such
a kind could not be parsed at all, the answers it decides are *unknown*: no default-deny,
isolation or exposure value is published for the namespaces concerned; they are listed
with the reason instead, and the scan is *degraded* (a state beside success and failure).

What decides what:
- policy kinds the cluster's network plugin enforces (`ENFORCED_APIS`), Pods and
  Namespaces decide coverage (default-deny, isolated pods) and, through it, exposure;
- the kinds that route traffic to pods (Services, Ingress, Gateway API, OpenShift
  Routes, EndpointSlices, Nodes) decide exposure only.

A policy API the plugin does not enforce decides nothing (its objects are reported as
`unenforced-policy`), so an unreadable AdminNetworkPolicy on Cilium changes no answer.
A kind the cluster does not serve at all (no CRD) is not unreadable: it is simply absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from exporter.core.findings import Check, Finding, Severity
from exporter.core.policies import ENFORCED_APIS, NetworkPlugin, PolicyAPI
from exporter.core.policies.kinds import POLICY_KINDS as REGISTERED_POLICY_KINDS


class ScanState(StrEnum):
    """How much a scan could see (the `state` of JSON output, `netfence_scan_state`)."""

    SUCCESS = "success"
    """Everything that decides an answer was read and parsed."""
    DEGRADED = "degraded"
    """Some answers are unknown (listed per namespace); the others are verified."""
    FAILURE = "failure"
    """Nothing could be scanned (cluster unreachable, ...); no new answer at all."""


class Reason(StrEnum):
    UNREADABLE = "unreadable"
    """The API server refused to list the kind (403)."""
    UNPARSABLE = "unparsable"
    """An object of the kind could not be read at all (input error naming it)."""


class Answer(StrEnum):
    COVERAGE = "coverage"
    """Default-deny and isolated pods."""
    EXPOSURE = "exposure"
    """Exposed services and internet egress."""


@dataclass(frozen=True, slots=True, order=True)
class Unverified:
    """One kind whose objects (all, or one) are missing from the analysis."""

    kind: str
    """`group/Kind` as the API serves it (`Kind` alone for the core group)."""
    reason: Reason
    namespace: str = ""
    """The namespace of the one unparsable object; "" for every namespace."""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "reason": str(self.reason), "namespace": self.namespace}


# Which policy API a `group/Kind` belongs to, from the one registry of policy kinds.
_POLICY_GROUPS: dict[str, PolicyAPI] = {
    group: k.api for k in REGISTERED_POLICY_KINDS for group in k.groups
} | {"extensions": PolicyAPI.KUBERNETES}
POLICY_KINDS = frozenset({k.kind for k in REGISTERED_POLICY_KINDS} | {"Tier"})
COVERAGE_KINDS = frozenset({"Pod", "Namespace"})
EXPOSURE_KINDS = frozenset(
    {
        "Service",
        "EndpointSlice",
        "Ingress",
        "IngressClass",
        "Gateway",
        "GatewayClass",
        "HTTPRoute",
        "GRPCRoute",
        "TLSRoute",
        "TCPRoute",
        "UDPRoute",
        "ReferenceGrant",
        "Route",
        "Node",
    }
)


def kind_label(kind: str, api_version: object) -> str:
    """`group/Kind` (`Kind` for the core group), as `netfence_scan_unreadable_kinds` says it."""
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    return f"{group}/{kind}" if group else kind


def policy_api(label: str) -> PolicyAPI | None:
    """The policy API of a `group/Kind` label, None when it is not a policy kind."""
    group, _, kind = label.rpartition("/")
    if kind not in POLICY_KINDS:
        return None
    if not group:  # a manifest without apiVersion: read as the upstream kind
        return PolicyAPI.CILIUM if kind.startswith("Cilium") else PolicyAPI.KUBERNETES
    return _POLICY_GROUPS.get(group)


def decides(label: str, plugin: NetworkPlugin) -> frozenset[Answer]:
    """The answers a kind decides on a cluster enforcing with `plugin`."""
    kind = label.rpartition("/")[2]
    api = policy_api(label)
    if api is not None:
        if api in ENFORCED_APIS[plugin]:
            return frozenset(Answer)
        return frozenset()
    if kind in COVERAGE_KINDS:
        return frozenset(Answer)
    if kind in EXPOSURE_KINDS:
        return frozenset({Answer.EXPOSURE})
    return frozenset()


@dataclass(frozen=True, slots=True)
class Verification:
    """Per namespace, what is unknown and why (absent namespace: everything verified)."""

    coverage: Mapping[str, tuple[Unverified, ...]]
    """namespace -> why its default-deny and isolation are unknown."""
    exposure: Mapping[str, tuple[Unverified, ...]]
    """namespace -> why its exposure and internet egress are unknown (⊇ coverage)."""
    unverified: tuple[Unverified, ...] = ()
    """Every gap that decides some answer (those deciding none are left out)."""

    @property
    def state(self) -> ScanState:
        return ScanState.DEGRADED if self.unverified else ScanState.SUCCESS

    def coverage_known(self, namespace: str) -> bool:
        return namespace not in self.coverage

    def exposure_known(self, namespace: str) -> bool:
        return namespace not in self.exposure


VERIFIED = Verification({}, {})


def verify(
    namespaces: Iterable[str], gaps: Iterable[Unverified], plugin: NetworkPlugin
) -> Verification:
    """Which namespaces' answers the `gaps` make unknown on a cluster enforcing `plugin`."""
    names = list(namespaces)
    coverage: dict[str, list[Unverified]] = {}
    exposure: dict[str, list[Unverified]] = {}
    kept: set[Unverified] = set()
    for gap in gaps:
        answers = decides(gap.kind, plugin)
        if not answers:
            continue
        kept.add(gap)
        targets = [gap.namespace] if gap.namespace else names
        for ns in targets:
            if Answer.COVERAGE in answers:
                coverage.setdefault(ns, []).append(gap)
            exposure.setdefault(ns, []).append(gap)
    return Verification(
        coverage={ns: tuple(sorted(set(g))) for ns, g in sorted(coverage.items())},
        exposure={ns: tuple(sorted(set(g))) for ns, g in sorted(exposure.items())},
        unverified=tuple(sorted(kept)),
    )


# Findings that claim something is open or missing: on a namespace whose answer is
# unknown they would be claims about what was not seen, so they are withheld there
# (the gap itself is the finding: `unreadable-kind`, `unverifiable-policy`).
COVERAGE_CLAIMS = frozenset(
    {
        Check.NO_DEFAULT_DENY,
        Check.ALLOW_ALL_BESIDE_DEFAULT_DENY,
        Check.HOST_NETWORK_UNPROTECTED,
        Check.POLICY_SELECTS_NO_PODS,
    }
)
EXPOSURE_CLAIMS = frozenset(
    {
        Check.EGRESS_INTERNET_ANY_PORT,
        Check.SENSITIVE_NAMESPACE_OPEN,
        Check.DATABASE_PORT_ALL_NAMESPACES,
        Check.ROUTE_BACKEND_NOT_GRANTED,
    }
)


def verified_findings(found: Iterable[Finding], verification: Verification) -> list[Finding]:
    """`found` without the claims about namespaces whose answer is unknown."""
    if not verification.unverified:
        return list(found)
    return [
        f
        for f in found
        if not (
            (f.check in COVERAGE_CLAIMS and f.namespace in verification.coverage)
            or (f.check in EXPOSURE_CLAIMS and f.namespace in verification.exposure)
        )
    ]


def gap_findings(unreadable: Iterable[str], verification: Verification) -> list[Finding]:
    """One finding per gap: every kind the API refused, every unparsable object that
    decides an answer; each says which answers are unknown because of it."""
    deciding = {g.kind for g in verification.unverified if g.reason is Reason.UNREADABLE}
    out = [
        Finding(
            check=Check.UNREADABLE_KIND,
            severity=Severity.HIGH,
            namespace="",
            object=kind,
            message=f"the API server refused to list {kind} (403): "
            + (
                "default-deny, isolation and exposure are unknown (not published) for "
                "the namespaces it could hold"
                if kind in deciding
                else "its objects are not analysed (the network plugin does not enforce "
                "them, so no answer depends on them)"
            )
            + "; grant get/list/watch on it to netfence",
        )
        for kind in sorted(set(unreadable))
    ]
    out += [
        Finding(
            check=Check.UNVERIFIABLE_POLICY,
            severity=Severity.HIGH,
            namespace=gap.namespace,
            object=gap.kind,
            message=f"a {gap.kind} object could not be read (see the input errors): "
            + (
                f"the answers of namespace {gap.namespace} are unknown (not published)"
                if gap.namespace
                else "the answers of every namespace are unknown (not published)"
            ),
        )
        for gap in verification.unverified
        if gap.reason is Reason.UNPARSABLE
    ]
    return out
