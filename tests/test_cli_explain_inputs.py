"""`netfence explain` as a new user types it (issue 11)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from exporter.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-cluster"


def _explain(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["explain", "--manifests", str(DEMO), *argv], out), out.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ("--from", "shop/frontend", "--to", "10.0.0.0/33"),
        ("--from", "300.1.1.1", "--to", "shop/frontend"),
        ("--from", "300.1.1.1"),
        ("--from", "shop/frontend", "--to", "1.2.3.4-1.2.3"),
    ],
)
def test_an_invalid_address_is_said_to_be_one(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to say "no such workload"."""
    code, out = _explain(*argv)
    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert "invalid address" in err and "no such workload" not in err


def test_an_address_is_answered_as_asked() -> None:
    """`--to 8.8.8.8` used to answer about `1.0.0.0-9.255.255.255`."""
    code, out = _explain("--from", "shop/frontend", "--to", "8.8.8.8")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("shop/frontend[Deployment] => 8.8.8.8 (in 1.0.0.0-9.255.255.255")


def test_a_typo_in_a_workload_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _explain("--from", "shop/frontnd", "--to", "shop/cart")
    assert code == 2
    assert "did you mean shop/frontend" in capsys.readouterr().err
