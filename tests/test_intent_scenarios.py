"""Intent scenarios: `tests/scenarios/<name>/scenario.json` names the manifests and the
intent file (the demo's, in examples/), `expected-intent.json` the answer derived by
hand (tests/scenarios/README.md, "intent-demo"): guardrail violations, exceptions,
baseline drift, intended exposures, teams, the intent findings and the exit code, all
through `netfence scan --intent ... -o json`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main

SCENARIOS = Path(__file__).parent / "scenarios"
CASES = sorted(p for p in SCENARIOS.iterdir() if (p / "scenario.json").is_file())
INTENT_CHECKS = {"guardrail-violation", "exception-expired", "baseline-drift"}


def _project(items: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    return [{k: i[k] for k in keys} for i in items]


def test_the_demo_intent_has_a_scenario() -> None:
    assert "intent-demo" in [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_intent_scenario(case: Path) -> None:
    spec = json.loads((case / "scenario.json").read_text())
    expected = json.loads((case / "expected-intent.json").read_text())
    argv = ["scan", "-o", "json", "--intent", str(case / spec["intent"])]
    for m in spec["manifests"]:
        argv += ["--manifests", str(case / m)]
    out = io.StringIO()
    code = main(argv, out=out)
    report = json.loads(out.getvalue())
    intent = report["intent"]
    assert code == expected["exit_code_at_fail_on_high"]
    assert (
        _project(intent["guardrail_violations"], list(expected["guardrail_violations"][0]))
        == (expected["guardrail_violations"])
    )
    assert _project(intent["exceptions"], list(expected["exceptions"][0])) == expected["exceptions"]
    assert (
        _project(intent["baseline_drift"], list(expected["baseline_drift"][0]))
        == (expected["baseline_drift"])
    )
    assert (
        _project(intent["intended_exposures"], ["namespace", "name", "exposure"])
        == (expected["intended_exposures"])
    )
    assert intent["teams"]["namespaces"] == expected["teams"]
    found = sorted(
        (
            {k: f[k] for k in ("check", "severity", "namespace", "object")}
            for f in report["findings"]
            if f["check"] in INTENT_CHECKS
        ),
        key=lambda f: (f["check"], f["severity"] != "high", f["namespace"], f["object"]),
    )
    assert found == expected["intent_findings"]


def test_a_broken_intent_file_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "intent.yaml"
    bad.write_text(
        "guardrails:\n  - name: x\n    namespace_selector: {}\n"
        "    require_default_deny: [up]\n  - colour: red\n"
    )
    demo = Path(__file__).parents[1] / "examples" / "demo-cluster"
    code = main(["scan", "--manifests", str(demo), "--intent", str(bad)], out=io.StringIO())
    assert code == 2
    err = capsys.readouterr().err
    assert "intent file rejected (5 problems)" in err
    assert f"{bad}:4: guardrails[0].require_default_deny[0]: 'up' is not a direction" in err
    assert f"{bad}:5: guardrails[1].colour: unknown key" in err


def test_fail_on_counts_intent_findings(tmp_path: Path) -> None:
    """Severity `critical` at --fail-on critical: only the intent finding reaches it."""
    intent = tmp_path / "intent.yaml"
    intent.write_text(
        "guardrails:\n  - name: legacy-deny\n    severity: critical\n"
        "    namespace_selector: {matchLabels: {team: legacy}}\n"
        "    require_default_deny: [ingress]\n"
    )
    demo = Path(__file__).parents[1] / "examples" / "demo-cluster"
    args = ["scan", "--manifests", str(demo), "--fail-on", "critical", "-o", "json"]
    assert main(args, out=io.StringIO()) == 0
    assert main([*args, "--intent", str(intent)], out=io.StringIO()) == 1
