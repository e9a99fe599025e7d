"""The scan table as a new user reads it (issue 11): never a yes/NO that was not
verified, and every exposure the counts include is listed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"


def _table(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["scan", *argv], out), out.getvalue()


def test_an_unparsable_policy_shows_unknown_not_no(tmp_path: Path) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "broken", "namespace": "b"},
            "spec": {"podSelector": {}, "ingress": 5},
        },
    ]
    for i, doc in enumerate(docs):
        (tmp_path / f"{i}.json").write_text(json.dumps(doc))
    code, text = _table("--manifests", str(tmp_path))
    assert code == 2  # the input error
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():  # the coverage table comes first, then exposure
        if line[:2] in ("a ", "b "):
            rows.setdefault(line.split()[0], line.split()[1:])
    assert rows["a"] == ["0", "NO", "0/0", "NO", "0/0"]
    assert rows["b"] == ["0", "?", "?", "?", "?"]
    assert "DEGRADED: 1 namespaces' default-deny" in text
    assert "networking.k8s.io/NetworkPolicy (unparsable)" in text


def test_the_exposure_list_includes_workloads_exposed_without_a_service() -> None:
    """The counts above the list include hostNetwork DaemonSets, bare Pods and Jobs; the
    list used to show Services only."""
    _, text = _table("--manifests", str(DEMO))
    listed = text.split("EXPOSED SERVICES AND WORKLOADS", 1)[1].split("FINDINGS", 1)[0]
    for workload in (
        "monitoring/node-exporter[DaemonSet] internet",
        "sandbox/debug-shell[Pod] all_namespaces",
        "sandbox/load-test[Job] all_namespaces",
        "shop/frontend ingress",
    ):
        assert workload in listed, workload
    data = json.loads(_table("--manifests", str(DEMO), "-o", "json")[1])
    permitted = [e for e in data["exposures"] if e["permitted"]]
    assert f"({len(permitted)}:" in listed.splitlines()[0]
