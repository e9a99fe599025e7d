"""netfence's Grafana dashboards as code (grafana-foundation-sdk, Grafana's own builder).

`make dashboards` writes dashboards/*.json from here; tests/dashboards/ fails when the
committed JSON and this generator disagree, runs every panel's queries against a real
Prometheus scraping the demo, and checks the conventions (ARCHITECTURE.md): stable uid,
tag `netfence`, variables datasource, cluster, team, namespace (multi, all),
`$__rate_interval` in rates, a unit and a description on every panel, thresholds that
make "bad" red.

Teams: `team` lists the teams of netfence_namespace_info (EXPERIMENTAL, docs/intent.md)
and narrows the `namespace` list to theirs. With namespace=All (`.*`) that alone would
narrow nothing. Grafana does interpolate variables in a custom all value, but no variable
holds "the selected teams' namespaces" but the namespace list itself, and its default
all value (every listed namespace, `(a|b|...)`) grows with the fleet (10,000 namespaces:
a regex of ~100 kB in every query) and misses namespaces newer than the list. So every
per-namespace selector is joined to the team (`_ns`, `_team`), as kubernetes-mixin joins
namespace labels: `and on (cluster, namespace) netfence_namespace_info{team=~"$team"}`.
Per-namespace panels therefore show the namespaces of the last scan only: rows without
a netfence_namespace_info series (cluster-scoped `namespace=""` findings, flow peers
such as `reserved:world` or `_other` on the filtered side, namespaces created since the
scan) are left out, with team=All too; a team view is exact. Cluster-level panels (scans,
the Hubble stream) have no namespace and ignore both variables.

Queries read the metrics of docs/metrics.md and the recording rules of
alerts/netfence.rules.yaml (`cluster_direction:...`, `namespace_exposure:...`), so
shards are combined as docs/metrics.md says. Exposure categories overlap: they are shown
side by side, never stacked.

Usage: python dashboards/generate.py [--check]   (--check: exit 1 if the files differ)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

HERE = Path(__file__).resolve().parent
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'cluster=~"$cluster"'
NS = 'cluster=~"$cluster", namespace=~"$namespace"'
TEAMS = 'netfence_namespace_info{cluster=~"$cluster", team=~"$team"}'
RATE = "$__rate_interval"

UID_FLEET = "netfence-fleet"
UID_NAMESPACE = "netfence-namespace"
UID_HUBBLE = "netfence-hubble"
UID_SELF = "netfence-self"

Panel = db.Panel | timeseries.Panel | stat.Panel | table.Panel


# -- building blocks ---------------------------------------------------------------------


def _query(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> Any:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    return q.instant().format(PromQueryFormat.TABLE) if instant else q.range()


def _thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


GOOD_LOW = _thresholds((None, "green"), (1, "red"))
"""0 is good, anything above is bad (denials, findings, failures, exposures)."""
NEUTRAL = _thresholds((None, "blue"))


def _series(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Any],
    thresholds: db.ThresholdsConfig = NEUTRAL,
    *,
    w: int = 12,
    h: int = 8,
    min_val: float | None = 0,
    max_val: float | None = None,
    color_by_threshold: bool = False,
) -> timeseries.Panel:
    p = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DS)
        .thresholds(thresholds)
        .span(w)
        .height(h)
        .fill_opacity(10)
        .line_width(1)
        .stacking(cb.StackingConfig().mode(common.StackingMode.NONE))
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .calcs(["lastNotNull", "max"])
        )
    )
    if min_val is not None:
        p = p.min(min_val)
    if max_val is not None:
        p = p.max(max_val)
    if color_by_threshold:
        p = p.color_scheme(db.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        p = p.thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
        )
    for i, q in enumerate(queries):
        p = p.with_target(q.ref_id(chr(ord("A") + i)))
    return p


def _stat(
    title: str,
    description: str,
    unit: str,
    query: Any,
    thresholds: db.ThresholdsConfig,
    *,
    w: int = 6,
    h: int = 4,
    mappings: list[Any] | None = None,
) -> stat.Panel:
    p = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DS)
        .thresholds(thresholds)
        .color_scheme(db.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .span(w)
        .height(h)
        .with_target(query)
    )
    if mappings:
        p = p.mappings(mappings)
    return p


def _table(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Any],
    thresholds: db.ThresholdsConfig,
    *,
    hide: Sequence[str] = ("Time",),
    rename: dict[str, str] | None = None,
    sort_by: str | None = None,
    links: dict[str, tuple[str, str]] | None = None,
    w: int = 12,
    h: int = 8,
) -> table.Panel:
    p = (
        table.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DS)
        .thresholds(thresholds)
        .span(w)
        .height(h)
        .filterable(True)
        .cell_options(common.TableColoredBackgroundCellOptions())
    )
    for i, q in enumerate(queries):
        p = p.with_target(q.ref_id(chr(ord("A") + i)))
    excluded = {name: True for name in hide}
    p = p.with_transformation(
        model.DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": excluded, "renameByName": rename or {}},
        )
    )
    if len(queries) > 1:
        p = p.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    if sort_by:
        p = p.sort_by([cb.TableSortByFieldState().display_name(sort_by).desc(True)])
    for field, (title_text, url) in (links or {}).items():
        p = p.override_by_name(
            field,
            [
                model.DynamicConfigValue(id_val="links", value=[{"title": title_text, "url": url}]),
                model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "auto"}),
            ],
        )
    return p


def _team(vector: str, label: str = "namespace") -> str:
    """The series of `vector` whose namespace (in `label`) belongs to a selected team.
    `and`, a set operation: several netfence_namespace_info series for one namespace
    (replicas, shards) cannot break it as they would a `group_left` join."""
    teams = TEAMS
    if label != "namespace":
        teams = f'label_replace({teams}, "{label}", "$1", "namespace", "(.*)")'
    return f"({vector} and on (cluster, {label}) {teams})"


def _ns(metric: str, *matchers: str, rate: bool = False) -> str:
    """`metric` in the selected clusters, namespaces and teams (`rate(...)` if `rate`)."""
    selector = f"{metric}{{{', '.join((NS, *matchers))}}}"
    return _team(f"rate({selector}[{RATE}])" if rate else selector)


def _row(title: str) -> db.Row:
    return db.Row(title)


def _query_variable(name: str, label: str, description: str, query: str) -> Any:
    """A multi-value variable with All (`.*`), sorted, refreshed with the time range."""
    return (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DS)
        .query({"query": query, "refId": name})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def _variables() -> list[Any]:
    datasource = (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .description("The Prometheus that scrapes netfence.")
    )
    cluster = _query_variable(
        "cluster",
        "Cluster",
        "Clusters netfence scans (the `cluster` label).",
        "label_values(netfence_scan_success, cluster)",
    )
    team = _query_variable(
        "team",
        "Team",
        "Teams owning the namespaces of the selected clusters (the `team` label of "
        "netfence_namespace_info, EXPERIMENTAL: the intent file's owner, `unowned` "
        "when none). Narrows the namespace list, and every per-namespace panel, to "
        "the selected teams' namespaces.",
        'label_values(netfence_namespace_info{cluster=~"$cluster"}, team)',
    )
    namespace = _query_variable(
        "namespace",
        "Namespace",
        "Namespaces of the selected clusters and teams (from the last scan). All: "
        "every namespace of the selected teams.",
        'label_values(netfence_namespace_info{cluster=~"$cluster", team=~"$team"}, namespace)',
    )
    return [datasource, cluster, team, namespace]


def _dashboard(uid: str, title: str, description: str, panels: Sequence[Any]) -> Any:
    d = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["netfence"])
        .editable()
        .time("now-3h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables(_variables())
        .link(
            db.DashboardLink("netfence")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["netfence"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for p in panels:
        d = d.with_row(p) if isinstance(p, db.Row) else d.with_panel(p)
    return d.build()


# -- the dashboards ----------------------------------------------------------------------

NAMESPACE_LINK = (
    "Namespace view",
    f"/d/{UID_NAMESPACE}/netfence-namespace?var-datasource=${{datasource}}"
    "&var-cluster=${__data.fields.cluster}&var-namespace=${__data.fields.namespace}"
    "&${__url_time_range}",
)


def fleet() -> Any:
    return _dashboard(
        UID_FLEET,
        "netfence / Fleet overview",
        "Default-deny coverage, exposures, internet egress and denied connections of every "
        "cluster netfence scans, and whether its scans are healthy.",
        [
            _stat(
                "Scans failing",
                "Clusters whose last scan failed (values then come from the last good "
                "scan; degraded scans, with some answers unknown, are not failures). Red: "
                "at least one.",
                "none",
                _query(f'count(netfence_scan_state{{{SEL}, state="failure"}} == 1) or vector(0)'),
                GOOD_LOW,
            ),
            _stat(
                "Namespace-directions without default-deny",
                "Namespace and direction pairs where default-deny is not in force, in the "
                "selected namespaces. Red: any.",
                "none",
                _query(f"sum(1 - {_ns('netfence_namespace_default_deny')})"),
                GOOD_LOW,
            ),
            _stat(
                "Objects exposed to the internet",
                "Permitted internet exposures (LoadBalancer, NodePort, externalIPs, "
                "hostNetwork/hostPort) in the selected namespaces. Red: any.",
                "none",
                _query("sum" + _ns("netfence_exposures", 'exposure="internet"')),
                GOOD_LOW,
            ),
            _stat(
                "Denied connections",
                "Connections denied by network policy per second (Hubble), selected "
                "namespaces. Red above 1/s, the spike alert's floor.",
                "reqps",
                _query(f"sum{_ns('netfence_denied_flows_total', rate=True)} or vector(0)"),
                _thresholds((None, "green"), (0.1, "yellow"), (1, "red")),
            ),
            _series(
                "Default-deny coverage",
                "Share of the selected namespaces (of the selected teams) with default-deny "
                "in force, per cluster and direction (with everything selected, what the "
                "recording rule cluster_direction:netfence_namespace_default_deny:ratio "
                "records). Red below 80 %.",
                "percentunit",
                [
                    _query(
                        f"avg by (cluster, direction) {_ns('netfence_namespace_default_deny')}",
                        "{{cluster}} {{direction}}",
                    )
                ],
                _thresholds((None, "red"), (0.8, "yellow"), (0.95, "green")),
                max_val=1,
                color_by_threshold=True,
            ),
            _table(
                "Namespaces without default-deny",
                "Namespaces and directions where default-deny is not in force (last scan). "
                "Sort by any column; the namespace links to its view.",
                "none",
                [
                    _query(
                        f"{_ns('netfence_namespace_default_deny')} == 0",
                        instant=True,
                    )
                ],
                _thresholds((None, "red")),
                hide=("Time", "Value", "__name__", "instance", "job", "pod", "service", "endpoint"),
                links={"namespace": NAMESPACE_LINK},
            ),
            _series(
                "Exposures by category",
                "Permitted exposures per category in the selected namespaces. Categories "
                "overlap (all_namespaces is within other_namespaces; an object can be in "
                "several), so they are shown side by side, not stacked.",
                "none",
                [
                    _query(
                        f"sum by (exposure) {_ns('netfence_exposures')}",
                        "{{exposure}}",
                    )
                ],
            ),
            _series(
                "Internet-egress workloads",
                "Workloads that can reach public addresses, per cluster.",
                "none",
                [
                    _query(
                        f"sum by (cluster) {_ns('netfence_internet_egress_workloads')}",
                        "{{cluster}}",
                    )
                ],
                GOOD_LOW,
            ),
            _series(
                "Denied connections by namespace",
                "Connections denied by network policy per second (Hubble policy verdicts), "
                "per cluster and namespace (the enforcing endpoint's).",
                "reqps",
                [
                    _query(
                        "sum by (cluster, namespace) "
                        f"{_ns('netfence_denied_flows_total', rate=True)}",
                        "{{cluster}} {{namespace}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _series(
                "Scan health",
                "Age of the last successful scan in scan intervals (1 = on time). Red from "
                "3 intervals, when NetfenceScanStale fires.",
                "none",
                [
                    _query(
                        f"(time() - netfence_scan_timestamp_seconds{{{SEL}}}) "
                        f"/ netfence_scan_interval_seconds{{{SEL}}}",
                        "{{cluster}}",
                    )
                ],
                _thresholds((None, "green"), (2, "yellow"), (3, "red")),
                color_by_threshold=True,
            ),
        ],
    )


def namespace() -> Any:
    return _dashboard(
        UID_NAMESPACE,
        "netfence / Namespace",
        "One namespace: its default-deny over time, isolated pods, exposures, findings, "
        "denied connections and cross-namespace flows.",
        [
            _series(
                "Default-deny",
                "1 when default-deny is in force for the direction, 0 when not (red), per scan.",
                "bool_yes_no",
                [
                    _query(
                        _ns("netfence_namespace_default_deny"),
                        "{{namespace}} {{direction}}",
                    )
                ],
                _thresholds((None, "red"), (1, "green")),
                max_val=1,
                color_by_threshold=True,
            ),
            _series(
                "Isolated pods",
                "Pods isolated by at least one policy, per direction, beside all pods.",
                "none",
                [
                    _query(
                        _ns("netfence_namespace_isolated_pods"),
                        "{{namespace}} isolated {{direction}}",
                    ),
                    _query(_ns("netfence_namespace_pods"), "{{namespace}} pods"),
                ],
            ),
            _table(
                "Exposures",
                "Each permitted exposure of an object (netfence_exposure_info; capped, see "
                "netfence_exposure_info_dropped). internet rows are red.",
                "none",
                [_query(_ns("netfence_exposure_info"), instant=True)],
                NEUTRAL,
                hide=("Time", "Value", "__name__", "instance", "job", "pod", "service", "endpoint"),
                sort_by="exposure",
            ).override_by_name(
                "exposure",
                [
                    model.DynamicConfigValue(
                        id_val="mappings",
                        value=[
                            {
                                "type": "value",
                                "options": {"internet": {"color": "red", "index": 0}},
                            }
                        ],
                    )
                ],
            ),
            _table(
                "Findings",
                "Findings of the last scan by check, severity and direction (count). Red: any.",
                "none",
                [_query(f"{_ns('netfence_findings')} > 0", instant=True)],
                GOOD_LOW,
                hide=("Time", "__name__", "instance", "job", "pod", "service", "endpoint"),
                rename={"Value": "findings"},
                sort_by="findings",
            ),
            _series(
                "Denied connections by policy and reason",
                "Connections denied per second by the deny policy (default-deny when no "
                "rule allowed them), reason and direction.",
                "reqps",
                [
                    _query(
                        "sum by (namespace, policy, reason, direction) "
                        f"{_ns('netfence_denied_flows_total', rate=True)}",
                        "{{namespace}} {{direction}} {{policy}} {{reason}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _series(
                "Top denied workloads",
                "The 10 workloads with the most denied connections per second (top N "
                "per namespace, the rest as other).",
                "reqps",
                [
                    _query(
                        "topk(10, sum by (namespace, workload, direction) "
                        + _ns(
                            "netfence_workload_policy_verdicts_total",
                            'verdict="dropped"',
                            rate=True,
                        )
                        + ")",
                        "{{namespace}}/{{workload}} {{direction}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _table(
                "Cross-namespace flows",
                "Connections per second between this namespace and others, by verdict: "
                "inbound (enforced here) and outbound. Non-pod peers are reserved:world, "
                "reserved:host, ...; _other beyond the matrix bound.",
                "reqps",
                [
                    _query(
                        "sum by (source_namespace, destination_namespace, verdict) "
                        + _team(
                            'rate(netfence_namespace_flows_total{cluster=~"$cluster", '
                            f'{side}_namespace=~"$namespace"}}[{RATE}])',
                            f"{side}_namespace",
                        ),
                        instant=True,
                    )
                    for side in ("destination", "source")
                ],
                _thresholds((None, "blue")),
                hide=("Time",),
                rename={"Value #A": "inbound/s", "Value #B": "outbound/s"},
            ),
            _series(
                "Unused exposures",
                "Permitted exposures no admitted connection used in the unused window "
                "(30 days by default), by category; the minimum over shards.",
                "none",
                [
                    _query(
                        _ns("namespace_exposure:netfence_unused_exposures:min"),
                        "{{namespace}} {{exposure}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
        ],
    )


def hubble() -> Any:
    return _dashboard(
        UID_HUBBLE,
        "netfence / Hubble verdicts",
        "What Cilium's datapath decides: policy verdicts by namespace, drop reasons, the "
        "policies that deny most, default-deny drops, and the health of the Hubble stream.",
        [
            _series(
                f"{verdict.capitalize()} connections by namespace",
                f"Connections {what} per second (policy-verdict events), by the enforcing "
                "namespace.",
                "reqps",
                [
                    _query(
                        "sum by (namespace) "
                        + _ns("netfence_policy_verdicts_total", f'verdict="{verdict}"', rate=True),
                        "{{namespace}}",
                    )
                ],
                thresholds,
                w=8,
            )
            for verdict, what, thresholds in (
                ("forwarded", "admitted", NEUTRAL),
                ("dropped", "denied by policy", _thresholds((None, "green"), (1, "red"))),
                (
                    "audit",
                    "admitted in policy-audit mode (would be denied)",
                    _thresholds((None, "green"), (0.001, "red")),
                ),
            )
        ]
        + [
            _series(
                "Drop reasons",
                "Packets dropped by the datapath per second, by drop reason (drop events).",
                "pps",
                [
                    _query(
                        f"sum by (reason) {_ns('netfence_dropped_packets_total', rate=True)}",
                        "{{reason}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _series(
                "Top denying policies",
                "The 10 policies that deny the most connections per second (default-deny: "
                "no rule allowed them; `netfence explain --to NS/WORKLOAD` lists the "
                "isolating policies).",
                "reqps",
                [
                    _query(
                        "topk(10, sum by (namespace, policy) "
                        f"{_ns('netfence_denied_flows_total', rate=True)})",
                        "{{namespace}} {{policy}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _series(
                "default-deny drops",
                "Connections denied because no rule allowed them (policy=default-deny), by "
                "namespace and direction.",
                "reqps",
                [
                    _query(
                        "sum by (namespace, direction) "
                        + _ns("netfence_denied_flows_total", 'policy="default-deny"', rate=True),
                        "{{namespace}} {{direction}}",
                    )
                ],
                _thresholds((None, "green"), (1, "red")),
            ),
            _series(
                "L7 requests by verdict",
                "HTTP, DNS and Kafka requests per second by proxy verdict (dropped: an L7 "
                "rule denied it).",
                "reqps",
                [
                    _query(
                        "sum by (protocol, verdict) "
                        f"{_ns('netfence_l7_requests_total', rate=True)}",
                        "{{protocol}} {{verdict}}",
                    )
                ],
            ),
            _series(
                "Lost events",
                "Events Hubble or Relay reported lost per second, by source: above 0, flow "
                "counts are a lower bound (red).",
                "eps",
                [
                    _query(
                        f"sum by (cluster, source) "
                        f"(rate(netfence_hubble_lost_events_total{{{SEL}}}[{RATE}]))",
                        "{{cluster}} {{source}}",
                    )
                ],
                _thresholds((None, "green"), (0.001, "red")),
                color_by_threshold=True,
            ),
            _series(
                "Relay up per shard",
                "1 while netfence's Hubble Relay stream is up, per cluster and shard; 0 is red.",
                "bool_yes_no",
                [_query(f"netfence_hubble_up{{{SEL}}}", "{{cluster}} shard {{shard}}")],
                _thresholds((None, "red"), (1, "green")),
                max_val=1,
                color_by_threshold=True,
            ),
        ],
    )


def itself() -> Any:
    return _dashboard(
        UID_SELF,
        "netfence / netfence",
        "netfence's own health: scans (duration, success, age against the interval), "
        "history store writes, the Hubble flow consumer and the size of /metrics.",
        [
            _series(
                "Scan duration",
                "Duration of the last scan attempt per cluster, beside the scan interval: a "
                "scan as long as the interval is late.",
                "s",
                [
                    _query(f"netfence_scan_duration_seconds{{{SEL}}}", "{{cluster}} duration"),
                    _query(f"netfence_scan_interval_seconds{{{SEL}}}", "{{cluster}} interval"),
                ],
            ),
            _series(
                "Scan success",
                "1 when the last scan of the cluster succeeded with every answer verified, 0 "
                "(red) when it failed or was degraded (netfence_scan_state says which).",
                "bool_yes_no",
                [_query(f"netfence_scan_success{{{SEL}}}", "{{cluster}}")],
                _thresholds((None, "red"), (1, "green")),
                max_val=1,
                color_by_threshold=True,
            ),
            _series(
                "Scan age vs interval",
                "Seconds since the last successful scan started, beside 3 scan intervals "
                "(NetfenceScanStale's threshold).",
                "s",
                [
                    _query(f"time() - netfence_scan_timestamp_seconds{{{SEL}}}", "{{cluster}} age"),
                    _query(
                        f"3 * netfence_scan_interval_seconds{{{SEL}}}",
                        "{{cluster}} stale after",
                    ),
                ],
            ),
            _series(
                "Scan errors",
                "Errors counted by scans per stage (list, load, scan, store, scheduler) in "
                "each interval. store: history not written.",
                "none",
                [
                    _query(
                        f"sum by (cluster, stage) "
                        f"(increase(netfence_scan_errors_total{{{SEL}}}[{RATE}]))",
                        "{{cluster}} {{stage}}",
                    )
                ],
                GOOD_LOW,
            ),
            _series(
                "Store write failures",
                "History writes that failed (scan results or flow roll-ups); red above 0.",
                "none",
                [
                    _query(
                        f"sum by (cluster) "
                        f'(increase(netfence_scan_errors_total{{{SEL}, stage="store"}}[{RATE}]))',
                        "{{cluster}}",
                    )
                ],
                GOOD_LOW,
                color_by_threshold=True,
            ),
            _series(
                "Flow consumer rate",
                "Hubble events read per second by each consumer (counted or ignored).",
                "eps",
                [
                    _query(
                        f"sum by (cluster, shard) "
                        f"(rate(netfence_hubble_events_total{{{SEL}}}[{RATE}]))",
                        "{{cluster}} shard {{shard}}",
                    )
                ],
            ),
            _series(
                "Flow consumer lag",
                "Seconds between now and the newest event read from Relay. Red above a minute.",
                "s",
                [
                    _query(
                        f"time() - netfence_hubble_last_event_timestamp_seconds{{{SEL}}}",
                        "{{cluster}} shard {{shard}}",
                    )
                ],
                _thresholds((None, "green"), (10, "yellow"), (60, "red")),
                color_by_threshold=True,
            ),
            _series(
                "Scrape size",
                "Samples Prometheus scraped from each netfence target, and how long the "
                "scrape took (seconds, right axis of the legend).",
                "short",
                [
                    _query(
                        "scrape_samples_scraped * on (instance, job) group_left () "
                        f"max by (instance, job) (netfence_scan_success{{{SEL}}})",
                        "{{instance}} samples",
                    ),
                    _query(
                        "scrape_duration_seconds * on (instance, job) group_left () "
                        f"max by (instance, job) (netfence_scan_success{{{SEL}}})",
                        "{{instance}} scrape seconds",
                    ),
                ],
            ),
        ],
    )


DASHBOARDS = {
    "netfence-fleet.json": fleet,
    "netfence-namespace.json": namespace,
    "netfence-hubble.json": hubble,
    "netfence-self.json": itself,
}


def render(build: Any) -> str:
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file differs")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = args.out / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run `make dashboards`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
