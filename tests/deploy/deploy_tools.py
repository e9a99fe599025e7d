"""What the deployment tests share: the real helm (pinned, installed by
deploy/tools/install-helm.sh), the chart rendered by it and read back with netfence's own
loader, and a gate for the system tools the tests need.

A missing tool FAILS the test in CI (CI=true), where .ci/run installs everything; it is
skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.sources.manifests import read_objects

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "netfence"
Doc = dict[str, Any]


def missing(reason: str) -> None:
    """Fail in CI, skip elsewhere: CI must have every tool the tests use."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: .ci/run)")
    pytest.skip(reason)


def require_tools(*names: str) -> None:
    absent = [n for n in names if shutil.which(n) is None]
    if absent:
        missing(f"needs {', '.join(absent)} (Debian packages: .ci/debian-packages)")


def install_helm() -> str:
    """Path of the pinned helm binary (installed into .tools/ on first use)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy" / "tools" / "install-helm.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        missing(f"helm could not be installed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip().splitlines()[-1]


class Helm:
    """`helm template` of the chart, read back with netfence's manifest loader."""

    def __init__(self, binary: str, tmp_path: Path) -> None:
        self.binary = binary
        self.tmp_path = tmp_path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args], capture_output=True, text=True, check=False, cwd=ROOT
        )

    def template(
        self,
        values: Doc | None = None,
        *,
        files: Sequence[Path] = (),
        args: Sequence[str] = (),
        namespace: str = "netfence",
        release: str = "nf",
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["template", release, str(CHART), "--namespace", namespace, *args]
        for f in files:
            cmd += ["--values", str(f)]
        if values is not None:
            path = self.tmp_path / f"values-{len(list(self.tmp_path.glob('values-*')))}.yaml"
            path.write_text(yaml.safe_dump(values))
            cmd += ["--values", str(path)]
        return self.run(*cmd)

    def objects(self, values: Doc | None = None, **kwargs: Any) -> list[Doc]:
        proc = self.template(values, **kwargs)
        assert proc.returncode == 0, proc.stderr
        out = self.tmp_path / "rendered.yaml"
        out.write_text(proc.stdout)
        raws, errors = read_objects([out])
        assert errors == [], errors
        return [r.obj for r in raws]


def by_kind(objects: list[Doc]) -> dict[str, list[Doc]]:
    out: dict[str, list[Doc]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out
