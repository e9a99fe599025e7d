"""`scan -o sarif` and `diff -o sarif` against the OASIS SARIF 2.1.0 schema
(tests/output/schemas/, see SOURCES.md there), with results at the object's line."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from exporter.cli import main
from exporter.core.findings import Check

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
SCHEMA = json.loads((ROOT / "tests/output/schemas/sarif-schema-2.1.0.json").read_text())


def _sarif(argv: list[str]) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = main(argv, out)
    log = json.loads(out.getvalue())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return code, log


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def test_scan_sarif_is_valid_and_points_at_the_policy_line(in_repo: Path) -> None:
    code, log = _sarif(["scan", "--manifests", "examples/demo-cluster", "-o", "sarif"])
    assert code == 1  # the demo has high findings: same exit code as -o table
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {str(c) for c in Check}
    assert all(r["help"]["text"] and r["properties"]["security-severity"] for r in rules)
    results = run["results"]
    assert results
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] in ("error", "warning", "note")
    allow_all = next(
        r
        for r in results
        if r["properties"]["object"] == "NetworkPolicy monitoring/allow-all-egress"
    )
    assert allow_all["ruleId"] == "allow-all-rule" and allow_all["level"] == "error"
    where = allow_all["locations"][0]["physicalLocation"]
    assert where["artifactLocation"] == {
        "uri": "examples/demo-cluster/monitoring/networkpolicies.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    lines = (DEMO / "monitoring" / "networkpolicies.yaml").read_text().splitlines()
    start = where["region"]["startLine"]
    document = "\n".join(lines[start - 1 : start + 5])
    assert lines[start - 1].startswith(("apiVersion:", "kind:"))
    assert "name: allow-all-egress" in document
    # a finding about a workload points at the workload's manifest
    workload = next(r for r in results if r["properties"]["object"].endswith("[StatefulSet]"))
    uri = workload["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("workloads.yaml")
    # the rule's security-severity is its worst result's
    high = next(r for r in rules if r["id"] == "allow-all-rule")
    assert high["properties"]["security-severity"] == "8.0"


def test_diff_sarif_reports_what_the_change_brings(in_repo: Path, tmp_path: Path) -> None:
    head = tmp_path / "head"
    shutil.copytree(DEMO, head)
    path = head / "shop" / "networkpolicies.yaml"
    path.write_text(path.read_text().replace("[Ingress, Egress]", "[Egress]", 1))
    code, log = _sarif(["diff", "--base", str(DEMO), "--head", str(head), "-o", "sarif"])
    assert code == 1
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["diff-default-deny-lost", "no-default-deny"]
    lost = results[0]["locations"][0]["physicalLocation"]
    assert lost["artifactLocation"]["uri"] == (path.as_uri())  # outside the work dir: absolute
    assert lost["region"]["startLine"] == 2  # the changed default-deny-all, after a comment
