"""docs/ci.md: the recipe's commands, run as written on a two-commit git repository,
and the GitHub Actions and GitLab CI snippets hold exactly those commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ci.md").read_text()
DEMO = ROOT / "examples" / "demo-cluster"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, re.DOTALL)


SCRIPT = next(b for b in _blocks("sh") if b.startswith("# netfence-ci\n"))
COMMANDS = [line for line in SCRIPT.splitlines() if line and not line.startswith("#")]


def test_both_ci_snippets_run_exactly_the_documented_commands() -> None:
    snippets = [yaml.safe_load(b) for b in _blocks("yaml")]
    assert len(snippets) == 2
    github = snippets[0]["jobs"]["netfence"]["steps"]
    gitlab = snippets[1]["netfence"]["script"]
    for runs in ([s.get("run", "") for s in github], gitlab):
        body = next(r for r in runs if "netfence diff" in r)
        assert [line.strip() for line in body.splitlines() if line.strip()] == COMMANDS


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _run_recipe(repo: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "netfence").exists(), "the netfence console script"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BASE": "HEAD~1",
        "MANIFESTS": "deploy",
    }
    return subprocess.run(
        ["bash", "-e", "-c", SCRIPT], cwd=repo, env=env, capture_output=True, text=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo / "deploy")
    _git(tmp_path, "init", "-q", str(repo))
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "ci")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    return repo


def _commit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    file.write_text(file.read_text().replace(old, new, 1))
    _git(repo, "commit", "-qam", "head")


def test_a_change_that_loses_default_deny_fails_the_job(repo: Path) -> None:
    _commit(repo, "deploy/shop/networkpolicies.yaml", "[Ingress, Egress]", "[Egress]")
    done = _run_recipe(repo)
    assert done.returncode == 1, done.stderr
    comment = (repo / "netfence-diff.md").read_text()
    assert comment.startswith("### netfence diff: **1 problem(s) block this change**")
    assert "shop: default-deny ingress lost" in comment
    diff_sarif = json.loads((repo / "netfence-diff.sarif").read_text())
    assert {r["ruleId"] for r in diff_sarif["runs"][0]["results"]} >= {"diff-default-deny-lost"}
    scan_sarif = json.loads((repo / "netfence-scan.sarif").read_text())
    assert scan_sarif["runs"][0]["results"]
    stream = (repo / "netfence-policyreport.yaml").read_text()
    reports = [d for d in yaml.safe_load_all(stream) if d]
    assert {d["kind"] for d in reports} == {"PolicyReport", "ClusterPolicyReport"}


def test_a_harmless_change_passes(repo: Path) -> None:
    _commit(
        repo,
        "deploy/shop/networkpolicies.yaml",
        "        - {protocol: UDP, port: 53}\n        - {protocol: TCP, port: 53}",
        "        - {protocol: TCP, port: 53}\n        - {protocol: UDP, port: 53}",
    )
    done = _run_recipe(repo)
    assert done.returncode == 0, done.stderr
    comment = (repo / "netfence-diff.md").read_text()
    assert "no lost default-deny, no new exposure" in comment
    assert "policies changed 1 (1 without effect)" in comment
    assert not subprocess.run(
        ["git", "-C", str(repo), "diff", "--quiet", "HEAD"], check=False
    ).returncode
