"""What the history store answers: the read contract between the store and its readers.

The store (exporter/store/) records scans as a change log of intervals; reports
(reports/model.py), `netfence history` and the CLI read it only through the
`HistoryReader` protocol below and these plain, frozen result types. Keeping the
contract here, in the pure core, lets the report view model stay free of SQLAlchemy and
be unit-tested with hand-built values.

Conventions:
- Times are seconds since the epoch (UTC), as floats; a period is half-open [since, until).
- `None` means "not known" (no successful scan covered that moment, or the kind that
  decides it was unreadable) and is never to be shown as 0 or false.
- Directions are "ingress" / "egress"; exposure categories are the values of the
  exposure families (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """One recorded scan (successful or not): the small row every scan writes."""

    cluster: str
    started_at: float
    duration_seconds: float
    success: bool
    error: str = ""
    namespaces: int = 0
    pods: int = 0
    findings: int = 0
    policies: int = 0
    policies_sha256: str = ""
    version: str = ""
    degraded: bool = False
    """The scan succeeded but a kind the plugin enforces was unreadable."""


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """A namespace as the last successful scan at or before some time T saw it."""

    namespace: str
    ingress_default_deny: bool | None
    egress_default_deny: bool | None
    exposures: Mapping[str, int] = field(default_factory=dict)
    """exposure category -> permitted exposures (every category present, zeros too)."""
    internet_egress_workloads: int = 0
    pods: int | None = None
    """Volatile: the latest sample at or before T (samples are periodic, not per scan)."""
    ingress_isolated_pods: int | None = None
    egress_isolated_pods: int | None = None
    labels: Mapping[str, str] | None = None
    """The namespace's labels at T; None when the store did not record them. Reports
    scope controls by namespace selector (e.g. PCI DSS's cardholder data environment)."""


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One policy object in force, content-addressed by the SHA-256 of its canonical JSON."""

    kind: str
    api_version: str
    namespace: str
    """"" for cluster-scoped kinds."""
    name: str
    sha256: str
    since: float
    """Start of this version's interval (created or last modified)."""


@dataclass(frozen=True, slots=True)
class OpenFinding:
    namespace: str
    check: str
    severity: str
    object: str
    message: str
    since: float


@dataclass(frozen=True, slots=True)
class ExposureRecord:
    """One exposure of one object (Service, DaemonSet, Pod, ...) in one category."""

    namespace: str
    object: str
    """"Kind/name", e.g. "Service/storefront"."""
    category: str
    since: float


@dataclass(frozen=True, slots=True)
class ClusterState:
    """The state of one cluster at time `at` (state at T, "time travel")."""

    cluster: str
    at: float
    scan: ScanInfo | None
    """The last successful scan at or before `at`; None: no evidence at that time."""
    namespaces: tuple[NamespaceState, ...] = ()
    policies: tuple[PolicyVersion, ...] = ()
    findings: tuple[OpenFinding, ...] = ()
    exposures: tuple[ExposureRecord, ...] = ()
    evidence_gap: bool = False
    """True when `at` lies in a gap: the last successful scan is older than the evidence
    it gives (docs/history.md), so this state may no longer have held at `at`."""
    pods_sampled_at: float | None = None
    """When the pod counts were sampled (they are periodic samples, not per scan)."""


class ChangeKind(StrEnum):
    """Closed vocabulary of change-log events (JSON contract of `netfence history`)."""

    NAMESPACE_CREATED = "namespace-created"
    NAMESPACE_DELETED = "namespace-deleted"
    DEFAULT_DENY_GAINED = "default-deny-gained"
    DEFAULT_DENY_LOST = "default-deny-lost"
    DEFAULT_DENY_UNKNOWN = "default-deny-unknown"
    """The answer became unknown (an enforced kind was unreadable)."""
    POLICY_CREATED = "policy-created"
    POLICY_MODIFIED = "policy-modified"
    POLICY_DELETED = "policy-deleted"
    FINDING_OPENED = "finding-opened"
    FINDING_RESOLVED = "finding-resolved"
    EXPOSURE_ADDED = "exposure-added"
    EXPOSURE_REMOVED = "exposure-removed"


@dataclass(frozen=True, slots=True)
class Change:
    """One fact of the change log, e.g. "payments lost ingress default-deny at T"."""

    at: float
    cluster: str
    kind: ChangeKind
    namespace: str
    """"" for cluster-scoped subjects (cluster-wide policies, cluster findings)."""
    subject: str
    """What changed: "ingress" / "egress" for default-deny, "Kind/ns/name" for a policy,
    the check and object for a finding, "Kind/name category" for an exposure."""
    direction: str | None = None
    detail: str = ""
    """Free text for people (e.g. the policy change that caused a default-deny loss)."""


@dataclass(frozen=True, slots=True)
class DefaultDenyFraction:
    """How much of [since, until) a namespace was default-deny in one direction."""

    cluster: str
    namespace: str
    direction: str
    fraction: float | None
    """Share of the *observed* time (covered by successful scans) it was default-deny;
    None when the namespace was never observed in the period."""
    whole_period: bool
    """Default-deny for the whole period with no gap in evidence (Calico's "protected
    during the whole interval")."""
    observed_seconds: float
    """Seconds of the period in which the namespace existed and evidence was present."""


@dataclass(frozen=True, slots=True)
class EvidenceGap:
    """A stretch with no successful scan for longer than the allowed number of intervals."""

    cluster: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class DailyPoint:
    """One day's end-of-day figures for trend charts (UTC days)."""

    cluster: str
    day: float
    """Start of the UTC day."""
    namespaces: int | None
    ingress_default_deny_namespaces: int | None
    egress_default_deny_namespaces: int | None
    exposures: Mapping[str, int] = field(default_factory=dict)
    internet_egress_workloads: int | None = None
    pods: int | None = None


@dataclass(frozen=True, slots=True)
class DeniedFlows:
    """Denied connections (Hubble) summed over an hour, from the flow roll-ups."""

    cluster: str
    hour: float
    namespace: str
    direction: str
    reason: str
    policy: str
    count: int


class HistoryReader(Protocol):
    """The queries the history store answers (see docs/history.md)."""

    def clusters(self) -> Sequence[str]: ...

    def scans(self, cluster: str | None, since: float, until: float) -> Sequence[ScanInfo]: ...

    def state_at(self, cluster: str, at: float) -> ClusterState: ...

    def changes(
        self, cluster: str | None, since: float, until: float, namespace: str | None = None
    ) -> Sequence[Change]:
        """Every change in [since, until), oldest first."""
        ...

    def default_deny_fractions(
        self, cluster: str, since: float, until: float
    ) -> Sequence[DefaultDenyFraction]: ...

    def gaps(self, cluster: str, since: float, until: float) -> Sequence[EvidenceGap]: ...

    def daily(self, cluster: str, since: float, until: float) -> Sequence[DailyPoint]: ...

    def denied_flows(
        self, cluster: str | None, since: float, until: float
    ) -> Sequence[DeniedFlows]: ...
