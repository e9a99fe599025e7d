"""What `load_config` returns, and the one place every default of `serve` lives.

Scan and flow settings are one type each (`ScanSettings`, `FlowSettings`), held by
`Config` and handed as they are to the scanner and the flow consumers: a default is
written once, here (the flow defaults shared with the core aggregator come from
`exporter.core.flows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exporter.core.flows import DEFAULT_NAMESPACE_TTL_SECONDS, DEFAULT_TOP_N

DEFAULT_LISTEN = ":9873"
DEFAULT_STORE = "sqlite:///netfence.db"
DEFAULT_RETENTION_DAYS = 400.0
DEFAULT_READY_GRACE = 900.0
DEFAULT_LOG_LEVEL = "info"

if TYPE_CHECKING:
    from exporter.sources.intent import LoadedIntent

Flags = Mapping[str, Any]
"""argparse dest -> value (None when the flag was not given)."""


class ConfigError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class HubbleConfig:
    """Where a cluster's Hubble flows come from: Relay (or one Hubble server) and/or
    recorded files replayed once at start (offline analysis, the demo)."""

    address: str | None = None
    """HOST:PORT; a `tls://` prefix turns TLS on, as in the Hubble CLI."""
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    node_names: tuple[str, ...] = ()
    """node_name patterns: this process counts only these nodes' flows (a shard)."""
    replay: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    manifests: tuple[Path, ...] = ()
    hubble: HubbleConfig | None = None
    network_plugin: str | None = None
    """cilium | calico | generic; None: the top-level setting, else detected."""

    @property
    def kind(self) -> str:
        if self.manifests:
            return "manifests"
        return "in-cluster" if self.in_cluster else "kubeconfig"


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The Prometheus exporter-toolkit web configuration file, the parts netfence uses."""

    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)
    """user -> bcrypt hash."""

    @property
    def tls(self) -> bool:
        return self.cert_file is not None


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """How clusters are scanned (`scan:` in the file, `--scan.*` flags)."""

    interval: float = 300.0
    """Seconds between two scans of one cluster."""
    jitter: float = 30.0
    """Up to this many seconds of random delay, so clusters do not scan in step."""
    timeout: float = 60.0
    """Seconds per API request."""
    page_size: int = 500
    """Objects per list page."""
    retries: int = 4
    """Retries of a request on timeouts and 5xx, with backoff."""


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """How Hubble flows are counted (`flows:` in the file, `--flows.*` flags)."""

    shard: str = "0"
    """This consumer's label when a cluster's flows are split across processes."""
    top_n: int = DEFAULT_TOP_N
    """Workloads and policies per namespace with their own label; the rest is `other`."""
    max_namespaces: int = 2000
    """Enforcing namespaces with their own label; the rest is `_other` (docs/metrics.md)."""
    matrix_top_n: int = 500
    """Namespace pairs of the flow matrix with both names; beyond them the peer is `_other`."""
    unused_window: float = 30 * 86400.0
    """Seconds: a permitted exposure no admitted connection used for this long is unused."""
    flush_interval: float = 60.0
    """Seconds between two writes of the hourly roll-ups to the store."""
    namespace_ttl: float = DEFAULT_NAMESPACE_TTL_SECONDS
    """Seconds: series of a namespace without flows for this long are dropped."""
    policy_unused_window: float = 90 * 86400.0
    """Seconds: a policy Hubble saw allow nothing for this long is unused (stale)."""


DEFAULT_REPORT_SCHEDULE = "0 6 1 1,4,7,10 *"
"""06:00 UTC on the first day of each quarter (crontab: minute hour day month weekday)."""


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Scheduled compliance reports (`reports:` in the file, `--reports.*` flags)."""

    dir: Path | None = None
    """Where the previous quarter's report is written; None: no scheduled reports."""
    schedule: str = DEFAULT_REPORT_SCHEDULE
    controls: tuple[Path, ...] = ()
    """Control mapping files or directories applied over the shipped ones."""


@dataclass(frozen=True, slots=True)
class Config:
    clusters: tuple[ClusterConfig, ...]
    listen_host: str = ""
    listen_port: int = 9873
    web: WebConfig = field(default_factory=WebConfig)
    store_url: str = DEFAULT_STORE
    retention_days: float = DEFAULT_RETENTION_DAYS
    scan: ScanSettings = field(default_factory=ScanSettings)
    ready_grace: float = DEFAULT_READY_GRACE
    log_level: str = DEFAULT_LOG_LEVEL
    exposure_info_limit: int = 10_000
    """`netfence_exposure_info` series per cluster (docs/metrics.md, Bounds)."""
    network_plugin: str | None = None
    """cilium | calico | generic for every cluster; None (`auto`): live clusters from
    their installed CRDs, manifests from the policy kinds present."""
    flows: FlowSettings = field(default_factory=FlowSettings)
    intent: LoadedIntent | None = None
    """The intent file (teams, guardrails, baseline), the same for every cluster."""
    reports: ReportSettings = field(default_factory=ReportSettings)
