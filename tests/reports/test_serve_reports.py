"""`netfence serve --reports.dir`: the previous quarter's report, once per period, listed
at /reports behind the same basic auth as /metrics, and the report metric."""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from exporter.config import ConfigError, load_config
from exporter.scheduler import Job, Scheduler, cron_problem
from exporter.store import NamespaceRow, ScanRecord, Store
from reports.period import parse_quarter

Q3 = parse_quarter("2026Q3")
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def _seed(url: str) -> None:
    store = Store.open(url, lambda: Q3.until)
    for d in range(0, 92, 2):
        store.record(
            ScanRecord(
                cluster="demo",
                started_at=Q3.since + d * 86_400.0 + 60,
                duration_seconds=1.0,
                success=True,
                interval_seconds=2 * 86_400.0,
                namespaces=(NamespaceRow("shop", 3, True, d < 60, 3, 3 if d < 60 else 0, {}),),
            )
        )
    store.close()


def _get(url: str, auth: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_scheduled_report_once_per_period_listed_behind_auth(tmp_path: Path) -> None:
    from exporter.serve.server import Server

    url = f"sqlite:///{tmp_path / 'h.db'}"
    _seed(url)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  auditor: {hashed}\n")
    config = load_config(
        {
            "store": url,
            "manifests": [str(DEMO)],
            "cluster_name": "demo",
            "web_listen_address": "127.0.0.1:0",
            "web_config_file": str(tmp_path / "web.yml"),
            "reports_dir": str(tmp_path / "reports"),
        }
    )
    now = Q3.until + 6 * 3600  # 06:00 UTC on the first day of Q4
    server = Server(config, clock=lambda: now)
    assert server.reports is not None
    server.http.start()
    try:
        written = server.reports.run()
        assert written == tmp_path / "reports" / "report-2026Q3.pdf"
        assert written.read_bytes().startswith(b"%PDF")
        assert (tmp_path / "reports" / "report-2026Q3.pdf.evidence" / "MANIFEST.sha256").is_file()
        mtime = written.stat().st_mtime
        assert server.reports.run() is None  # once per period
        assert written.stat().st_mtime == mtime
        base = f"http://127.0.0.1:{server.http.port}"
        assert _get(f"{base}/reports")[0] == 401
        status, body = _get(f"{base}/reports", "auditor:s3cret")
        assert status == 200 and b'href="reports/report-2026Q3.pdf"' in body
        status, pdf = _get(f"{base}/reports/report-2026Q3.pdf", "auditor:s3cret")
        assert status == 200 and pdf == written.read_bytes()
        status, manifest = _get(
            f"{base}/reports/report-2026Q3.pdf.evidence/MANIFEST.sha256", "auditor:s3cret"
        )
        assert status == 200 and b"report.json" in manifest
        for bad in ("/reports/../h.db", "/reports/h.db", "/reports/report-x.pdf.evidence/r.json"):
            assert _get(base + bad, "auditor:s3cret")[0] == 404
        status, metrics = _get(f"{base}/metrics", "auditor:s3cret")
        (line,) = [
            ln
            for ln in metrics.decode().splitlines()
            if ln.startswith("netfence_report_last_success_timestamp_seconds ")
        ]
        assert float(line.split()[1]) == now
    finally:
        server.http.shutdown()
        server.store.close()


def test_reports_config_and_schedule(tmp_path: Path) -> None:
    config = load_config({"manifests": [str(DEMO)]})
    assert config.reports.dir is None and config.reports.schedule == "0 6 1 1,4,7,10 *"
    with pytest.raises(ConfigError, match=r"reports\.schedule"):
        load_config({"manifests": [str(DEMO)], "reports_schedule": "0 25 * * *"})
    assert cron_problem("0 6 1 1,4,7,10 *") is None


def test_cron_job_runs_its_catch_up_then_waits() -> None:
    ran = threading.Event()
    sched = Scheduler([Job(":reports", ran.set, 0.0, cron="0 6 1 1,4,7,10 *")])
    sched.start()
    try:
        assert ran.wait(10)
    finally:
        sched.shutdown()
