"""`netfence report` usage errors exit 2 with a message naming the bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from exporter.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026Q5"], "period '2026Q5': expected a quarter such as 2026Q3"),
        (["--since", "2026-07-01"], "--since and --until go together"),
        (["--since", "2026-07-02", "--until", "2026-07-01"], "is not after --since"),
        (["--since", "yesterday", "--until", "2026-07-01"], "--since 'yesterday'"),
        ([], "no such file"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    store = f"sqlite:///{tmp_path / 'missing.db'}"
    code = main(["report", "--store", store, *argv], out=io.StringIO())
    assert code == 2
    assert message in capsys.readouterr().err
