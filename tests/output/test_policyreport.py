"""`scan -o policyreport` against the wgpolicyk8s.io/v1alpha2 CRD schemas policy-reporter
installs (tests/output/schemas/, see SOURCES.md there)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from exporter.cli import main
from exporter.output import policyreport
from exporter.usecases import scan

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-cluster"
SCHEMAS = ROOT / "tests" / "output" / "schemas"


def _crd_schema(name: str) -> dict[str, Any]:
    crd = next(d for d in yaml.safe_load_all((SCHEMAS / name).read_text()) if d)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2")
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def test_reports_validate_against_the_crds() -> None:
    out = io.StringIO()
    code = main(["scan", "--manifests", str(DEMO), "-o", "policyreport"], out)
    assert code == 1
    docs = [d for d in yaml.safe_load_all(out.getvalue()) if d]
    schemas = {
        "PolicyReport": _crd_schema("wgpolicyk8s.io_policyreports.yaml"),
        "ClusterPolicyReport": _crd_schema("wgpolicyk8s.io_clusterpolicyreports.yaml"),
    }
    for doc in docs:
        assert doc["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
        jsonschema.Draft7Validator(schemas[doc["kind"]]).validate(doc)
        results = doc["results"]
        for key in ("pass", "fail", "warn", "error", "skip"):
            assert doc["summary"][key] == sum(1 for r in results if r["result"] == key)
    kinds = [d["kind"] for d in docs]
    assert kinds.count("ClusterPolicyReport") == 1 and kinds[-1] == "ClusterPolicyReport"
    reports = {d["metadata"]["namespace"]: d for d in docs if d["kind"] == "PolicyReport"}
    assert all(d["metadata"]["name"] == "netfence" for d in docs)
    # a compliant namespace: passes only; a broken one: the findings as fails
    shop = reports["shop"]["results"]
    assert {(r["policy"], r["rule"], r["result"]) for r in shop} >= {
        ("no-default-deny", "ingress", "pass"),
        ("no-default-deny", "egress", "pass"),
    }
    monitoring = reports["monitoring"]
    allow_all = next(r for r in monitoring["results"] if r["policy"] == "allow-all-rule")
    assert allow_all["result"] == "fail" and allow_all["severity"] == "high"
    assert allow_all["resources"] == [
        {"kind": "NetworkPolicy", "namespace": "monitoring", "name": "allow-all-egress"}
    ]


def test_every_finding_appears_once_with_the_scan_time() -> None:
    report = scan([DEMO])
    docs = policyreport.reports(report.namespaces, report.findings, now=1_700_000_000.25)
    results = [r for d in docs for r in d["results"] if r["result"] != "pass"]  # type: ignore[attr-defined]
    assert len(results) == len(report.findings)
    assert all(r["timestamp"] == {"seconds": 1_700_000_000, "nanos": 250_000_000} for r in results)
    low = [r for r in results if r["severity"] in ("low", "info")]
    assert low and all(r["result"] == "warn" for r in low)
