"""The Helm chart in deploy/netfence, as the real helm lints and renders it.

Rendered objects are read back with netfence's own loader and validated against the
Kubernetes OpenAPI schemas (kubernetes-validate's JSON schemas, strict: unknown fields
fail); the alert rules it ships are checked by promtool. Then what users rely on: least
privilege, a hardened pod, args `netfence serve` accepts, every value wired through,
ServiceMonitor/PrometheusRule only where their CRDs are served, the alerts and dashboards
the repository ships, and netfence fenced by its own NetworkPolicy as netfence itself sees
it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_tools import CHART, ROOT, Doc, Helm, by_kind, require_tools

from exporter import __version__
from exporter.cli import build_parser, main
from exporter.config import load_config
from exporter.sources.kubernetes import KINDS

ALL_FEATURES = CHART / "ci" / "all-features-values.yaml"
CLUSTERS = CHART / "ci" / "clusters-values.yaml"
# The CRDs' API groups: kubernetes-validate has only the built-in kinds' schemas.
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}
CAPABILITIES = [
    "--api-versions",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "--api-versions",
    "monitoring.coreos.com/v1/PrometheusRule",
]
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest known.
K8S_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())


def _shipped_alert_files() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "alerts").glob("*.yaml")
        if not p.name.endswith("_test.yaml") and not p.name.startswith("test")
    )


def _shipped_dashboards() -> list[Path]:
    return sorted((ROOT / "dashboards").glob("*.json"))


def _pod(objects: list[Doc]) -> Doc:
    (deploy,) = by_kind(objects)["Deployment"]
    pod: Doc = deploy["spec"]["template"]["spec"]
    return pod


def _container(objects: list[Doc]) -> Doc:
    (container,) = _pod(objects)["containers"]
    return container  # type: ignore[no-any-return]


# -- helm lint, schemas ----------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [None, ALL_FEATURES, CLUSTERS], ids=["defaults", "all", "clusters"]
)
def test_helm_lint_strict(chart: Helm, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", "netfence"]
    if values:
        args += ["--values", str(values)]
    proc = chart.run(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize(
    ("files", "args"),
    [((), ()), ((ALL_FEATURES,), CAPABILITIES), ((CLUSTERS,), ())],
    ids=["defaults", "all", "clusters"],
)
def test_rendered_objects_match_the_kubernetes_schemas(
    chart: Helm, files: tuple[Path, ...], args: tuple[str, ...]
) -> None:
    objects = chart.objects(files=files, args=args)
    checked = 0
    for obj in objects:
        if obj["kind"] in MONITORING_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                name = f"{obj['kind']} {obj['metadata']['name']}"
                pytest.fail(f"{name} is invalid for Kubernetes {version}: {exc.message}")
        checked += 1
    assert checked >= 6  # SA, ClusterRole(Binding), Deployment, Service, NetworkPolicies


def test_schema_validation_rejects_a_broken_object() -> None:
    """The validator is strict: a mistyped field of a real object fails (guards the
    previous test from passing on a validator that accepts anything)."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPrt": 8080}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"image": {"tagg": "1.0"}}, "Additional property tagg is not allowed"),
        ({"service": {"port": "http"}}, "Invalid type"),
        ({"networkPolicy": {"enabled": "yes"}}, "Invalid type"),
        ({"scan": {"interval": "five minutes"}}, "scan.interval"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"persistance": {"enabled": False}}, "Additional property persistance"),
        ({"reports": {"persistence": {"accessModes": "ReadWriteOnce"}}}, "accessModes"),
        ({"reports": {"schedule": "quarterly"}}, "reports.schedule"),
    ],
)
def test_values_schema_rejects_unknown_and_mistyped_values(
    chart: Helm, values: Doc, message: str
) -> None:
    proc = chart.template(values)
    assert proc.returncode != 0
    assert message in proc.stderr


# -- what the defaults deploy ----------------------------------------------------------


def test_defaults_least_privilege_hardened_pod_valid_args(chart: Helm) -> None:
    objects = chart.objects()
    kinds = by_kind(objects)
    assert set(kinds) == {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "PersistentVolumeClaim", "NetworkPolicy",
    } | ({"ConfigMap"} if _shipped_dashboards() else set())  # fmt: skip
    # RBAC: exactly the kinds the live source reads, read-only, never Secrets
    (role,) = kinds["ClusterRole"]
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == {(group, k.plural) for k in KINDS for group in k.groups}
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        assert "*" not in rule["resources"] and "secrets" not in rule["resources"]
    (binding,) = kinds["ClusterRoleBinding"]
    (account,) = kinds["ServiceAccount"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "netfence"}
    ]
    # the pod: the image of this version, non-root, read-only root filesystem
    pod = _pod(objects)
    container = _container(objects)
    assert container["image"] == f"ghcr.io/netfence/netfence:{__version__}"
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532  # the image's USER
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # writable: only the data volume (the PVC), the reports' volume (a PVC) and /tmp
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {
        "/var/lib/netfence": "data", "/var/lib/netfence/reports": "reports", "/tmp": "tmp"
    }  # fmt: skip
    volumes = {v["name"]: v for v in pod["volumes"]}
    claims = {c["metadata"]["name"] for c in kinds["PersistentVolumeClaim"]}
    assert claims == {"nf-netfence", "nf-netfence-reports"}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "nf-netfence"
    assert volumes["reports"]["persistentVolumeClaim"]["claimName"] == "nf-netfence-reports"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # the args are a valid `netfence serve` command line
    args = build_parser().parse_args(container["args"])
    config = load_config(vars(args), in_cluster_available=lambda: False)
    (cluster,) = config.clusters
    assert cluster.in_cluster and cluster.name == "default"
    assert config.store_url == "sqlite:////var/lib/netfence/netfence.db"
    assert config.reports.dir == Path("/var/lib/netfence/reports")
    assert config.reports.schedule == "0 6 1 1,4,7,10 *"
    port = container["ports"][0]["containerPort"]
    (service,) = kinds["Service"]
    assert config.listen_port == port == service["spec"]["ports"][0]["port"] == 9873
    assert service["spec"]["selector"].items() <= pod_labels(objects).items()


def pod_labels(objects: list[Doc]) -> dict[str, str]:
    (deploy,) = by_kind(objects)["Deployment"]
    return deploy["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]


def test_every_optional_value_reaches_the_pod(chart: Helm) -> None:
    objects = chart.objects(files=[ALL_FEATURES])
    values = yaml.safe_load(ALL_FEATURES.read_text())
    kinds = by_kind(objects)
    pod, container = _pod(objects), _container(objects)
    assert container["image"] == f"ghcr.io/netfence/netfence@{values['image']['digest']}"
    assert pod["imagePullSecrets"] == values["imagePullSecrets"]
    (account,) = kinds["ServiceAccount"]
    assert account["metadata"]["name"] == pod["serviceAccountName"] == "netfence-reader"
    assert account["metadata"]["annotations"] == values["serviceAccount"]["annotations"]
    (deploy,) = kinds["Deployment"]
    meta = deploy["spec"]["template"]["metadata"]
    assert meta["annotations"].items() >= values["podAnnotations"].items()
    assert meta["labels"].items() >= values["podLabels"].items()
    for key in ("affinity", "topologySpreadConstraints", "priorityClassName", "nodeSelector",
                "tolerations"):  # fmt: skip
        assert pod[key] == values[key], key
    assert container["env"] == values["extraEnv"]
    assert container["envFrom"] == values["envFrom"]
    assert values["extraVolumes"][0] in pod["volumes"]
    assert values["extraVolumeMounts"][0] in container["volumeMounts"]
    assert "PersistentVolumeClaim" not in kinds
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert {v["name"]: v for v in pod["volumes"]}["reports"] == {
        "name": "reports",
        "persistentVolumeClaim": {"claimName": values["reports"]["persistence"]["existingClaim"]},
    }
    (service,) = kinds["Service"]
    assert service["metadata"]["annotations"] == values["service"]["annotations"]
    (monitor,) = kinds["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["relabelings"] == values["serviceMonitor"]["relabelings"]
    assert endpoint["metricRelabelings"] == values["serviceMonitor"]["metricRelabelings"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels(objects).items()
    # hubble TLS: certificates are files mounted by the kubelet, not read through the API
    mount = {m["name"]: m for m in container["volumeMounts"]}["hubble-tls"]
    volume = {v["name"]: v for v in pod["volumes"]}["hubble-tls"]
    assert volume["secret"]["secretName"] == "hubble-relay-client-certs"
    assert mount["readOnly"] is True
    args = vars(build_parser().parse_args(container["args"]))
    assert args["store"] == values["store"]["url"]
    assert args["reports_dir"] == "/var/lib/netfence/reports"
    assert args["reports_schedule"] == values["reports"]["schedule"]
    assert args["ready_grace"] == "10m"
    assert args["hubble_address"] == "hubble-relay.kube-system.svc:80"
    assert args["hubble_tls"] and args["hubble_tls_server_name"] == "ui.hubble-relay.cilium.io"
    for key, name in (("ca", "ca.crt"), ("cert", "tls.crt"), ("key", "tls.key")):
        assert args[f"hubble_tls_{key}_file"] == f"{mount['mountPath']}/{name}"


def test_reports_volume_claim_class_modes_or_empty_dir(chart: Helm) -> None:
    """`reports.persistence` in the style of common charts: a claim of its own with the
    given size, class (`-`: none) and access modes; an existing claim; an emptyDir when
    off; nothing at all (no flag, no mount) when reports are off. The root filesystem
    stays read-only: the reports directory is always a mounted volume."""
    objects = chart.objects(
        {"reports": {"schedule": "30 5 2 * *", "persistence": {
            "size": "5Gi", "storageClass": "fast", "accessModes": ["ReadWriteOncePod"],
            "annotations": {"helm.sh/resource-policy": "keep"}}}}
    )  # fmt: skip
    (pvc,) = [c for c in by_kind(objects)["PersistentVolumeClaim"]
              if c["metadata"]["name"] == "nf-netfence-reports"]  # fmt: skip
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteOncePod"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    container = _container(objects)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    config = load_config(
        vars(build_parser().parse_args(container["args"])), in_cluster_available=lambda: False
    )
    assert config.reports.dir == Path("/var/lib/netfence/reports")
    assert config.reports.schedule == "30 5 2 * *"

    objects = chart.objects({"reports": {"persistence": {"storageClass": "-"}}})
    (pvc,) = [c for c in by_kind(objects)["PersistentVolumeClaim"]
              if c["metadata"]["name"] == "nf-netfence-reports"]  # fmt: skip
    assert pvc["spec"]["storageClassName"] == ""

    objects = chart.objects({"reports": {"persistence": {"existingClaim": "audit-reports"}}})
    assert [c["metadata"]["name"] for c in by_kind(objects)["PersistentVolumeClaim"]] == [
        "nf-netfence"
    ]
    volumes = {v["name"]: v for v in _pod(objects)["volumes"]}
    assert volumes["reports"]["persistentVolumeClaim"] == {"claimName": "audit-reports"}

    objects = chart.objects({"reports": {"persistence": {"enabled": False}}})
    assert [c["metadata"]["name"] for c in by_kind(objects)["PersistentVolumeClaim"]] == [
        "nf-netfence"
    ]
    volumes = {v["name"]: v for v in _pod(objects)["volumes"]}
    assert volumes["reports"] == {"name": "reports", "emptyDir": {}}
    mounts = {m["name"]: m["mountPath"] for m in _container(objects)["volumeMounts"]}
    assert mounts["reports"] == "/var/lib/netfence/reports"

    objects = chart.objects({"reports": {"enabled": False}})
    container = _container(objects)
    assert not any(a.startswith("--reports.") for a in container["args"])
    assert "reports" not in {m["name"] for m in container["volumeMounts"]}
    assert "reports" not in {v["name"] for v in _pod(objects)["volumes"]}
    assert [c["metadata"]["name"] for c in by_kind(objects)["PersistentVolumeClaim"]] == [
        "nf-netfence"
    ]


def test_web_config_from_a_secret_turns_on_tls_and_basic_auth(chart: Helm) -> None:
    """The chart can put /metrics behind TLS and basic auth: the web config file and its
    certificates come from a Secret volume (mounted by the kubelet), and the probes and
    the ServiceMonitor switch to HTTPS."""
    values = {
        "serviceMonitor": {"force": True},
        "web": {
            "configSecret": "netfence-web",
            "tls": True,
            "serviceMonitorTLSConfig": {"insecureSkipVerify": True},
            "serviceMonitorBasicAuth": {
                "username": {"name": "prom-auth", "key": "user"},
                "password": {"name": "prom-auth", "key": "password"},
            },
        },
    }
    objects = chart.objects(values)
    pod, container = _pod(objects), _container(objects)
    mount = {m["name"]: m for m in container["volumeMounts"]}["web-config"]
    volume = {v["name"]: v for v in pod["volumes"]}["web-config"]
    assert volume["secret"]["secretName"] == "netfence-web" and mount["readOnly"] is True
    args = vars(build_parser().parse_args(container["args"]))
    assert str(args["web_config_file"]) == f"{mount['mountPath']}/web-config.yml"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    (monitor,) = by_kind(objects)["ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {"insecureSkipVerify": True}
    assert endpoint["basicAuth"]["password"] == {"name": "prom-auth", "key": "password"}
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(by_kind(objects)["Deployment"][0], version, strict=True)
    # Off by default: plain HTTP, no volume.
    container = _container(chart.objects())
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    assert not any("web.config" in a for a in container["args"])


def test_hubble_args_are_accepted_by_serve(chart: Helm, tmp_path: Path) -> None:
    container = _container(chart.objects(files=[ALL_FEATURES]))
    args = vars(build_parser().parse_args(container["args"]))
    # With the mounted files present (here: under tmp_path), serve accepts the command line.
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


def test_many_clusters_from_a_config_file_and_a_kubeconfig_secret(
    chart: Helm, tmp_path: Path
) -> None:
    objects = chart.objects(files=[CLUSTERS])
    pod, container = _pod(objects), _container(objects)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert volumes["kubeconfig"]["secret"]["secretName"] == "netfence-kubeconfigs"
    assert mounts["kubeconfig"] == "/etc/netfence/kubeconfig"
    (config_map,) = [
        c for c in by_kind(objects)["ConfigMap"] if c["metadata"]["name"] == "nf-netfence"
    ]
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    args = vars(build_parser().parse_args(container["args"]))
    assert args["config_file"] == f"{mounts['config']}/netfence.yaml"
    assert not args["in_cluster"]
    # serve reads the mounted file: here written where the pod would see it, rebased.
    text = config_map["data"]["netfence.yaml"].replace("/etc/netfence/kubeconfig", str(tmp_path))
    (tmp_path / "netfence.yaml").write_text(text)
    (tmp_path / "prod-eu").write_text("apiVersion: v1\nkind: Config\n")
    config = load_config(
        {**args, "config_file": str(tmp_path / "netfence.yaml")},
        in_cluster_available=lambda: True,
    )
    assert [(c.name, c.in_cluster) for c in config.clusters] == [
        ("local", True),
        ("prod-eu", False),
    ]
    assert str(config.clusters[1].kubeconfig) == str(tmp_path / "prod-eu")


def test_hubble_values_with_a_clusters_list_are_refused(chart: Helm) -> None:
    proc = chart.template({"hubble": {"enabled": True}}, files=[CLUSTERS])
    assert proc.returncode != 0 and "give each cluster its hubble" in proc.stderr


# -- prometheus-operator objects: only where the CRDs are served -----------------------


def test_monitoring_objects_need_their_crds_or_force(chart: Helm) -> None:
    def kinds(*args: str, values: Doc | None = None) -> set[str]:
        return set(by_kind(chart.objects(values, args=list(args))))

    assert "ServiceMonitor" not in kinds()
    assert "ServiceMonitor" in kinds(*CAPABILITIES)
    assert "ServiceMonitor" in kinds(values={"serviceMonitor": {"force": True}})
    off = {"serviceMonitor": {"enabled": False, "force": True}}
    assert "ServiceMonitor" not in kinds(*CAPABILITIES, values=off)


def test_shipped_alert_rules_become_prometheus_rules(chart: Helm, tmp_path: Path) -> None:
    """One PrometheusRule per rule file in alerts/ (tests excluded), with the file's groups,
    each spec a valid rule file for promtool; none when the CRD is not served."""
    require_tools("promtool")
    shipped = _shipped_alert_files()
    rules = by_kind(chart.objects(args=CAPABILITIES)).get("PrometheusRule", [])
    assert len(rules) == len(shipped)
    by_name = {r["metadata"]["name"]: r for r in rules}
    for path in shipped:
        name = "nf-netfence-" + path.stem.lower().replace("_", "-")
        assert by_name[name]["spec"] == yaml.safe_load(path.read_text())
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(yaml.safe_dump(by_name[name]["spec"]))
        proc = subprocess.run(["promtool", "check", "rules", str(spec)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PrometheusRule" not in by_kind(chart.objects())


def test_shipped_dashboards_become_sidecar_config_maps(chart: Helm) -> None:
    shipped = _shipped_dashboards()
    maps = [c for c in by_kind(chart.objects()).get("ConfigMap", []) if "-dashboard-" in
            c["metadata"]["name"]]  # fmt: skip
    assert len(maps) == len(shipped)
    by_file = {key: (c, text) for c in maps for key, text in c["data"].items()}
    for path in shipped:
        config_map, text = by_file[path.name]
        assert json.loads(text) == json.loads(path.read_text())
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    off = chart.objects({"dashboards": {"enabled": False}})
    assert not [c for c in by_kind(off).get("ConfigMap", []) if "-dashboard-" in
                c["metadata"]["name"]]  # fmt: skip


# -- netfence fenced by its own policy, as netfence sees it -----------------------------

_NEIGHBOURS = """
apiVersion: v1
kind: Namespace
metadata: {name: netfence, labels: {kubernetes.io/metadata.name: netfence}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring, labels: {kubernetes.io/metadata.name: monitoring}}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus-0, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}
spec: {containers: [{name: prometheus, image: prometheus}]}
---
apiVersion: v1
kind: Pod
metadata: {name: grafana-0, namespace: monitoring, labels: {app.kubernetes.io/name: grafana}}
spec: {containers: [{name: grafana, image: grafana}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {kubernetes.io/metadata.name: kube-system}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: coredns, image: coredns}]}
---
apiVersion: v1
kind: Pod
metadata: {name: hubble-relay-0, namespace: kube-system, labels: {k8s-app: hubble-relay}}
spec: {containers: [{name: relay, image: relay}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: db, labels: {kubernetes.io/metadata.name: db}}
---
apiVersion: v1
kind: Pod
metadata: {name: postgres-0, namespace: db, labels: {app: postgres}}
spec: {containers: [{name: postgres, image: postgres}]}
"""


def _netfence(tmp_path: Path, *argv: str) -> Any:
    from io import StringIO

    out = StringIO()
    code = main([*argv, "--manifests", str(tmp_path / "rendered.yaml"), "--manifests",
                 str(tmp_path / "neighbours.yaml"), "-o", "json"], out)  # fmt: skip
    assert code in (0, 1), out.getvalue()
    return json.loads(out.getvalue())


@pytest.mark.parametrize("values", [None, ALL_FEATURES], ids=["defaults", "all"])
def test_netfence_is_fenced_by_its_own_policy(
    chart: Helm, tmp_path: Path, values: Path | None
) -> None:
    """netfence's own scan of the rendered chart: its namespace default-deny both ways, no
    exposure beyond the metrics port, and connections only where the chart says."""
    chart.objects(files=[values] if values else [])  # writes rendered.yaml
    (tmp_path / "neighbours.yaml").write_text(_NEIGHBOURS)
    report = _netfence(tmp_path, "scan", "--fail-on", "never")
    assert report["errors"] == []
    (ns,) = [n for n in report["namespaces"] if n["name"] == "netfence"]
    assert ns["ingress"]["default_deny"] and ns["egress"]["default_deny"], ns
    assert ns["internet_egress_workloads"] == 0
    exposures = [e for e in report["exposures"] if e["namespace"] == "netfence"]
    assert exposures and {tuple(e["ports"]) for e in exposures} == {("TCP/9873",)}
    assert {e["category"] for e in exposures} == {"other_namespaces"}
    assert not [f for f in report["findings"] if f["namespace"] == "netfence"]

    conns = _netfence(tmp_path, "connectivity")
    pod = "netfence/nf-netfence[Deployment]"
    inbound = {(c["src"], tuple(c["conns"])) for c in _connections(conns) if c["dst"] == pod}
    outbound = {(c["dst"], tuple(c["conns"])) for c in _connections(conns) if c["src"] == pod}
    if values is None:
        assert inbound == {("monitoring/prometheus-0[Pod]", ("TCP/9873",))}
        assert outbound == {
            ("kube-system/coredns-0[Pod]", ("TCP/53", "UDP/53")),
            *((cidr, ("TCP/443", "TCP/6443"))
              for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
        }  # fmt: skip
    else:  # hubble, PostgreSQL and the extra rules of ci/all-features-values.yaml
        assert inbound == {("monitoring/prometheus-0[Pod]", ("TCP/9873",))}
        assert outbound == {
            ("kube-system/coredns-0[Pod]", ("TCP/53", "UDP/53")),
            ("kube-system/hubble-relay-0[Pod]", ("TCP/4245",)),
            ("db/postgres-0[Pod]", ("TCP/5432",)),
            ("10.96.0.1/32", ("TCP/443",)),
            ("10.20.0.0/16", ("TCP/443",)),
        }
    assert all(not c["src"].startswith("netfence/") or c["src"] == pod for c in _connections(conns))


def _connections(report: Any) -> list[Doc]:
    assert isinstance(report, list)  # `connectivity -o json`: one object per connection
    return report


def test_namespace_default_deny_is_refused_in_shared_system_namespaces(chart: Helm) -> None:
    for namespace in ("default", "kube-system"):
        proc = chart.template(namespace=namespace)
        assert proc.returncode != 0 and f"every pod of namespace {namespace}" in proc.stderr
    off = {"networkPolicy": {"namespaceDefaultDeny": False}}
    objects = chart.objects(off, namespace="default")
    (policy,) = by_kind(objects)["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "netfence", "app.kubernetes.io/instance": "nf",
    }  # fmt: skip


# -- docs, notes, version ---------------------------------------------------------------


def test_chart_readme_is_generated_from_values() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "deploy" / "chart_docs.py"), "--check"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    readme = (CHART / "README.md").read_text()
    for key in ("image.digest", "networkPolicy.metrics.from", "extraEnv", "clusters"):
        assert f"| `{key}` |" in readme


def test_notes_say_how_to_reach_metrics_and_where_history_goes(helm: str, tmp_path: Path) -> None:
    """The shipped NOTES.txt, rendered by helm's own engine: `helm template` leaves NOTES
    out and `helm install --dry-run` needs a cluster, so a copy of the chart renders the
    same text through `tpl` into a ConfigMap."""
    copy = tmp_path / "chart"
    shutil.copytree(CHART, copy)  # the alerts/dashboards links followed
    (copy / "files" / "notes.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (copy / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data: {notes: {{ tpl (.Files.Get "files/notes.txt") . | quote }}}\n'
    )
    proc = subprocess.run([helm, "template", "nf", str(copy), "--namespace", "netfence",
                           "--show-only", "templates/zz-notes.yaml"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    notes = yaml.safe_load(proc.stdout)["data"]["notes"]
    assert f"netfence {__version__} is scanning this cluster" in notes
    assert "port-forward service/nf-netfence 9873" in notes
    assert "curl http://127.0.0.1:9873/metrics" in notes
    assert "SQLite at /var/lib/netfence/netfence.db on the claim nf-netfence" in notes
    assert "into /var/lib/netfence/reports on the claim nf-netfence-reports" in notes
    assert "No ServiceMonitor was created" in notes


def test_chart_app_version_is_the_package_version() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["appVersion"] == __version__
    assert meta["icon"].endswith("icon.svg") and (CHART / "icon.svg").exists()
