"""`load_config`: flags (argparse dest -> value, None when not given) over the optional
file, every problem collected into one `ConfigError`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from exporter.config.clusters import clusters
from exporter.config.files import read_yaml
from exporter.config.intent import intent
from exporter.config.settings import (
    DEFAULT_LISTEN,
    DEFAULT_LOG_LEVEL,
    DEFAULT_READY_GRACE,
    DEFAULT_REPORT_SCHEDULE,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_STORE,
    Config,
    ConfigError,
    Flags,
    FlowSettings,
    ReportSettings,
    ScanSettings,
    WebConfig,
)
from exporter.config.values import (
    count,
    log_level,
    network_plugin,
    parse_duration,
    parse_listen_address,
    positive_int,
    shard,
    store_url,
)
from exporter.config.web import web_config

_SECTION_KEYS = {
    "web": {"listen_address", "config_file"},
    "store": {"url", "retention"},
    "scan": {f.name for f in fields(ScanSettings)},
    "ready": {"grace"},
    "log": {"level"},
    "metrics": {"exposure_info_limit"},
    "flows": {f.name for f in fields(FlowSettings)},
    "reports": {f.name for f in fields(ReportSettings)},
}
_TOP_KEYS = {*_SECTION_KEYS, "network_plugin", "clusters", "intent"}


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
        file = read_yaml(Path(config_file), "config file", problems)
        base = Path(config_file).parent
    for key in sorted(set(file) - _TOP_KEYS):
        problems.append(f"config: unknown key {key!r}")
    sections: dict[str, dict[str, Any]] = {}
    for section in ("web", "store", "scan", "ready", "log", "metrics", "flows", "reports"):
        value = file.get(section) or {}
        if not isinstance(value, dict):
            problems.append(f"config: {section} must be a mapping")
            value = {}
        for key in sorted(set(value) - _SECTION_KEYS[section]):
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
        web = web_config(web_file, problems)
    scan, flows = ScanSettings(), FlowSettings()  # the defaults
    interval = pick("scan_interval", "scan", "interval", scan.interval, parse_duration)
    if interval <= 0:
        problems.append("scan.interval must be more than 0")
    store = pick("store", "store", "url", DEFAULT_STORE, lambda r: store_url(str(r)))
    retention = pick(
        "store_retention", "store", "retention", DEFAULT_RETENTION_DAYS * 86400, parse_duration
    )
    scan = ScanSettings(
        interval=interval,
        jitter=pick("scan_jitter", "scan", "jitter", scan.jitter, parse_duration),
        timeout=pick("scan_timeout", "scan", "timeout", scan.timeout, parse_duration),
        page_size=pick("scan_page_size", "scan", "page_size", scan.page_size, positive_int),
        retries=pick("scan_retries", "scan", "retries", scan.retries, count),
    )
    ready_grace = pick("ready_grace", "ready", "grace", DEFAULT_READY_GRACE, parse_duration)
    level = pick("log_level", "log", "level", DEFAULT_LOG_LEVEL, log_level)
    info_limit = pick(
        "metrics_exposure_info_limit", "metrics", "exposure_info_limit", 10_000, count
    )
    flows = FlowSettings(
        shard=pick("flows_shard", "flows", "shard", flows.shard, shard),
        top_n=pick("flows_top_n", "flows", "top_n", flows.top_n, positive_int),
        max_namespaces=pick(
            "flows_max_namespaces", "flows", "max_namespaces", flows.max_namespaces, positive_int
        ),
        matrix_top_n=pick(
            "flows_matrix_top_n", "flows", "matrix_top_n", flows.matrix_top_n, positive_int
        ),
        unused_window=pick(
            "flows_unused_window", "flows", "unused_window", flows.unused_window, parse_duration
        ),
        flush_interval=pick(
            "flows_flush_interval", "flows", "flush_interval", flows.flush_interval, parse_duration
        ),
        policy_unused_window=pick(
            "flows_policy_unused_window",
            "flows",
            "policy_unused_window",
            flows.policy_unused_window,
            parse_duration,
        ),
        namespace_ttl=pick(
            "flows_namespace_ttl", "flows", "namespace_ttl", flows.namespace_ttl, parse_duration
        ),
    )
    plugin_given = flags.get("network_plugin")
    plugin_raw = plugin_given if plugin_given is not None else file.get("network_plugin")
    plugin = None
    try:
        plugin = network_plugin(plugin_raw)
    except ValueError as exc:
        where = "--network-plugin" if plugin_given is not None else "network_plugin"
        problems.append(f"{where}: {exc}")
    if flows.flush_interval <= 0:
        problems.append("flows.flush_interval must be more than 0")
    reports = _reports(pick, flags, base, problems)
    found = clusters(flags, file, base, problems, in_cluster_available)
    loaded_intent = intent(flags, file, base, problems)
    if problems:
        raise ConfigError(problems)
    return Config(
        clusters=tuple(found),
        listen_host=host,
        listen_port=port,
        web=web,
        store_url=store,
        retention_days=retention / 86400,
        scan=scan,
        ready_grace=ready_grace,
        log_level=level,
        exposure_info_limit=info_limit,
        network_plugin=plugin,
        flows=flows,
        intent=loaded_intent,
        reports=reports,
    )


def _reports(
    pick: Callable[[str, str, str, Any, Callable[[Any], Any]], Any],
    flags: Flags,
    base: Path,
    problems: list[str],
) -> ReportSettings:
    """`reports:` / `--reports.*`: paths in the file are relative to it."""
    from exporter.scheduler import cron_problem

    def path(raw: Any, flag: str) -> Path:
        p = Path(str(raw))
        return p if flags.get(flag) is not None or p.is_absolute() else base / p

    directory = pick("reports_dir", "reports", "dir", None, lambda r: path(r, "reports_dir"))
    schedule = pick(
        "reports_schedule", "reports", "schedule", DEFAULT_REPORT_SCHEDULE, lambda r: str(r)
    )
    why = cron_problem(schedule)
    if why is not None:
        problems.append(f"reports.schedule: {why}")
    controls = pick(
        "reports_controls",
        "reports",
        "controls",
        (),
        lambda r: tuple(path(x, "reports_controls") for x in (r if isinstance(r, list) else [r])),
    )
    return ReportSettings(directory, schedule, controls)
