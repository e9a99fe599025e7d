"""`netfence serve` with the demo's intent file (`intent:` in the config file): the
intent families, checked through a real Prometheus scraping the service, and the
queries docs/metrics.md promises (team joins, unintended exposure, expired exceptions).
The expected values are the demo's (tests/scenarios/README.md, "intent-demo")."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.config import ConfigError, load_config
from exporter.serve.server import Server

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
INTENT = ROOT / "examples" / "intent" / "intent.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    config = tmp_path / "netfence.yaml"
    config.write_text(
        f'web: {{listen_address: "127.0.0.1:{port}"}}\n'
        f'store: {{url: "sqlite:///{tmp_path / "h.db"}"}}\n'
        "scan: {interval: 1h, jitter: 0s}\n"
        f"intent: {INTENT}\n"
        f"clusters:\n  - {{name: demo, manifests: [{DEMO}]}}\n"
    )
    server = Server(load_config({"config_file": str(config)}))
    server.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def test_intent_errors_join_the_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "intent.yaml"
    bad.write_text("guardrails:\n  - name: x\n    namespace_selector: {}\n    severity: huge\n")
    with pytest.raises(ConfigError) as err:
        load_config({"manifests": [str(DEMO)], "intent": str(bad), "scan_interval": "often"})
    problems = err.value.problems
    assert any(p.startswith("--scan.interval") for p in problems), problems
    assert f"intent: {bad}:4: guardrails[0].severity: 'huge' is not a severity" in "\n".join(
        problems
    )
    assert any("a guardrail needs at least one rule" in p for p in problems)


def test_the_metrics_text_carries_the_intent(served: str) -> None:
    _status, body = _get(f"http://{served}/metrics")
    assert (
        'netfence_namespace_info{cluster="demo",label_env="prod",'
        'label_netfence_io_sensitive="true",namespace="payments",team="payments"} 1.0'
    ) in body
    assert (
        'netfence_namespace_info{cluster="demo",label_env="",label_netfence_io_sensitive="",'
        'namespace="sandbox",team="unowned"} 1.0'
    ) in body


@pytest.mark.skipif(
    shutil.which("prometheus") is None and os.environ.get("CI") != "true",
    reason="needs the prometheus binary (Debian package prometheus; make test installs it)",
)
def test_a_real_prometheus_answers_the_intent_queries(served: str, tmp_path: Path) -> None:
    prom_port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: netfence\n    static_configs: [{{targets: ['{served}']}}]\n"
    )
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api = f"http://127.0.0.1:{prom_port}/api/v1/query?query="

    def query(expr: str) -> list[dict[str, Any]]:
        status, body = _get(api + urllib.parse.quote(expr))
        if status != 200:
            return []
        return json.loads(body)["data"]["result"]  # type: ignore[no-any-return]

    def by(expr: str, label: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in query(expr)}

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not query("netfence_baseline_drift"):
            time.sleep(0.5)
        # Teams and the label allowlist, joined onto a per-namespace family.
        joined = by(
            "sum by (team) (netfence_namespace_pods * on (cluster, namespace) "
            'group_left (team) netfence_namespace_info{label_env="prod"})',
            "team",
        )
        assert set(joined) == {
            "data", "platform-data", "platform", "sre", "payments", "storefront", "legacy"
        }  # fmt: skip
        # Guardrails: violations per guardrail (excepted ones are not counted), zeros kept.
        assert by("sum by (guardrail) (netfence_guardrail_violations)", "guardrail") == {
            "prod-default-deny-ingress": 2,
            "prod-every-pod-selected": 3,
            "sensitive-not-broadly-exposed": 0,
            "payments-egress-allowlist": 0,
        }
        assert by(
            'netfence_guardrail_violations{guardrail="prod-default-deny-ingress"} > 0', "team"
        ) == {"sre": 1, "legacy": 1}
        # Exceptions: the expired one is in the past, the other one far ahead.
        expired = query("netfence_guardrail_exception_expiry_timestamp_seconds < time()")
        assert [r["metric"]["namespace"] for r in expired] == ["team-legacy"]
        # Baseline drift: the one state of each (namespace, policy) is 1.
        current = sorted(
            (r["metric"]["namespace"], r["metric"]["policy"], r["metric"]["state"])
            for r in query("netfence_baseline_drift == 1")
        )
        assert current == [
            ("payments", "NetworkPolicy/allow-dns-egress", "in_sync"),
            ("payments", "NetworkPolicy/default-deny-all", "in_sync"),
            ("shop", "NetworkPolicy/allow-dns-egress", "in_sync"),
            ("shop", "NetworkPolicy/default-deny-all", "in_sync"),
            ("team-oops", "NetworkPolicy/allow-dns-egress", "missing"),
            ("team-oops", "NetworkPolicy/default-deny-all", "modified"),
        ]
        assert float(query("count(netfence_baseline_drift == 0)")[0]["value"][1]) == 24
        # Intended exposures: a one-line query for the unintended ones.
        intended = by('sum by (namespace) (netfence_exposures{intended="true"})', "namespace")
        assert {ns: n for ns, n in intended.items() if n} == {"kube-system": 1, "ingress-nginx": 1}
        total = query("sum(netfence_exposures)")[0]["value"][1]
        unintended = query('sum(netfence_exposures{intended="false"})')[0]["value"][1]
        assert float(total) - float(unintended) == 2
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=10)
