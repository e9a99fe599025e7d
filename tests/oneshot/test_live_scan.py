"""One-shot commands on a live cluster (the fake API server through the real client),
and `--snapshot-out`: a live scan and a scan of its snapshot give the same answers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from k8s_api_server import FakeApiServer, list_path

from exporter.cli import main
from exporter.inputs import SNAPSHOT_META
from exporter.sources.manifests import read_objects

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db-password", "namespace": "shop"},
    "data": {"password": "aHVudGVyMg=="},
}


def _objects() -> list[dict[str, Any]]:
    raws, errors = read_objects([DEMO])
    assert not errors
    return [r.obj for r in raws] + [SECRET]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def api() -> Any:
    with FakeApiServer(_objects()) as server:
        yield server


@pytest.mark.parametrize("forbidden", [None, "Ingress", "NetworkPolicy"])
def test_live_scan_equals_the_scan_of_its_snapshot(
    api: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], forbidden: str | None
) -> None:
    if forbidden:
        api.faults.forbidden.add(list_path(forbidden))
    kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
    snap = tmp_path / "snap"
    code, live_out, err = _run(
        ["scan", "--kubeconfig", kubeconfig, "--snapshot-out", str(snap), "-o", "json"], capsys
    )
    assert "context 'test'" in err and api.url in err
    live = json.loads(live_out)
    offline_code, offline_out, _ = _run(["scan", "--manifests", str(snap), "-o", "json"], capsys)
    assert json.loads(offline_out) == live
    assert offline_code == code
    assert live["summary"]["network_plugin_source"] == "crds"
    unreadable = [f for f in live["findings"] if f["check"] == "unreadable-kind"]
    if forbidden:
        assert code == 2  # the 403 is an input error: the answer is incomplete
        assert [f["object"] for f in unreadable] == [f"networking.k8s.io/{forbidden}"]
        assert any("forbidden (403)" in e["message"] for e in live["errors"])
    else:
        assert unreadable == [] and live["errors"] == []
        assert live["summary"]["namespaces"] > 5


def test_snapshots_never_hold_secrets(
    api: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
    snap = tmp_path / "snap"
    _run(["scan", "--kubeconfig", kubeconfig, "--snapshot-out", str(snap)], capsys)
    assert api.requests[list_path("Secret")] == 0
    files = sorted(p.name for p in snap.iterdir())
    assert SNAPSHOT_META in files and any(
        f.endswith("networkpolicy.networking.k8s.io.yaml") for f in files
    )
    text = "".join(p.read_text() for p in snap.iterdir())
    assert "kind: Secret" not in text and "aHVudGVyMg==" not in text
    meta = json.loads((snap / SNAPSHOT_META).read_text())
    assert meta["network_plugin"] == "generic" and meta["unreadable_kinds"] == []


def test_without_manifests_the_current_context_is_read_and_named(
    api: FakeApiServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "config", context="prod-eu")))
    code, out, err = _run(["scan", "-o", "json"], capsys)
    assert code in (0, 1), err
    assert "reading the live cluster of context 'prod-eu'" in err
    assert json.loads(out)["summary"]["namespaces"] > 5


def test_connectivity_and_explain_read_live_clusters_too(
    api: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
    for command in (["connectivity"], ["explain", "--to", "shop/frontend"]):
        live = _run([*command, "--kubeconfig", kubeconfig, "-o", "json"], capsys)
        offline = _run([*command, "--manifests", str(DEMO), "-o", "json"], capsys)
        assert live[0] == offline[0] == 0
        assert json.loads(live[1]) == json.loads(offline[1]) != []


def test_an_unreachable_cluster_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeApiServer([]) as server:
        kubeconfig = str(server.kubeconfig(tmp_path / "kubeconfig"))
        server.faults.down = True
        code, _, err = _run(["scan", "--kubeconfig", kubeconfig], capsys)
    assert code == 2 and "cannot read the cluster" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--manifests", str(DEMO), "--kubeconfig", "x"],
        ["scan", "--manifests", str(DEMO), "--snapshot-out", "x"],
        ["scan", "--in-cluster", "--context", "x"],
        ["scan", "--kubeconfig", "/nonexistent/kubeconfig"],
    ],
)
def test_conflicting_or_unusable_inputs_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.startswith("netfence: ")
