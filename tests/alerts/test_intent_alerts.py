"""The intent alerts of issue 15 exist (their conventions and promtool tests, firing and
silent, are checked for every alert by tests/alerts/test_rules.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_intent_alerts_exist_with_their_tests() -> None:
    doc = yaml.safe_load((ROOT / "alerts" / "netfence.rules.yaml").read_text())
    names = {r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert names >= {
        "NetfenceGuardrailViolation",
        "NetfenceBaselineDrift",
        "NetfenceExceptionExpiringSoon",
    }
    tested = (ROOT / "alerts" / "tests" / "intent.yaml").read_text()
    for name in ("NetfenceGuardrailViolation", "NetfenceBaselineDrift",
                 "NetfenceExceptionExpiringSoon"):  # fmt: skip
        assert f"alertname: {name}" in tested
