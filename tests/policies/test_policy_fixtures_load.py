"""Every policy example loads without an input error (issue 4), and the network plugin
is detected offline from the kinds present and can be overridden on the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from exporter import usecases
from exporter.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
LOCAL = FIXTURES / "policy-apis"
# Every policy example the repository holds (tests/fixtures/*/SOURCES.md): the
# Kubernetes docs and recipes, the netpol-analyzer cases' inputs, Cilium and
# network-policy-api examples. One file carries a deliberate upstream error (see
# tests/test_netpol_analyzer_fixtures.py).
KNOWN_BAD = {"netpol-analyzer/netpol_named_port_test/input/pods.yaml"}

LOCAL_FILES = sorted(p for p in LOCAL.rglob("*") if p.suffix in {".yaml", ".yml"})


def _fixture_files() -> list[Path]:
    return sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.suffix in {".yaml", ".yml", ".json"}
        and "expected" not in p.relative_to(FIXTURES).parts
        and not p.name.endswith("_output.json")
        and str(p.relative_to(FIXTURES)) not in KNOWN_BAD
    )


@pytest.mark.parametrize("path", LOCAL_FILES, ids=lambda p: str(p.relative_to(LOCAL)))
def test_policy_example_loads_without_error(path: Path) -> None:
    report = usecases.scan([path])
    assert [str(e) for e in report.errors] == []
    assert report.policies >= 1


def test_every_fixture_loads_without_error() -> None:
    """All 116 manifest files of tests/fixtures (the known-bad one aside) load as one
    cluster without an input error."""
    files = _fixture_files()
    assert len(files) == 116
    assert (FIXTURES / "netpol-analyzer/netpol_named_port_test/input/pods.yaml").is_file()
    report = usecases.scan(files)
    assert [str(e) for e in report.errors] == []


def _scan(*argv: str) -> dict[str, object]:
    out = io.StringIO()
    main(["scan", *argv, "-o", "json", "--fail-on", "never"], out=out)
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def test_plugin_is_detected_and_reported_in_the_summary() -> None:
    summary = _scan("--manifests", str(LOCAL / "cilium"))["summary"]
    assert isinstance(summary, dict)
    assert (summary["network_plugin"], summary["network_plugin_source"]) == ("cilium", "detected")
    summary = _scan("--manifests", str(LOCAL / "network-policy-api"))["summary"]
    assert isinstance(summary, dict)
    assert summary["network_plugin"] == "generic"


def test_plugin_override_makes_admin_policies_unenforced() -> None:
    data = _scan("--manifests", str(LOCAL / "network-policy-api"), "--network-plugin", "cilium")
    summary = data["summary"]
    assert isinstance(summary, dict)
    assert (summary["network_plugin"], summary["network_plugin_source"]) == ("cilium", "configured")
    findings = data["findings"]
    assert isinstance(findings, list)
    unenforced = [f for f in findings if f["check"] == "unenforced-policy"]
    assert len(unenforced) == 8  # the ClusterNetworkPolicy examples (docs/semantics.md §2.4)


def test_bad_plugin_name_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["scan", "--manifests", str(LOCAL), "--network-plugin", "weave"])
    assert info.value.code == 2


def test_plugin_from_installed_crds() -> None:
    from exporter.core.policies import NetworkPlugin, network_plugin_from_crds

    assert network_plugin_from_crds(["ciliumnetworkpolicies.cilium.io"]) is NetworkPlugin.CILIUM
    assert (
        network_plugin_from_crds(["globalnetworkpolicies.crd.projectcalico.org", "x.y.z"])
        is NetworkPlugin.CALICO
    )
    assert (
        network_plugin_from_crds(["adminnetworkpolicies.policy.networking.k8s.io"])
        is NetworkPlugin.GENERIC
    )
