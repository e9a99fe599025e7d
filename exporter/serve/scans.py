"""Scans of the clusters `netfence serve` watches: the `Scanner` and its results.

    scheduler job per cluster -> Scanner.scan(cluster) -> cluster.read() -> build_snapshot
        -> usecases.analyse -> immutable ClusterMetrics (read by the Collector at scrape
           time) + ScanRecord (written to the store)

A failing cluster never stops the others: its scan raises inside its own job, the
failure is counted, `netfence_scan_success` goes to 0 and the last good values stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter import __version__
from exporter.core.findings import Finding
from exporter.core.gc_pause import paused_gc
from exporter.core.inventory import RawObject, build_snapshot
from exporter.core.policies.kinds import ENFORCED_POLICY_KINDS
from exporter.core.verification import ScanState
from exporter.metrics import ClusterMetrics
from exporter.serve.clusters import Cluster
from exporter.sources.manifests import LoadResult
from exporter.store import (
    ExposureRow,
    FindingRow,
    NamespaceRow,
    PolicyDigest,
    ScanRecord,
    Store,
    StoreError,
)
from exporter.usecases import LoadedIntent, ScanReport, analyse

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
STAGES = ("list", "load", "scan", "store", "scheduler")
"""Values of the `stage` label of netfence_scan_errors_total, all exported from the start."""

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One completed scan: immutable, replaced as a whole by the next one."""

    cluster: str
    started_at: float
    duration: float
    list_seconds: float
    analysis_seconds: float
    report: ScanReport
    unreadable: tuple[str, ...]
    policies: tuple[PolicyDigest, ...]
    requests: int = 0
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Labels of each namespace object the scan read (not of namespaces only referenced
    by other objects): the history keeps them for label-scoped report controls."""


@dataclass(frozen=True, slots=True)
class _State:
    attempted: bool = False
    success: bool = False
    last_good: ScanResult | None = None
    duration: float | None = None
    error: str = ""
    errors: Mapping[str, int] = field(default_factory=dict)
    metrics: ClusterMetrics | None = None


# -- digests ---------------------------------------------------------------------------


def policy_digest(obj: Mapping[str, Any]) -> PolicyDigest:
    """SHA-256 of the policy as it is enforced: kind, apiVersion, name, namespace, labels
    and everything but metadata and status, as canonical JSON (sorted keys, no spaces),
    so the same policy hashes the same from a file and from the API server."""
    meta = obj.get("metadata") or {}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    body["metadata"] = {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": meta.get("labels") or {},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return PolicyDigest(
        kind=str(obj.get("kind") or ""),
        api_version=str(obj.get("apiVersion") or ""),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def policy_digests(objects: Sequence[RawObject]) -> tuple[PolicyDigest, ...]:
    found = [
        policy_digest(r.obj)
        for r in objects
        if isinstance(r.obj, dict) and r.obj.get("kind") in ENFORCED_POLICY_KINDS
    ]
    return tuple(sorted(found, key=lambda p: (p.kind, p.namespace, p.name, p.api_version)))


# -- the scanner -----------------------------------------------------------------------


class Scanner:
    """Scans clusters on request (the scheduler's jobs) and keeps the latest results."""

    def __init__(
        self,
        clusters: Sequence[Cluster],
        store: Store | None = None,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        retention_days: float = 400.0,
        ready_grace: float = 900.0,
        version: str = __version__,
        scan_interval: float = 0.0,
        intent: LoadedIntent | None = None,
        freeze_heap: bool = False,
    ) -> None:
        self.clusters = {c.name: c for c in clusters}
        self._freeze_heap = freeze_heap
        self._scan_interval = scan_interval
        self._intent = intent
        """The same intent (guardrails, baseline) for every cluster of the fleet."""
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._retention_days = retention_days
        self._ready_grace = ready_grace
        self._version = version
        self._started = monotonic()
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {
            name: _State(
                errors=dict.fromkeys(STAGES, 0),
                metrics=ClusterMetrics(
                    name,
                    success=False,
                    errors=dict.fromkeys(STAGES, 0),
                    interval=scan_interval or None,
                ),
            )
            for name in self.clusters
        }
        self._last_prune: float | None = None
        self.on_change: Callable[[], None] | None = None
        """Called after every scan (e.g. to render /metrics ahead of the next scrape)."""
        self.findings_hook: Callable[[str, ScanReport], list[Finding]] | None = None
        """Findings a scan's report gets from elsewhere (the flows: unused policies)."""
        self.on_scan: Callable[[ScanResult], None] | None = None
        """Called with every successful scan (the Hubble joins follow the scan)."""

    # -- reads (any thread) -------------------------------------------------------

    def metrics(self) -> list[ClusterMetrics]:
        with self._lock:
            states = dict(self._states)
        # The same immutable objects until something changes: /metrics caches on them.
        return [state.metrics for state in states.values() if state.metrics is not None]

    def latest(self, cluster: str) -> ScanResult | None:
        with self._lock:
            return self._states[cluster].last_good

    def ready(self) -> tuple[bool, str]:
        """Ready (docs/metrics.md, "Readiness"): some cluster's answers are published
        (its last good scan succeeded or was degraded) and every cluster has been tried,
        or the grace period for slow first scans is over. Never ready while no scan has
        produced an answer: /metrics would hold nothing but failures."""
        with self._lock:
            waiting = sorted(n for n, s in self._states.items() if not s.attempted)
            scanned = sorted(n for n, s in self._states.items() if s.last_good is not None)
        if not scanned:
            if waiting:
                return False, f"waiting for the first scan of: {', '.join(waiting)}"
            return False, "no scan has succeeded yet (see netfence_scan_state and the log)"
        if not waiting:
            return True, "ready: every cluster has been scanned"
        if self._monotonic() - self._started >= self._ready_grace:
            return True, f"ready (grace period over); still waiting for: {', '.join(waiting)}"
        return False, f"waiting for the first scan of: {', '.join(waiting)}"

    def healthy(self) -> tuple[bool, str]:
        return True, "ok"

    # -- scans (scheduler threads) ------------------------------------------------

    def count(self, cluster: str, stage: str, n: int = 1) -> None:
        with self._lock:
            state = self._states[cluster]
            errors = Counter(state.errors)
            errors[stage] += n
            self._replace(cluster, state, errors=dict(errors))

    def _replace(self, cluster: str, state: _State, **changes: Any) -> None:
        new = dataclasses.replace(state, **changes)
        metrics = new.metrics
        if metrics is not None:
            metrics = dataclasses.replace(
                metrics,
                success=new.success,
                duration=new.duration,
                errors=new.errors,
                interval=self._scan_interval or None,
            )
        self._states[cluster] = dataclasses.replace(new, metrics=metrics)

    def scan(self, name: str) -> ScanResult | None:
        """One scan of one cluster; never raises (a failure is counted and recorded).

        With `freeze_heap` (netfence serve), the collector stays paused until the scan's
        results are recorded and published, and what is alive then is frozen
        (`gc.freeze`): the next collection would otherwise walk the millions of objects
        the scan keeps for the metrics, holding the interpreter for up to seconds while
        scrapes wait (issue 11). The scan leaves no cyclic garbage (a test holds it to
        that), so frozen objects are still freed by reference counting when the next
        scan replaces them."""
        if not self._freeze_heap:
            return self._scan(name)
        with paused_gc():
            try:
                return self._scan(name)
            finally:
                gc.freeze()

    def _scan(self, name: str) -> ScanResult | None:
        cluster = self.clusters[name]
        started_at = self._clock()
        t0 = self._monotonic()
        try:
            # The whole scan (reading, the snapshot, the analysis) builds millions of
            # objects and leaves no cyclic garbage: with the collector paused they are
            # freed by reference counting, instead of full collections walking them for
            # seconds while holding the interpreter, which scrapes would wait behind.
            with paused_gc():
                read = cluster.read()
                t1 = self._monotonic()
                snapshot, build_errors = build_snapshot(read.objects)
                from_crds = cluster.network_plugin is None and read.network_plugin is not None
                report = analyse(
                    LoadResult(snapshot, [*read.errors, *build_errors]),
                    network_plugin=cluster.network_plugin or read.network_plugin,
                    network_plugin_source="crds" if from_crds else None,
                    unreadable=read.unreadable,
                    intent=self._intent,
                    today=dt.datetime.fromtimestamp(started_at, dt.UTC).date(),
                )
                report = self._with_hook_findings(name, report)
                digests = policy_digests(read.objects)
                t2 = self._monotonic()
        except Exception as exc:
            duration = self._monotonic() - t0
            message = f"{type(exc).__name__}: {exc}"
            log.error("scan of cluster %s (%s) failed: %s", name, cluster.source, message)
            with self._lock:
                state = self._states[name]
                errors = Counter(state.errors)
                errors["scan"] += 1
                self._replace(
                    name,
                    state,
                    attempted=True,
                    success=False,
                    duration=duration,
                    error=message,
                    errors=dict(errors),
                )
            self._persist(
                ScanRecord(
                    cluster=name,
                    started_at=started_at,
                    duration_seconds=duration,
                    success=False,
                    error=message,
                    version=self._version,
                    interval_seconds=self._scan_interval,
                )
            )
            self._changed()
            return None
        result = ScanResult(
            cluster=name,
            started_at=started_at,
            duration=t2 - t0,
            list_seconds=read.list_seconds,
            analysis_seconds=t2 - t1,
            report=report,
            unreadable=read.unreadable,
            policies=digests,
            requests=read.requests,
            namespace_labels={
                name: dict(ns.labels) for name, ns in snapshot.namespaces.items() if ns.defined
            },
        )
        stages = Counter(e.stage for e in report.errors)
        with self._lock:
            state = self._states[name]
            errors = Counter(state.errors)
            errors.update(stages)
            metrics = _cluster_metrics(result, dict(errors))
            metrics = dataclasses.replace(metrics, interval=self._scan_interval or None)
            self._states[name] = dataclasses.replace(
                state,
                attempted=True,
                success=True,
                last_good=result,
                duration=result.duration,
                error="",
                errors=dict(errors),
                metrics=metrics,
            )
        log.info(
            "scanned %s: %d namespaces, %d findings, %d errors in %.2fs "
            "(list %.2fs, analysis %.2fs)",
            name,
            len(report.namespaces),
            len(report.findings),
            len(report.errors),
            result.duration,
            result.list_seconds,
            result.analysis_seconds,
        )
        self._persist(_record(result, self._version, self._scan_interval))
        if self.on_scan is not None:
            try:
                self.on_scan(result)
            except Exception:
                log.exception("after-scan hook of %s failed", name)
        self._changed()
        return result

    def _with_hook_findings(self, name: str, report: ScanReport) -> ScanReport:
        if self.findings_hook is None:
            return report
        try:
            extra = self.findings_hook(name, report)
        except Exception:
            log.exception("findings hook of %s failed", name)
            return report
        if not extra:
            return report
        found = sorted(
            [*report.findings, *extra],
            key=lambda f: (-f.severity.rank, f.namespace, f.check, f.object),
        )
        return dataclasses.replace(report, findings=found)

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("after-scan hook failed")

    def _persist(self, record: ScanRecord) -> None:
        if self._store is None:
            return
        try:
            self._store.record(record)
            now = self._monotonic()
            if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY_SECONDS:
                self._last_prune = now
                pruned = self._store.prune(self._retention_days)
                if pruned:
                    log.info(
                        "store: pruned %d scans older than %g days", pruned, self._retention_days
                    )
        except StoreError as exc:
            log.error("%s", exc)
            self.count(record.cluster, "store")


def _cluster_metrics(result: ScanResult, errors: Mapping[str, int]) -> ClusterMetrics:
    report = result.report
    return ClusterMetrics(
        cluster=result.cluster,
        success=True,
        timestamp=result.started_at,
        duration=result.duration,
        errors=errors,
        namespaces=tuple(report.namespaces),
        findings=tuple(report.findings),
        exposure=report.exposure,
        internet_egress_workloads=report.internet_egress_workloads,
        policies_by_kind=report.policies_by_kind,
        unreadable_kinds=result.unreadable,
        degraded=report.state is ScanState.DEGRADED,
        unknown_coverage={
            ns: [(g.kind, str(g.reason)) for g in gaps]
            for ns, gaps in report.verification.coverage.items()
        },
        unknown_exposure={
            ns: [(g.kind, str(g.reason)) for g in gaps]
            for ns, gaps in report.verification.exposure.items()
        },
        intent=report.intent,
        intended_exposure=report.intent.intended_counts(report.exposures) if report.intent else {},
        intended_egress=(
            report.intent.intended_egress_counts(report.internet_egress) if report.intent else {}
        ),
        exposures=tuple(report.exposures),
    )


def _record(result: ScanResult, version: str, interval: float = 0.0) -> ScanRecord:
    report = result.report
    known = report.verification.coverage_known
    return ScanRecord(
        cluster=result.cluster,
        started_at=result.started_at,
        duration_seconds=result.duration,
        success=True,
        namespaces=tuple(
            NamespaceRow(
                namespace=ns.name,
                pods=ns.pods,
                # None: unknown (a kind that decides it was unreadable or unparsable).
                ingress_default_deny=ns.ingress.default_deny if known(ns.name) else None,
                egress_default_deny=ns.egress.default_deny if known(ns.name) else None,
                ingress_isolated_pods=ns.ingress.isolated_pods,
                egress_isolated_pods=ns.egress.isolated_pods,
                exposure=dict(report.exposure.get(ns.name, {})),
                internet_egress_workloads=report.internet_egress_workloads.get(ns.name, 0),
                labels=result.namespace_labels.get(ns.name),
            )
            for ns in report.namespaces
        ),
        findings=tuple(
            FindingRow(f.namespace, str(f.check), str(f.severity), f.object, f.message)
            for f in report.findings
        ),
        policies=result.policies,
        input_errors=len(report.errors),
        version=version,
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
        unreadable_kinds=tuple(result.unreadable),
        interval_seconds=interval,
    )
