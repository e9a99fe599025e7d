"""Real WeasyPrint output: pdftotext finds the view model's numbers, pdftoppm renders
every page, the bundle's hash is recomputable, hostile names stay text."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from report_history import CLUSTER, DAY, Q3, quarter_history

from exporter.core.history import ClusterState, NamespaceState, ScanInfo
from reports.control_files import load_controls
from reports.model import Options, Report, build
from reports.render import format_cell, render
from reports.static_history import StaticHistory
from reports.tables import Kind

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None and not __import__("os").environ.get("CI"),
    reason="poppler-utils (pdftotext, pdftoppm) not installed; CI installs it",
)


def _report(history: StaticHistory, now: float = Q3.until + DAY) -> Report:
    return build(
        history,
        Q3,
        clusters=None,
        generated_at=now,
        version="test",
        options=Options(controls=load_controls()),
    )


def _text(pdf: Path, layout: bool = True) -> str:
    cmd = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())


def _pages_render(pdf: Path, tmp: Path, expected: int) -> None:
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp / "page")], check=True)
    pngs = sorted(tmp.glob("page-*.png"))
    assert len(pngs) == expected
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_pdf_shows_the_view_model_numbers(tmp_path: Path) -> None:
    r = _report(quarter_history())
    done = render(r, tmp_path / "report.pdf")
    text = _text(done.path)
    h = r.headline
    for c in h.coverage_end:
        assert format_cell(c.fraction, Kind.FRACTION) in text
    assert format_cell(h.completeness, Kind.FRACTION) in text
    assert f"{h.denied:,}" in text and f"{h.denied_previous:,}" in text
    assert "payments" in text and "Service/storefront" in text
    assert "modified NetworkPolicy/payments/default-deny" in text.replace("/ ", "/")
    assert "PCI DSS v4.0 1.3.1" in text and "5.3.2" in text
    assert "Partial period" in text
    assert done.bundle_sha256 in text.replace(" ", "")
    assert done.pages is not None and done.pages >= 8
    _pages_render(done.path, tmp_path, done.pages)


def test_bundle_manifest_hash_is_recomputable(tmp_path: Path) -> None:
    done = render(_report(quarter_history()), tmp_path / "r.pdf")
    manifest = (done.bundle / "MANIFEST.sha256").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == done.bundle_sha256
    names = []
    for line in manifest.decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((done.bundle / name).read_bytes()).hexdigest() == digest
        names.append(name)
    assert "report.json" in names and "tables/namespaces.csv" in names
    assert "series/coverage_daily.csv" in names and "charts/coverage_daily.svg" in names
    doc = json.loads((done.bundle / "report.json").read_text())
    assert doc["headline"]["denied"] == len(range(0, 92, 7)) * 107
    # unknown is empty in CSV, never 0
    csv_gap_day = (done.bundle / "series/coverage_daily.csv").read_text().splitlines()[41]
    assert csv_gap_day.endswith(",,")


def test_same_history_same_hash(tmp_path: Path) -> None:
    a = render(_report(quarter_history()), tmp_path / "a.json", "json")
    b = render(_report(quarter_history()), tmp_path / "b.json", "json")
    assert a.bundle_sha256 == b.bundle_sha256


def test_hostile_names_render_as_text(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script><img src=x onerror="x">'
    scan = ScanInfo(CLUSTER, Q3.since + 60, 1.0, True)
    st = ClusterState(CLUSTER, Q3.since + 60, scan, (NamespaceState(evil, False, False),))
    r = _report(StaticHistory(states=[st]))
    html_path = render(r, tmp_path / "r.html", "html").path
    html = html_path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    pdf = render(r, tmp_path / "r.pdf").path
    assert "<script>alert(1)</script>" in _text(pdf, layout=False).replace(" ", "")


def test_single_scan_renders(tmp_path: Path) -> None:
    scan = ScanInfo(CLUSTER, Q3.since + 30 * DAY, 1.0, True)
    st = ClusterState(CLUSTER, scan.started_at, scan, (NamespaceState("only", True, True),))
    r = _report(StaticHistory(states=[st]))
    done = render(r, tmp_path / "one.pdf")
    text = _text(done.path)
    assert "evidence starts 2026-07-31" in text
    assert "not verifiable" in text  # no flows, no previous period
    _pages_render(done.path, tmp_path, done.pages or 0)


def test_gaps_and_unfinished_period_render(tmp_path: Path) -> None:
    r = _report(quarter_history(days=45), now=Q3.since + 45 * DAY)
    done = render(r, tmp_path / "gaps.pdf")
    text = _text(done.path)
    assert "has not ended" in text and "gap(s) in evidence" in text
    _pages_render(done.path, tmp_path, done.pages or 0)
