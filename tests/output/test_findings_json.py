"""Findings in `scan -o json` say their direction (docs/json-output.md): the same
`direction` the netfence_findings metric carries, absent where the check has none."""

from __future__ import annotations

import io
import json
from pathlib import Path

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def test_findings_carry_their_direction_only_where_the_check_has_one() -> None:
    out = io.StringIO()
    main(["scan", "--manifests", str(DEMO), "-o", "json"], out)
    findings = json.loads(out.getvalue())["findings"]
    no_dd = [f for f in findings if f["check"] == "no-default-deny"]
    assert no_dd
    for f in no_dd:  # "no egress default-deny: ..." / "ingress is not default-deny: ..."
        assert f["direction"] in ("ingress", "egress")
        assert f["direction"] in f["message"].split(":")[0]
    assert {f["direction"] for f in no_dd} == {"ingress", "egress"}
    undirected = [f for f in findings if f["check"] == "policy-selects-no-pods"]
    assert undirected and all("direction" not in f for f in undirected)
