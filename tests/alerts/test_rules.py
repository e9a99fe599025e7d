"""alerts/netfence.rules.yaml: valid for promtool, its unit tests pass, and every alert
follows the conventions (ARCHITECTURE.md): a `Netfence*` name, a `severity`, a static
summary, a templated description, a runbook in docs/runbooks/, and promtool tests where
it fires and where it must not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "netfence.rules.yaml"
TESTS = sorted((ROOT / "alerts" / "tests").glob("*.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/netfence/netfence/blob/main/docs/runbooks/"

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None and os.environ.get("CI") != "true",
    reason="needs promtool (Debian package prometheus; make test installs it)",
)


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    proc = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    assert TESTS
    proc = subprocess.run(
        ["promtool", "test", "rules", *map(str, TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT / "alerts" / "tests",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_issue_s_alerts_exist() -> None:
    names = {a["alert"] for a in _alerts()}
    assert names >= {
        "NetfenceDeniedConnectionSpike",
        "NetfenceDefaultDenyLost",
        "NetfenceNamespaceWithoutDefaultDeny",
        "NetfenceNewInternetExposure",
        "NetfenceDefaultDenyBypassed",
        "NetfenceScanFailing",
        "NetfenceScanStale",
        "NetfenceHubbleDown",
        "NetfenceHubbleLosingEvents",
        "NetfenceUnreadableKinds",
    }


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_follows_the_conventions(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    assert name.startswith("Netfence")
    assert alert["labels"]["severity"] in {"critical", "warning", "info"}
    notes = alert["annotations"]
    assert notes["summary"] and "{{" not in notes["summary"], "summary must be static"
    assert "{{ $labels." in notes["description"], "description must be templated"
    assert notes["runbook_url"] == f"{RUNBOOK_BASE}{name}.md"
    runbook = (RUNBOOKS / f"{name}.md").read_text()
    assert runbook.startswith(f"# {name}\n")
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Fix"):
        assert section in runbook, (name, section)
    assert name in (RUNBOOKS / "README.md").read_text()


POLICY_ALERTS = (
    "NetfenceDeniedConnectionSpike",
    "NetfenceDefaultDenyLost",
    "NetfenceNamespaceWithoutDefaultDeny",
    "NetfenceNewInternetExposure",
    "NetfenceDefaultDenyBypassed",
)


@pytest.mark.parametrize("name", POLICY_ALERTS)
def test_policy_runbooks_diagnose_with_netfence_explain(name: str) -> None:
    assert "netfence explain" in (RUNBOOKS / f"{name}.md").read_text()


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    """Each alert has an alert_rule_test expecting it (with labels and annotations) and
    one expecting nothing (and the firing tests list exactly what fires, so the other
    series of the same input are must-not-fire cases too)."""
    fires: dict[str, int] = {}
    silent: dict[str, int] = {}
    for path in TESTS:
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../netfence.rules.yaml"], path
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                name = case["alertname"]
                if case.get("exp_alerts"):
                    for exp in case["exp_alerts"]:
                        assert exp["exp_labels"]["severity"], (path, name)
                        assert set(exp["exp_annotations"]) == {
                            "summary",
                            "description",
                            "runbook_url",
                        }, (path, name)
                    fires[name] = fires.get(name, 0) + 1
                else:
                    silent[name] = silent.get(name, 0) + 1
    for alert in _alerts():
        assert fires.get(alert["alert"]), f"{alert['alert']}: no unit test where it fires"
        assert silent.get(alert["alert"]), f"{alert['alert']}: no unit test where it must not"
