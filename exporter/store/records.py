"""What one scan leaves in the history: plain data, no database types.

`ScanRecord` is the write API's input, for the service and for seeders alike (see
`exporter.store.scan_history`): every field is plain data, `started_at` is whatever
time the caller says, and nothing here needs the analysis to have run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class NamespaceRow:
    namespace: str
    pods: int
    ingress_default_deny: bool | None
    """None: unknown (a kind that decides it was unreadable), never shown as false."""
    egress_default_deny: bool | None
    ingress_isolated_pods: int
    egress_isolated_pods: int
    exposure: Mapping[str, int] = field(default_factory=dict)
    """exposure category -> permitted exposures."""
    internet_egress_workloads: int = 0
    labels: Mapping[str, str] | None = None
    """The namespace's labels; None: not recorded (rows written before schema 5, or a
    namespace only referenced by other objects). A control scoped by label selector
    cannot place such a namespace: "not verifiable", never "out of scope"."""


@dataclass(frozen=True, slots=True)
class FindingRow:
    namespace: str
    check: str
    severity: str
    object: str
    message: str


@dataclass(frozen=True, slots=True)
class PolicyDigest:
    """One policy object in force, and the SHA-256 of its canonical JSON."""

    kind: str
    api_version: str
    namespace: str
    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """One permitted exposure of one object in one category."""

    namespace: str
    object: str
    """"Kind/name", e.g. "Service/storefront"."""
    category: str


@dataclass(frozen=True, slots=True)
class ScanRecord:
    cluster: str
    started_at: float
    """Seconds since the epoch (from the service's clock, or a seeder's explicit time)."""
    duration_seconds: float
    success: bool
    error: str = ""
    namespaces: tuple[NamespaceRow, ...] = ()
    findings: tuple[FindingRow, ...] = ()
    policies: tuple[PolicyDigest, ...] = ()
    policies_sha256: str = ""
    """Digest over every policy digest, sorted: one value proves the whole set in force."""
    input_errors: int = 0
    version: str = ""
    exposures: tuple[ExposureRow, ...] = ()
    """Permitted exposures object by object (the namespace rows carry the counts)."""
    unreadable_kinds: tuple[str, ...] = ()
    """Kinds the scan could not list: their policies' intervals are left as they were
    (neither deleted nor created), and the scan is marked degraded."""
    interval_seconds: float = 0.0
    """The cluster's scheduled scan interval (0: unknown); gaps are measured in it."""


@dataclass(frozen=True, slots=True)
class ScanChanges:
    """A successful scan given as its differences from the cluster's previous successful
    scan: what seeders and simulations write (`Store.record_changes`) when they hold the
    changes rather than the whole state. The result in the store is the same as
    recording the whole state with `ScanRecord`."""

    cluster: str
    started_at: float
    duration_seconds: float = 0.0
    namespaces: tuple[NamespaceRow, ...] = ()
    """Namespaces that appeared or changed (their whole row)."""
    namespaces_gone: tuple[str, ...] = ()
    pods: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    """Namespace -> (pods, ingress-isolated, egress-isolated) where only counts changed."""
    policies: tuple[PolicyDigest, ...] = ()
    """Policies created or modified."""
    policies_gone: tuple[tuple[str, str, str, str], ...] = ()
    """(kind, api_version, namespace, name) of deleted policies."""
    findings_opened: tuple[FindingRow, ...] = ()
    findings_resolved: tuple[FindingRow, ...] = ()
    exposures_added: tuple[ExposureRow, ...] = ()
    exposures_removed: tuple[ExposureRow, ...] = ()
    version: str = ""
    interval_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class StoredScan:
    id: int
    cluster: str
    started_at: float
    duration_seconds: float
    success: bool
    error: str
    namespaces: int
    pods: int
    findings: int
    policies: int
    policies_sha256: str
    input_errors: int
    version: str
    degraded: bool = False
    interval_seconds: float = 0.0
