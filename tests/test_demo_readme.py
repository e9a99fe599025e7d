"""examples/demo-cluster/README.md quotes what `netfence scan` says of the demo: its
tables and counts are checked against the program here, so the page cannot drift from
it (issue 11: it once claimed six default-deny namespaces and 14 findings)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"
README = (DEMO / "README.md").read_text()


def _scan() -> dict[str, object]:
    out = io.StringIO()
    main(["scan", "--manifests", str(DEMO), "-o", "json"], out)
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def _section(title: str) -> str:
    return README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _rows(text: str) -> list[list[str]]:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    return rows[1:]  # without the header


def _flag(cell: str) -> bool:
    return cell.strip("*") == "true"


def test_the_expected_answer_table_is_what_scan_says() -> None:
    scan = _scan()
    namespaces = {n["name"]: n for n in scan["namespaces"]}  # type: ignore[attr-defined]
    section = _section("Expected answer")
    table = {row[0].strip("`"): row for row in _rows(section)}
    assert set(table) == set(namespaces)
    for name, row in table.items():
        ns = namespaces[name]
        assert int(row[1]) == ns["pods"], name
        assert _flag(row[2]) == ns["ingress"]["default_deny"], name
        assert _flag(row[3]) == ns["egress"]["default_deny"], name
    dd = scan["summary"]["default_deny_namespaces"]  # type: ignore[index]
    assert f"Default-deny ingress in {dd['ingress']} namespaces, egress in {dd['egress']}." in (
        section
    )


def test_the_expected_findings_table_is_what_scan_says() -> None:
    findings = _scan()["findings"]
    assert isinstance(findings, list)
    section = _section("Expected findings")
    listed: Counter[tuple[str, str, str]] = Counter()
    for severity, check, namespaces, _object in _rows(section):
        name = re.match(r"`([a-z-]+)`", check)
        assert name is not None, check
        for ns in namespaces.split(","):
            listed[(severity, name.group(1), ns.strip())] += 1
    found = Counter((f["severity"], f["check"], f["namespace"]) for f in findings)
    assert listed == found
    assert f"\n{len(findings)} findings." in section
