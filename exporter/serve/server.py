"""The `netfence serve` process: scanner, flow consumers, store, scheduler and HTTP,
started and stopped together."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from exporter import __version__
from exporter.config import Config
from exporter.core.findings import Finding
from exporter.metrics import FlowCollector, FlowMetrics, MetricsServer, WebSettings, exposition
from exporter.metrics.reports import ReportCollector
from exporter.scheduler import Job, Scheduler
from exporter.serve.clusters import cluster_from_config
from exporter.serve.flows import FlowConsumer
from exporter.serve.reports import REPORT_JOB, ReportWriter
from exporter.serve.scans import Clock, Scanner, ScanResult
from exporter.store import Store
from exporter.usecases import ScanReport

log = logging.getLogger(__name__)

REPORT_CATCH_UP = 60.0
"""Seconds after start before the report job's catch-up run (a missed quarter)."""

FLUSH_JOB = ":flows"
"""Scheduler id of the Hubble flush job (no cluster name can start with ':')."""


class Server:
    """Scanner + store + scheduler + HTTP, started and stopped together."""

    def __init__(self, config: Config, clock: Clock = time.time) -> None:
        self.config = config
        self.store = Store.open(config.store_url, clock)
        clusters = [cluster_from_config(c, config) for c in config.clusters]
        self.scanner = Scanner(
            clusters,
            self.store,
            clock=clock,
            retention_days=config.retention_days,
            ready_grace=config.ready_grace,
            intent=config.intent,
            scan_interval=config.scan.interval,
            freeze_heap=True,
        )
        self.flows = {
            c.name: FlowConsumer(
                c.name,
                c.hubble,
                config.flows,
                self.store.flows,
                clock=clock,
                on_error=functools.partial(self.scanner.count, c.name),
            )
            for c in config.clusters
            if c.hubble is not None
        }
        self.reports = _report_writer(config, self.store, clock)
        fresh = [
            *([FlowCollector(self._flow_metrics)] if self.flows else []),
            *([ReportCollector(self._report_success)] if self.reports else []),
        ]
        self.exposition = exposition(
            self.scanner.metrics, __version__, fresh, config.exposure_info_limit
        )
        self.scanner.on_change = self.exposition.warm
        self.scanner.on_scan = self._after_scan
        self.scanner.findings_hook = self._flow_findings
        jobs = [
            Job(
                id=c.name,
                run=_job(self.scanner, c.name),
                interval_seconds=config.scan.interval,
                jitter_seconds=min(config.scan.jitter, config.scan.interval / 2),
            )
            for c in clusters
        ]
        if self.flows:
            jobs.append(
                Job(
                    id=FLUSH_JOB,
                    run=self._flush_flows,
                    interval_seconds=config.flows.flush_interval,
                    first_delay_seconds=config.flows.flush_interval,
                )
            )
        if self.reports is not None:
            self.reports.on_success = self.exposition.warm
            jobs.append(
                Job(
                    REPORT_JOB,
                    self.reports.scheduled,
                    0.0,
                    first_delay_seconds=REPORT_CATCH_UP,
                    cron=config.reports.schedule,
                )
            )
        self.scheduler = Scheduler(jobs, on_problem=self._job_problem)
        web = config.web
        self.http = MetricsServer(
            self.exposition,
            config.listen_host,
            config.listen_port,
            healthy=self._healthy,
            ready=self.scanner.ready,
            web=WebSettings(
                cert_file=web.cert_file,
                key_file=web.key_file,
                client_ca_file=web.client_ca_file,
                client_auth_type=web.client_auth_type,
                basic_auth_users=web.basic_auth_users,
            ),
            reports_dir=config.reports.dir,
        )

    @property
    def url(self) -> str:
        """Where /metrics is, as really bound, said honestly: a wildcard listener is
        named as such, with the loopback URL to try it from this host."""
        return listening(self.http.scheme, self.http.host, self.http.port)

    def _healthy(self) -> tuple[bool, str]:
        if not self.scheduler.running:
            return False, "the scheduler is not running"
        return self.scanner.healthy()

    def _report_success(self) -> float | None:
        return self.reports.last_success if self.reports is not None else None

    def _flow_metrics(self) -> list[FlowMetrics]:
        return [consumer.metrics() for consumer in self.flows.values()]

    def _flow_findings(self, cluster: str, report: ScanReport) -> list[Finding]:
        consumer = self.flows.get(cluster)
        return consumer.unused_policy_findings(report) if consumer is not None else []

    def _after_scan(self, result: ScanResult) -> None:
        consumer = self.flows.get(result.cluster)
        if consumer is not None:
            consumer.after_scan(result.report)

    def _flush_flows(self) -> None:
        for consumer in self.flows.values():
            consumer.flush()

    def _job_problem(self, job: str, what: str) -> None:
        if job in self.scanner.clusters:
            self.scanner.count(job, "scheduler")
        else:
            log.error("job %s: %s", job, what)

    def start(self) -> None:
        self.http.start()
        for consumer in self.flows.values():
            consumer.start()
        self.scheduler.start()

    def stop(self) -> None:
        """Graceful: no new scans, running scans finish and are stored, flow counts of the
        open hours are written, then HTTP stops."""
        self.scheduler.shutdown(wait=True)
        for consumer in self.flows.values():
            consumer.stop()
        self.http.shutdown()
        self.store.close()


def _job(scanner: Scanner, name: str) -> Callable[[], None]:
    def run() -> None:
        scanner.scan(name)

    return run


def _report_writer(config: Config, store: Store, clock: Clock) -> ReportWriter | None:
    if config.reports.dir is None:
        return None
    return ReportWriter(store.history, config.reports.dir, clock, controls=config.reports.controls)


def listening(scheme: str, host: str, port: int) -> str:
    """`http://10.0.0.5:9873/metrics`; for a wildcard bind, `http://0.0.0.0:9873/metrics
    (every IPv4 interface; from this host: http://127.0.0.1:9873/metrics)`."""
    wildcard = {
        "0.0.0.0": ("every IPv4 interface", "127.0.0.1"),  # noqa: S104 - naming it
        "::": ("every interface", "[::1]"),
    }
    shown = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown}:{port}/metrics"
    if host in wildcard:
        what, local = wildcard[host]
        return f"{url} ({what}; from this host: {scheme}://{local}:{port}/metrics)"
    return url
