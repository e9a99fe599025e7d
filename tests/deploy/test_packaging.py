"""The wheel users install, and the one version everything states.

The wheel is built from the source tree, installed into a fresh venv with its
dependencies, and run from outside the tree (no PYTHONPATH, another working directory),
so nothing from the source checkout can stand in for what the wheel lacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from io import StringIO
from pathlib import Path

import yaml
from deploy_tools import CHART, ROOT

from exporter import __version__
from exporter.cli import main


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return env


def _run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, cwd=cwd,
        env=_clean_env(),
    )  # fmt: skip


def _data_files(folder: str, patterns: tuple[str, ...]) -> set[str]:
    base = ROOT / folder
    return {
        p.relative_to(ROOT).as_posix()
        for pattern in patterns
        for p in base.rglob(pattern)
        if "__pycache__" not in p.parts
    }


def test_wheel_installs_into_a_clean_venv_and_scans_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                 dist, ROOT, cwd=tmp_path)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("netfence-*.whl")
    assert wheel.name.startswith(f"netfence-{__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"netfence-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert f"netfence-{__version__}.dist-info/licenses/LICENSE" in names
    # dashboards, alert rules (and their tests) as the data package netfence_assets
    assets = _data_files("dashboards", ("*.json",)) | _data_files("alerts", ("*.yaml", "*.yml"))
    assert {f"netfence_assets/{a}" for a in assets} <= names
    # report templates, control mappings, whatever data reports/ holds
    report_data = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "reports").rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert report_data <= names, report_data - names
    # installed with its dependencies into a venv that never saw the source tree
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    installed = _run(py, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    where = _run(py, "-c", "import exporter, sys; print(exporter.__file__); print(sys.path)",
                 cwd=tmp_path)  # fmt: skip
    assert where.stdout.startswith(str(env_dir)), where.stdout
    assert str(ROOT) not in where.stdout
    version = _run(env_dir / "bin" / "netfence", "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"netfence {__version__}", version.stderr
    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "examples" / "demo-cluster", demo)
    scan = _run(env_dir / "bin" / "netfence", "scan", "--manifests", demo, "-o", "json",
                "--fail-on", "never", cwd=tmp_path)  # fmt: skip
    assert scan.returncode == 0, scan.stderr
    here = StringIO()
    assert main(["scan", "--manifests", str(demo), "-o", "json", "--fail-on", "never"], here) == 0
    assert json.loads(scan.stdout) == json.loads(here.getvalue())


def test_one_version_everywhere() -> None:
    """exporter/__init__.py is the one source: the package metadata (pyproject reads it),
    `netfence --version`, the chart's appVersion and the image's default VERSION label
    agree with it (the built image's label and netfence_build_info: test_image.py)."""
    from importlib.metadata import version

    assert version("netfence") == __version__
    netfence = Path(sys.executable).parent / "netfence"
    cli = subprocess.run([str(netfence), "--version"], capture_output=True, text=True,
                         check=True).stdout.strip()  # fmt: skip
    assert cli == f"netfence {__version__}"
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    containerfile = (ROOT / "deploy" / "image" / "Containerfile").read_text()
    (label_default,) = re.findall(r"^ARG VERSION=(\S+)$", containerfile, re.M)
    assert label_default == __version__
    assert re.search(r'^dynamic = \["version"\]$', (ROOT / "pyproject.toml").read_text(), re.M)
