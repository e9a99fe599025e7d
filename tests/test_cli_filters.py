"""`scan --namespace/--min-severity` and `connectivity --namespace/--from/--to` (issue 11)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"


def _json(*argv: str) -> object:
    out = io.StringIO()
    main([*argv, "--manifests", str(DEMO), "-o", "json"], out)
    return json.loads(out.getvalue())


def test_scan_namespace_and_min_severity() -> None:
    full = _json("scan")
    only = _json("scan", "--namespace", "sandbox", "--min-severity", "high")
    assert isinstance(full, dict) and isinstance(only, dict)
    assert [n["name"] for n in only["namespaces"]] == ["sandbox"]
    expected = [
        f
        for f in full["findings"]
        if f["namespace"] == "sandbox" and f["severity"] in ("high", "critical")
    ]
    assert only["findings"] == expected and expected
    assert {e["namespace"] for e in only["exposures"]} == {"sandbox"}


def test_scan_unknown_namespace_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert main(["scan", "--manifests", str(DEMO), "--namespace", "nope"], out) == 2
    assert out.getvalue() == "" and "no such namespace: nope" in capsys.readouterr().err


def test_connectivity_filters_keep_exactly_the_matching_connections() -> None:
    full = _json("connectivity")
    assert isinstance(full, list)

    def ns(side: str) -> str:
        return side.split("/")[0]

    by_ns = _json("connectivity", "--namespace", "payments")
    assert by_ns == [c for c in full if "payments" in (ns(c["src"]), ns(c["dst"]))] and by_ns
    frm = _json("connectivity", "--from", "shop/frontend")
    assert frm == [c for c in full if c["src"] == "shop/frontend[Deployment]"] and frm
    to = _json("connectivity", "--from", "payments", "--to", "203.0.113.7")
    assert to == [
        c for c in full if ns(c["src"]) == "payments" and c["dst"].startswith("203.0.113.")
    ]
    assert to
