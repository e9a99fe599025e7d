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
intent: intent.yaml                # --intent: teams, guardrails, baseline (docs/intent.md)
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
  policy_unused_window: 90d        # --flows.policy-unused-window: policy unused this long
  flush_interval: 1m               # --flows.flush-interval: roll-ups to the store
  namespace_ttl: 24h               # --flows.namespace-ttl: series of idle namespaces go
reports:                           # scheduled compliance reports (docs/reports.md)
  dir: /var/lib/netfence/reports   # --reports.dir: none = no scheduled reports
  schedule: "0 6 1 1,4,7,10 *"     # --reports.schedule: crontab, UTC (quarter starts)
  controls: []                     # --reports.controls: mapping files over the shipped ones
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

The package:

    settings.py  the typed result (Config and its parts) and the one place defaults live
    values.py    parsers of single values (durations, addresses, names, plugins)
    load.py      load_config: flags over the file, every problem collected
    clusters.py  the clusters to scan (flags, a clusters: list, or in-cluster)
    hubble.py    a cluster's Hubble source, from flags or the file, and its checks
    web.py       the exporter-toolkit web config file (TLS, basic auth)
    intent.py    the intent file (--intent / intent:), validated with the rest
"""

from exporter.config.hubble import hubble_from_flags, hubble_problems
from exporter.config.load import load_config
from exporter.config.settings import (
    ClusterConfig,
    Config,
    ConfigError,
    FlowSettings,
    HubbleConfig,
    ReportSettings,
    ScanSettings,
    WebConfig,
)
from exporter.config.values import network_plugin, parse_duration

__all__ = [
    "ClusterConfig",
    "Config",
    "ConfigError",
    "FlowSettings",
    "HubbleConfig",
    "ReportSettings",
    "ScanSettings",
    "WebConfig",
    "hubble_from_flags",
    "hubble_problems",
    "load_config",
    "network_plugin",
    "parse_duration",
]
