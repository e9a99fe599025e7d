"""`netfence diff`: what a change does, on the demo cluster and small hand-made ones,
with both sides as paths or the base as a git revision."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-cluster"


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out), out.getvalue()


def _json(base: Path | str, head: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, text = _run(["diff", "--base", str(base), "--head", str(head), "-o", "json", *extra])
    return code, json.loads(text)


@pytest.fixture
def sides(tmp_path: Path) -> tuple[Path, Path]:
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(DEMO, base)
    shutil.copytree(DEMO, head)
    return base, head


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _namespace(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in data["namespaces"] if n["name"] == name)


def test_identical_sides_have_no_changes(sides: tuple[Path, Path]) -> None:
    code, data = _json(*sides)
    assert code == 0
    assert data["namespaces"] == [] and data["failures"] == []
    assert data["summary"]["namespaces_with_changed_objects"] == 0


def test_losing_default_deny_fails_and_names_the_policy(sides: tuple[Path, Path]) -> None:
    base, head = sides
    _edit(head / "shop" / "networkpolicies.yaml", "[Ingress, Egress]", "[Egress]")
    code, data = _json(base, head)
    assert code == 1
    shop = _namespace(data, "shop")
    assert [(d["direction"], d["change"]) for d in shop["default_deny"]] == [("ingress", "lost")]
    assert [f["check"] for f in shop["findings"]["new"]] == ["no-default-deny"]
    assert shop["policies"] == [
        {"policy": "NetworkPolicy shop/default-deny-all", "change": "modified", "effect": True}
    ]
    assert data["failures"] == ["shop: default-deny ingress lost"]
    assert [n["name"] for n in data["namespaces"]] == ["shop"]
    # --fail-on never: reported, exit 0
    assert _json(base, head, "--fail-on", "never")[0] == 0


def test_a_policy_change_without_effect_is_named(sides: tuple[Path, Path]) -> None:
    base, head = sides
    _edit(
        head / "shop" / "networkpolicies.yaml",
        "        - {protocol: UDP, port: 53}\n        - {protocol: TCP, port: 53}",
        "        - {protocol: TCP, port: 53}\n        - {protocol: UDP, port: 53}",
    )
    code, data = _json(base, head)
    assert code == 0
    assert data["summary"]["policies"] == {"changed": 1, "without_effect": 1}
    shop = _namespace(data, "shop")
    assert shop["policies"] == [
        {"policy": "NetworkPolicy shop/allow-dns-egress", "change": "modified", "effect": False}
    ]
    assert shop["connections"] == {"added": [], "removed": []}
    code, text = _run(["diff", "--base", str(base), "--head", str(head)])
    assert "NetworkPolicy shop/allow-dns-egress (modified, WITHOUT EFFECT)" in text


def test_opening_a_namespace_adds_exposures_connections_and_findings(
    sides: tuple[Path, Path],
) -> None:
    base, head = sides
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "oops-allow-all", "namespace": "payments"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    }
    (head / "payments" / "oops.yaml").write_text(yaml.safe_dump(policy))
    code, data = _json(base, head)
    assert code == 1
    payments = _namespace(data, "payments")
    added = payments["exposures"]["added"]
    assert {e["category"] for e in added} >= {"other_namespaces", "all_namespaces"}
    assert all("NetworkPolicy payments/oops-allow-all" in e["objects"] for e in added)
    conns = payments["connections"]["added"]
    assert conns and all(c["dst"].startswith("payments/") for c in conns)
    assert any(c["src"].startswith("sandbox/") for c in conns)  # sandbox allows all egress
    assert "allow-all-rule" in {f["check"] for f in payments["findings"]["new"]}
    assert payments["policies"][0]["change"] == "added"
    assert any(f.startswith("exposure added: payments/") for f in data["failures"])
    # other namespaces' objects did not change: only payments is compared
    assert data["summary"]["namespaces_with_changed_objects"] == 1


def _cluster(egress: list[dict[str, Any]]) -> str:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "app", "namespace": "a", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "egress", "namespace": "a"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
        },
    ]
    return yaml.safe_dump_all(docs)


def _https_to(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"to": [{"ipBlock": b} for b in blocks], "ports": [{"port": 443}]}]


def test_address_ranges_are_compared_address_by_address(tmp_path: Path) -> None:
    base, same, narrower = tmp_path / "base.yaml", tmp_path / "same.yaml", tmp_path / "n.yaml"
    base.write_text(_cluster(_https_to({"cidr": "0.0.0.0/0"})))
    # the same addresses, split differently: not a change, the policy has no effect
    same.write_text(_cluster(_https_to({"cidr": "0.0.0.0/1"}, {"cidr": "128.0.0.0/1"})))
    code, data = _json(base, same)
    assert code == 0
    assert data["summary"]["connections"] == {"compared": True, "added": 0, "removed": 0}
    assert data["summary"]["policies"] == {"changed": 1, "without_effect": 1}
    # carving two adjacent ranges out: one removed range, merged
    narrower.write_text(
        _cluster(_https_to({"cidr": "0.0.0.0/0", "except": ["192.168.0.0/17", "192.168.128.0/17"]}))
    )
    code, data = _json(base, narrower)
    a = _namespace(data, "a")
    assert a["connections"]["removed"] == [
        {"src": "a/app[Pod]", "dst": "192.168.0.0/16", "conns": ["TCP/443"]}
    ]
    assert a["connections"]["added"] == []


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo / "deploy" / "cluster")
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "ci")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _edit(
        repo / "deploy" / "cluster" / "shop" / "networkpolicies.yaml",
        "[Ingress, Egress]",
        "[Egress]",
    )
    _git(repo, "commit", "-qam", "head")
    monkeypatch.chdir(repo)
    return repo


def test_git_base_is_read_without_touching_the_work_tree(repo: Path) -> None:
    (repo / "deploy" / "cluster" / "untracked.yaml").write_text("# not committed\n")
    before = _git(repo, "status", "--porcelain")
    code, data = _json("HEAD~1", Path("deploy/cluster"))
    assert code == 1
    assert data["base"].startswith("git HEAD~1 (") and data["base"].endswith("deploy/cluster")
    assert [n["name"] for n in data["namespaces"]] == ["shop"]
    assert _git(repo, "status", "--porcelain") == before
    # the same with --manifests-subdir, from a head given as an absolute path
    code, again = _json(
        "HEAD~1", repo / "deploy" / "cluster", "--manifests-subdir", "deploy/cluster"
    )
    assert code == 1 and again["namespaces"] == data["namespaces"]


def test_markdown_is_a_pull_request_comment(repo: Path) -> None:
    code, text = _run(["diff", "--base", "HEAD~1", "--head", "deploy/cluster", "-o", "markdown"])
    assert code == 1
    lines = text.splitlines()
    assert lines[0].startswith("### netfence diff: **1 problem(s) block this change**")
    assert "default-deny lost 1" in lines[2]
    assert "<details><summary>shop (changed)</summary>" in text and "</details>" in text
    assert text.index("| shop |") < text.index("<details>")


@pytest.mark.parametrize(
    "base", ["--upload-pack=touch", "-rf", "HEAD:deploy", "a..b", "no-such-ref"]
)
def test_bad_revisions_are_usage_errors(
    repo: Path, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _run(["diff", f"--base={base}", "--head", "deploy/cluster"])
    assert code == 2
    assert "netfence: --base" in capsys.readouterr().err
    assert not (repo / "touch").exists()
