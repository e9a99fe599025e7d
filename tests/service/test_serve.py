"""`netfence serve` as a process: a real Prometheus scrapes it, SIGTERM stops it cleanly,
and the history store holds the scans."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.store import Store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
NETFENCE = [sys.executable, "-m", "exporter.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recorded(flows: Path, verdict: str) -> int:
    """Policy-verdict events with this verdict in a jsonpb file, read without netfence."""
    n = 0
    for line in flows.read_text().splitlines():
        f = json.loads(line)["flow"]
        n += f.get("event_type", {}).get("type") == 5 and f.get("verdict") == verdict
    return n


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


def _wait(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _get(url)
        if status == 200:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s")


@pytest.fixture
def netfence(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], str, Path]]:
    port = _free_port()
    store = f"sqlite:///{tmp_path / 'history.db'}"
    flows = tmp_path / "flows.jsonl"  # the demo's recorded Hubble flows, as `make demo`
    subprocess.run([sys.executable, str(ROOT / "examples" / "demo_flows.py"), str(flows)],
                   check=True)  # fmt: skip
    proc = subprocess.Popen(
        [
            *NETFENCE, "serve", "--manifests", str(DEMO), "--cluster-name", "demo",
            "--web.listen-address", f"127.0.0.1:{port}", "--store", store,
            "--scan.interval", "2s", "--scan.jitter", "0s", "--hubble.replay", str(flows),
        ],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")
        yield f"127.0.0.1:{port}", proc, store, flows
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_sigterm_stops_cleanly_and_scans_are_stored(
    netfence: tuple[str, subprocess.Popen[str], str, Path],
) -> None:
    address, proc, store_url, flows = netfence
    body = _wait(f"http://{address}/metrics")
    assert 'netfence_scan_success{cluster="demo"} 1.0' in body
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "netfence serving demo on http://127.0.0.1" in err and "stopping" in err
    store = Store.open(store_url, clock=time.time)
    try:
        scans = store.scans("demo")
        assert scans and all(s.success and s.namespaces == 10 for s in scans)
        # The replayed flows' hours were rolled up into the store by the shutdown.
        denied = store.flows.denied("demo", 0, int(time.time()) + 3600)
        assert sum(p.count for p in denied) == _recorded(flows, "DROPPED")
    finally:
        store.close()


def test_config_errors_exit_2_listing_every_problem(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*NETFENCE, "serve", "--manifests", "/does/not/exist", "--scan.interval", "often",
         "--store", "mysql://x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("netfence: config:") == 3, proc.stderr


@pytest.mark.skipif(
    shutil.which("prometheus") is None and os.environ.get("CI") != "true",
    reason="needs the prometheus binary (Debian package prometheus; make test installs it)",
)
def test_a_real_prometheus_scrapes_the_service(
    netfence: tuple[str, subprocess.Popen[str], str, Path], tmp_path: Path
) -> None:
    address, _proc, _store, flows = netfence
    prom_port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: netfence\n    static_configs: [{{targets: ['{address}']}}]\n"
    )
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api = f"http://127.0.0.1:{prom_port}/api/v1/query?query="

    def query(expr: str) -> list[dict[str, object]]:
        status, body = _get(api + urllib.parse.quote(expr))
        if status != 200:
            return []
        data = json.loads(body)
        return data["data"]["result"]  # type: ignore[no-any-return]

    try:
        deadline = time.monotonic() + 60
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and not result:
            result = query('netfence_namespaces{cluster="demo"}')
            time.sleep(0.5)
        assert result, "Prometheus never stored netfence_namespaces"
        assert result[0]["value"][1] == "10"  # type: ignore[index]
        (up,) = query('up{job="netfence"}')
        assert up["value"][1] == "1"  # type: ignore[index]
        shop = query(
            'netfence_namespace_default_deny{cluster="demo",namespace="shop",direction="ingress"}'
        )
        assert shop[0]["value"][1] == "1"  # type: ignore[index]
        sandbox = query('netfence_namespace_default_deny{cluster="demo",namespace="sandbox"}')
        assert {r["value"][1] for r in sandbox} == {"0"}  # type: ignore[index]
        assert query('netfence_scan_success{cluster="demo"}')[0]["value"][1] == "1"  # type: ignore[index]
        findings = query('sum(netfence_findings{cluster="demo"})')
        assert float(findings[0]["value"][1]) > 0  # type: ignore[index]
        deny = query('count(netfence_namespace_default_deny{cluster="demo"})')
        assert deny[0]["value"][1] == "20"  # type: ignore[index]
        assert query("netfence_build_info")[0]["metric"]["version"]  # type: ignore[index]
        # Hubble flows (replayed): counters and the join with the scan, through Prometheus.
        denied = query('sum without (shard) (netfence_denied_flows_total{cluster="demo"})')
        assert sum(float(r["value"][1]) for r in denied) == _recorded(flows, "DROPPED")  # type: ignore[index]
        audit = query(
            'netfence_default_deny_forwarded_flows{cluster="demo",namespace="shop",'
            'direction="ingress"}'
        )
        assert float(audit[0]["value"][1]) == _recorded(flows, "AUDIT") > 0  # type: ignore[index]
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=10)


def test_many_clusters_from_one_config_file_and_a_broken_one(tmp_path: Path) -> None:
    """A live cluster (the fake API server), a manifests directory and an unreachable
    cluster, from one netfence.yaml: the broken one never stops the others."""
    from k8s_api_server import FakeApiServer

    from exporter.config import load_config
    from exporter.serve.server import Server
    from exporter.sources.manifests import read_objects

    raws, _ = read_objects([DEMO])
    with FakeApiServer([r.obj for r in raws]) as api:
        live = api.kubeconfig(tmp_path / "live.kubeconfig", context="live")
        with FakeApiServer([]) as gone:
            dead = gone.kubeconfig(tmp_path / "dead.kubeconfig", context="dead")
        port = _free_port()
        config_file = tmp_path / "netfence.yaml"
        config_file.write_text(
            f"""
web: {{listen_address: "127.0.0.1:{port}"}}
store: {{url: "sqlite:///{tmp_path / "h.db"}"}}
scan: {{interval: 1h, jitter: 0s, retries: 1, timeout: 2s}}
clusters:
  - {{name: live, kubeconfig: {live}, context: live}}
  - {{name: files, manifests: [{DEMO}]}}
  - {{name: dead, kubeconfig: {dead}}}
"""
        )
        server = Server(load_config({"config_file": str(config_file)}))
        server.start()
        try:
            _wait(f"http://127.0.0.1:{port}/readyz")
            body = _wait(f"http://127.0.0.1:{port}/metrics")
        finally:
            server.stop()
    assert 'netfence_scan_success{cluster="live"} 1.0' in body
    assert 'netfence_scan_success{cluster="files"} 1.0' in body
    assert 'netfence_scan_success{cluster="dead"} 0.0' in body
    assert 'netfence_namespaces{cluster="live"} 10.0' in body
    assert 'netfence_namespaces{cluster="files"} 10.0' in body
    assert 'netfence_namespaces{cluster="dead"}' not in body  # never scanned successfully
    assert 'netfence_scan_errors_total{cluster="dead",stage="scan"} 1.0' in body
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}", clock=time.time)
    try:
        assert {s.cluster: s.success for s in store.scans()} == {
            "live": True,
            "files": True,
            "dead": False,
        }
    finally:
        store.close()


@pytest.mark.parametrize(
    ("host", "banner"),
    [
        ("127.0.0.1", "http://127.0.0.1:9/metrics"),
        ("0.0.0.0", "http://0.0.0.0:9/metrics (every IPv4 interface; from this host: "
         "http://127.0.0.1:9/metrics)"),
        ("::", "http://[::]:9/metrics (every interface; from this host: http://[::1]:9/metrics)"),
        ("10.1.2.3", "http://10.1.2.3:9/metrics"),
    ],
)  # fmt: skip
def test_the_banner_says_what_is_really_bound(host: str, banner: str) -> None:
    """It used to print http://127.0.0.1:... for a listener on every interface."""
    from exporter.serve.server import listening

    assert listening("http", host, 9) == banner


def test_every_interface_is_named_in_the_banner(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*NETFENCE, "serve", "--manifests", str(DEMO), "--web.listen-address", f":{port}",
         "--store", f"sqlite:///{tmp_path / 'h.db'}"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.stderr is not None
    assert f"on http://0.0.0.0:{port}/metrics (every IPv4 interface" in proc.stderr.read()
