"""Seeds a realistic quarter of history for the demo cluster, through the store's write API.

`make demo` runs it, then `netfence report` renders demo-out/report-<quarter>.pdf. The
quarter is the last full one before --now (default: now). The demo cluster
(examples/demo-cluster) is scanned for real once; the quarter replays that scan every
six hours with these drift events (times are days into the quarter):

- day 20-23: `payments` loses ingress default-deny for three days: its
  `default-deny-all` policy is edited to allow all ingress, then restored;
- day 35: `analytics` edits a policy; day 61: `sandbox` gains a new policy;
- day 50: `shop` gains a new internet exposure (Service/promo, a LoadBalancer);
- day 40-42: scan outage: the API server is unreachable for two days (failed scans);
- every day: Hubble denials (team-oops and sandbox blocked by default-deny, payments
  refusing shop's retries), written as hourly flow roll-ups.
- every day: admitted connections (the internet into ingress-nginx, the controller into
  shop, shop into payments and kube-system's DNS, payments into databases), so the
  report's "exposures allowed but unused" and "connections admitted where the scan says
  default-deny" are real numbers; none during the outage (Hubble Relay was cut off too).

Usage: python examples/demo_history.py sqlite:///demo-out/history.db [--now EPOCH]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

from exporter import __version__, usecases
from exporter.core.flows import RollupRow
from exporter.core.inventory import build_snapshot
from exporter.serve.scans import policy_digests
from exporter.sources.manifests import LoadResult, read_objects
from exporter.store import (
    ExposureRow,
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanRecord,
    Store,
)
from reports.period import previous_quarter

DEMO = Path(__file__).resolve().parent / "demo-cluster"
CLUSTER = "demo"
STEP = 6 * 3600.0
DAY = 86_400.0
LOSS = (20, 23)
OUTAGE = (40, 42)
EXPOSURE_DAY = 50


def base_record() -> ScanRecord:
    """One real scan of the demo cluster, as the service would record it."""
    raws, errors = read_objects([DEMO])
    snapshot, more = build_snapshot(raws)
    report = usecases.analyse(LoadResult(snapshot, [*errors, *more]))
    return ScanRecord(
        cluster=CLUSTER,
        started_at=0.0,
        duration_seconds=1.2,
        success=True,
        namespaces=tuple(
            NamespaceRow(
                ns.name,
                ns.pods,
                ns.ingress.default_deny,
                ns.egress.default_deny,
                ns.ingress.isolated_pods,
                ns.egress.isolated_pods,
                dict(report.exposure.get(ns.name, {})),
                report.internet_egress_workloads.get(ns.name, 0),
                labels=(
                    dict(snapshot.namespaces[ns.name].labels)
                    if ns.name in snapshot.namespaces and snapshot.namespaces[ns.name].defined
                    else None
                ),
            )
            for ns in report.namespaces
        ),
        findings=tuple(
            FindingRow(f.namespace, str(f.check), str(f.severity), f.object, f.message)
            for f in report.findings
        ),
        policies=policy_digests(raws),
        input_errors=len(report.errors),
        version=__version__,
        exposures=tuple(
            sorted(
                {
                    ExposureRow(e.namespace, f"{e.kind}/{e.name}", str(e.category))
                    for e in report.exposures
                    if e.permitted
                },
                key=lambda e: (e.namespace, e.object, e.category),
            )
        ),
        interval_seconds=STEP,
    )


def _edit(
    policies: tuple[PolicyDigest, ...], namespace: str, name: str, sha: str
) -> tuple[PolicyDigest, ...]:
    return tuple(
        dataclasses.replace(p, sha256=sha) if (p.namespace, p.name) == (namespace, name) else p
        for p in policies
    )


def at_day(base: ScanRecord, day: float, t: float) -> ScanRecord:
    rows = list(base.namespaces)
    policies = base.policies
    exposures = list(base.exposures)
    if LOSS[0] <= day < LOSS[1]:
        rows = [
            dataclasses.replace(r, ingress_default_deny=False, ingress_isolated_pods=0)
            if r.namespace == "payments"
            else r
            for r in rows
        ]
        policies = _edit(policies, "payments", "default-deny-all", "e" * 64)
    if day >= 35:
        policies = _edit(
            policies,
            "analytics",
            next((p.name for p in base.policies if p.namespace == "analytics"), ""),
            "a" * 64,
        )
    if day >= 61:
        policies = (
            *policies,
            PolicyDigest("NetworkPolicy", "networking.k8s.io/v1", "sandbox", "allow-dns", "d" * 64),
        )
    if day >= EXPOSURE_DAY:
        exposures.append(ExposureRow("shop", "Service/promo", "internet"))
        rows = [
            dataclasses.replace(
                r, exposure={**r.exposure, "internet": r.exposure.get("internet", 0) + 1}
            )
            if r.namespace == "shop"
            else r
            for r in rows
        ]
    return dataclasses.replace(
        base,
        started_at=t,
        namespaces=tuple(rows),
        policies=policies,
        exposures=tuple(sorted(exposures, key=lambda e: (e.namespace, e.object, e.category))),
    )


def denials(since: float, days: int, rnd: random.Random) -> list[RollupRow]:
    rows = []
    for d in range(days):
        for hour in range(0, 24, 3):
            h = int(since + d * DAY + hour * 3600)
            for ns, direction, policy, peer, mean in (
                ("team-oops", "egress", "default-deny", "reserved:world", 12),
                ("sandbox", "ingress", "default-deny", "shop", 5),
                ("payments", "ingress", "payments/default-deny-all", "shop", 3),
                ("databases", "ingress", "default-deny", "analytics", 2),
            ):
                n = max(0, int(rnd.gauss(mean, mean / 3)))
                if n:
                    rows.append(
                        RollupRow(
                            h,
                            "connection",
                            ns,
                            direction,
                            "dropped",
                            "POLICY_DENIED",
                            policy,
                            peer,
                            n,
                        )
                    )
    return rows


ADMITTED = (  # (enforcing namespace, direction, peer, mean connections per 3 hours)
    ("ingress-nginx", "ingress", "reserved:world", 60),
    ("shop", "ingress", "ingress-nginx", 40),
    ("payments", "ingress", "shop", 15),
    ("payments", "egress", "databases", 25),
    ("databases", "ingress", "payments", 25),
    ("kube-system", "ingress", "shop", 30),
)


def admitted(since: float, days: int, rnd: random.Random) -> list[RollupRow]:
    rows = []
    for d in range(days):
        for hour in range(0, 24, 3):
            if OUTAGE[0] <= d + hour / 24 <= OUTAGE[1]:  # Relay back 3 hours after the API
                continue
            h = int(since + d * DAY + hour * 3600)
            for ns, direction, peer, mean in ADMITTED:
                n = max(1, int(rnd.gauss(mean, mean / 3)))
                rows.append(RollupRow(h, "connection", ns, direction, "forwarded", "", "", peer, n))
    return rows


def seed(url: str, now: float) -> str:
    period = previous_quarter(now)
    store = Store.open(url, lambda: now)
    if store.scans(CLUSTER, period.since, period.until):
        print(f"{url}: already seeded for {period.label}")
        return period.label
    base = base_record()
    rnd = random.Random(14)  # noqa: S311 - demo data, not security
    days = round((period.until - period.since) / DAY)
    t = period.since - STEP  # one scan before the quarter: its start is covered
    while t < period.until:
        day = (t - period.since) / DAY
        jitter = rnd.uniform(0, 60)
        if OUTAGE[0] <= day < OUTAGE[1]:
            store.record(
                ScanRecord(
                    CLUSTER,
                    t + jitter,
                    30.0,
                    False,
                    error="API server unreachable: connection refused",
                    version=__version__,
                    interval_seconds=STEP,
                )
            )
        else:
            store.record(at_day(base, day, t + jitter))
        t += STEP
    store.flows.add_rollups(CLUSTER, "demo", denials(period.since, days, rnd))
    store.flows.add_rollups(
        CLUSTER,
        "demo",
        admitted(period.since, days, random.Random(15)),  # noqa: S311 - demo data
    )
    # and the previous quarter's denials, for the comparison
    prev = period.previous()
    store.flows.add_rollups(
        CLUSTER,
        "demo",
        [dataclasses.replace(r, count=r.count * 2) for r in denials(prev.since, 30, rnd)],
    )
    store.close()
    print(f"seeded {url}: {CLUSTER}, {period.label}, every {STEP / 3600:.0f} h")
    return period.label


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store")
    ap.add_argument("--now", type=float, default=None)
    args = ap.parse_args()
    label = seed(args.store, args.now if args.now is not None else time.time())
    print(label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
