"""The Helm chart in deploy/netfence: rendered (with `helm template` when installed, else
with the small renderer in helm_render.py), read back with netfence's own loader, and
checked for least privilege, a hardened pod and args that `netfence serve` accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from helm_render import render_chart

from exporter.cli import _parser
from exporter.config import load_config
from exporter.sources.kubernetes import KINDS
from exporter.sources.manifests import read_objects

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "netfence"


def _objects(text: str, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "rendered.yaml"
    out.write_text(text)
    raws, errors = read_objects([out])
    assert errors == [], errors
    return [r.obj for r in raws]


def _chart_copy(tmp_path: Path) -> Path:
    """The chart with real alerts/dashboards folders holding samples."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart, symlinks=True)
    for link in ("alerts", "dashboards"):
        (chart / "files" / link).unlink()
        (chart / "files" / link).mkdir()
    (chart / "files/alerts/netfence.yaml").write_text(
        "groups:\n  - name: netfence\n    rules:\n      - alert: NetfenceScanFailing\n"
        "        expr: netfence_scan_success == 0\n        labels: {severity: warning}\n"
    )
    (chart / "files/alerts/netfence_test.yaml").write_text("rule_files: [netfence.yaml]\n")
    (chart / "files/dashboards/overview.json").write_text(
        json.dumps({"uid": "netfence-overview", "title": "netfence", "panels": []}, indent=2)
    )
    return chart


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


def _check_defaults(objects: list[dict[str, Any]]) -> None:
    kinds = _by_kind(objects)
    assert set(kinds) >= {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "ServiceMonitor", "PersistentVolumeClaim",
    }  # fmt: skip
    # RBAC: exactly the kinds the live source reads, read-only, never Secrets
    (role,) = kinds["ClusterRole"]
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    wanted = {(group, k.plural) for k in KINDS for group in k.groups}
    assert granted == wanted
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        assert "*" not in rule["resources"] and "secrets" not in rule["resources"]
    # the pod: non-root, read-only root filesystem, no privilege escalation
    (deploy,) = kinds["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["serviceAccountName"] == kinds["ServiceAccount"][0]["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes["data"]["persistentVolumeClaim"]["claimName"]
        == (kinds["PersistentVolumeClaim"][0]["metadata"]["name"])
    )
    # the args are a valid `netfence serve` command line
    args = _parser().parse_args(container["args"])
    config = load_config(vars(args), in_cluster_available=lambda: False)
    (cluster,) = config.clusters
    assert cluster.in_cluster and config.store_url.startswith("sqlite:////var/lib/netfence/")
    port = container["ports"][0]["containerPort"]
    assert config.listen_port == port == kinds["Service"][0]["spec"]["ports"][0]["port"]


def test_default_render(tmp_path: Path) -> None:
    objects = _objects(render_chart(CHART, "nf", "monitoring"), tmp_path)
    _check_defaults(objects)
    kinds = _by_kind(objects)
    # alerts/netfence.rules.yaml, not the promtool tests under alerts/tests/
    (rule,) = kinds["PrometheusRule"]
    alerts = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "NetfenceDeniedConnectionSpike" in alerts
    # dashboards/*.json, one ConfigMap each, labelled for the Grafana sidecar
    boards = {
        json.loads(body)["uid"]
        for c in kinds["ConfigMap"]
        if c["metadata"]["labels"].get("grafana_dashboard") == "1"
        for body in c["data"].values()
    }
    assert boards == {"netfence-fleet", "netfence-namespace", "netfence-hubble", "netfence-self"}


def test_alerts_and_dashboards_are_templated(tmp_path: Path) -> None:
    chart = _chart_copy(tmp_path)
    kinds = _by_kind(_objects(render_chart(chart, "nf", "monitoring"), tmp_path))
    (rule,) = kinds["PrometheusRule"]  # the promtool test file is not a rule
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == "NetfenceScanFailing"
    (board,) = [c for c in kinds["ConfigMap"] if "dashboard" in c["metadata"]["name"]]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["overview.json"])["uid"] == "netfence-overview"


def test_values_switch_parts_off(tmp_path: Path) -> None:
    values = {
        "persistence": {"enabled": False},
        "serviceMonitor": {"enabled": False},
        "store": {"url": "postgresql://netfence@db/netfence"},
    }
    kinds = _by_kind(_objects(render_chart(CHART, "nf", "ns", values), tmp_path))
    assert "PersistentVolumeClaim" not in kinds and "ServiceMonitor" not in kinds
    (deploy,) = kinds["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert "--store=postgresql://netfence@db/netfence" in pod["containers"][0]["args"]


def test_hubble_values_give_serve_a_relay_source(tmp_path: Path) -> None:
    values = {
        "hubble": {
            "enabled": True,
            "tls": {"enabled": True, "secretName": "hubble-relay-client-certs", "mtls": True},
        }
    }
    kinds = _by_kind(_objects(render_chart(CHART, "nf", "ns", values), tmp_path))
    (deploy,) = kinds["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # The certificates are files mounted by the kubelet, not read through the API.
    mount = {m["name"]: m for m in container["volumeMounts"]}["hubble-tls"]
    volume = {v["name"]: v for v in pod["volumes"]}["hubble-tls"]
    assert volume["secret"]["secretName"] == "hubble-relay-client-certs"
    assert mount["readOnly"] is True
    args = vars(_parser().parse_args(container["args"]))
    assert args["hubble_address"] == "hubble-relay.kube-system.svc:80"
    assert args["hubble_tls"] and args["hubble_tls_server_name"] == "ui.hubble-relay.cilium.io"
    for key, name in (("ca", "ca.crt"), ("cert", "tls.crt"), ("key", "tls.key")):
        assert args[f"hubble_tls_{key}_file"] == f"{mount['mountPath']}/{name}"
    # With the mounted files present, serve accepts the command line.
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.crt", "tls.crt", "tls.key"):
        (certs / name).write_text("x")
    local = {k: (str(certs / Path(v).name) if k.endswith("_file") and v else v)
             for k, v in args.items()}  # fmt: skip
    config = load_config(local, in_cluster_available=lambda: False)
    (cluster,) = config.clusters
    assert cluster.hubble is not None and cluster.hubble.cert_file == certs / "tls.crt"
    assert config.flows.top_n == 20 and config.flows.unused_window == 30 * 86400


def test_web_config_from_a_secret_turns_on_tls_and_basic_auth(tmp_path: Path) -> None:
    """The chart can put /metrics behind TLS and basic auth: the web config file and its
    certificates come from a Secret volume (mounted by the kubelet), and the probes and
    the ServiceMonitor switch to HTTPS."""
    values = {
        "web": {
            "configSecret": "netfence-web",
            "tls": True,
            "serviceMonitorTLSConfig": {"insecureSkipVerify": True},
            "serviceMonitorBasicAuth": {
                "username": {"name": "prom-auth", "key": "user"},
                "password": {"name": "prom-auth", "key": "password"},
            },
        }
    }
    kinds = _by_kind(_objects(render_chart(CHART, "nf", "ns", values), tmp_path))
    (deploy,) = kinds["Deployment"]
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mount = {m["name"]: m for m in container["volumeMounts"]}["web-config"]
    volume = {v["name"]: v for v in pod["volumes"]}["web-config"]
    assert volume["secret"]["secretName"] == "netfence-web" and mount["readOnly"] is True
    args = vars(_parser().parse_args(container["args"]))
    assert args["web_config_file"] == Path(f"{mount['mountPath']}/web-config.yml") or (
        str(args["web_config_file"]) == f"{mount['mountPath']}/web-config.yml"
    )
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    (monitor,) = kinds["ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"insecureSkipVerify": True}
    assert endpoint["basicAuth"]["password"] == {"name": "prom-auth", "key": "password"}
    # Off by default: plain HTTP, no volume.
    kinds = _by_kind(_objects(render_chart(CHART, "nf", "ns", {}), tmp_path))
    (deploy,) = kinds["Deployment"]
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    assert not any("web.config" in a for a in container["args"])
