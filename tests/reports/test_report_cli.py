"""`netfence report` usage errors exit 2 with a message naming the bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from exporter.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026Q5"], "period '2026Q5': expected a quarter such as 2026Q3"),
        (["--since", "2026-07-01"], "--since and --until go together"),
        (["--since", "2026-07-02", "--until", "2026-07-01"], "is not after --since"),
        (["--since", "yesterday", "--until", "2026-07-01"], "--since 'yesterday'"),
        ([], "no such file"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    store = f"sqlite:///{tmp_path / 'missing.db'}"
    code = main(["report", "--store", store, *argv], out=io.StringIO())
    assert code == 2
    assert message in capsys.readouterr().err


def _seed(url: str, since: float, days: int) -> None:
    from exporter.store import NamespaceRow, ScanRecord, Store

    store = Store.open(url, lambda: since + days * 86_400.0)
    for d in range(days):
        deny = d < days // 2  # "web" loses ingress default-deny half-way
        store.record(
            ScanRecord(
                cluster="prod",
                started_at=since + d * 86_400.0 + 60,
                duration_seconds=1.0,
                success=True,
                interval_seconds=86_400.0,
                namespaces=(
                    NamespaceRow("web", 4, deny, False, 4 if deny else 0, 0, {"internet": 1}),
                    NamespaceRow("db", 2, True, True, 2, 2, {}),
                ),
            )
        )
    store.close()


def test_report_from_a_real_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import subprocess

    from reports.period import explicit

    period = explicit("2026-07-01", "2026-07-11")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    _seed(url, period.since, 10)
    out = tmp_path / "r.pdf"
    code = main(
        [
            "report",
            "--store",
            url,
            "--since",
            "2026-07-01",
            "--until",
            "2026-07-11",
            "-o",
            str(out),
        ],
        out=io.StringIO(),
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "r.pdf.evidence" / "MANIFEST.sha256").exists()
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "50.0%" in text  # ingress default-deny at period end: db yes, web no
        assert "web" in text and "default-deny-lost" in text
    # a period before any scan: no evidence, exit 2
    code = main(
        ["report", "--store", url, "--period", "2025Q1", "-o", str(tmp_path / "e.pdf")],
        out=io.StringIO(),
    )
    assert code == 2
    assert "the period has no evidence" in capsys.readouterr().err


def test_report_shows_the_stores_runtime_joins(tmp_path: Path) -> None:
    """`netfence report --store` reads the store's runtime joins: the PDF shows the two
    numbers computed by hand instead of "not verifiable"."""
    import re
    import subprocess

    from exporter.core.flows import RollupRow
    from exporter.store import NamespaceRow, ScanRecord, Store
    from reports.period import explicit

    period = explicit("2026-07-01", "2026-07-11")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    day = 86_400.0
    store = Store.open(url, lambda: period.since + 10 * day)
    for d in range(10):
        deny = d < 5  # "web" loses ingress default-deny on day 5
        store.record(
            ScanRecord(
                cluster="prod",
                started_at=period.since + d * day + 60,
                duration_seconds=1.0,
                success=True,
                interval_seconds=day,
                namespaces=(
                    NamespaceRow("web", 4, deny, False, 4 if deny else 0, 0,
                                 {"internet": 2, "all_namespaces": 3}),
                    NamespaceRow("db", 2, True, True, 2, 2, {"other_namespaces": 4}),
                ),
            )
        )  # fmt: skip

    def at(d: int, ns: str, n: int, direction: str = "ingress", peer: str = "web") -> RollupRow:
        hour = int(period.since + d * day + 12 * 3600)
        return RollupRow(hour, "connection", ns, direction, "forwarded", "", "", peer, n)

    store.flows.add_rollups(
        "prod",
        "0",
        [
            at(1, "web", 31, peer="reserved:world"),  # default-deny: counted; internet used
            at(2, "db", 12),  # counted; db's other_namespaces used (from web)
            at(3, "db", 5, direction="egress", peer="reserved:world"),  # egress deny: counted
            at(7, "web", 500, peer="reserved:world"),  # web no longer default-deny
        ],
    )
    store.close()
    out = tmp_path / "r.pdf"
    argv = ["report", "--store", url, "--since", "2026-07-01", "--until", "2026-07-11"]
    assert main([*argv, "-o", str(out)], out=io.StringIO()) == 0
    text = subprocess.run(
        ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    # admitted under default-deny: 31 + 12 + 5; unused: web's all_namespaces 3
    assert re.search(r"Exposures allowed but unused: 3\. Connections admitted where the "
                     r"scan says default-deny: 48\.", text), text  # fmt: skip
