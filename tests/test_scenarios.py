"""Whole-cluster scenarios: `tests/scenarios/<name>/` manifests against hand-derived answers.

Each folder holds manifests (`*.yaml`, read recursively), `expected-connectivity.json`
(exactly the list `netfence connectivity -o json` prints) and `expected-coverage.json`
(per namespace: name, pods, and default_deny / isolated_pods per direction); folders
that pin exposure (issue 3) also hold `expected-exposure.json` (the `exposures` of
`netfence scan -o json` projected onto namespace, name, kind, category, declared,
permitted and ports, sorted by namespace, name, category, kind). The
expected files were worked out by hand from docs/semantics.md §0-1; see
tests/scenarios/README.md for the derivations.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main

SCENARIOS = Path(__file__).parent / "scenarios"
# Folders with a scenario.json read their inputs elsewhere (tests/test_intent_scenarios.py).
CASES = sorted(p for p in SCENARIOS.iterdir() if p.is_dir() and not (p / "scenario.json").is_file())


def manifests(case: Path) -> list[str]:
    """`--manifests FILE` for each YAML file (the expected JSON files are not input)."""
    out: list[str] = []
    for path in sorted(case.rglob("*.yaml")):
        out += ["--manifests", str(path)]
    return out


def run_json(*argv: str) -> tuple[int, Any]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, json.loads(out.getvalue())


def test_there_are_scenarios_and_each_is_complete() -> None:
    assert len(CASES) >= 5
    for case in CASES:
        assert (case / "expected-connectivity.json").is_file(), case.name
        assert (case / "expected-coverage.json").is_file(), case.name
        assert list(case.rglob("*.yaml")), case.name


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_connectivity(case: Path) -> None:
    expected = json.loads((case / "expected-connectivity.json").read_text())
    code, actual = run_json("connectivity", *manifests(case), "-o", "json")
    assert code == 0, "input errors while loading the scenario"
    assert actual == expected


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_coverage(case: Path) -> None:
    expected = json.loads((case / "expected-coverage.json").read_text())
    code, report = run_json("scan", *manifests(case), "-o", "json", "--fail-on", "never")
    assert code == 0, report.get("errors")
    actual = [
        {
            "name": ns["name"],
            "pods": ns["pods"],
            **{
                d: {k: ns[d][k] for k in ("default_deny", "isolated_pods")}
                for d in ("ingress", "egress")
            },
        }
        for ns in report["namespaces"]
    ]
    assert actual == expected


EXPOSURE_CASES = [c for c in CASES if (c / "expected-exposure.json").is_file()]
EXPOSURE_KEYS = ("namespace", "name", "kind", "category", "declared", "permitted", "ports")


def _exposure_order(e: dict[str, Any]) -> tuple[str, str, str, str]:
    return (e["namespace"], e["name"], e["category"], e["kind"])


@pytest.mark.parametrize("case", EXPOSURE_CASES, ids=lambda p: p.name)
def test_exposure(case: Path) -> None:
    expected = json.loads((case / "expected-exposure.json").read_text())
    assert expected == sorted(expected, key=_exposure_order), "expected file not sorted"
    code, report = run_json("scan", *manifests(case), "-o", "json", "--fail-on", "never")
    assert code == 0, report.get("errors")
    actual = sorted(
        ({k: e[k] for k in EXPOSURE_KEYS} for e in report["exposures"]), key=_exposure_order
    )
    assert actual == expected
