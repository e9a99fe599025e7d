"""Manifest inputs that used to hang, read without end or look clean (issue 11)."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.sources.manifests import Limits, load_manifests

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c}]}
"""


def _load_within(paths: list[Path], seconds: float = 20, **kw: object) -> object:
    """load_manifests in a thread: a hang fails the test instead of stalling the run."""
    box: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: box.update(result=load_manifests(paths, **kw)),  # type: ignore[arg-type]
        daemon=True,
    )
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "loading hung"
    return box["result"]


def test_a_fifo_in_the_directory_is_skipped_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(DEPLOY)
    os.mkfifo(tmp_path / "pipe.yaml")
    result = _load_within([tmp_path])
    errors = result.errors  # type: ignore[attr-defined]
    assert [(Path(e.source).name, e.message) for e in errors] == [
        ("pipe.yaml", "a FIFO, not a regular file: skipped")
    ]
    assert len(result.snapshot.pod_groups) == 1  # type: ignore[attr-defined]


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(DEPLOY)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    result = _load_within([tmp_path])
    (error,) = result.errors  # type: ignore[attr-defined]
    assert "character device, not a regular file" in error.message
    assert len(result.snapshot.pod_groups) == 1  # type: ignore[attr-defined]


def test_the_size_limit_holds_while_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(DEPLOY + "#" * 5000 + "\n")
    result = _load_within([big], limits=Limits(max_file_bytes=1000))
    (error,) = result.errors  # type: ignore[attr-defined]
    assert "over the 1000 limit" in error.message


@pytest.mark.parametrize("command", ["scan", "connectivity"])
def test_a_missing_path_is_an_error_first_and_nothing_else(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert main([command, "--manifests", str(tmp_path / "nonexistent")], out) == 2
    assert out.getvalue() == ""  # no empty tables before the error
    err = capsys.readouterr().err
    assert err.startswith("netfence: ") and "nonexistent: no such file or directory" in err


def test_an_empty_directory_is_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.md").write_text("not a manifest")
    out = io.StringIO()
    assert main(["scan", "--manifests", str(tmp_path), "-o", "json"], out) == 2
    assert out.getvalue() == ""
    assert "no manifests in this directory" in capsys.readouterr().err
