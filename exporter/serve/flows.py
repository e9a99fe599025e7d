"""The Hubble half of `netfence serve`: one `FlowConsumer` per cluster with a `hubble:`
source, wired from the layers like `exporter.serve.scans` wires the scans.

    consumer thread: replay files (once) -> RelayStream.run() -> FlowHandler -> Aggregator
    scrape:          FlowConsumer.metrics() -> FlowMetrics (snapshot + joins) -> FlowCollector
    flush job:       Aggregator.take_rollups() / last_used() -> FlowStore; joins recomputed
    after a scan:    deleted namespaces forgotten; joins recomputed from the new scan

The aggregator's hot path belongs to the consumer thread alone (replayed files are fed
from the same thread before the stream starts); everything else here only uses the
aggregator's thread-safe reads. A failing store or a dropped stream is logged and
counted, never fatal: the stream reconnects by itself, the roll-ups stay queued for the
next flush.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from exporter.config import FlowSettings, HubbleConfig
from exporter.core.findings import Finding
from exporter.core.flows import (
    Aggregator,
    FlowsConfig,
    ResumeWindow,
    RollupRow,
    default_deny_disagreements,
    unused_exposures,
)
from exporter.core.policy_use import (
    BoundedPolicyCounts,
    PolicyKey,
    StalePolicies,
    policy_label,
    stale_policies,
)
from exporter.metrics.flows import FlowMetrics
from exporter.sources import hubble
from exporter.store.flows import FlowStore
from exporter.usecases import ScanReport

log = logging.getLogger(__name__)

Clock = Callable[[], float]
UseKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class _Joins:
    unused: Mapping[tuple[str, str], int] = field(default_factory=dict)
    disagreements: Mapping[tuple[str, str], int] = field(default_factory=dict)
    stale: StalePolicies | None = None


def hubble_target(config: HubbleConfig) -> hubble.HubbleTarget:
    assert config.address is not None
    return hubble.HubbleTarget(
        config.address,
        tls=config.tls,
        ca_file=config.ca_file,
        cert_file=config.cert_file,
        key_file=config.key_file,
        server_name=config.server_name,
        whitelist=(hubble.node_filter(config.node_names),) if config.node_names else (),
    )


class FlowConsumer:
    """One cluster's flows: the aggregator, its feeding thread, and the joins with the
    cluster's latest scan."""

    def __init__(
        self,
        cluster: str,
        config: HubbleConfig,
        settings: FlowSettings,
        store: FlowStore | None = None,
        *,
        clock: Clock = time.time,
        on_error: Callable[[str], None] = lambda _stage: None,
    ) -> None:
        self.cluster = cluster
        self.config = config
        self.settings = settings
        self.agg = Aggregator(
            FlowsConfig(
                cluster,
                shard=settings.shard,
                top_n=settings.top_n,
                max_namespaces=settings.max_namespaces,
                matrix_top_n=settings.matrix_top_n,
                namespace_ttl_seconds=settings.namespace_ttl,
            )
        )
        self.stream = (
            hubble.RelayStream(
                hubble_target(config), hubble.FlowHandler(self.agg, ResumeWindow()), clock=clock
            )
            if config.address is not None
            else None
        )
        self.replay_errors: list[str] = []
        self.decode_errors = 0
        """Replayed lines that could not be decoded (netfence_hubble_decode_errors_total)."""
        self.replayed = threading.Event()
        """Set once the replay files (if any) are counted."""
        self._store = store
        self._clock = clock
        self._on_error = on_error
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: list[RollupRow] = []
        self._stored_use: dict[UseKey, int] = {}
        self._report: ScanReport | None = None
        self._namespaces: frozenset[str] | None = None
        self._joins = _Joins()
        self._policy_counts = BoundedPolicyCounts(settings.top_n)
        self._stored_policy_use: dict[PolicyKey, int] = {}
        self._observed_since: int | None = None
        """When flows were first counted for the cluster (store, else this process)."""

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        if self._store is not None:
            try:
                self._stored_use = self._store.exposure_use(self.cluster)
                stored, since = self._store.policy_use(self.cluster)
                self._stored_policy_use, self._observed_since = stored, since
            except Exception as exc:  # a store outage must not keep flows from counting
                log.error("hubble %s: cannot read the last use of exposures: %s", self.cluster, exc)
                self._on_error("store")
        self._thread = threading.Thread(
            target=self._run, name=f"hubble-{self.cluster}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        if self.config.replay:
            self._replay(self.config.replay)
        self.replayed.set()
        if self.stream is not None:
            self.stream.run()

    def _replay(self, files: tuple[Path, ...]) -> None:
        try:
            result = hubble.replay(files, hubble.FlowHandler(self.agg))
        except OSError as exc:
            self.replay_errors.append(f"{exc.filename}: {exc.strerror or exc}")
            log.error("hubble %s: replay: %s", self.cluster, self.replay_errors[-1])
            self._on_error("load")
        else:
            self.replay_errors.extend(result.errors)
            self.decode_errors += result.bad_lines
            # One line however many are bad: a corrupt capture must not flood the log.
            (log.warning if result.bad_lines else log.info)(
                "hubble %s: replayed %d files: %s", self.cluster, len(files), result.summary()
            )
            if result.bad_lines:
                self._on_error("load")
        self.agg.tick(self._clock())  # recorded hours are closed: they go to the store

    def stop(self) -> None:
        """Stops the stream, closes every open hour and writes it to the store."""
        if self.stream is not None:
            self.stream.stop()
        if self._thread is not None:
            self._thread.join(15)
            if self._thread.is_alive():
                log.error("hubble %s: the consumer thread did not stop", self.cluster)
                return
        self.agg.flush()
        self.flush()

    # -- the flush job and scans ------------------------------------------------------

    def flush(self) -> None:
        """Closed hours to the store, last use of exposures to the store, joins anew."""
        if self.stream is None and self.replayed.is_set():
            # Replay only: the consumer thread is done, so ticking here races nothing.
            # (A live stream ticks in its own thread as flows arrive.)
            self.agg.tick(self._clock())
        with self._lock:
            self._pending.extend(self.agg.take_rollups())
            pending, self._pending = self._pending, []
        used = self.agg.last_used()
        policy_use = self.agg.policy_use()
        now = self._clock()
        counted = bool(pending or policy_use or used)
        if self._store is not None:
            try:
                self._store.add_rollups(self.cluster, self.settings.shard, pending)
                self._store.record_exposure_use(self.cluster, used)
                if counted:
                    self._store.record_policy_use(self.cluster, policy_use, now)
            except Exception as exc:  # SQLAlchemy errors, a lost connection: retried
                log.error("hubble %s: cannot write flow roll-ups: %s", self.cluster, exc)
                self._on_error("store")
                with self._lock:  # kept for the next flush
                    self._pending[:0] = pending
                counted = False
        if counted and self._observed_since is None:
            self._observed_since = int(now)
        self._recompute(used)

    def after_scan(self, report: ScanReport) -> None:
        """A new scan: namespaces it no longer has are forgotten, the joins follow it."""
        current = frozenset(ns.name for ns in report.namespaces)
        with self._lock:
            previous, self._namespaces = self._namespaces, current
            self._report = report
        if previous is not None and previous - current:
            self.agg.forget_namespaces(previous - current)
        self._recompute(self.agg.last_used())

    def _recompute(self, used: Mapping[UseKey, int]) -> None:
        with self._lock:
            report = self._report
        if report is None:
            return
        now = self._clock()
        last_used = dict(self._stored_use)
        for key, end in used.items():
            if end > last_used.get(key, 0):
                last_used[key] = end
        unused = (
            unused_exposures(
                report.exposures,
                last_used,
                now,
                self.settings.unused_window / 86400,
                report.controller_namespaces,
            )
            if report.exposure_analysed
            else {}
        )
        default_deny = {
            (ns.name, direction): cov.default_deny
            for ns in report.namespaces
            for direction, cov in (("ingress", ns.ingress), ("egress", ns.egress))
        }
        joins = _Joins(
            unused,
            default_deny_disagreements(default_deny, self.agg.signals(now)),
            self.stale_policies(report),
        )
        with self._lock:
            self._joins = joins

    def stale_policies(self, report: ScanReport) -> StalePolicies:
        """The report's allowing policies against their last use (store and memory).
        Only a Cilium cluster's flows name the policies that allowed them: elsewhere
        nothing is known, and nothing is claimed."""
        candidates = report.allowing_policies if report.network_plugin == "cilium" else {}
        last_used = dict(self._stored_policy_use)
        for key, (_count, end) in self.agg.policy_use().items():
            if end > last_used.get(key, 0):
                last_used[key] = end
        return stale_policies(
            candidates,
            last_used,
            self._observed_since if candidates else None,
            self._clock(),
            self.settings.policy_unused_window,
        )

    def unused_policy_findings(self, report: ScanReport) -> list[Finding]:
        """`unused-policy` findings for a new scan (none while unknown)."""
        stale = self.stale_policies(report)
        return stale.findings(report.allowing_policies) if stale.known else []

    # -- scrape -----------------------------------------------------------------------

    @property
    def up(self) -> bool | None:
        """Whether the Relay stream is up; None for a replay-only source (no stream)."""
        return None if self.stream is None else self.stream.up

    def metrics(self) -> FlowMetrics:
        with self._lock:
            joins = self._joins
        use = self.agg.policy_use()
        stale = joins.stale
        last_used: dict[tuple[str, str], float] = {}
        unused: dict[tuple[str], int] = {}
        if stale is not None:
            for key in stale.candidates:
                end = max(self._stored_policy_use.get(key, 0), use.get(key, (0, 0))[1])
                if end:
                    last_used[(key[0], policy_label(key))] = float(end)
            if stale.known:
                unused = {(ns,): n for ns, n in stale.by_namespace().items()}
        return FlowMetrics(
            self.agg.snapshot(self._clock()),
            up=self.up,
            unused_exposures=joins.unused,
            default_deny_forwarded=joins.disagreements,
            policy_allowed=self._policy_counts.counts(use),
            policy_last_used=last_used,
            unused_policies=unused,
            observed_since=None if self._observed_since is None else float(self._observed_since),
            decode_errors=self.decode_errors,
            last_event=self._last_event(),
        )

    def _last_event(self) -> float | None:
        window = self.stream.handler.window if self.stream is not None else None
        return float(window.newest) if window is not None and window.newest else None
