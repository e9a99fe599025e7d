"""Fixtures of the deployment tests (helpers in deploy_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_tools import Helm, install_helm


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of the pinned helm binary (installed into .tools/ on first use)."""
    return install_helm()


@pytest.fixture
def chart(helm: str, tmp_path: Path) -> Helm:
    return Helm(helm, tmp_path)
