"""`netfence serve` configuration: one YAML file (`--config.file`) plus flags.

Every flag has a key in the file; a flag given on the command line wins over the file.
One cluster needs no file (`--kubeconfig`, `--context`, `--cluster-name`, or
`--manifests`); many clusters are a `clusters:` list. In a pod with nothing else
configured, the pod's service account (in-cluster config) is the cluster.

Every problem is collected and reported at once (`ConfigError.problems`); only an
unusable configuration stops the process.

```yaml
web:
  listen_address: ":9873"          # --web.listen-address
  config_file: /etc/netfence/web.yml   # --web.config.file (exporter-toolkit format)
store:
  url: sqlite:///var/lib/netfence/netfence.db   # --store (or postgresql://...)
  retention: 400d                  # --store.retention
scan:
  interval: 5m                     # --scan.interval
  jitter: 30s                      # --scan.jitter
  timeout: 60s                     # --scan.timeout (per API request)
  page_size: 500                   # --scan.page-size
  retries: 4                       # --scan.retries
ready:
  grace: 15m                       # --ready.grace
log:
  level: info                      # --log.level
metrics:
  exposure_info_limit: 10000       # --metrics.exposure-info-limit: netfence_exposure_info
                                   #   series per cluster (docs/metrics.md, Bounds)
network_plugin: auto               # --network-plugin: cilium | calico | generic | auto
                                   #   (auto: a live cluster's CRDs, else the policy kinds)
flows:                             # Hubble verdict counts (docs/hubble.md)
  shard: "0"                       # --flows.shard: this consumer's label when a cluster's
                                   #   flows are split across processes
  top_n: 20                        # --flows.top-n: workloads/policies per namespace
  max_namespaces: 2000             # --flows.max-namespaces: the rest is namespace="_other"
  matrix_top_n: 500                # --flows.matrix-top-n: namespace pairs in the matrix
  unused_window: 30d               # --flows.unused-window: exposure unused for this long
  flush_interval: 1m               # --flows.flush-interval: roll-ups to the store
  namespace_ttl: 24h               # --flows.namespace-ttl: series of idle namespaces go
clusters:
  - name: prod-eu                  # the `cluster` label
    kubeconfig: /etc/netfence/kubeconfig   # --kubeconfig
    context: prod-eu               # --context
    network_plugin: cilium         # overrides the top-level setting for this cluster
    hubble:
      address: hubble-relay.kube-system:4245  # --hubble.address (plaintext by default)
      tls:                         # --hubble.tls, --hubble.tls.*-file, ...server-name
        ca_file: /etc/netfence/hubble/ca.crt
        cert_file: /etc/netfence/hubble/tls.crt
        key_file: /etc/netfence/hubble/tls.key
        server_name: ui.hubble-relay.cilium.io
      node_names: []               # --hubble.node-name: only these nodes' flows (shards)
      replay: []                   # --hubble.replay: recorded flows counted at start
  - name: demo
    manifests: [examples/demo-cluster]     # --manifests
  - name: local
    in_cluster: true               # --in-cluster
```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml_rs

DEFAULT_LISTEN = ":9873"
DEFAULT_STORE = "sqlite:///netfence.db"
DEFAULT_INTERVAL = 300.0
DEFAULT_JITTER = 30.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_PAGE_SIZE = 500
DEFAULT_RETRIES = 4
DEFAULT_RETENTION_DAYS = 400.0
DEFAULT_READY_GRACE = 900.0
DEFAULT_TOP_N = 20
DEFAULT_UNUSED_WINDOW = 30 * 86400.0
DEFAULT_FLUSH_INTERVAL = 60.0
DEFAULT_NAMESPACE_TTL = 86400.0
LOG_LEVELS = ("debug", "info", "warning", "error")
NETWORK_PLUGINS = ("cilium", "calico", "generic")
CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# RequestClientCert and RequireAnyClientCert (no verification) have no Python ssl
# equivalent: they are refused rather than silently weakened or strengthened.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


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
class Config:
    clusters: tuple[ClusterConfig, ...]
    listen_host: str = ""
    listen_port: int = 9873
    web: WebConfig = field(default_factory=WebConfig)
    store_url: str = DEFAULT_STORE
    retention_days: float = DEFAULT_RETENTION_DAYS
    scan_interval: float = DEFAULT_INTERVAL
    scan_jitter: float = DEFAULT_JITTER
    scan_timeout: float = DEFAULT_TIMEOUT
    page_size: int = DEFAULT_PAGE_SIZE
    retries: int = DEFAULT_RETRIES
    ready_grace: float = DEFAULT_READY_GRACE
    log_level: str = "info"
    exposure_info_limit: int = 10_000
    network_plugin: str | None = None
    """cilium | calico | generic for every cluster; None (`auto`): live clusters from
    their installed CRDs, manifests from the policy kinds present."""
    flows_shard: str = "0"
    flows_top_n: int = DEFAULT_TOP_N
    flows_max_namespaces: int = 2000
    flows_matrix_top_n: int = 500
    flows_unused_window: float = DEFAULT_UNUSED_WINDOW
    flows_flush_interval: float = DEFAULT_FLUSH_INTERVAL
    flows_namespace_ttl: float = DEFAULT_NAMESPACE_TTL


# flag dest -> (file key path, parser)
Flags = Mapping[str, Any]


def parse_duration(text: object) -> float:
    """`5m`, `1h30m`, `400d`, `90s`, `250ms`, or a number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    value = str(text).strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 5m, 1h30m, 400d)")
    return total


def parse_listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. :9873 or 127.0.0.1:9873)")
    return host.strip("[]"), int(port)


def store_url(text: str) -> str:
    if text.startswith("sqlite:///") or text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("postgresql+psycopg://"):
        return text
    raise ValueError(f"{text!r}: want sqlite:///PATH or postgresql://USER@HOST/DB")


def _read_yaml(path: Path, what: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = yaml_rs.loads(path.read_text(encoding="utf-8"), parse_datetime=False)
    except OSError as exc:
        problems.append(f"{what} {path}: cannot read: {exc.strerror or exc}")
        return {}
    except (yaml_rs.YAMLDecodeError, ValueError) as exc:
        problems.append(f"{what} {path}: invalid YAML: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{what} {path}: expected a mapping at the top")
        return {}
    return data


_KNOWN_KEYS = {
    "": {"web", "store", "scan", "ready", "log", "metrics", "flows", "network_plugin", "clusters"},
    "web": {"listen_address", "config_file"},
    "store": {"url", "retention"},
    "scan": {"interval", "jitter", "timeout", "page_size", "retries"},
    "ready": {"grace"},
    "log": {"level"},
    "metrics": {"exposure_info_limit"},
    "flows": {
        "shard",
        "top_n",
        "max_namespaces",
        "matrix_top_n",
        "unused_window",
        "flush_interval",
        "namespace_ttl",
    },
    "cluster": {
        "name",
        "kubeconfig",
        "context",
        "in_cluster",
        "manifests",
        "hubble",
        "network_plugin",
    },
    "hubble": {"address", "tls", "node_names", "replay"},
    "hubble.tls": {"enabled", "ca_file", "cert_file", "key_file", "server_name"},
}


def load_config(
    flags: Flags,
    in_cluster_available: Callable[[], bool] = lambda: False,
) -> Config:
    """Flags (argparse dest -> value, None when not given) over the optional file."""
    problems: list[str] = []
    file: dict[str, Any] = {}
    config_file = flags.get("config_file")
    base = Path(".")
    if config_file:
        file = _read_yaml(Path(config_file), "config file", problems)
        base = Path(config_file).parent
    for key in sorted(set(file) - _KNOWN_KEYS[""]):
        problems.append(f"config: unknown key {key!r}")
    sections: dict[str, dict[str, Any]] = {}
    for section in ("web", "store", "scan", "ready", "log", "metrics", "flows"):
        value = file.get(section) or {}
        if not isinstance(value, dict):
            problems.append(f"config: {section} must be a mapping")
            value = {}
        for key in sorted(set(value) - _KNOWN_KEYS[section]):
            problems.append(f"config: unknown key {section}.{key}")
        sections[section] = value

    def pick(flag: str, section: str, key: str, default: Any, parse: Callable[[Any], Any]) -> Any:
        given = flags.get(flag)
        raw = given if given is not None else sections[section].get(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError) as exc:
            where = (
                f"--{section}.{key.replace('_', '-')}" if given is not None else f"{section}.{key}"
            )
            problems.append(f"{where}: {exc}")
            return default

    def positive_int(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
            raise ValueError(f"{raw!r} is not a positive whole number")
        if int(raw) < 1:
            raise ValueError(f"{raw!r} must be at least 1")
        return int(raw)

    def count(raw: Any) -> int:
        if isinstance(raw, bool) or not str(raw).isdigit():
            raise ValueError(f"{raw!r} is not a whole number")
        return int(raw)

    def shard(raw: Any) -> str:
        if isinstance(raw, bool) or not _NAME.match(str(raw)):
            raise ValueError(f"{raw!r}: use letters, digits, '-', '_', '.', ':' (a label value)")
        return str(raw)

    def level(raw: Any) -> str:
        if str(raw).lower() not in LOG_LEVELS:
            raise ValueError(f"{raw!r} is not one of {', '.join(LOG_LEVELS)}")
        return str(raw).lower()

    host, port = pick(
        "web_listen_address",
        "web",
        "listen_address",
        parse_listen_address(DEFAULT_LISTEN),
        lambda r: parse_listen_address(str(r)),
    )
    web_file = pick("web_config_file", "web", "config_file", None, lambda r: Path(str(r)))
    web = WebConfig()
    if web_file is not None:
        if flags.get("web_config_file") is None and not web_file.is_absolute():
            web_file = base / web_file
        web = _web_config(web_file, problems)
    interval = pick("scan_interval", "scan", "interval", DEFAULT_INTERVAL, parse_duration)
    if interval <= 0:
        problems.append("scan.interval must be more than 0")
    config = Config(
        clusters=(),
        listen_host=host,
        listen_port=port,
        web=web,
        store_url=pick("store", "store", "url", DEFAULT_STORE, lambda r: store_url(str(r))),
        retention_days=pick(
            "store_retention", "store", "retention", DEFAULT_RETENTION_DAYS * 86400, parse_duration
        )
        / 86400,
        scan_interval=interval,
        scan_jitter=pick("scan_jitter", "scan", "jitter", DEFAULT_JITTER, parse_duration),
        scan_timeout=pick("scan_timeout", "scan", "timeout", DEFAULT_TIMEOUT, parse_duration),
        page_size=pick("scan_page_size", "scan", "page_size", DEFAULT_PAGE_SIZE, positive_int),
        retries=pick("scan_retries", "scan", "retries", DEFAULT_RETRIES, count),
        ready_grace=pick("ready_grace", "ready", "grace", DEFAULT_READY_GRACE, parse_duration),
        log_level=pick("log_level", "log", "level", "info", level),
        exposure_info_limit=pick(
            "metrics_exposure_info_limit", "metrics", "exposure_info_limit", 10_000, count
        ),
        flows_shard=pick("flows_shard", "flows", "shard", "0", shard),
        flows_top_n=pick("flows_top_n", "flows", "top_n", DEFAULT_TOP_N, positive_int),
        flows_max_namespaces=pick(
            "flows_max_namespaces", "flows", "max_namespaces", 2000, positive_int
        ),
        flows_matrix_top_n=pick("flows_matrix_top_n", "flows", "matrix_top_n", 500, positive_int),
        flows_unused_window=pick(
            "flows_unused_window", "flows", "unused_window", DEFAULT_UNUSED_WINDOW, parse_duration
        ),
        flows_flush_interval=pick(
            "flows_flush_interval",
            "flows",
            "flush_interval",
            DEFAULT_FLUSH_INTERVAL,
            parse_duration,
        ),
        flows_namespace_ttl=pick(
            "flows_namespace_ttl", "flows", "namespace_ttl", DEFAULT_NAMESPACE_TTL, parse_duration
        ),
    )
    plugin_given = flags.get("network_plugin")
    plugin_raw = plugin_given if plugin_given is not None else file.get("network_plugin")
    try:
        config = Config(**{**_fields(config), "network_plugin": network_plugin(plugin_raw)})
    except ValueError as exc:
        where = "--network-plugin" if plugin_given is not None else "network_plugin"
        problems.append(f"{where}: {exc}")
    if config.flows_flush_interval <= 0:
        problems.append("flows.flush_interval must be more than 0")
    clusters = _clusters(flags, file, base, problems, in_cluster_available)
    if problems:
        raise ConfigError(problems)
    return Config(**{**_fields(config), "clusters": tuple(clusters)})


def _fields(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in Config.__dataclass_fields__}


def _clusters(
    flags: Flags,
    file: Mapping[str, Any],
    base: Path,
    problems: list[str],
    in_cluster_available: Callable[[], bool],
) -> list[ClusterConfig]:
    out: list[ClusterConfig] = []
    from_flags = any(flags.get(k) for k in ("kubeconfig", "context", "manifests", "in_cluster"))
    if from_flags:
        manifests = tuple(Path(p) for p in flags.get("manifests") or ())
        sources = sum(
            bool(x)
            for x in (
                flags.get("kubeconfig") or flags.get("context"),
                manifests,
                flags.get("in_cluster"),
            )
        )
        if sources > 1:
            problems.append("use one of --kubeconfig/--context, --manifests or --in-cluster")
        name = flags.get("cluster_name") or (
            flags.get("context") or (manifests[0].resolve().name if manifests else "default")
        )
        out.append(
            ClusterConfig(
                name=str(name),
                kubeconfig=flags.get("kubeconfig"),
                context=flags.get("context"),
                in_cluster=bool(flags.get("in_cluster")),
                manifests=manifests,
                hubble=hubble_from_flags(flags),
            )
        )
    elif file.get("clusters") is not None:
        if hubble_from_flags(flags) is not None:
            problems.append(
                "--hubble.* flags go with a cluster given by flags; with a clusters: list in "
                "the config file, give each cluster's hubble: there"
            )
        raw = file.get("clusters")
        if not isinstance(raw, list) or not raw:
            problems.append("config: clusters must be a non-empty list")
            raw = []
        for i, item in enumerate(raw):
            where = f"clusters[{i}]"
            if not isinstance(item, dict):
                problems.append(f"config: {where} must be a mapping")
                continue
            for key in sorted(set(item) - _KNOWN_KEYS["cluster"]):
                problems.append(f"config: unknown key {where}.{key}")
            manifests_raw = item.get("manifests") or []
            if isinstance(manifests_raw, str):
                manifests_raw = [manifests_raw]
            if not isinstance(manifests_raw, list):
                problems.append(f"config: {where}.manifests must be a list of paths")
                manifests_raw = []
            manifests = tuple(
                p if p.is_absolute() else base / p for p in (Path(str(m)) for m in manifests_raw)
            )
            kubeconfig = item.get("kubeconfig")
            if kubeconfig is not None and not Path(str(kubeconfig)).is_absolute():
                kubeconfig = str(base / str(kubeconfig))
            kinds = sum(
                bool(x)
                for x in (kubeconfig or item.get("context"), manifests, item.get("in_cluster"))
            )
            if kinds > 1:
                problems.append(
                    f"config: {where}: use one of kubeconfig/context, manifests or in_cluster"
                )
            name = item.get("name")
            if not isinstance(name, str):
                problems.append(f"config: {where}.name is required")
                continue
            out.append(
                ClusterConfig(
                    name=name,
                    kubeconfig=str(kubeconfig) if kubeconfig else None,
                    context=str(item["context"]) if item.get("context") else None,
                    in_cluster=bool(item.get("in_cluster")) or kinds == 0,
                    manifests=manifests,
                    hubble=_hubble_from_file(item.get("hubble"), f"{where}.hubble", base, problems),
                    network_plugin=_cluster_plugin(item.get("network_plugin"), where, problems),
                )
            )
    elif in_cluster_available():
        out.append(
            ClusterConfig(
                name=str(flags.get("cluster_name") or "default"),
                in_cluster=True,
                hubble=hubble_from_flags(flags),
            )
        )
    else:
        problems.append(
            "no cluster to scan: give --kubeconfig [--context], --manifests DIR, "
            "--in-cluster, or a clusters: list in --config.file"
        )
    seen: set[str] = set()
    for cluster in out:
        if not _NAME.match(cluster.name):
            problems.append(
                f"cluster name {cluster.name!r}: use letters, digits, '-', '_', '.', ':' "
                "(it becomes the cluster label)"
            )
        if cluster.name in seen:
            problems.append(f"cluster name {cluster.name!r} is used twice")
        seen.add(cluster.name)
        for path in cluster.manifests:
            if not path.exists():
                problems.append(
                    f"cluster {cluster.name}: manifests {path}: no such file or directory"
                )
        if cluster.kubeconfig and not Path(cluster.kubeconfig).expanduser().is_file():
            problems.append(f"cluster {cluster.name}: kubeconfig {cluster.kubeconfig}: not a file")
        if cluster.hubble is not None:
            problems.extend(f"cluster {cluster.name}: {p}" for p in hubble_problems(cluster.hubble))
    return out


def network_plugin(raw: object) -> str | None:
    """`cilium`, `calico`, `generic`, or None for `auto` / not given."""
    if raw is None or str(raw) == "auto":
        return None
    if str(raw) not in NETWORK_PLUGINS:
        raise ValueError(f"{raw!r} is not one of auto, {', '.join(NETWORK_PLUGINS)}")
    return str(raw)


def _cluster_plugin(raw: object, where: str, problems: list[str]) -> str | None:
    try:
        return network_plugin(raw)
    except ValueError as exc:
        problems.append(f"config: {where}.network_plugin: {exc}")
        return None


def hubble_from_flags(flags: Flags) -> HubbleConfig | None:
    """The --hubble.* flags of one cluster (`serve`, `flows watch`); None when none is given."""

    def path(key: str) -> Path | None:
        value = flags.get(key)
        return Path(str(value)) if value else None

    hubble = HubbleConfig(
        address=flags.get("hubble_address") or None,
        tls=bool(flags.get("hubble_tls")),
        ca_file=path("hubble_tls_ca_file"),
        cert_file=path("hubble_tls_cert_file"),
        key_file=path("hubble_tls_key_file"),
        server_name=flags.get("hubble_tls_server_name") or None,
        node_names=tuple(str(n) for n in flags.get("hubble_node_name") or ()),
        replay=tuple(Path(str(f)) for f in flags.get("hubble_replay") or ()),
    )
    return None if hubble == HubbleConfig() else hubble


def _hubble_from_file(
    raw: object, where: str, base: Path, problems: list[str]
) -> HubbleConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"config: {where} must be a mapping")
        return None
    for key in sorted(set(raw) - _KNOWN_KEYS["hubble"]):
        problems.append(f"config: unknown key {where}.{key}")
    tls = raw.get("tls")
    if tls is None:
        tls = {}
    elif isinstance(tls, bool):
        tls = {"enabled": tls}
    elif not isinstance(tls, dict):
        problems.append(f"config: {where}.tls must be a mapping (or true)")
        tls = {}
    for key in sorted(set(tls) - _KNOWN_KEYS["hubble.tls"]):
        problems.append(f"config: unknown key {where}.tls.{key}")

    def path(value: object) -> Path:
        p = Path(str(value))
        return p if p.is_absolute() else base / p

    def paths(key: str) -> tuple[str, ...]:
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            problems.append(f"config: {where}.{key} must be a list")
            return ()
        return tuple(str(v) for v in value)

    address = raw.get("address")
    return HubbleConfig(
        address=str(address) if address else None,
        # Any TLS setting turns TLS on, as in the Hubble CLI; `enabled: false` alone is off.
        tls=bool(tls.get("enabled", bool(set(tls) - {"enabled"}))),
        ca_file=path(tls["ca_file"]) if tls.get("ca_file") else None,
        cert_file=path(tls["cert_file"]) if tls.get("cert_file") else None,
        key_file=path(tls["key_file"]) if tls.get("key_file") else None,
        server_name=str(tls["server_name"]) if tls.get("server_name") else None,
        node_names=paths("node_names"),
        replay=tuple(path(f) for f in paths("replay")),
    )


def hubble_problems(hubble: HubbleConfig) -> list[str]:
    """Everything wrong with a Hubble source, for the config file and the flags alike."""
    out: list[str] = []
    if hubble.address is None and not hubble.replay:
        out.append("hubble needs an address (Relay, HOST:PORT) or files to replay")
    if hubble.address is not None:
        host, sep, port = hubble.address.removeprefix("tls://").rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            out.append(f"hubble address {hubble.address!r} is not HOST:PORT")
    elif any((hubble.tls, hubble.ca_file, hubble.cert_file, hubble.key_file, hubble.node_names)):
        out.append("hubble TLS and node names need a hubble address")
    if (hubble.cert_file is None) != (hubble.key_file is None):
        out.append("hubble mTLS needs both a client certificate and its key")
    for what, p in (
        ("CA file", hubble.ca_file),
        ("certificate file", hubble.cert_file),
        ("key file", hubble.key_file),
        *(("replay file", f) for f in hubble.replay),
    ):
        if p is not None and not p.is_file():
            out.append(f"hubble {what} {p}: not a file")
    return out


def _web_config(path: Path, problems: list[str]) -> WebConfig:
    data = _read_yaml(path, "web config file", problems)
    where = f"web config file {path}"
    for key in sorted(set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}):
        problems.append(f"{where}: unsupported key {key!r}")
    tls = data.get("tls_server_config") or {}
    users = data.get("basic_auth_users") or {}
    if not isinstance(tls, dict):
        problems.append(f"{where}: tls_server_config must be a mapping")
        tls = {}
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        problems.append(f"{where}: basic_auth_users must map user names to bcrypt hashes")
        users = {}
    for user, hashed in users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"{where}: basic_auth_users.{user} is not a bcrypt hash")

    def file_key(name: str) -> Path | None:
        value = tls.get(name)
        if value is None:
            return None
        p = Path(str(value))
        p = p if p.is_absolute() else path.parent / p
        if not p.is_file():
            problems.append(f"{where}: tls_server_config.{name} {p}: not a file")
        return p

    cert, key_file = file_key("cert_file"), file_key("key_file")
    if (cert is None) != (key_file is None):
        problems.append(f"{where}: tls_server_config needs both cert_file and key_file")
    auth_type = str(tls.get("client_auth_type") or "NoClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        problems.append(
            f"{where}: client_auth_type {auth_type!r} is not one of {CLIENT_AUTH_TYPES}"
        )
    ca = file_key("client_ca_file")
    if auth_type in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven") and ca is None:
        problems.append(f"{where}: client_auth_type {auth_type} needs client_ca_file")
    return WebConfig(
        cert_file=cert,
        key_file=key_file,
        client_ca_file=ca,
        client_auth_type=auth_type,
        basic_auth_users=dict(users),
    )
