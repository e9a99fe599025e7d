"""Hand-built histories for the report tests (plain values, no I/O, no store).

`quarter_history` is one cluster, "prod", scanned daily through 2026Q3, with the drift
events the issue names: `payments` loses ingress default-deny for three days (a policy
edit), `web` gains a new internet exposure, a two-day scan outage, and Hubble denials.
Every figure the tests expect is derivable by hand from the constants here.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.core.history import (
    Change,
    ChangeKind,
    ClusterState,
    DeniedFlows,
    EvidenceGap,
    ExposureRecord,
    NamespaceState,
    OpenFinding,
    ScanInfo,
)
from reports.period import parse_quarter
from reports.static_history import StaticHistory

Q3 = parse_quarter("2026Q3")
DAY = 86_400.0
CLUSTER = "prod"
LOSS_DAY, REGAIN_DAY = 20, 23
EXPOSURE_DAY = 50
GAP = (40, 42)  # no successful scan from day 40 to day 42 (two days)


@dataclass(frozen=True)
class Spec:
    name: str
    ingress: bool
    egress: bool
    pods: int
    labels: dict[str, str]


NAMESPACES = (
    Spec("payments", True, True, 10, {"pci-dss/scope": "cde"}),
    Spec("web", True, False, 20, {}),
    Spec("batch", False, False, 5, {}),
)


def _ns(spec: Spec, day: int) -> NamespaceState:
    ingress = spec.ingress
    if spec.name == "payments" and LOSS_DAY <= day < REGAIN_DAY:
        ingress = False
    internet = 1 if spec.name == "web" and day >= EXPOSURE_DAY else 0
    return NamespaceState(
        namespace=spec.name,
        ingress_default_deny=ingress,
        egress_default_deny=spec.egress,
        exposures={
            "internet": internet,
            "ingress": 1 if spec.name == "web" else 0,
            "gateway": 0,
            "other_namespaces": 2 if spec.name == "batch" else 0,
        },
        internet_egress_workloads=1 if spec.name == "batch" else 0,
        pods=spec.pods,
        ingress_isolated_pods=spec.pods if ingress else 0,
        egress_isolated_pods=spec.pods if spec.egress else 0,
        labels=spec.labels,
    )


def _state(day: int, at: float) -> ClusterState:
    scan = ScanInfo(CLUSTER, at, 2.0, True, namespaces=3, pods=35, version="0.1.0")
    namespaces = tuple(_ns(s, day) for s in NAMESPACES)
    exposures = [ExposureRecord("web", "Service/web", "ingress", Q3.since)]
    if day >= EXPOSURE_DAY:
        exposures.append(
            ExposureRecord("web", "Service/storefront", "internet", Q3.since + EXPOSURE_DAY * DAY)
        )
    findings = (
        OpenFinding(
            "batch",
            "no-default-deny",
            "high",
            "Namespace/batch",
            "no default-deny",
            Q3.since - 5 * DAY,
        ),
    )
    return ClusterState(CLUSTER, at, scan, namespaces, (), findings, tuple(exposures))


def quarter_history(*, gap: bool = True, flows: bool = True, days: int = 92) -> StaticHistory:
    states = []
    # A scan the day before the quarter, so the period start is covered.
    states.append(_state(0, Q3.since - DAY + 3600))
    for day in range(days):
        if gap and GAP[0] <= day < GAP[1]:
            continue
        states.append(_state(day, Q3.since + day * DAY + 3600))
    failed = (
        [
            ScanInfo(CLUSTER, Q3.since + d * DAY + 3600, 30.0, False, error="API timeout")
            for d in range(*GAP)
        ]
        if gap
        else []
    )
    loss_at = Q3.since + LOSS_DAY * DAY + 3600
    regain_at = Q3.since + REGAIN_DAY * DAY + 3600
    changes = [
        Change(
            loss_at,
            CLUSTER,
            ChangeKind.POLICY_MODIFIED,
            "payments",
            "NetworkPolicy/payments/default-deny",
        ),
        Change(loss_at, CLUSTER, ChangeKind.DEFAULT_DENY_LOST, "payments", "ingress", "ingress"),
        Change(
            regain_at,
            CLUSTER,
            ChangeKind.POLICY_MODIFIED,
            "payments",
            "NetworkPolicy/payments/default-deny",
        ),
        Change(
            regain_at, CLUSTER, ChangeKind.DEFAULT_DENY_GAINED, "payments", "ingress", "ingress"
        ),
        Change(
            Q3.since + EXPOSURE_DAY * DAY + 3600,
            CLUSTER,
            ChangeKind.EXPOSURE_ADDED,
            "web",
            "Service/storefront internet",
        ),
        Change(
            Q3.since + 10 * DAY,
            CLUSTER,
            ChangeKind.POLICY_CREATED,
            "web",
            "NetworkPolicy/web/allow-frontend",
        ),
    ]
    gaps = (
        [EvidenceGap(CLUSTER, Q3.since + GAP[0] * DAY + 3600, Q3.since + GAP[1] * DAY + 3600)]
        if gap
        else []
    )
    denied = []
    if flows:
        for day in range(0, days, 7):
            hour = Q3.since + day * DAY
            denied.append(
                DeniedFlows(CLUSTER, hour, "batch", "ingress", "POLICY_DENIED", "default-deny", 100)
            )
            denied.append(
                DeniedFlows(
                    CLUSTER, hour, "web", "egress", "POLICY_DENIED", "web/allow-frontend", 7
                )
            )
        # the previous quarter, for the comparison
        denied.append(
            DeniedFlows(
                CLUSTER,
                Q3.since - 30 * DAY,
                "batch",
                "ingress",
                "POLICY_DENIED",
                "default-deny",
                500,
            )
        )
    return StaticHistory(
        states=states, failed=failed, change_log=changes, evidence_gaps=gaps, flows=denied
    )
