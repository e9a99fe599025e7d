"""`netfence serve` configuration: flags, the config file, and every error at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.config import ConfigError, load_config, parse_duration

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def _flags(**given: Any) -> dict[str, Any]:
    return given


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("1h30m", 5400),
        ("400d", 400 * 86400),
        ("250ms", 0.25),
        (90, 90),
        ("2w", 1209600),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "-3s", "1h 2m", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(text)


def test_one_cluster_needs_no_file(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("{}")
    config = load_config(
        _flags(
            kubeconfig=str(kubeconfig),
            context="prod-eu",
            web_listen_address="127.0.0.1:9999",
            store="postgresql://netfence@db/netfence",
            scan_interval="2m",
        )
    )
    (cluster,) = config.clusters
    assert (cluster.name, cluster.context, cluster.kind) == ("prod-eu", "prod-eu", "kubeconfig")
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 9999)
    assert config.scan.interval == 120 and config.retention_days == 400
    assert config.store_url == "postgresql://netfence@db/netfence"


def test_manifests_cluster_and_defaults() -> None:
    config = load_config(_flags(manifests=[str(DEMO)], cluster_name="demo"))
    (cluster,) = config.clusters
    assert cluster.name == "demo" and cluster.manifests == (DEMO,)
    assert (config.listen_host, config.listen_port) == ("", 9873)
    assert config.store_url == "sqlite:///netfence.db" and config.scan.interval == 300


def test_in_cluster_is_the_default_in_a_pod() -> None:
    (cluster,) = load_config({}, in_cluster_available=lambda: True).clusters
    assert cluster.in_cluster and cluster.name == "default"
    with pytest.raises(ConfigError, match="no cluster to scan"):
        load_config({}, in_cluster_available=lambda: False)


def test_the_file_has_a_key_for_every_flag_and_flags_win(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text("{}")
    (tmp_path / "web.yml").write_text("basic_auth_users:\n  prom: $2b$04$abcdefghijklmnopqrstuu\n")
    path = tmp_path / "netfence.yaml"
    path.write_text(
        f"""
web: {{listen_address: ":9100", config_file: web.yml}}
store: {{url: "sqlite:///h.db", retention: 30d}}
scan: {{interval: 10m, jitter: 1m, timeout: 5s, page_size: 100, retries: 2}}
ready: {{grace: 2m}}
log: {{level: debug}}
clusters:
  - {{name: prod, kubeconfig: kc, context: prod}}
  - {{name: demo, manifests: [{DEMO}]}}
  - {{name: self, in_cluster: true}}
"""
    )
    config = load_config(_flags(config_file=str(path), scan_interval="1m"))
    assert [c.name for c in config.clusters] == ["prod", "demo", "self"]
    assert config.clusters[0].kubeconfig == str(tmp_path / "kc")
    assert config.clusters[2].in_cluster
    assert config.scan.interval == 60  # the flag wins
    assert (
        config.scan.jitter,
        config.scan.timeout,
        config.scan.page_size,
        config.scan.retries,
    ) == (
        60,
        5,
        100,
        2,
    )
    assert config.retention_days == 30 and config.ready_grace == 120
    assert config.log_level == "debug" and config.listen_port == 9100
    assert config.web.basic_auth_users == {"prom": "$2b$04$abcdefghijklmnopqrstuu"}


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "netfence.yaml"
    path.write_text(
        """
scan: {interval: soon, page_size: 0, colour: blue}
store: {url: "mysql://x"}
web: {listen_address: "nowhere", config_file: missing.yml}
bogus: 1
clusters:
  - {name: "a b", manifests: [/does/not/exist]}
  - {name: dup, in_cluster: true}
  - {name: dup, kubeconfig: /nope, manifests: [/x]}
  - {kubeconfig: /y}
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(_flags(config_file=str(path)))
    text = "\n".join(caught.value.problems)
    for expected in (
        "unknown key 'bogus'",
        "unknown key scan.colour",
        "scan.interval: 'soon' is not a duration",
        "scan.page_size",
        "store.url",
        "web.listen_address",
        "missing.yml",
        "cluster name 'a b'",
        "'dup' is used twice",
        "/does/not/exist",
        "use one of kubeconfig/context, manifests or in_cluster",
        "clusters[3].name is required",
    ):
        assert expected in text, expected
    assert len(caught.value.problems) >= 12


def test_the_example_config_file_loads() -> None:
    example = DEMO.parent / "netfence.yaml"
    config = load_config({"config_file": str(example)})
    (cluster,) = config.clusters
    assert cluster.name == "demo" and cluster.manifests == (DEMO,)
    assert config.scan.interval == 300 and config.listen_port == 9873


def test_hubble_sources_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    for name in ("ca.crt", "tls.crt", "tls.key"):
        (tmp_path / "certs" / name).write_text("x")
    (tmp_path / "flows.jsonl").write_text("")
    config_file = tmp_path / "netfence.yaml"
    config_file.write_text(
        f"""
flows: {{shard: node-a, top_n: 5, unused_window: 7d, flush_interval: 30s}}
clusters:
  - name: prod
    manifests: [{DEMO}]
    hubble:
      address: hubble-relay.kube-system:4245
      tls: {{ca_file: certs/ca.crt, cert_file: certs/tls.crt, key_file: certs/tls.key,
             server_name: ui.hubble-relay.cilium.io}}
      node_names: ["prod/worker-a*"]
  - name: offline
    manifests: [{DEMO}]
    hubble: {{replay: [flows.jsonl]}}
  - name: no-flows
    manifests: [{DEMO}]
"""
    )
    config = load_config(_flags(config_file=str(config_file)))
    prod, offline, none = config.clusters
    assert prod.hubble is not None and prod.hubble.tls  # any TLS setting turns TLS on
    assert prod.hubble.ca_file == tmp_path / "certs" / "ca.crt"  # relative to the file
    assert prod.hubble.server_name == "ui.hubble-relay.cilium.io"
    assert prod.hubble.node_names == ("prod/worker-a*",)
    assert offline.hubble is not None and offline.hubble.address is None
    assert offline.hubble.replay == (tmp_path / "flows.jsonl",)
    assert none.hubble is None
    assert (config.flows.shard, config.flows.top_n) == ("node-a", 5)
    assert (config.flows.unused_window, config.flows.flush_interval) == (7 * 86400, 30)


def test_hubble_problems_in_the_file_are_listed_together(tmp_path: Path) -> None:
    config_file = tmp_path / "netfence.yaml"
    config_file.write_text(
        f"""
flows: {{top_n: 0, colour: red}}
clusters:
  - name: prod
    manifests: [{DEMO}]
    hubble: {{address: relay, tls: {{ca_file: nope.crt, pinned: true}}, port: 4245}}
"""
    )
    with pytest.raises(ConfigError) as info:
        load_config(_flags(config_file=str(config_file), hubble_address="r:1"))
    problems = "\n".join(info.value.problems)
    for expected in (
        "flows.top_n",
        "unknown key flows.colour",
        "unknown key clusters[0].hubble.port",
        "unknown key clusters[0].hubble.tls.pinned",
        "hubble address 'relay' is not HOST:PORT",
        "nope.crt: not a file",
        "--hubble.* flags go with a cluster given by flags",
    ):
        assert expected in problems, problems


def test_hubble_flags_configure_the_one_cluster() -> None:
    config = load_config(
        _flags(
            manifests=[str(DEMO)],
            hubble_address="tls://127.0.0.1:4245",
            hubble_node_name=["c/n1", "c/n2"],
            flows_shard="1",
        )
    )
    (cluster,) = config.clusters
    assert cluster.hubble is not None
    assert cluster.hubble.address == "tls://127.0.0.1:4245"
    assert cluster.hubble.node_names == ("c/n1", "c/n2")
    assert config.flows.shard == "1"
